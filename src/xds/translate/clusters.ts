// Clusters (and their ClusterLoadAssignments) for the services a proxy can
// reach: `outbound|port||host` plus one per DestinationRule subset, with the
// DestinationRule's traffic policy (load balancer, connection pool →
// circuit breakers, outlier detection, TLS) merged the way Istio merges it:
// subset over top level, port-level over both.

import type { XdsResource } from '../../api/types.js';
import type { Cluster, CircuitBreakers, HttpProtocolOptions, OutlierDetection, TransportSocket, envoy_config_cluster_v3_CircuitBreakers_Thresholds as Thresholds } from '../envoy-types.js';
import type { DestinationModel, DestinationRuleModel, MeshService } from '../../mesh/model.js';
import { effectivePolicy, type PolicyModel } from '../../mesh/policy.js';
import { BLACKHOLE, INBOUND_PASSTHROUGH, PASSTHROUGH, clusterName, clusterSni, spiffeId } from '../names.js';
import { ADS_SOURCE, T, any, durationOf, clusterResource, endpointResource } from './common.js';
import { loadAssignment, socketAddress } from './endpoints.js';
import { effectiveLocalitySetting } from './locality.js';
import { istioMutualUpstream, originatedTlsUpstream } from './tls.js';
import type { ProxyView } from './view.js';
import { FragmentMemo, idOf } from './memo.js';

type Policy = PolicyModel;

export { effectivePolicy };

export interface ClusterSet {
  clusters: Map<string, XdsResource>;
  endpoints: Map<string, XdsResource>;
}

function isHttpish(protocol: string): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-WEB';
}

function isH2(protocol: string): boolean {
  return protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-WEB';
}

/** Which cluster a route destination reaches from a listener on `contextPort`, or undefined (with a diagnostic) when it does not exist. */
export function destinationCluster(view: ProxyView, d: DestinationModel, contextPort: number | undefined, where: { resource: string; path: string }): string | undefined {
  const svc = view.serviceByHost.get(d.host);
  if (!svc) {
    view.sink.add({ code: 'IST0101', severity: 'warning', message: `destination host ${d.host} is not a service visible to namespace ${view.proxy.namespace}; destination dropped`, resource: where.resource, path: where.path });
    return undefined;
  }
  let port = d.port;
  if (port === undefined) {
    if (svc.ports.length === 1) port = svc.ports[0]!.number;
    else if (contextPort !== undefined && svc.ports.some((p) => p.number === contextPort)) port = contextPort;
    else port = svc.ports[0]?.number;
  }
  if (port === undefined || !svc.ports.some((p) => p.number === port)) {
    view.sink.add({ code: 'IST0101', severity: 'warning', message: `destination ${d.host} has no port ${port ?? '(none)'}; destination dropped`, resource: where.resource, path: where.path });
    return undefined;
  }
  if (d.subset) {
    const dr = view.destinationRule(d.host);
    if (!dr || !dr.subsets.some((s) => s.name === d.subset)) {
      view.sink.add({ code: 'IST0101', severity: 'warning', message: `subset ${d.subset} of ${d.host} is not defined by any DestinationRule visible to namespace ${view.proxy.namespace}; destination dropped`, resource: where.resource, path: where.path });
      return undefined;
    }
  }
  return clusterName('outbound', port, d.subset, d.host);
}

