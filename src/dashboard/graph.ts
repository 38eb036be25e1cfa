// The mesh as a graph, drawn from config (not traffic): gateways, services
// (hosts) and their subsets as nodes; each VirtualService route destination
// as an edge from where traffic enters the route (a gateway, or the
// VirtualService's own host inside the mesh) to the service or subset it
// goes to, labelled with the route's name and weight. Routes a Rollout is
// walking out are marked; where its overlay replaces a route's destinations
// (GET /api/v1/rollouts `overrides`, the same overlay the xDS server
// applies), each edge carries the weight in force now beside Git's, and a
// destination only the overlay names (Git dropped it, or an A/B header
// route, or a mirror) gets an edge of its own. Pure: plain values in and out
// (the dashboard lays it out with dagre; the unit tests check it).
// Imports: src/mesh/names.ts (host and gateway reference rules).

import { resolveGatewayRef, resolveHost } from '../mesh/names.js';

/** One resource as GET /api/v1/config returns it. */
export interface ConfigResource {
  kind: string;
  namespace: string;
  name: string;
  resource: { spec?: unknown };
}

/** One destination of an override (src/api/types.ts OverlayDestination). */
export interface OverrideDestination {
  host: string;
  subset?: string;
  port?: number;
  weight: number;
}

/** A Rollout, as GET /api/v1/rollouts returns it (the fields used here). */
export interface RolloutRef {
  namespace: string;
  name: string;
  phase: string;
  canaryWeight: number;
  target: { virtualService: string; route?: string };
  /** The routing in force where it differs from Git's, per http route index of the target (src/api/types.ts RouteOverride). */
  overrides?: readonly {
    routeIndex: number;
    destinations: readonly OverrideDestination[];
    headerRoute?: { destinations: readonly OverrideDestination[] };
    mirror?: { host: string; subset?: string; port?: number; percent: number };
  }[];
}

export type NodeKind = 'gateway' | 'service' | 'subset' | 'external';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  label: string;
  /** Second line: namespace, ports, labels. */
  detail?: string;
  namespace?: string;
  /** A subset named by a DestinationRule but no route. */
  unrouted?: boolean;
}

export interface GraphEdge {
  id: string;
  from: string;
  to: string;
  /** `ns/virtualService` it comes from. */
  virtualService: string;
  route: string;
  protocol: 'http' | 'tcp' | 'tls';
  /** Percent from config; undefined for a single destination (100). */
  weight?: number;
  /** Git's route does not name this destination: only the routing in force does. */
  notInGit?: boolean;
  /** Percent in force now where a Rollout's overlay replaces the route's destinations (0: Git names it, the overlay gives it nothing yet). */
  inForce?: number;
  /** Requests copied here (a mirror step), percent; the edge carries no response. */
  mirror?: number;
  /** `ns/name` of the Rollout walking this route out (or whose rollback Git does not state yet). */
  rollout?: string;
  /** Its canary weight now. */
  canaryWeight?: number;
  /** Route has match conditions (header, URI, …). */
  matched: boolean;
}

export interface MeshGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const IN_FLIGHT = new Set(['Progressing', 'Paused']);

