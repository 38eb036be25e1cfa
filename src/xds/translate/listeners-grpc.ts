// Proxyless gRPC (grpc-js-xds, grpc-go, grpc-java), Istio's conventions:
// - client: one api_listener per name a client may dial (`host:port`,
//   `name.namespace:port`, `name.namespace.svc:port`, and the short name in
//   the client's namespace: ../names.ts grpcClientListenerNames), HCM with
//   RDS `outbound|port||host`, http_filters fault + router;
// - server: `xds.istio.io/grpc/lds/inbound/IP:PORT` listeners (one per
//   port, so the chain needs no match) for every address a server may bind
//   (the workload's, 0.0.0.0, [::], loopback; grpc-js checks the listener's
//   socket_address against it), an inline route config with a non-forwarding
//   action, RBAC filters from AuthorizationPolicy, mTLS from PeerAuthentication.
// Every alias is a listener of its own, so the xDS server looks names up as they are.
// grpc-js-xds refuses listener_filters, use_original_dst, more than one
// network filter per chain, SDS and inline certificates; none appear here.

import type { XdsResource } from '../../api/types.js';
import type { MeshService } from '../../mesh/model.js';
import { GRPC_SERVER_BIND_ALIASES, clusterName, grpcClientListenerNames, grpcServerListenerName } from '../names.js';
import { ADS_SOURCE, T, any, listenerResource, routeResource } from './common.js';
import { isHttpish } from './clusters.js';
import { rbacHttpFilters } from './rbac.js';
import { routesKey, serviceDomains, serviceRoutes } from './routes.js';
import { FragmentMemo } from './memo.js';
import { istioMutualDownstream } from './tls.js';
import type { ProxyView } from './view.js';
import type { FilterChain } from '../envoy-types.js';

const FAULT_FILTER = { name: 'envoy.filters.http.fault', typed_config: any(T.fault) };
const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: any(T.router) };

const clientMemo = new FragmentMemo<{ route: XdsResource; aliases: XdsResource[] }>();

export function grpcClientResources(view: ProxyView): { listeners: Map<string, XdsResource>; routes: Map<string, XdsResource> } {
  const listeners = new Map<string, XdsResource>();
  const routes = new Map<string, XdsResource>();
  const { settings } = view.model;
  for (const svc of view.services) {
    const vs = view.virtualServiceFor(svc.hostname);
    for (const port of svc.ports) {
      const ctx = { view, gateway: 'mesh', port: port.number };
      // The route configuration and its alias listeners read what the routes read, plus the namespace (aliases) and settings.
      const bundle = clientMemo.get(svc, `${routesKey(ctx, vs, svc, port.number)}|${view.proxy.namespace}`, view, () => {
        const rdsName = clusterName('outbound', port.number, undefined, svc.hostname);
        const vhost = {
          name: `${svc.hostname}:${port.number}`,
          domains: serviceDomains(svc, port.number, view.proxy.namespace, settings.clusterDomain).filter((d) => !/^\d|^\[/.test(d)),
          routes: serviceRoutes(ctx, vs, svc, port.number),
        };
        const route = routeResource(rdsName, { name: rdsName, virtual_hosts: [vhost] });
        const aliases = grpcClientListenerNames(svc.hostname, port.number, view.proxy.namespace, settings.clusterDomain).map((name) => {
          const hcm = any(T.hcm, {
            stat_prefix: name,
            rds: { config_source: ADS_SOURCE, route_config_name: rdsName },
            http_filters: [FAULT_FILTER, ROUTER_FILTER],
          });
          return listenerResource(name, { name, api_listener: { api_listener: hcm } });
        });
        return { route, aliases };
      });
      routes.set(bundle.route.name, bundle.route);
      for (const l of bundle.aliases) listeners.set(l.name, l);
    }
  }
  return { listeners, routes };
}

/** Server-side listeners for the workloads this proxy runs, one per address it may bind (its IPs, 0.0.0.0, [::]). */
export function grpcServerListeners(view: ProxyView): Map<string, XdsResource> {
  const out = new Map<string, XdsResource>();
  const byPort = new Map<number, { svc: MeshService; servicePort: number; protocol: string; ns: string; labels: Record<string, string> }>();
  for (const inst of view.inbound) {
    for (const p of inst.service.ports) {
      const port = inst.endpoint.ports[p.number] ?? p.number;
      if (!byPort.has(port)) byPort.set(port, { svc: inst.service, servicePort: p.number, protocol: p.protocol, ns: inst.endpoint.namespace, labels: inst.endpoint.labels });
    }
  }
  // Only the addresses of the workloads this proxy runs: other IPs of the proxy change nothing.
  const addresses = [...new Set([...[...new Set(view.inbound.map((i) => i.endpoint.address))].sort(), ...GRPC_SERVER_BIND_ALIASES])];
  for (const [port, info] of [...byPort].sort((a, b) => a[0] - b[0])) {
    if (!isHttpish(info.protocol) && info.protocol !== 'UNKNOWN') {
      view.sink.add({ code: 'MCD4130', severity: 'info', message: `port ${port} of ${info.svc.hostname} is ${info.protocol}; proxyless gRPC servers serve HTTP/2 only`, ...(info.svc.resource ? { resource: info.svc.resource } : {}) });
    }
    const mode = view.mtlsMode(info.ns, info.labels, port);
    if (mode === 'PERMISSIVE' && view.model.peerAuthentications.length > 0) {
      view.sink.add({ code: 'MCD4131', severity: 'info', message: `PERMISSIVE mTLS on port ${port}: proxyless gRPC servers cannot detect TLS per connection, so they accept plaintext`, ...(info.svc.resource ? { resource: info.svc.resource } : {}) });
    }
    const policies = view.authorizationPolicies(info.ns, info.labels);
    const httpFilters = [...rbacHttpFilters(view, policies), ROUTER_FILTER];
    const routeName = clusterName('inbound', port, undefined, '');
    const hcm = any(T.hcm, {
      stat_prefix: routeName,
      route_config: {
        name: routeName,
        virtual_hosts: [{ name: `inbound|grpc|${port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, decorator: { operation: `${info.svc.hostname}:${info.servicePort}/*` }, non_forwarding_action: {} }] }],
      },
      http_filters: httpFilters,
    });
    // No filter_chain_match: grpc-js-xds never matches a chain that sets
    // destination_port, server_names or a transport_protocol other than
    // raw_buffer (gRFC A36), and the listener is per port already.
    const chain: FilterChain = {
      name: routeName,
      filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }],
    };
    if (mode === 'STRICT') chain.transport_socket = istioMutualDownstream('grpc');
    for (const ip of addresses) {
      const name = grpcServerListenerName(ip, port);
      const bare = ip.replace(/^\[|\]$/g, '');
      out.set(name, listenerResource(name, { name, address: { socket_address: { address: bare === '' ? '::' : bare, port_value: port } }, filter_chains: [chain] }));
    }
  }
  return out;
}