function lbSettings(view: ProxyView, policy: Policy, dr: DestinationRuleModel | undefined): Pick<Cluster, 'lb_policy' | 'ring_hash_lb_config' | 'maglev_lb_config'> {
  const grpc = view.proxy.kind === 'grpc';
  const lb = policy.loadBalancer;
  const warn = (what: string) =>
    view.sink.add({ code: 'MCD4101', severity: 'warning', message: `${what} is not supported by proxyless gRPC clients; using ROUND_ROBIN`, ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.loadBalancer' });
  if (lb?.consistentHash) {
    const ring = lb.consistentHash.ringHash?.minimumRingSize ?? lb.consistentHash.minimumRingSize;
    if (lb.consistentHash.maglev && !grpc) return { lb_policy: 'MAGLEV', ...(lb.consistentHash.maglev.tableSize ? { maglev_lb_config: { table_size: { value: lb.consistentHash.maglev.tableSize } } } : {}) };
    return { lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'XX_HASH', ...(ring ? { minimum_ring_size: { value: ring } } : {}) } };
  }
  switch (lb?.simple) {
    case 'LEAST_CONN':
    case 'LEAST_REQUEST':
      if (grpc) {
        warn(`loadBalancer ${lb.simple}`);
        return { lb_policy: 'ROUND_ROBIN' };
      }
      return { lb_policy: 'LEAST_REQUEST' };
    case 'RANDOM':
      if (grpc) {
        warn('loadBalancer RANDOM');
        return { lb_policy: 'ROUND_ROBIN' };
      }
      return { lb_policy: 'RANDOM' };
    case 'PASSTHROUGH':
      if (grpc) {
        warn('loadBalancer PASSTHROUGH');
        return { lb_policy: 'ROUND_ROBIN' };
      }
      return { lb_policy: 'CLUSTER_PROVIDED' };
    default:
      return { lb_policy: 'ROUND_ROBIN' };
  }
}

function circuitBreakers(policy: Policy): CircuitBreakers | undefined {
  const cp = policy.connectionPool;
  if (!cp) return undefined;
  const t: Thresholds = { priority: 'DEFAULT' };
  if (cp.tcp?.maxConnections) t.max_connections = { value: cp.tcp.maxConnections };
  if (cp.http?.http1MaxPendingRequests) t.max_pending_requests = { value: cp.http.http1MaxPendingRequests };
  if (cp.http?.http2MaxRequests) t.max_requests = { value: cp.http.http2MaxRequests };
  if (cp.http?.maxRetries) t.max_retries = { value: cp.http.maxRetries };
  return Object.keys(t).length > 1 ? { thresholds: [t] } : undefined;
}

function outlierDetection(view: ProxyView, policy: Policy, dr: DestinationRuleModel | undefined): OutlierDetection | undefined {
  const od = policy.outlierDetection;
  if (!od) return undefined;
  // Istio's applyOutlierDetection: DestinationRules have no success-rate
  // ejection, so it is always off. Left unset, Envoy and grpc-js turn it on
  // (grpc-js then crashes in its sweep when no host has the request volume).
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  const consecutive5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
  if (view.proxy.kind === 'grpc') {
    // gRPC implements success-rate and failure-percentage ejection only (gRFC A50).
    if (consecutive5xx !== undefined || od.consecutiveGatewayErrors !== undefined) {
      view.sink.add({ code: 'MCD4102', severity: 'warning', message: 'consecutive-error outlier detection is not supported by proxyless gRPC clients; using failure-percentage ejection instead', ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.outlierDetection' });
      out.failure_percentage_threshold = { value: 50 };
      out.enforcing_failure_percentage = { value: 100 };
      out.failure_percentage_request_volume = { value: Math.max(1, consecutive5xx ?? od.consecutiveGatewayErrors ?? 5) };
      out.failure_percentage_minimum_hosts = { value: 1 };
    }
  } else {
    if (consecutive5xx !== undefined) {
      out.consecutive_5xx = { value: consecutive5xx };
      out.enforcing_consecutive_5xx = { value: consecutive5xx > 0 ? 100 : 0 };
    }
    if (od.consecutiveGatewayErrors !== undefined) {
      out.consecutive_gateway_failure = { value: od.consecutiveGatewayErrors };
      out.enforcing_consecutive_gateway_failure = { value: 100 };
    }
    if (od.splitExternalLocalOriginErrors) out.split_external_local_origin_errors = true;
    if (od.consecutiveLocalOriginFailures !== undefined) out.consecutive_local_origin_failure = { value: od.consecutiveLocalOriginFailures };
  }
  if (od.intervalMs !== undefined && od.intervalMs > 0) out.interval = durationOf(od.intervalMs);
  if (od.baseEjectionTimeMs !== undefined && od.baseEjectionTimeMs > 0) out.base_ejection_time = durationOf(od.baseEjectionTimeMs);
  if (od.maxEjectionPercent !== undefined) out.max_ejection_percent = { value: Math.min(100, Math.max(0, od.maxEjectionPercent)) };
  return out;
}

function tlsSocket(view: ProxyView, svc: MeshService, policy: Policy, port: number, subset: string | undefined, dr: DestinationRuleModel | undefined, endpointsSans: string[]): TransportSocket | undefined {
  const kind = view.proxy.kind;
  const tls = policy.tls;
  const sni = clusterSni(port, subset, svc.hostname);
  if (tls?.mode === 'DISABLE') return undefined;
  if (tls?.mode === 'ISTIO_MUTUAL') return istioMutualUpstream(kind, endpointsSans, sni);
  if (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') {
    if (kind === 'grpc') {
      view.sink.add({ code: 'MCD4103', severity: 'warning', message: `TLS mode ${tls.mode} with files or credentialName is not supported by proxyless gRPC clients; using the mesh certificate provider (connections to servers without a mesh certificate will fail)`, ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.tls' });
      return istioMutualUpstream(kind, tls.subjectAltNames ?? endpointsSans, undefined);
    }
    return originatedTlsUpstream(tls, svc.location === 'MESH_EXTERNAL' ? svc.hostname : undefined);
  }
  // No TLS setting: Istio's auto mTLS for in-mesh destinations. Proxyless clients
  // only use it when the server requires mTLS (STRICT), since their bootstrap
  // may have no certificate provider.
  if (svc.location !== 'MESH_INTERNAL' || svc.endpoints.length === 0) return undefined;
  const modes = svc.endpoints.map((e) => view.mtlsMode(e.namespace, e.labels, e.ports[port] ?? port));
  if (kind === 'grpc') return modes.every((m) => m === 'STRICT') ? istioMutualUpstream(kind, endpointsSans, undefined) : undefined;
  return modes.every((m) => m !== 'DISABLE') ? istioMutualUpstream(kind, endpointsSans, sni) : undefined;
}

function outboundCluster(view: ProxyView, svc: MeshService, port: { number: number; protocol: string }, subset: string | undefined, dr: DestinationRuleModel | undefined, out: ClusterSet): void {
  const kind = view.proxy.kind;
  const name = clusterName('outbound', port.number, subset, svc.hostname);
  const policy = effectivePolicy(dr, port.number, subset);
  const subsetLabels = subset ? dr?.subsets.find((s) => s.name === subset)?.labels : undefined;
  const lbSetting = effectiveLocalitySetting(view.model.settings.localityLbSetting, policy.loadBalancer?.localityLbSetting);
  const own = view.inbound[0]?.endpoint;
  const proxyLocality = view.proxy.locality ?? own?.locality;
  const cla = loadAssignment(name, svc.endpoints, port.number, subsetLabels, lbSetting ? { ...(proxyLocality ? { proxyLocality } : {}), proxyLabels: { ...view.proxy.labels, ...own?.labels }, setting: lbSetting, failover: !!policy.outlierDetection } : undefined);
  const sans = [...new Set(svc.endpoints.filter((e) => e.serviceAccount).map((e) => spiffeId(view.model.settings.trustDomain, e.namespace, e.serviceAccount!)))].sort();
  const connectTimeout = policy.connectionPool?.tcp?.connectTimeoutMs ?? 10_000;
  const c: Cluster = { name, connect_timeout: durationOf(connectTimeout) };
  const dns = svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN';
  if (dns) {
    const hostnameOnly = { cluster_name: name, endpoints: [{ locality: {}, lb_endpoints: [{ endpoint: { address: socketAddress(svc.hostname, port.number) } }], load_balancing_weight: { value: 1 } }] };
    const endpoints = svc.endpoints.length > 0 ? cla : hostnameOnly;
    if (kind === 'grpc') {
      // LOGICAL_DNS for gRPC takes exactly one address to resolve.
      const first = (endpoints.endpoints as { lb_endpoints: unknown[] }[])[0]?.lb_endpoints[0] ?? hostnameOnly.endpoints[0]!.lb_endpoints[0];
      if (svc.endpoints.length > 1) view.sink.add({ code: 'MCD4104', severity: 'warning', message: `DNS service ${svc.hostname} has ${svc.endpoints.length} endpoints; proxyless gRPC resolves only the first`, ...(svc.resource ? { resource: svc.resource } : {}) });
      c.type = 'LOGICAL_DNS';
      c.load_assignment = { cluster_name: name, endpoints: [{ locality: {}, lb_endpoints: [first], load_balancing_weight: { value: 1 } }] };
    } else {
      c.type = svc.resolution === 'DNS_ROUND_ROBIN' ? 'LOGICAL_DNS' : 'STRICT_DNS';
      c.load_assignment = endpoints;
    }
  } else if (svc.resolution === 'NONE' && svc.endpoints.length === 0 && kind !== 'grpc') {
    c.type = 'ORIGINAL_DST';
    c.lb_policy = 'CLUSTER_PROVIDED';
  } else {
    c.type = 'EDS';
    c.eds_cluster_config = { eds_config: ADS_SOURCE, service_name: name };
    out.endpoints.set(name, endpointResource(name, cla));
  }
  if (c.lb_policy === undefined) Object.assign(c, lbSettings(view, policy, dr));
  const warmup = policy.loadBalancer?.warmupMs;
  if (warmup !== undefined && warmup > 0) {
    if (kind === 'grpc') view.sink.add({ code: 'MCD4107', severity: 'info', message: 'warmupDurationSecs is not supported by proxyless gRPC clients', ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.loadBalancer.warmupDurationSecs' });
    else if (c.lb_policy === 'ROUND_ROBIN') c.round_robin_lb_config = { slow_start_config: { slow_start_window: durationOf(warmup) } };
    else if (c.lb_policy === 'LEAST_REQUEST') c.least_request_lb_config = { slow_start_config: { slow_start_window: durationOf(warmup) } };
  }
  const ka = policy.connectionPool?.tcp?.tcpKeepalive;
  if (ka && kind !== 'grpc') {
    const secs = (ms: number | undefined) => (ms !== undefined && ms >= 1000 ? { value: Math.floor(ms / 1000) } : undefined);
    const time = secs(ka.timeMs);
    const interval = secs(ka.intervalMs);
    c.upstream_connection_options = {
      tcp_keepalive: { ...(ka.probes ? { keepalive_probes: { value: ka.probes } } : {}), ...(time ? { keepalive_time: time } : {}), ...(interval ? { keepalive_interval: interval } : {}) },
    };
  }
  const minHealth = policy.outlierDetection?.minHealthPercent;
  if (minHealth !== undefined && kind !== 'grpc') c.common_lb_config = { healthy_panic_threshold: { value: Math.min(100, Math.max(0, minHealth)) } };
  // Envoy weighs localities only when told to (gRPC always does).
  if (lbSetting?.distribute?.length && kind !== 'grpc' && c.type === 'EDS') c.common_lb_config = { ...(c.common_lb_config as object | undefined), locality_weighted_lb_config: {} };
  const cb = circuitBreakers(policy);
  if (cb) c.circuit_breakers = cb;
  const od = outlierDetection(view, policy, dr);
  if (od) c.outlier_detection = od;
  const ts = tlsSocket(view, svc, policy, port.number, subset, dr, sans);
  if (ts) c.transport_socket = ts;
  if (kind !== 'grpc' && isHttpish(port.protocol)) {
    // HttpProtocolOptions must name the upstream protocol, and means nothing for TCP ports.
    const opts: HttpProtocolOptions = {};
    const maxReq = policy.connectionPool?.http?.maxRequestsPerConnection;
    const idle = policy.connectionPool?.http?.idleTimeoutMs;
    if (maxReq || idle !== undefined) {
      opts.common_http_protocol_options = { ...(idle !== undefined ? { idle_timeout: durationOf(idle) } : {}), ...(maxReq ? { max_requests_per_connection: { value: maxReq } } : {}) };
    }
    const maxStreams = policy.connectionPool?.http?.maxConcurrentStreams;
    const h2 = maxStreams ? { max_concurrent_streams: { value: maxStreams } } : {};
    if (policy.connectionPool?.http?.useClientProtocol) opts.use_downstream_protocol_config = { http_protocol_options: {}, http2_protocol_options: h2 };
    else opts.explicit_http_config = isH2(port.protocol) || policy.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE' ? { http2_protocol_options: h2 } : { http_protocol_options: {} };
    c.typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any(T.httpProtocolOptions, opts) };
  } else if (kind === 'grpc' && (policy.connectionPool?.tcp?.connectTimeoutMs !== undefined || policy.connectionPool?.http?.maxRequestsPerConnection)) {
    view.sink.add({ code: 'MCD4105', severity: 'info', message: 'connectTimeout and maxRequestsPerConnection are not used by proxyless gRPC clients', ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.connectionPool' });
  }
  out.clusters.set(name, clusterResource(name, c));
}

/** Outbound clusters (+ endpoints) for every service port in the proxy's scope, and per subset. */
export function outboundClusters(view: ProxyView): ClusterSet {
  const out: ClusterSet = { clusters: new Map(), endpoints: new Map() };
  for (const svc of view.services) {
    const dr = view.destinationRule(svc.hostname);
    // A service's clusters read the service, its DestinationRule, the client kind, PeerAuthentications (auto mTLS), the mesh
    // settings and, with locality LB, the proxy's own locality and labels.
    const key = `${view.proxy.kind}|${idOf(dr)}|${idOf(view.model.peerAuthentications)}|${idOf(view.model.settings)}|${view.localityScope}`;
    const own = clustersMemo.get(svc, key, view, () => {
      const set: ClusterSet = { clusters: new Map(), endpoints: new Map() };
      for (const port of svc.ports) {
        outboundCluster(view, svc, port, undefined, dr, set);
        for (const s of dr?.subsets ?? []) outboundCluster(view, svc, port, s.name, dr, set);
      }
      return set;
    });
    for (const [k, v] of own.clusters) out.clusters.set(k, v);
    for (const [k, v] of own.endpoints) out.endpoints.set(k, v);
  }
  return out;
}

const clustersMemo = new FragmentMemo<ClusterSet>();

/**
 * Envoy's fixed clusters: BlackHole (no endpoints), Passthrough (original
 * destination). They never change: one object each, so every scope's
 * cluster list holds the same ones.
 */
let fixed: { blackhole: XdsResource; passthrough: XdsResource; inboundPassthrough: XdsResource } | undefined;

export function envoyFixedClusters(out: ClusterSet, inbound: boolean): void {
  fixed ??= {
    blackhole: clusterResource(BLACKHOLE, { name: BLACKHOLE, type: 'STATIC', connect_timeout: durationOf(10_000) }),
    passthrough: clusterResource(PASSTHROUGH, { name: PASSTHROUGH, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: durationOf(10_000) }),
    inboundPassthrough: clusterResource(INBOUND_PASSTHROUGH, {
      name: INBOUND_PASSTHROUGH,
      type: 'ORIGINAL_DST',
      lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: durationOf(10_000),
      upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } },
    }),
  };
  out.clusters.set(BLACKHOLE, fixed.blackhole);
  out.clusters.set(PASSTHROUGH, fixed.passthrough);
  if (inbound) out.clusters.set(INBOUND_PASSTHROUGH, fixed.inboundPassthrough);
}

/** `inbound|port||`: the local application on 127.0.0.1:<endpoint port>. */
export function inboundCluster(servicePort: number, endpointPort: number, protocol: string): XdsResource {
  const name = clusterName('inbound', servicePort, undefined, '');
  const c: Cluster = {
    name,
    type: 'STATIC',
    connect_timeout: durationOf(10_000),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', endpointPort) } }] }] },
  };
  if (isH2(protocol)) c.typed_extension_protocol_options = { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any(T.httpProtocolOptions, { explicit_http_config: { http2_protocol_options: {} } }) };
  return clusterResource(name, c);
}

export { isHttpish, isH2 };
