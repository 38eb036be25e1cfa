// From config to what the controller reads: a Rollout resource's spec with
// defaults applied (contracts.ts's RolloutSpec), and the routing of its
// target routes in one ConfigSet (destinations + weights per route, as the
// VirtualService writes them). Pure.
// Imports: src/api, ./contracts.ts.

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
  return {
    target: { virtualService: s.target.virtualService, ...(s.target.route ? { route: s.target.route } : {}) },
    steps,
    ...(analysis ? { analysis } : {}),
    writeBack: s.writeBack ?? 'revert',
    webhooks: (s.webhooks ?? []).map((w) => ({ ...w })),
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
