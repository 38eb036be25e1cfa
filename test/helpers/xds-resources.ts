// Hand-built Envoy resources for protocol and cache tests (independent of
// src/xds/translate): a proxyless-gRPC-shaped set per service.

import { createHash } from 'node:crypto';
import type { ProxyResources, TypeUrl, XdsResource } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { grpcClientListenerNames } from '../../src/xds/names.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const ADS = { ads: {}, resource_api_version: 'V3' };

export function res(name: string, value: Record<string, unknown>): XdsResource {
  return { name, value, version: createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16) };
}

export interface SvcSpec {
  host: string;
  port: number;
  /** subset name → [endpoint port, weight] */
  backends: { subset: string; port: number; weight: number }[];
  timeoutSec?: number;
  /** Also emit the alias listeners (`name:port`, `name.ns:port`, …) a client in this namespace may ask for, as translation does. */
  aliasesFor?: string;
}

export function clusterName(s: SvcSpec, subset: string): string {
  return `outbound|${s.port}|${subset}|${s.host}`;
}

/** Listener + route + clusters + endpoints for a set of services, as a proxyless client sees them. */
export function grpcResources(services: SvcSpec[]): ProxyResources {
  const m = new Map<TypeUrl, Map<string, XdsResource>>(Object.values(TYPE_URL).map((t) => [t, new Map()]));
  for (const s of services) {
    const lname = `${s.host}:${s.port}`;
    const rname = `outbound|${s.port}||${s.host}`;
    for (const n of s.aliasesFor ? grpcClientListenerNames(s.host, s.port, s.aliasesFor, 'svc.cluster.local') : [lname]) {
      m.get(TYPE_URL.listener)!.set(n, res(n, {
        name: n,
        api_listener: { api_listener: { '@type': HCM, stat_prefix: n, rds: { route_config_name: rname, config_source: ADS }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] } },
      }));
    }
    const route: Record<string, unknown> = s.backends.length === 1
      ? { cluster: clusterName(s, s.backends[0]!.subset) }
      : { weighted_clusters: { clusters: s.backends.map((b) => ({ name: clusterName(s, b.subset), weight: { value: b.weight } })) } };
    if (s.timeoutSec) route.timeout = { seconds: s.timeoutSec, nanos: 0 };
    m.get(TYPE_URL.route)!.set(rname, res(rname, { name: rname, virtual_hosts: [{ name: lname, domains: [s.host, lname], routes: [{ match: { prefix: '' }, route }] }] }));
    for (const b of s.backends) {
      const cn = clusterName(s, b.subset);
      m.get(TYPE_URL.cluster)!.set(cn, res(cn, { name: cn, type: 'EDS', eds_cluster_config: { eds_config: ADS, service_name: cn }, lb_policy: 'ROUND_ROBIN', connect_timeout: { seconds: 10, nanos: 0 } }));
      m.get(TYPE_URL.endpoint)!.set(cn, res(cn, { cluster_name: cn, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: b.port } } } }] }] }));
    }
  }
  return m;
}
