// meshcd Rollout references (MCD030x):
// MCD0301 RolloutVirtualServiceNotFound — the VirtualService does not exist.
// MCD0302 RolloutRouteNotFound — the named http route is not in it (or no
//   route is named and the VirtualService has more than one).
// MCD0303 RolloutDestinationNotInRoute — stable or canary (host + subset) is
//   not one of the route's destinations, so weights cannot be shifted.
// MCD0304 ConflictingRollouts — two Rollouts drive the same route.
// MCD0305 RolloutSubsetNotFound — stable or canary names a subset no
//   DestinationRule defines for its host.

import type { HTTPRoute } from '../../api/istio.js';
import type { Resource } from '../../api/types.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

/** The VirtualService and http route a Rollout drives, or why it cannot be found. */
export function rolloutTarget(ctx: AnalysisContext, ro: Resource<'Rollout'>):
  | { vs: Resource<'VirtualService'>; routeIndex: number; route: HTTPRoute }
  | { error: 'MCD0301' | 'MCD0302'; message: string; path: string } {
  const ref = isObj(ro.spec.virtualService) ? ro.spec.virtualService : undefined;
  if (!ref || typeof ref.name !== 'string') return { error: 'MCD0301', message: 'Rollout names no VirtualService', path: 'spec.virtualService' };
  const ns = typeof ref.namespace === 'string' && ref.namespace ? ref.namespace : ro.metadata.namespace;
  const vs = ctx.config.get('VirtualService', ns, ref.name);
  if (!vs) return { error: 'MCD0301', message: `Referenced VirtualService not found: "${ns}/${ref.name}"`, path: 'spec.virtualService.name' };
  const http = arr(vs.spec.http);
  if (typeof ref.route === 'string' && ref.route !== '') {
    const i = http.findIndex((r) => isObj(r) && r.name === ref.route);
    if (i < 0) return { error: 'MCD0302', message: `VirtualService ${nsName(vs)} has no http route named "${ref.route}"`, path: 'spec.virtualService.route' };
    return { vs, routeIndex: i, route: http[i]! };
  }
  if (http.length !== 1) {
    return { error: 'MCD0302', message: `VirtualService ${nsName(vs)} has ${http.length} http routes; name the one to roll out in spec.virtualService.route`, path: 'spec.virtualService' };
  }
  return { vs, routeIndex: 0, route: http[0]! };
}

export const rollouts: Analyzer = {
  name: 'rollout/references',
  codes: [
    { code: 'MCD0301', name: 'RolloutVirtualServiceNotFound', severity: 'error', description: 'A Rollout names a VirtualService that does not exist.' },
    { code: 'MCD0302', name: 'RolloutRouteNotFound', severity: 'error', description: 'A Rollout names an http route its VirtualService does not have (or names none when there are several).' },
    { code: 'MCD0303', name: 'RolloutDestinationNotInRoute', severity: 'error', description: "A Rollout's stable or canary destination is not among the route's destinations." },
    { code: 'MCD0304', name: 'ConflictingRollouts', severity: 'error', description: 'Two Rollouts drive the same VirtualService route.' },
    { code: 'MCD0305', name: 'RolloutSubsetNotFound', severity: 'error', description: "A Rollout's stable or canary subset is not defined by any DestinationRule for its host." },
  ],
  run(ctx: AnalysisContext) {
    const byRoute = new Map<string, Resource<'Rollout'>[]>();
    for (const ro of ctx.config.ofKind('Rollout')) {
      const t = rolloutTarget(ctx, ro);
      if ('error' in t) {
        ctx.report(ro, t.error, 'error', t.message, t.path);
        continue;
      }
      const key = `${nsName(t.vs)}#${t.routeIndex}`;
      let l = byRoute.get(key);
      if (!l) byRoute.set(key, (l = []));
      l.push(ro);
      const vsNs = t.vs.metadata.namespace;
      const dests = arr(t.route.route).filter(isObj).map((d) => d.destination).filter(isObj);
      for (const role of ['stable', 'canary'] as const) {
        const d = ro.spec[role];
        if (!isObj(d) || typeof d.host !== 'string') continue;
        const host = ctx.fqdn(d.host, ro.metadata.namespace);
        const inRoute = dests.some((x) => typeof x.host === 'string' && ctx.fqdn(x.host, vsNs) === host && (x.subset ?? '') === (d.subset ?? ''));
        if (!inRoute) {
          ctx.report(ro, 'MCD0303', 'error', `${role} destination ${d.host}${d.subset ? ` subset ${d.subset}` : ''} is not a destination of route ${t.route.name ? `"${t.route.name}"` : `http[${t.routeIndex}]`} of VirtualService ${nsName(t.vs)}`, `spec.${role}`);
        }
        if (typeof d.subset === 'string' && d.subset !== '' && !ctx.hasSubset({ host: d.host, subset: d.subset }, ro.metadata.namespace)) {
          ctx.report(ro, 'MCD0305', 'error', `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"`, `spec.${role}.subset`);
        }
      }
    }
    for (const [key, list] of byRoute) {
      if (list.length < 2) continue;
      const names = list.map((r) => nsName(r)).sort().join(', ');
      for (const ro of list) ctx.report(ro, 'MCD0304', 'error', `Rollouts ${names} all drive route ${key}; only one Rollout may own a route`, 'spec.virtualService');
    }
  },
};
