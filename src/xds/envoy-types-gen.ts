// Writes src/xds/envoy-types.ts from Envoy's own .proto files (the root of
// ./proto.ts): a TypeScript interface per message reachable from the
// resources meshcd emits (Listener, RouteConfiguration, Cluster,
// ClusterLoadAssignment, Secret) and from the extensions it puts in Anys,
// in the protos' snake_case field names, every field optional (proto3).
// Translation declares its resources with these types, so a misspelt field
// is a compile error instead of a refusal when the snapshot is built.
// test/unit/xds/envoy-types.test.ts fails when the file is stale and
// rewrites it with UPDATE_GOLDEN=1.
// Imports: protobufjs, ./proto.

import protobuf from 'protobufjs';
import { protoRoot } from './proto.js';

/** Messages whose closure is typed: the resources, and the Any payloads translation builds. */
export const TYPED_ROOTS = [
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.transport_sockets.tls.v3.Secret',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
] as const;

/** Short names exported for the messages translation builds by hand. */
const ALIASES: Record<string, string> = {
  Listener: 'envoy.config.listener.v3.Listener',
  FilterChain: 'envoy.config.listener.v3.FilterChain',
  FilterChainMatch: 'envoy.config.listener.v3.FilterChainMatch',
  ListenerFilter: 'envoy.config.listener.v3.ListenerFilter',
  NetworkFilter: 'envoy.config.listener.v3.Filter',
  RouteConfiguration: 'envoy.config.route.v3.RouteConfiguration',
  VirtualHost: 'envoy.config.route.v3.VirtualHost',
  Route: 'envoy.config.route.v3.Route',
  RouteMatch: 'envoy.config.route.v3.RouteMatch',
  RouteAction: 'envoy.config.route.v3.RouteAction',
  RetryPolicy: 'envoy.config.route.v3.RetryPolicy',
  Cluster: 'envoy.config.cluster.v3.Cluster',
  CircuitBreakers: 'envoy.config.cluster.v3.CircuitBreakers',
  OutlierDetection: 'envoy.config.cluster.v3.OutlierDetection',
  ClusterLoadAssignment: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  LocalityLbEndpoints: 'envoy.config.endpoint.v3.LocalityLbEndpoints',
  LbEndpoint: 'envoy.config.endpoint.v3.LbEndpoint',
  Address: 'envoy.config.core.v3.Address',
  SocketAddress: 'envoy.config.core.v3.SocketAddress',
  TransportSocket: 'envoy.config.core.v3.TransportSocket',
  Secret: 'envoy.extensions.transport_sockets.tls.v3.Secret',
  HttpConnectionManager: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  HttpFilter: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  TcpProxy: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  UpstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  DownstreamTlsContext: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  CommonTlsContext: 'envoy.extensions.transport_sockets.tls.v3.CommonTlsContext',
  HttpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
};

/** Well-known types, as protobufjs fromObject reads them. */
const WELL_KNOWN: Record<string, string> = {
  'google.protobuf.Duration': 'Duration',
  'google.protobuf.Timestamp': 'Duration',
  'google.protobuf.Any': 'TypedAny',
  'google.protobuf.Struct': 'Record<string, unknown>',
  'google.protobuf.Value': 'unknown',
  'google.protobuf.ListValue': '{ values?: unknown[] }',
  'google.protobuf.Empty': 'Record<string, never>',
  'google.protobuf.BoolValue': '{ value: boolean }',
  'google.protobuf.StringValue': '{ value: string }',
  'google.protobuf.BytesValue': '{ value: Bytes }',
  'google.protobuf.UInt32Value': '{ value: number }',
  'google.protobuf.Int32Value': '{ value: number }',
  'google.protobuf.UInt64Value': '{ value: number | string }',
  'google.protobuf.Int64Value': '{ value: number | string }',
  'google.protobuf.DoubleValue': '{ value: number }',
  'google.protobuf.FloatValue': '{ value: number }',
};

const SCALARS: Record<string, string> = {
  string: 'string',
  bool: 'boolean',
  bytes: 'Bytes',
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'number | string',
  uint64: 'number | string',
  sint64: 'number | string',
  fixed64: 'number | string',
  sfixed64: 'number | string',
};

const tsName = (fullName: string) => fullName.replace(/^\./, '').replace(/\./g, '_');
const bare = (fullName: string) => fullName.replace(/^\./, '');

export function generateEnvoyTypes(root: protobuf.Root = protoRoot()): string {
  const messages = new Map<string, protobuf.Type>();
  const enums = new Map<string, protobuf.Enum>();
  const queue: protobuf.Type[] = TYPED_ROOTS.map((n) => root.lookupType(n));
  while (queue.length) {
    const t = queue.pop()!;
    const name = bare(t.fullName);
    if (messages.has(name) || WELL_KNOWN[name]) continue;
    messages.set(name, t);
    for (const f of t.fieldsArray) {
      f.resolve();
      const rt = f.resolvedType;
      if (rt instanceof protobuf.Type) {
        if (!WELL_KNOWN[bare(rt.fullName)]) queue.push(rt);
      } else if (rt instanceof protobuf.Enum) enums.set(bare(rt.fullName), rt);
    }
  }
  const typeOf = (f: protobuf.Field): string => {
    const rt = f.resolvedType;
    if (rt instanceof protobuf.Type) return WELL_KNOWN[bare(rt.fullName)] ?? tsName(rt.fullName);
    if (rt instanceof protobuf.Enum) return tsName(rt.fullName);
    return SCALARS[f.type] ?? 'unknown';
  };
  const out: string[] = [
    '// Generated by src/xds/envoy-types-gen.ts from the .proto files of @grpc/grpc-js-xds;',
    '// do not edit (UPDATE_GOLDEN=1 npx ava dist/test/unit/xds/envoy-types.test.js rewrites it).',
    '// One interface per line, one per Envoy message meshcd builds.',
    '// Field names are the protos\' snake_case names, every field optional (proto3).',
    '',
    '/* eslint-disable */',
    'export type Bytes = Buffer | Uint8Array | string;',
    'export interface Duration { seconds: number | string; nanos?: number }',
    "/** A google.protobuf.Any as protobufjs fromObject reads it: `@type` and the message's fields. */",
    "export interface TypedAny { '@type': string; [field: string]: unknown }",
    '',
  ];
  for (const [name, e] of [...enums].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    out.push(`export type ${tsName(name)} = ${Object.keys(e.values).map((v) => JSON.stringify(v)).join(' | ')} | number;`);
  }
  out.push('');
  for (const [name, t] of [...messages].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const fields = t.fieldsArray.map((f) => {
      const ty = f.map ? `Record<string, ${typeOf(f)}>` : f.repeated ? `(${typeOf(f)})[]` : typeOf(f);
      return `${f.name}?: ${ty};`;
    });
    out.push(`export interface ${tsName(name)} {${fields.length ? ` ${fields.join(' ')} ` : ''}}`);
  }
  out.push('');
  for (const [alias, full] of Object.entries(ALIASES)) out.push(`export type ${alias} = ${tsName(full)};`);
  return out.join('\n') + '\n';
}
