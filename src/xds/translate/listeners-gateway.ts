// Gateway (router) listeners: for every Gateway whose selector matches the
// proxy's labels, one listener per server port. Plain HTTP servers share a
// filter chain with RDS `http.<port>`; terminated HTTPS servers get a chain
// per server (SNI match, SDS certificate from credentialName) with their own
// RDS; PASSTHROUGH servers get SNI chains with tcp_proxy from VirtualService
// tls routes; TCP servers a tcp_proxy from tcp routes. httpsRedirect sets
// require_tls on the plain-HTTP virtual hosts.

import type { Server } from '../../api/istio.js';
import type { XdsResource } from '../../api/types.js';
import type { GatewayModel, VirtualServiceModel } from '../../mesh/model.js';
import type { FilterChain, RouteConfiguration, VirtualHost } from '../envoy-types.js';
import { cmp, hostMatches, hostsOverlap } from '../../mesh/names.js';
import { clusterSni, portListenerName } from '../names.js';
import { ADS_SOURCE, listenerResource, routeResource } from './common.js';
import { socketAddress } from './endpoints.js';
import { ENVOY_HTTP_FILTERS, TLS_INSPECTOR, hcmFilter, l4Targets, tcpProxyFilter } from './listeners-sidecar.js';
import { rbacHttpFilters } from './rbac.js';
import { gatewayRoutes } from './routes.js';
import { gatewayDownstream } from './tls.js';
import { type ProxyView, selects } from './view.js';


interface BoundServer {
  gw: GatewayModel;
  server: Server;
  index: number;
}

/** `ns/host` → { ns, host }; `*` when the namespace part is absent. */
function splitHost(h: string, gwNs: string): { ns: string; host: string } {
  const i = h.indexOf('/');
  if (i < 0) return { ns: '*', host: h };
  const ns = h.slice(0, i);
  return { ns: ns === '.' ? gwNs : ns, host: h.slice(i + 1) };
}

function kindOf(s: Server): 'http' | 'https' | 'passthrough' | 'auto' | 'tcp' {
  const p = (s.port.protocol ?? '').toUpperCase();
  const mode = s.tls?.mode;
  if (mode === 'AUTO_PASSTHROUGH' && (p === 'TLS' || p === 'HTTPS')) return 'auto';
  if (p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB') return 'http';
  if (p === 'HTTPS') return mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH' ? 'passthrough' : 'https';
  if (p === 'TLS') return mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH' || !mode ? 'passthrough' : 'https';
  return 'tcp';
}

/** Virtual hosts for servers: one per host a bound VirtualService serves within the server's hosts. */
function virtualHosts(view: ProxyView, servers: BoundServer[], port: number, used: Set<string>): VirtualHost[] {
  const byHost = new Map<string, { vss: VirtualServiceModel[]; redirect: boolean; gwRef: string }>();
  for (const { gw, server } of servers) {
    const gwRef = `${gw.namespace}/${gw.name}`;
    const vss = view.virtualServices(gwRef);
    for (const sh of server.hosts) {
      const { ns, host } = splitHost(sh, gw.namespace);
      for (const vs of vss) {
        if (ns !== '*' && vs.namespace !== ns) continue;
        for (const vh of vs.hosts) {
          if (!hostsOverlap(vh, host)) continue;
          // The narrower of the two names the virtual host.
          const name = hostMatches(host, vh) ? vh : host;
          let e = byHost.get(name);
          if (!e) byHost.set(name, (e = { vss: [], redirect: server.tls?.httpsRedirect === true, gwRef }));
          if (!e.vss.includes(vs)) e.vss.push(vs);
        }
      }
    }
  }
  const out: VirtualHost[] = [];
  for (const host of [...byHost.keys()].sort(cmp)) {
    const e = byHost.get(host)!;
    const domains = [host, `${host}:${port}`].filter((d) => !used.has(d));
    if (domains.length === 0) continue;
    domains.forEach((d) => used.add(d));
    const routes = gatewayRoutes({ view, gateway: e.gwRef, port }, e.vss);
    if (routes.length === 0) continue;
    out.push({ name: `${host}:${port}`, domains, routes, ...(e.redirect ? { require_tls: 'ALL' } : {}) });
  }
  return out;
}

function routeConfig(name: string, vhosts: VirtualHost[]): RouteConfiguration {
  const list = vhosts.length > 0 ? vhosts : [{ name: 'blackhole:404', domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, direct_response: { status: 404 } }] }];
  return { name, virtual_hosts: list, validate_clusters: { value: false } };
}

