// Shared by the golden and simulation tests: load a fixture case folder
// (input/*.yaml + proxies.json), build the MeshModel and translate for every
// proxy; plus the snapshot consistency rules every translation must keep.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyInfo, ProxyResources, XdsResource } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { loadRevision } from '../../src/config/load.js';
import { buildMeshModel } from '../../src/mesh/index.js';
import type { MeshModel } from '../../src/mesh/model.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { envoyRefusals } from '../../src/xds/cache/snapshot.js';
import { readFolderRevision } from '../../src/source/folder.js';
import { translate } from '../../src/xds/translate/index.js';

export const GOLDEN_ROOT = join(process.cwd(), 'test', 'fixtures', 'golden');

/** Output files per proxy: expected/<proxy>/<kind>.json. */
export const GOLDEN_KINDS = { listeners: TYPE_URL.listener, routes: TYPE_URL.route, clusters: TYPE_URL.cluster, endpoints: TYPE_URL.endpoint, secrets: TYPE_URL.secret } as const;

/** Case folders (each with input/ and proxies.json), sorted. */
export function goldenCases(): string[] {
  return readdirSync(GOLDEN_ROOT).filter((d) => existsSync(join(GOLDEN_ROOT, d, 'proxies.json'))).sort();
}

/** Every resource in the committed golden outputs, with the file it came from. */
export function goldenOutputs(): { from: string; typeUrl: string; name: string; value: Record<string, unknown> }[] {
  const out: { from: string; typeUrl: string; name: string; value: Record<string, unknown> }[] = [];
  for (const c of goldenCases()) {
    const dir = join(GOLDEN_ROOT, c, 'expected');
    if (!existsSync(dir)) continue;
    for (const proxy of readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      for (const [k, typeUrl] of Object.entries(GOLDEN_KINDS)) {
        const f = join(dir, proxy, `${k}.json`);
        if (!existsSync(f)) continue;
        const doc = JSON.parse(readFileSync(f, 'utf8')) as Record<string, Record<string, unknown>>;
        for (const [name, value] of Object.entries(doc)) out.push({ from: `golden ${c}/${proxy}/${k}.json`, typeUrl, name, value });
      }
    }
  }
  return out;
}

export interface LoadedCase {
  model: MeshModel;
  proxies: Record<string, ProxyInfo>;
  loadDiagnostics: string[];
}

const translated = new Map<string, Promise<ProxyResources>>();

/** A golden fixture's resources for one of its proxies (simulation rows name both), translated once. */
export function fixtureResources(fixture: string, proxy: string): Promise<ProxyResources> {
  const key = `${fixture}\0${proxy}`;
  let p = translated.get(key);
  if (!p) {
    p = loadCase(fixture).then((c) => {
      const info = c.proxies[proxy];
      if (!info) throw new Error(`no proxy ${proxy} in ${fixture}/proxies.json`);
      return translate(info, c.model);
    });
    translated.set(key, p);
  }
  return p;
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
