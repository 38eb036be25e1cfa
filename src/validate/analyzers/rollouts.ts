// meshcd Rollout references (MCD030x):
// MCD0301 RolloutVirtualServiceNotFound — the target VirtualService does not
//   exist in the Rollout's namespace.
// MCD0302 RolloutRouteNotFound — the named http route is not in it.
// MCD0303 RolloutRouteNotWeighted — the named route sends no traffic to
//   destinations (redirect, direct response, delegate), so there is nothing
//   to walk out.
// MCD0304 ConflictingRollouts — two Rollouts drive the same route (a Rollout
//   without `route` drives every http route of its VirtualService).

import type { HTTPRoute } from '../../api/istio.js';
import type { Resource } from '../../api/types.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

/** The VirtualService a Rollout targets and the http routes it may drive (all of them without `route`), or why not. */
export function rolloutTarget(ctx: AnalysisContext, ro: Resource<'Rollout'>):
  | { vs: Resource<'VirtualService'>; routes: { index: number; route: HTTPRoute }[]; named: boolean }
  | { error: 'MCD0301' | 'MCD0302' | 'MCD0303'; message: string; path: string } {
  const ref = isObj(ro.spec.target) ? ro.spec.target : undefined;
  if (!ref || typeof ref.virtualService !== 'string') return { error: 'MCD0301', message: 'Rollout names no target VirtualService', path: 'spec.target' };
  const ns = ro.metadata.namespace;
  const vs = ctx.config.get('VirtualService', ns, ref.virtualService);
  if (!vs) return { error: 'MCD0301', message: `Referenced VirtualService not found: "${ns}/${ref.virtualService}" (a Rollout's target is in its own namespace)`, path: 'spec.target.virtualService' };
  const http = arr(vs.spec.http);
  if (typeof ref.route === 'string' && ref.route !== '') {
    const i = http.findIndex((r) => isObj(r) && r.name === ref.route);
    if (i < 0) {
      const names = http.map((r) => (isObj(r) && typeof r.name === 'string' ? r.name : undefined)).filter((n): n is string => !!n);
      return { error: 'MCD0302', message: `VirtualService ${nsName(vs)} has no http route named "${ref.route}"${names.length ? ` (its routes: ${names.join(', ')})` : ' (none of its routes has a name)'}`, path: 'spec.target.route' };
    }
    if (arr(http[i]!.route).length === 0) return { error: 'MCD0303', message: `route "${ref.route}" of VirtualService ${nsName(vs)} has no destinations (redirect, direct response or delegate); there is nothing to walk out`, path: 'spec.target.route' };
    return { vs, routes: [{ index: i, route: http[i]! }], named: true };
  }
  return { vs, routes: http.map((route, index) => ({ index, route })).filter((r) => arr(r.route.route).length > 0), named: false };
}

export const rollouts: Analyzer = {
  name: 'rollout/references',
  codes: [
    { code: 'MCD0301', name: 'RolloutVirtualServiceNotFound', severity: 'error', description: "A Rollout's target VirtualService does not exist in the Rollout's namespace." },
    { code: 'MCD0302', name: 'RolloutRouteNotFound', severity: 'error', description: 'A Rollout names an http route its VirtualService does not have.' },
    { code: 'MCD0303', name: 'RolloutRouteNotWeighted', severity: 'error', description: 'A Rollout names a route with no destinations (redirect, direct response, delegate).' },
    { code: 'MCD0304', name: 'ConflictingRollouts', severity: 'error', description: 'Two Rollouts drive the same VirtualService route (a Rollout without `route` drives all of them).' },
  ],
  run(ctx: AnalysisContext) {
    const byRoute = new Map<string, Resource<'Rollout'>[]>();
    for (const ro of ctx.config.ofKind('Rollout')) {
      if (ro.spec.strategy === 'proxies') continue; // a config canary targets kinds and namespaces, not a route
      const t = rolloutTarget(ctx, ro);
      if ('error' in t) {
        ctx.report(ro, t.error, 'error', t.message, t.path);
        continue;
      }
      for (const r of t.routes) {
        const key = `${nsName(t.vs)} ${r.route.name ? `route "${r.route.name}"` : `http[${r.index}]`}`;
        let l = byRoute.get(key);
        if (!l) byRoute.set(key, (l = []));
        l.push(ro);
      }
    }
    const reported = new Set<Resource<'Rollout'>>();
    for (const [key, list] of byRoute) {
      if (list.length < 2) continue;
      const names = list.map((r) => nsName(r)).sort().join(', ');
      for (const ro of list) {
        if (reported.has(ro)) continue;
        reported.add(ro);
        ctx.report(ro, 'MCD0304', 'error', `Rollouts ${names} all drive ${key}; only one Rollout may own a route`, 'spec.target');
      }
    }
  },
};
