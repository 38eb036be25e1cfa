// Envoy sidecar listeners, laid out like istiod's so config dumps read the same:
// - `virtualOutbound` 0.0.0.0:15001 (use_original_dst; unmatched traffic to
//   PassthroughCluster or BlackHoleCluster per the outbound traffic policy);
// - `0.0.0.0_<port>` per outbound HTTP port (bind_to_port false) with RDS
//   named by the port ("9080"), and per TCP/TLS port with tcp_proxy chains;
// - `virtualInbound` 0.0.0.0:15006 with a filter chain per inbound port and
//   transport protocol (mTLS per PeerAuthentication), RBAC from
//   AuthorizationPolicy, plus a passthrough chain.

import type { XdsResource } from '../../api/types.js';
import type { L4RouteModel, MeshService, VirtualServiceModel } from '../../mesh/model.js';
import { cmp } from '../../mesh/names.js';
import { BLACKHOLE, INBOUND_PASSTHROUGH, PASSTHROUGH, VIRTUAL_INBOUND, VIRTUAL_OUTBOUND, clusterName, portListenerName } from '../names.js';
import { ADS_SOURCE, T, any, durationOf, listenerResource, routeResource } from './common.js';
import { type ClusterSet, destinationCluster, inboundCluster, isHttpish } from './clusters.js';
import { socketAddress } from './endpoints.js';
import { rbacHttpFilters, rbacNetworkFilters } from './rbac.js';
import { serviceDomains, serviceRoutes } from './routes.js';
import { istioMutualDownstream } from './tls.js';
import type { ProxyView } from './view.js';
import type { FilterChain, HttpConnectionManager, HttpFilter, Listener, ListenerFilter, NetworkFilter, VirtualHost, envoy_config_core_v3_CidrRange as CidrRange } from '../envoy-types.js';


export const ENVOY_HTTP_FILTERS: HttpFilter[] = [
  { name: 'envoy.filters.http.fault', typed_config: any(T.fault) },
  { name: 'envoy.filters.http.cors', typed_config: any(T.cors) },
  { name: 'envoy.filters.http.router', typed_config: any(T.router) },
];

export function hcmFilter(fields: HttpConnectionManager): NetworkFilter {
  return { name: 'envoy.filters.network.http_connection_manager', typed_config: any(T.hcm, fields) };
}

export function tcpProxyFilter(statPrefix: string, clusters: { name: string; weight: number }[]): NetworkFilter {
  const live = clusters.filter((c) => c.weight > 0);
  const target = live.length === 1 ? { cluster: live[0]!.name } : { weighted_clusters: { clusters: live.map((c) => ({ name: c.name, weight: c.weight })) } };
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: any(T.tcpProxy, { stat_prefix: statPrefix, ...target }) };
}

function listenerFilter(name: string, typeUrl: string): ListenerFilter {
  return { name, typed_config: any(typeUrl) };
}

/** Ports the sidecar itself listens on (as Istio reserves them). */
const RESERVED_PORTS = new Set([15000, 15001, 15006, 15020, 15021, 15090]);

export const TLS_INSPECTOR = listenerFilter('envoy.filters.listener.tls_inspector', T.tlsInspector);

/** Clusters an L4 route (TCP or TLS) sends to, from a listener on `port`. */
export function l4Targets(view: ProxyView, vs: VirtualServiceModel, r: L4RouteModel, port: number): { name: string; weight: number }[] {
  return r.destinations.flatMap((d, i) => {
    const name = destinationCluster(view, d, port, { resource: vs.key, path: `${r.path}.route[${i}].destination` });
    return name ? [{ name, weight: d.weight }] : [];
  });
}

function cidrOf(addr: string): CidrRange {
  const [a, len] = addr.split('/');
  return { address_prefix: a, prefix_len: { value: len !== undefined ? Number(len) : a!.includes(':') ? 128 : 32 } };
}

