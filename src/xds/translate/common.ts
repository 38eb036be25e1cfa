// Shared builders for the per-concern translators: type URLs of the Envoy
// extensions we emit, Any wrapping, resource versions. Names: ../names.ts.
// Values follow the .proto's snake_case field names (protobufjs keepCase).

import { createHash } from 'node:crypto';
import type { Diagnostic, XdsResource } from '../../api/types.js';
import { canonicalJson } from '../../config/load.js';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, TypedAny } from '../envoy-types.js';

export const T = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  httpRbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  httpRbacPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  networkRbac: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  originalDst: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** A google.protobuf.Any as protobufjs fromObject reads it. */
export function any(typeUrl: string, fields: object = {}): TypedAny {
  return { '@type': typeUrl, ...fields };
}

export function durationOf(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1_000_000) };
}

/**
 * Content version: sha256 of the value's JSON (first 16 hex chars). The
 * translators build objects in a fixed key order, so plain JSON is already
 * canonical for them and costs a third of canonicalJson; use
 * `canonicalVersionOf` for objects from elsewhere.
 */
export function versionOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function canonicalVersionOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * A translated resource. Its content version is worked out when first read
 * and kept: serve reads it (the encode cache's key), while a caller that
 * only wants the diagnostics (`meshcd validate`'s translation step) never
 * pays for the hashing (a third of translation's time).
 */
function xdsResource(name: string, value: object): XdsResource {
  let version: string | undefined;
  return {
    name,
    value: value as Record<string, unknown>,
    get version() {
      return (version ??= versionOf(value));
    },
  };
}

// One constructor per resource type, each taking the message's generated type
// (src/xds/envoy-types.ts): a misspelt or mistyped field is a compile error.
export const listenerResource = (name: string, value: Listener): XdsResource => xdsResource(name, value);
export const routeResource = (name: string, value: RouteConfiguration): XdsResource => xdsResource(name, value);
export const clusterResource = (name: string, value: Cluster): XdsResource => xdsResource(name, value);
export const endpointResource = (name: string, value: ClusterLoadAssignment): XdsResource => xdsResource(name, value);


/** Collects translation diagnostics, deduplicated (one per message and resource). */
export class DiagnosticSink {
  private readonly seen = new Set<string>();
  readonly list: Diagnostic[] = [];
  add(d: Diagnostic): void {
    const k = `${d.code}|${d.resource ?? ''}|${d.path ?? ''}|${d.message}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.push(d);
  }
}

/** ADS as the config source for RDS/EDS/SDS. */
export const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' } as const;