export function meshGraph(resources: readonly ConfigResource[], rollouts: readonly RolloutRef[] = [], clusterDomain = 'svc.cluster.local'): MeshGraph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const settings = { clusterDomain };
  const node = (n: GraphNode) => {
    const had = nodes.get(n.id);
    if (!had) nodes.set(n.id, n);
    else if (had.unrouted && !n.unrouted) had.unrouted = false;
    return n.id;
  };
  const serviceNode = (host: string, namespace?: string) => node({ id: `svc:${host}`, kind: 'service', label: host, ...(namespace ? { namespace } : {}) });
  const hostNamespace = (host: string) => {
    const parts = host.split('.');
    return parts.length >= 3 && host.endsWith(`.${clusterDomain}`) ? parts[1] : undefined;
  };

  for (const r of resources) {
    const spec = isObj(r.resource.spec) ? r.resource.spec : {};
    if (r.kind === 'ServiceEntry') {
      const external = str(spec.location) === 'MESH_EXTERNAL';
      const ports = arr(spec.ports).filter(isObj).map((p) => `${p.number}/${str(p.protocol) ?? '?'}`).join(' ');
      for (const h of arr(spec.hosts)) {
        const host = str(h);
        if (!host) continue;
        node({ id: `svc:${resolveHost(host, r.namespace, settings)}`, kind: external ? 'external' : 'service', label: resolveHost(host, r.namespace, settings), namespace: r.namespace, ...(ports ? { detail: ports } : {}) });
      }
    } else if (r.kind === 'Gateway') {
      const hosts = arr(spec.servers).filter(isObj).flatMap((s) => arr(s.hosts).map(str).filter((x): x is string => !!x));
      node({ id: `gw:${r.namespace}/${r.name}`, kind: 'gateway', label: `${r.namespace}/${r.name}`, namespace: r.namespace, detail: [...new Set(hosts)].join(' ') });
    } else if (r.kind === 'DestinationRule') {
      const host = str(spec.host);
      if (!host) continue;
      const fqdn = resolveHost(host, r.namespace, settings);
      serviceNode(fqdn, hostNamespace(fqdn));
      for (const s of arr(spec.subsets).filter(isObj)) {
        const name = str(s.name);
        if (!name) continue;
        const labels = isObj(s.labels) ? Object.entries(s.labels).map(([k, v]) => `${k}=${String(v)}`).join(',') : '';
        node({ id: `sub:${fqdn}#${name}`, kind: 'subset', label: name, detail: labels || fqdn, unrouted: true });
      }
    }
  }

  // A Rollout marks the routes it walks out; its overrides are what runs there now.
  const marking = rollouts.filter((ro) => IN_FLIGHT.has(ro.phase) || (ro.overrides?.length ?? 0) > 0);
  const destKey = (host: string, subset: string | undefined, port: unknown) => `${host}#${subset ?? ''}#${typeof port === 'number' ? port : ''}`;
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const spec = isObj(r.resource.spec) ? r.resource.spec : {};
    const gateways = arr(spec.gateways).map(str).filter((x): x is string => !!x).map((g) => resolveGatewayRef(g, r.namespace));
    const entries = gateways.length === 0 || gateways.includes('mesh') ? [...gateways.filter((g) => g !== 'mesh').map((g) => `gw:${g}`), ...arr(spec.hosts).map(str).filter((x): x is string => !!x).map((h) => serviceNode(resolveHost(h, r.namespace, settings), hostNamespace(resolveHost(h, r.namespace, settings))))] : gateways.map((g) => `gw:${g}`);
    for (const g of entries) if (g.startsWith('gw:') && !nodes.has(g)) node({ id: g, kind: 'gateway', label: g.slice(3), detail: 'not in the config' });
    const vs = `${r.namespace}/${r.name}`;
    const target = (host: string, subset: string | undefined) => {
      const fqdn = resolveHost(host, r.namespace, settings);
      const svc = serviceNode(fqdn, hostNamespace(fqdn));
      return subset ? node({ id: `sub:${fqdn}#${subset}`, kind: 'subset', label: subset, detail: fqdn }) : svc;
    };
    const push = (route: string, protocol: GraphEdge['protocol'], to: string, fields: Partial<GraphEdge> & { matched: boolean }) => {
      for (const from of entries) if (from !== to) edges.push({ id: `${vs}/${route}/${from}->${to}${fields.mirror !== undefined ? '/mirror' : ''}`, from, to, virtualService: vs, route, protocol, ...fields });
    };
    for (const protocol of ['http', 'tcp', 'tls'] as const) {
      arr(spec[protocol]).filter(isObj).forEach((route, i) => {
        const routeName = str(route.name) ?? `${protocol}[${i}]`;
        const rollout = marking.find((ro) => ro.namespace === r.namespace && ro.target.virtualService === r.name && (ro.target.route === undefined || ro.target.route === routeName || (ro.overrides ?? []).some((o) => o.routeIndex === i)));
        const override = protocol === 'http' ? rollout?.overrides?.find((o) => o.routeIndex === i) : undefined;
        const marked = rollout ? { rollout: `${rollout.namespace}/${rollout.name}`, canaryWeight: rollout.canaryWeight } : {};
        const matched = arr(route.match).length > 0;
        // What runs now, by destination (host, subset, port), when the overlay replaces this route's destinations.
        const now = new Map<string, { d: OverrideDestination; weight: number }>();
        for (const d of override?.destinations ?? []) {
          const k = destKey(resolveHost(d.host, r.namespace, settings), d.subset, d.port);
          now.set(k, { d, weight: (now.get(k)?.weight ?? 0) + d.weight });
        }
        const dests = arr(route.route).filter(isObj);
        for (const d of dests) {
          const dest = isObj(d.destination) ? d.destination : {};
          const host = str(dest.host);
          if (!host) continue;
          const subset = str(dest.subset);
          const to = target(host, subset);
          const weight = typeof d.weight === 'number' ? d.weight : dests.length > 1 ? 0 : undefined;
          const k = destKey(resolveHost(host, r.namespace, settings), subset, isObj(dest.port) ? dest.port.number : undefined);
          const inForce = override ? (now.get(k)?.weight ?? 0) : undefined;
          now.delete(k);
          push(routeName, protocol, to, { ...(weight !== undefined ? { weight } : {}), ...(inForce !== undefined ? { inForce } : {}), ...marked, matched });
        }
        // Destinations only the routing in force names (Git no longer does).
        for (const { d, weight } of now.values()) push(routeName, protocol, target(d.host, d.subset), { notInGit: true, inForce: weight, ...marked, matched });
        // An A/B step's header route (before this one, its matches ANDed with the route's) and a mirror.
        for (const d of override?.headerRoute?.destinations ?? []) push(`${routeName}-canary`, protocol, target(d.host, d.subset), { notInGit: true, inForce: d.weight, ...marked, matched: true });
        if (override?.mirror) push(routeName, protocol, target(override.mirror.host, override.mirror.subset), { notInGit: true, mirror: override.mirror.percent, ...marked, matched });
      });
    }
  }
  // A subset is drawn under its service: an edge service → subset unless a route already leads there from it.
  for (const n of nodes.values()) {
    if (n.kind !== 'subset') continue;
    const host = n.id.slice(4, n.id.lastIndexOf('#'));
    const svc = `svc:${host}`;
    if (!edges.some((e) => e.to === n.id && e.from === svc) && n.unrouted) edges.push({ id: `${svc}->${n.id}`, from: svc, to: n.id, virtualService: '', route: '', protocol: 'http', matched: false });
  }
  return { nodes: [...nodes.values()], edges };
}
