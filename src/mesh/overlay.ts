// The rollout overlay applied to one VirtualService's http routes (model
// level): the destinations and weights in force now replace the route's
// own; a header route (A/B step) is inserted before the route, its matches
// ANDed with the route's; a mirror is added. xds/translate then emits the
// result for every client kind (and says where a client cannot follow, e.g.
// MCD4113 for mirrors on proxyless gRPC). Pure.
// Imports: src/api (types), ./names.js, ./model.js (types).

import type { Diagnostic, OverlayDestination, OverlayStringMatch, RouteOverride } from '../api/types.js';
import type { DestinationModel, HttpMatchModel, HttpRouteModel, NamedMatch, StringMatchModel, WeightedDestination } from './model.js';
import { resolveHost } from './names.js';

export interface OverlayScope {
  /** The VirtualService key, namespace and the cluster domain its hosts resolve in. */
  key: string;
  namespace: string;
  clusterDomain: string;
}

function destinationModel(d: { host: string; subset?: string; port?: number }, scope: OverlayScope): DestinationModel {
  return {
    host: resolveHost(d.host, scope.namespace, { clusterDomain: scope.clusterDomain }),
    ...(d.subset ? { subset: d.subset } : {}),
    ...(d.port ? { port: d.port } : {}),
  };
}

function weighted(list: readonly OverlayDestination[], scope: OverlayScope, previous: readonly WeightedDestination[]): WeightedDestination[] {
  return list.map((d) => {
    const m = destinationModel(d, scope);
    // Keep per-destination header operations the route gives the same destination.
    const same = previous.find((p) => p.host === m.host && (p.subset ?? '') === (m.subset ?? '') && (p.port ?? 0) === (m.port ?? 0));
    return { ...m, weight: d.weight, ...(same?.headers ? { headers: same.headers } : {}) };
  });
}

function stringMatch(m: OverlayStringMatch): StringMatchModel {
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix };
  if (typeof m.regex === 'string') return { kind: 'regex', value: m.regex };
  return { kind: 'prefix', value: '' };
}

function named(rec: Record<string, OverlayStringMatch> | undefined, lower: boolean): NamedMatch[] {
  return Object.keys(rec ?? {})
    .sort()
    .map((name) => ({ name: lower ? name.toLowerCase() : name, match: stringMatch(rec![name]!) }));
}

const EMPTY_MATCH: HttpMatchModel = { headers: [], withoutHeaders: [], queryParams: [], ignoreUriCase: false, gateways: [] };

function headerRouteMatches(route: HttpRouteModel, matches: NonNullable<RouteOverride['headerRoute']>['matches']): HttpMatchModel[] {
  const base = route.matches.length > 0 ? route.matches : [EMPTY_MATCH];
  return base.flatMap((b) => matches.map((m) => ({ ...b, headers: [...b.headers, ...named(m.headers, true)], queryParams: [...b.queryParams, ...named(m.queryParams, false)] })));
}

/** `routes` with the overrides applied; an override naming a route that does not exist is diagnosed (MCD4001) and ignored. */
export function applyOverlay(routes: readonly HttpRouteModel[], list: readonly RouteOverride[], scope: OverlayScope, diagnostics: Diagnostic[]): HttpRouteModel[] {
  const out = routes.slice();
  const ignored = (o: RouteOverride, why: string) =>
    diagnostics.push({ code: 'MCD4001', severity: 'warning', message: `rollout overlay ${why}; override ignored`, resource: scope.key, path: `spec.http[${o.routeIndex}]` });
  // From the last route index backwards, so inserted header routes do not shift the positions still to find.
  for (const o of list.slice().sort((a, b) => b.routeIndex - a.routeIndex)) {
    const pos = out.findIndex((r) => r.index === o.routeIndex);
    const route = pos >= 0 ? out[pos] : undefined;
    if (!route) {
      ignored(o, `names http route ${o.routeIndex} of ${scope.key}, which does not exist`);
      continue;
    }
    if (o.destinations.length === 0 || route.redirect || route.directResponse) {
      ignored(o, `has no destinations for ${scope.key} http[${o.routeIndex}]`);
      continue;
    }
    const updated: HttpRouteModel = { ...route, destinations: weighted(o.destinations, scope, route.destinations) };
    if (o.mirror && o.mirror.percent > 0) {
      updated.mirrors = [...route.mirrors, { destination: destinationModel(o.mirror, scope), percent: o.mirror.percent }];
    }
    out[pos] = updated;
    if (o.headerRoute && o.headerRoute.matches.length > 0 && o.headerRoute.destinations.length > 0) {
      const headerRoute: HttpRouteModel = {
        ...route,
        name: `${route.name ?? `route-${route.index}`}-canary`,
        matches: headerRouteMatches(route, o.headerRoute.matches),
        destinations: weighted(o.headerRoute.destinations, scope, route.destinations),
        mirrors: [],
      };
      out.splice(pos, 0, headerRoute);
    }
  }
  return out;
}