export function gatewayResources(view: ProxyView): { listeners: Map<string, XdsResource>; routes: Map<string, XdsResource> } {
  const listeners = new Map<string, XdsResource>();
  const routes = new Map<string, XdsResource>();
  const gws = view.model.gateways.filter((g) => Object.keys(g.selector).length > 0 && selects(g.selector, view.proxy.labels));
  const byPort = new Map<number, BoundServer[]>();
  for (const gw of gws) {
    gw.servers.forEach((server, index) => {
      let l = byPort.get(server.port.number);
      if (!l) byPort.set(server.port.number, (l = []));
      l.push({ gw, server, index });
    });
  }
  // AuthorizationPolicies select gateways by their labels, like any workload.
  const httpFilters = [...rbacHttpFilters(view, view.authorizationPolicies(view.proxy.namespace, view.proxy.labels)), ...ENVOY_HTTP_FILTERS];
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const servers = byPort.get(port)!;
    const chains: FilterChain[] = [];
    let sni = false;
    const usedSni = new Set<string>();
    let defaultTaken = false;
    const claim = (names: string[], what: string, bs: BoundServer): string[] | undefined => {
      const fresh = names.filter((n) => !usedSni.has(n));
      if (names.length === 0) {
        if (defaultTaken) {
          view.sink.add({ code: 'MCD4150', severity: 'warning', message: `${what} on port ${port} matches every host and another server already does; left out`, resource: bs.gw.key, origin: bs.gw.origin, path: `spec.servers[${bs.index}]` });
          return undefined;
        }
        defaultTaken = true;
        return [];
      }
      if (fresh.length === 0) {
        view.sink.add({ code: 'MCD4150', severity: 'warning', message: `${what} on port ${port} repeats hosts ${names.join(', ')} of another server; left out`, resource: bs.gw.key, origin: bs.gw.origin, path: `spec.servers[${bs.index}]` });
        return undefined;
      }
      fresh.forEach((n) => usedSni.add(n));
      return fresh;
    };
    const httpServers = servers.filter((s) => kindOf(s.server) === 'http');
    if (httpServers.length > 0) {
      const name = `http.${port}`;
      routes.set(name, routeResource(name, routeConfig(name, virtualHosts(view, httpServers, port, new Set()))));
      if (claim([], 'HTTP server', httpServers[0]!) !== undefined) {
        chains.push({ name, filters: [hcmFilter({ stat_prefix: `outbound_0.0.0.0_${port}`, rds: { config_source: ADS_SOURCE, route_config_name: name }, http_filters: httpFilters })] });
      }
    }
    for (const bs of servers.filter((s) => kindOf(s.server) === 'https')) {
      const { gw, server, index } = bs;
      const tls = server.tls ?? {};
      if (tls.mode !== 'ISTIO_MUTUAL' && !tls.credentialName && !(tls.serverCertificate && tls.privateKey)) {
        // Envoy refuses a TLS listener without a certificate; leave the server out rather than NACK the whole listener.
        view.sink.add({ code: 'MCD4151', severity: 'error', message: `HTTPS server on port ${port} has no credentialName nor serverCertificate/privateKey; left out`, resource: gw.key, origin: gw.origin, path: `spec.servers[${index}].tls` });
        continue;
      }
      const name = `https.${port}.${server.name ?? index}.${gw.name}.${gw.namespace}`;
      const sniNames = server.hosts.map((h) => splitHost(h, gw.namespace).host).filter((h) => h !== '*').sort(cmp);
      const names = claim([...new Set(sniNames)], 'HTTPS server', bs);
      if (names === undefined) continue;
      sni = true;
      routes.set(name, routeResource(name, routeConfig(name, virtualHosts(view, [{ ...bs, server: { ...server, tls: { ...server.tls, httpsRedirect: false } } }], port, new Set()))));
      chains.push({
        name,
        ...(names.length > 0 ? { filter_chain_match: { server_names: names } } : {}),
        transport_socket: gatewayDownstream(server.tls ?? {}),
        filters: [hcmFilter({ stat_prefix: `outbound_0.0.0.0_${port}`, rds: { config_source: ADS_SOURCE, route_config_name: name }, http_filters: httpFilters })],
      });
    }
    for (const bs of servers.filter((s) => kindOf(s.server) === 'passthrough')) {
      const gwRef = `${bs.gw.namespace}/${bs.gw.name}`;
      for (const vs of view.virtualServices(gwRef)) {
        for (const r of vs.tls) {
          const hosts = r.matches
            .filter((m) => (m.port === undefined || m.port === port) && (m.gateways.length === 0 || m.gateways.includes(gwRef)))
            .flatMap((m) => m.sniHosts)
            .filter((h) => bs.server.hosts.some((sh) => hostsOverlap(splitHost(sh, bs.gw.namespace).host, h)));
          if (hosts.length === 0) continue;
          const targets = l4Targets(view, vs, r, port);
          if (targets.length === 0) continue;
          const names = claim([...new Set(hosts)].sort(cmp), 'TLS route', bs);
          if (names === undefined || names.length === 0) continue;
          sni = true;
          chains.push({ name: `${vs.namespace}/${vs.name}/${r.path}`, filter_chain_match: { server_names: names }, filters: [tcpProxyFilter(`${vs.namespace}/${vs.name}`, targets)] });
        }
      }
    }
    for (const bs of servers.filter((s) => kindOf(s.server) === 'auto')) {
      // AUTO_PASSTHROUGH (east-west): the client's SNI names the cluster, `outbound_.<port>_.<subset>_.<host>`.
      for (const svc of view.services) {
        if (!bs.server.hosts.some((sh) => hostsOverlap(splitHost(sh, bs.gw.namespace).host, svc.hostname))) continue;
        const subsets = [undefined, ...(view.destinationRule(svc.hostname)?.subsets.map((x) => x.name) ?? [])];
        for (const p of svc.ports) {
          for (const subset of subsets) {
            const sniName = clusterSni(p.number, subset, svc.hostname);
            const names = claim([sniName], 'AUTO_PASSTHROUGH server', bs);
            if (!names) continue;
            sni = true;
            const cluster = `outbound|${p.number}|${subset ?? ''}|${svc.hostname}`;
            chains.push({ name: sniName, filter_chain_match: { server_names: names }, filters: [tcpProxyFilter(cluster, [{ name: cluster, weight: 100 }])] });
          }
        }
      }
    }
    for (const bs of servers.filter((s) => kindOf(s.server) === 'tcp')) {
      const gwRef = `${bs.gw.namespace}/${bs.gw.name}`;
      for (const vs of view.virtualServices(gwRef)) {
        const r = vs.tcp.find((t) => t.matches.length === 0 || t.matches.some((m) => (m.port === undefined || m.port === port) && (m.gateways.length === 0 || m.gateways.includes(gwRef))));
        if (!r) continue;
        const targets = l4Targets(view, vs, r, port);
        if (targets.length === 0 || claim([], 'TCP server', bs) === undefined) continue;
        chains.push({ name: `${vs.namespace}/${vs.name}/${r.path}`, filters: [tcpProxyFilter(`${vs.namespace}/${vs.name}`, targets)] });
        break;
      }
    }
    if (chains.length === 0) continue;
    const name = portListenerName(port);
    listeners.set(
      name,
      listenerResource(name, {
        name,
        address: socketAddress('0.0.0.0', port),
        traffic_direction: 'OUTBOUND',
        ...(sni ? { listener_filters: [TLS_INSPECTOR] } : {}),
        filter_chains: chains,
      }),
    );
  }
  return { listeners, routes };
}