/**
 * Virtual hosts by their routes (shared across namespaces when they read
 * nothing of the proxy: routes.ts `portable`) and their name and domains:
 * a service outside the proxy's namespace has the same domains from every
 * namespace, so its virtual host is one object for all of them, checked and
 * kept once (src/xds/proto.ts, reuse).
 */
const vhostMemo = new WeakMap<readonly object[], Map<string, VirtualHost>>();

function virtualHost(name: string, domains: string[], routes: VirtualHost['routes']): VirtualHost {
  const key = `${name}\0${domains.join(',')}`;
  let byKey = vhostMemo.get(routes!);
  if (!byKey) vhostMemo.set(routes!, (byKey = new Map()));
  let vh = byKey.get(key);
  if (!vh) byKey.set(key, (vh = { name, domains, routes }));
  return vh;
}

let catchAll: { allow: VirtualHost; block: VirtualHost } | undefined;

function outboundHttp(view: ProxyView, port: number, services: MeshService[], routes: Map<string, XdsResource>): Listener {
  const name = String(port);
  const used = new Set<string>();
  const vhosts: VirtualHost[] = [];
  for (const svc of services) {
    const domains = serviceDomains(svc, port, view.proxy.namespace, view.model.settings.clusterDomain).filter((d) => !used.has(d));
    domains.forEach((d) => used.add(d));
    if (domains.length === 0) continue;
    const vs = view.virtualServiceFor(svc.hostname);
    vhosts.push(virtualHost(`${svc.hostname}:${port}`, domains, serviceRoutes({ view, gateway: 'mesh', port }, vs, svc, port)));
  }
  catchAll ??= {
    allow: { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH, timeout: durationOf(0) } }] },
    block: { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] },
  };
  vhosts.push(view.outboundPolicy === 'ALLOW_ANY' ? catchAll.allow : catchAll.block);
  routes.set(name, routeResource(name, { name, virtual_hosts: vhosts, validate_clusters: { value: false } }));
  const lname = portListenerName(port);
  return {
    name: lname,
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    bind_to_port: { value: false },
    filter_chains: [{ filters: [hcmFilter({ stat_prefix: `outbound_0.0.0.0_${port}`, rds: { config_source: ADS_SOURCE, route_config_name: name }, http_filters: ENVOY_HTTP_FILTERS })] }],
  };
}

function outboundTcp(view: ProxyView, port: number, services: MeshService[]): Listener | undefined {
  const chains: FilterChain[] = [];
  let defaultTaken = false;
  let sni = false;
  for (const svc of services) {
    const vs = view.virtualServiceFor(svc.hostname);
    const proto = svc.ports.find((p) => p.number === port)?.protocol;
    const def = [{ name: clusterName('outbound', port, undefined, svc.hostname), weight: 100 }];
    if (proto === 'TLS' || proto === 'HTTPS') {
      // TLS: route by SNI, the VirtualService's tls routes first.
      const tlsRoutes = vs?.tls.filter((r) => r.matches.some((m) => m.port === undefined || m.port === port)) ?? [];
      const seen = new Set<string>();
      for (const r of tlsRoutes) {
        const names = [...new Set(r.matches.flatMap((m) => m.sniHosts))].filter((h) => !seen.has(h)).sort(cmp);
        names.forEach((h) => seen.add(h));
        const targets = l4Targets(view, vs!, r, port);
        if (names.length === 0 || targets.length === 0) continue;
        chains.push({ name: `${svc.hostname}:${port}:${r.path}`, filter_chain_match: { server_names: names }, filters: [tcpProxyFilter(`outbound|${port}||${svc.hostname}`, targets)] });
      }
      if (!seen.has(svc.hostname)) chains.push({ name: `${svc.hostname}:${port}`, filter_chain_match: { server_names: [svc.hostname] }, filters: [tcpProxyFilter(`outbound|${port}||${svc.hostname}`, def)] });
      sni = true;
      continue;
    }
    const tcpRoute = vs?.tcp.find((r) => r.matches.length === 0 || r.matches.some((m) => m.port === undefined || m.port === port));
    const targets = tcpRoute ? l4Targets(view, vs!, tcpRoute, port) : def;
    if (targets.length === 0) continue;
    const addresses = svc.addresses;
    if (addresses.length > 0) {
      chains.push({ name: `${svc.hostname}:${port}`, filter_chain_match: { prefix_ranges: addresses.map(cidrOf) }, filters: [tcpProxyFilter(`outbound|${port}||${svc.hostname}`, targets)] });
    } else if (!defaultTaken) {
      defaultTaken = true;
      chains.push({ name: `${svc.hostname}:${port}`, filters: [tcpProxyFilter(`outbound|${port}||${svc.hostname}`, targets)] });
    } else {
      view.sink.add({ code: 'MCD4140', severity: 'warning', message: `TCP service ${svc.hostname} shares port ${port} with another service without addresses; give it addresses to be reachable from sidecars`, ...(svc.resource ? { resource: svc.resource } : {}) });
    }
  }
  if (chains.length === 0) return undefined;
  return {
    name: portListenerName(port),
    address: socketAddress('0.0.0.0', port),
    traffic_direction: 'OUTBOUND',
    bind_to_port: { value: false },
    ...(sni ? { listener_filters: [TLS_INSPECTOR] } : {}),
    filter_chains: chains,
  };
}

