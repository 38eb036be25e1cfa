// From config to what the controller reads: a Rollout resource's spec with
// defaults applied (contracts.ts's RolloutSpec), and the routing of its
// target routes in one ConfigSet (destinations + weights per route, as the
// VirtualService writes them). Pure.
// Imports: src/api, ./contracts.ts.

import { createHash } from 'node:crypto';
import type { ConfigSet, OverlayDestination, Resource } from '../api/types.js';
import type { HTTPRoute } from '../api/istio.js';
import type { AnalysisSpec, RolloutSpec, RolloutStep } from './contracts.js';

/** The routing of one target http route. Routes are identified by name, else by position. */
export interface RouteRouting {
  /** `name:primary` or `index:0`. */
  id: string;
  /** Position in the VirtualService's http list, in the revision this routing was read from. */
  index: number;
  destinations: OverlayDestination[];
}

/** A Rollout's target routes in one revision (sorted by id); undefined when the VirtualService does not exist. */
export interface TargetRouting {
  virtualService: string;
  /**
   * A config canary's target: the content of the resources it covers, as one
   * pseudo-route (id `config`) whose single destination names the digest of
   * that content, so the controller tells changes, reverts and restarts
   * apart exactly as for routes; `files` maps each file holding covered
   * resources to their digest (what a rollback's write-back reverts).
   */
  config?: { files: Record<string, string> };
  /** The file (and source) that states it, for write-back. */
  file?: string;
  source?: string;
  routes: RouteRouting[];
}

export const DEFAULT_INTERVAL = '1m';

export function rolloutSpecOf(r: Resource<'Rollout'>): RolloutSpec {
  const s = r.spec;
  const steps: RolloutStep[] = (s.steps ?? []).map((st): RolloutStep => {
    if (typeof st.setWeight === 'number') return { setWeight: st.setWeight };
    if (st.setProxies) return { setProxies: { ...(typeof st.setProxies.count === 'number' ? { count: st.setProxies.count } : {}), ...(typeof st.setProxies.percent === 'number' ? { percent: st.setProxies.percent } : {}) } };
    if (st.setHeaderRoute) return { setHeaderRoute: { match: (st.setHeaderRoute.match ?? []).map((m) => ({ ...m })) } };
    if (st.setMirror) return { setMirror: { percent: st.setMirror.percent } };
    if (st.analysis) return { analysis: { metrics: [...(st.analysis.metrics ?? [])] } };
    return { pause: { ...(st.pause?.duration ? { duration: st.pause.duration } : {}) } };
  });
  const a = s.analysis;
  const analysis: AnalysisSpec | undefined = a
    ? {
        interval: a.interval ?? DEFAULT_INTERVAL,
        failureLimit: a.failureLimit ?? 0,
        inconclusiveLimit: a.inconclusiveLimit ?? 0,
        consecutiveErrorLimit: a.consecutiveErrorLimit ?? 4,
        ...(a.prometheus ? { prometheus: { address: a.prometheus.address } } : {}),
        metrics: (a.metrics ?? []).map((m) => ({ ...m, ...(m.thresholdRange ? { thresholdRange: { ...m.thresholdRange } } : {}) })),
      }
    : undefined;
  const strategy = s.strategy === 'proxies' ? 'proxies' : 'traffic';
  const t = s.target ?? {};
  return {
    strategy,
    target:
      strategy === 'proxies'
        ? { virtualService: '', kinds: t.kinds?.length ? [...t.kinds] : [...CONFIG_CANARY_KINDS], namespaces: t.namespaces?.length ? [...t.namespaces] : r.metadata.name === MESH_DEFAULT_NAME && r.metadata.annotations?.[MESH_DEFAULT_ANNOTATION] ? [ALL_NAMESPACES] : [r.metadata.namespace] }
        : { virtualService: t.virtualService ?? '', ...(t.route ? { route: t.route } : {}) },
    ...(strategy === 'proxies' && s.cohort ? { cohort: { ...(s.cohort.namespaces ? { namespaces: [...s.cohort.namespaces] } : {}), ...(s.cohort.labels ? { labels: { ...s.cohort.labels } } : {}), ...(s.cohort.localities ? { localities: s.cohort.localities.map((l) => ({ ...l })) } : {}) } } : {}),
    steps,
    ...(analysis ? { analysis } : {}),
    writeBack: s.writeBack ?? 'revert',
    webhooks: (s.webhooks ?? []).map((w) => ({ ...w })),
  };
}

/** The Rollout a MeshConfig's `configCanary` stands for: this name, in the root namespace, marked by this annotation. */
export const MESH_DEFAULT_NAME = 'meshconfig-default';
export const MESH_DEFAULT_ANNOTATION = 'meshcd.io/from-meshconfig';
/** In a config canary's target.namespaces: every namespace (the MeshConfig default's default). */
export const ALL_NAMESPACES = '*';

/**
 * The MeshConfig's default config canary as a `strategy: proxies` Rollout
 * (MESH_DEFAULT_NAME in the root namespace; its origin is the MeshConfig's),
 * or undefined when the MeshConfig sets none.
 */
