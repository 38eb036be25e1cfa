// Shared by the golden and simulation tests: load a fixture case folder
// (input/*.yaml + proxies.json), build the MeshModel and translate for every
// proxy; plus the snapshot consistency rules every translation must keep.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyInfo, ProxyResources, XdsResource } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { loadRevision } from '../../src/config/load.js';
import { buildMeshModel } from '../../src/mesh/index.js';
import type { MeshModel } from '../../src/mesh/model.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { envoyRefusals } from '../../src/xds/cache/snapshot.js';
import { readFolderRevision } from '../../src/source/folder.js';

export const GOLDEN_ROOT = join(process.cwd(), 'test', 'fixtures', 'golden');

export interface LoadedCase {
  model: MeshModel;
  proxies: Record<string, ProxyInfo>;
  loadDiagnostics: string[];
}

export async function loadCase(name: string): Promise<LoadedCase> {
  const dir = join(GOLDEN_ROOT, name);
  const rev = await readFolderRevision(join(dir, 'input'));
  const load = await loadRevision(rev);
  const model = buildMeshModel(load.config, buildServiceIndex(load.config));
  const proxies = JSON.parse(readFileSync(join(dir, 'proxies.json'), 'utf8')) as Record<string, ProxyInfo>;
  return { model, proxies, loadDiagnostics: load.diagnostics.map((d) => `${d.code} ${d.message}`) };
}

function walk(v: unknown, visit: (o: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) v.forEach((x) => walk(x, visit));
  else if (v && typeof v === 'object') {
    visit(v as Record<string, unknown>);
    for (const x of Object.values(v)) walk(x, visit);
  }
}

/** Clusters named by routes, tcp_proxy filters and mirror policies anywhere in these resources. */
export function referencedClusters(values: Iterable<XdsResource>): Set<string> {
  const out = new Set<string>();
  for (const r of values) {
    walk(r.value, (o) => {
      if (typeof o.cluster === 'string') out.add(o.cluster);
      const wc = o.weighted_clusters as { clusters?: { name: string }[] } | undefined;
      if (wc?.clusters) for (const c of wc.clusters) out.add(c.name);
    });
  }
  return out;
}

/** Violations of the snapshot rules: every referenced cluster / RDS name / EDS name exists. */
export function consistencyErrors(res: ProxyResources): string[] {
  const errors: string[] = [];
  const listeners = res.get(TYPE_URL.listener) ?? new Map();
  const routes = res.get(TYPE_URL.route) ?? new Map();
  const clusters = res.get(TYPE_URL.cluster) ?? new Map();
  const endpoints = res.get(TYPE_URL.endpoint) ?? new Map();
  for (const c of referencedClusters([...listeners.values(), ...routes.values()])) {
    if (!clusters.has(c)) errors.push(`cluster ${c} is referenced but not sent`);
  }
  for (const l of listeners.values()) {
    walk(l.value, (o) => {
      const rds = o.rds as { route_config_name?: string } | undefined;
      if (rds?.route_config_name && !routes.has(rds.route_config_name)) errors.push(`listener ${l.name} uses route config ${rds.route_config_name}, which is not sent`);
    });
  }
  for (const c of clusters.values()) {
    if (c.value.type === 'EDS') {
      const svc = (c.value.eds_cluster_config as { service_name?: string } | undefined)?.service_name ?? c.name;
      if (!endpoints.has(svc)) errors.push(`EDS cluster ${c.name} has no ClusterLoadAssignment ${svc}`);
    }
  }
  // What Envoy refuses across resources: the snapshot refuses the same (src/xds/cache/snapshot.ts).
  errors.push(...envoyRefusals(res));
  for (const e of endpoints.keys()) {
    if (!clusters.has(e)) errors.push(`ClusterLoadAssignment ${e} belongs to no cluster`);
  }
  return errors;
}