function virtualInbound(view: ProxyView, cs: ClusterSet): Listener {
  const chains: FilterChain[] = [];
  const ports = new Map<number, { servicePort: number; protocol: string; ns: string; labels: Record<string, string>; host: string }>();
  for (const inst of view.inbound) {
    for (const p of inst.service.ports) {
      const ep = inst.endpoint.ports[p.number] ?? p.number;
      if (!ports.has(ep)) ports.set(ep, { servicePort: p.number, protocol: p.protocol, ns: inst.endpoint.namespace, labels: inst.endpoint.labels, host: inst.service.hostname });
    }
  }
  for (const [port, info] of [...ports].sort((a, b) => a[0] - b[0])) {
    const cluster = clusterName('inbound', info.servicePort, undefined, '');
    cs.clusters.set(cluster, inboundCluster(info.servicePort, port, info.protocol));
    const mode = view.mtlsMode(info.ns, info.labels, port);
    let filters: NetworkFilter[];
    if (isHttpish(info.protocol)) {
      const rbac = rbacHttpFilters(view, view.authorizationPolicies(info.ns, info.labels));
      filters = [
        hcmFilter({
          stat_prefix: cluster,
          // As Istio: the application sees the peer's identity in x-forwarded-client-cert.
          forward_client_cert_details: 'APPEND_FORWARD',
          set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true },
          route_config: { name: cluster, virtual_hosts: [{ name: `inbound|http|${port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: durationOf(0) } }] }] },
          http_filters: [...rbac, ...ENVOY_HTTP_FILTERS.filter((f) => f.name !== 'envoy.filters.http.cors')],
        }),
      ];
    } else {
      filters = [...rbacNetworkFilters(view, view.authorizationPolicies(info.ns, info.labels), cluster), tcpProxyFilter(cluster, [{ name: cluster, weight: 100 }])];
    }
    const base = { destination_port: { value: port } };
    if (mode === 'STRICT' || mode === 'PERMISSIVE') {
      chains.push({ name: `${cluster}-tls`, filter_chain_match: { ...base, transport_protocol: 'tls' }, transport_socket: istioMutualDownstream('sidecar'), filters });
    }
    if (mode === 'PERMISSIVE' || mode === 'DISABLE') {
      chains.push({ name: `${cluster}-plaintext`, filter_chain_match: { ...base, transport_protocol: 'raw_buffer' }, filters });
    }
    if (mode === 'STRICT') {
      // Without this chain plaintext to a STRICT port would fall through to the passthrough chain.
      chains.push({ name: `${cluster}-plaintext-refused`, filter_chain_match: { ...base, transport_protocol: 'raw_buffer' }, filters: [tcpProxyFilter(BLACKHOLE, [{ name: BLACKHOLE, weight: 100 }])] });
    }
    if (mode === 'DISABLE') {
      chains.push({ name: `${cluster}-tls-passthrough`, filter_chain_match: { ...base, transport_protocol: 'tls' }, filters });
    }
  }
  chains.push({ name: `${VIRTUAL_INBOUND}-catchall`, filters: [tcpProxyFilter(INBOUND_PASSTHROUGH, [{ name: INBOUND_PASSTHROUGH, weight: 100 }])] });
  return {
    name: VIRTUAL_INBOUND,
    address: socketAddress('0.0.0.0', 15006),
    traffic_direction: 'INBOUND',
    listener_filters: [listenerFilter('envoy.filters.listener.original_dst', T.originalDst), TLS_INSPECTOR],
    filter_chains: chains,
  };
}

/** Outbound listeners and routes: depend on the proxy's namespace and Sidecar, not on the workloads it runs. */
export function sidecarOutbound(view: ProxyView): { listeners: Map<string, XdsResource>; routes: Map<string, XdsResource> } {
  const listeners = new Map<string, XdsResource>();
  const routes = new Map<string, XdsResource>();
  const httpPorts = new Map<number, MeshService[]>();
  const tcpPorts = new Map<number, MeshService[]>();
  for (const svc of view.services) {
    for (const p of svc.ports) {
      if (RESERVED_PORTS.has(p.number)) {
        view.sink.add({ code: 'MCD4143', severity: 'warning', message: `port ${p.number} of ${svc.hostname} is reserved by the sidecar (15000, 15001, 15006, 15020, 15021, 15090); sidecars reach it only through the passthrough`, ...(svc.resource ? { resource: svc.resource } : {}) });
        continue;
      }
      const m = isHttpish(p.protocol) ? httpPorts : tcpPorts;
      let l = m.get(p.number);
      if (!l) m.set(p.number, (l = []));
      l.push(svc);
    }
  }
  for (const port of [...httpPorts.keys()].sort((a, b) => a - b)) {
    if (tcpPorts.has(port)) {
      view.sink.add({ code: 'MCD4142', severity: 'warning', message: `port ${port} is HTTP for some services and TCP for others; sidecars treat it as HTTP` });
    }
    const l = outboundHttp(view, port, httpPorts.get(port)!, routes);
    listeners.set(l.name as string, listenerResource(l.name as string, l));
  }
  for (const port of [...tcpPorts.keys()].sort((a, b) => a - b)) {
    if (httpPorts.has(port)) continue;
    const l = outboundTcp(view, port, tcpPorts.get(port)!);
    if (l) listeners.set(l.name as string, listenerResource(l.name as string, l));
  }
  const fallback = view.outboundPolicy === 'ALLOW_ANY' ? PASSTHROUGH : BLACKHOLE;
  const vo: Listener = {
    name: VIRTUAL_OUTBOUND,
    address: socketAddress('0.0.0.0', 15001),
    traffic_direction: 'OUTBOUND',
    use_original_dst: { value: true },
    filter_chains: [{ name: `${VIRTUAL_OUTBOUND}-catchall-tcp`, filters: [tcpProxyFilter(fallback, [{ name: fallback, weight: 100 }])] }],
  };
  listeners.set(VIRTUAL_OUTBOUND, listenerResource(VIRTUAL_OUTBOUND, vo));
  return { listeners, routes };
}

/** `virtualInbound` for the workloads this proxy runs; adds their `inbound|port||` clusters to `cs`. */
export function sidecarInbound(view: ProxyView, cs: ClusterSet): XdsResource {
  return listenerResource(VIRTUAL_INBOUND, virtualInbound(view, cs));
}