export function meshDefaultRollout(config: ConfigSet): Resource<'Rollout'> | undefined {
  const mc = config.ofKind('MeshConfig')[0];
  const cc = mc?.spec.configCanary;
  if (!mc || !cc || !Array.isArray(cc.steps)) return undefined;
  const spec = { ...cc, strategy: 'proxies' as const, target: cc.target ?? {} };
  return {
    kind: 'Rollout',
    apiVersion: 'meshcd.io/v1alpha1',
    metadata: { name: MESH_DEFAULT_NAME, namespace: config.mesh.rootNamespace, labels: {}, annotations: { [MESH_DEFAULT_ANNOTATION]: `MeshConfig/${mc.metadata.name}` } },
    spec,
    origin: mc.origin,
    raw: { spec },
    digest: mc.digest,
  };
}

/** What a config canary covers when its target names no kinds: every kind a proxy's config is made of. */
export const CONFIG_CANARY_KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'] as const;

/**
 * A config canary's target in `config` (see TargetRouting.config): the
 * covered resources' digests per file and in all, as a pseudo-route.
 */
export function configTarget(config: ConfigSet, spec: RolloutSpec, except: readonly RolloutSpec[] = []): TargetRouting {
  const covers = (sp: RolloutSpec, r: { kind: string; metadata: { namespace: string } }) => {
    const ns = sp.target.namespaces ?? [];
    return (sp.target.kinds ?? (CONFIG_CANARY_KINDS as readonly string[])).includes(r.kind) && (ns.includes(ALL_NAMESPACES) || ns.includes(r.metadata.namespace));
  };
  const perFile = new Map<string, string[]>();
  let source: string | undefined;
  for (const r of config.resources) {
    // `except`: what other config canaries cover (the MeshConfig default leaves it to them).
    if (!covers(spec, r) || except.some((x) => covers(x, r))) continue;
    const line = `${r.kind}/${r.metadata.namespace}/${r.metadata.name} ${r.digest}`;
    const list = perFile.get(r.origin.file) ?? [];
    list.push(line);
    perFile.set(r.origin.file, list);
    source ??= r.origin.source;
  }
  const hash = (lines: string[]) => createHash('sha256').update(lines.sort().join('\n')).digest('hex');
  const files: Record<string, string> = {};
  for (const f of [...perFile.keys()].sort()) files[f] = hash(perFile.get(f)!);
  const all = hash(Object.entries(files).map(([f, d]) => `${f} ${d}`));
  return {
    virtualService: '',
    config: { files },
    ...(source ? { source } : {}),
    routes: [{ id: 'config', index: -1, destinations: [{ host: `sha256:${all}`, weight: 100 }] }],
  };
}

/** Weights as Istio reads them: one destination gets 100; several without weights share 100 evenly; otherwise scaled to sum to 100. */
export function normalizeWeights(weights: readonly (number | undefined)[]): number[] {
  if (weights.length === 0) return [];
  if (weights.length === 1) return [100];
  const w = weights.map((x) => (typeof x === 'number' && x > 0 ? x : 0));
  const total = w.reduce((a, b) => a + b, 0);
  if (total === 0) return spread(weights.map(() => 1));
  return spread(w);
}

/** Integer weights summing to 100, proportional to `shares` (largest remainder; ties to the earlier entry). */
export function spread(shares: readonly number[]): number[] {
  const total = shares.reduce((a, b) => a + b, 0);
  if (total <= 0) return shares.map(() => 0);
  const exact = shares.map((s) => (s * 100) / total);
  const out = exact.map((e) => Math.floor(e + 1e-9));
  let left = 100 - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - out[i]! })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!++;
    left--;
  }
  return out;
}

function routeRouting(r: HTTPRoute, index: number): RouteRouting | undefined {
  const list = r.route ?? [];
  if (list.length === 0 || r.redirect || r.directResponse) return undefined;
  const weights = normalizeWeights(list.map((d) => d.weight));
  return {
    id: r.name ? `name:${r.name}` : `index:${index}`,
    index,
    destinations: list.map((d, i) => ({
      host: d.destination.host,
      ...(d.destination.subset ? { subset: d.destination.subset } : {}),
      ...(d.destination.port?.number ? { port: d.destination.port.number } : {}),
      weight: weights[i]!,
    })),
  };
}

/** The routing of the Rollout's target in `config` (its own namespace), or undefined when the VirtualService is gone. */
export function targetRouting(config: ConfigSet, namespace: string, spec: RolloutSpec): TargetRouting | undefined {
  const vs = config.get('VirtualService', namespace, spec.target.virtualService);
  if (!vs) return undefined;
  const routes: RouteRouting[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    if (spec.target.route !== undefined && r.name !== spec.target.route) return;
    const rr = routeRouting(r, i);
    if (rr) routes.push(rr);
  });
  routes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { virtualService: `VirtualService/${namespace}/${spec.target.virtualService}`, file: vs.origin.file, ...(vs.origin.source ? { source: vs.origin.source } : {}), routes };
}
