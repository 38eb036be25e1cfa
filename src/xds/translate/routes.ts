// VirtualService HTTP routes → Envoy Route / VirtualHost objects, per client
// kind. Proxyless gRPC clients NACK redirect and direct_response actions and
// ignore mirrors, rewrites and header mutation, so those are left out for
// them with a warning diagnostic instead of silently changing behaviour.

import type { CorsPolicy, HeaderOperations } from '../../api/istio.js';
import type { HttpMatchModel, HttpRouteModel, MeshService, StringMatchModel, VirtualServiceModel, WeightedDestination } from '../../mesh/model.js';
import { T, any, durationOf } from './common.js';
import { destinationCluster, effectivePolicy } from './clusters.js';
import type { ProxyView } from './view.js';
import { selects } from './view.js';

export interface RouteContext {
  view: ProxyView;
  /** `mesh` for sidecars and proxyless clients, `ns/name` of the Gateway for routers. */
  gateway: string;
  /** Port of the listener the routes serve (match.port, destination port defaulting). */
  port: number | undefined;
}

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** Retry conditions grpc-js understands (gRFC A44); others are Envoy-only. */
const GRPC_RETRY_ON = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);
const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/** A percentage (0..100, fractions allowed) as FractionalPercent per million. */
export function fractionalPercent(percent: number): Record<string, unknown> {
  return { numerator: Math.round(Math.min(100, Math.max(0, percent)) * 10_000), denominator: 'MILLION' };
}

export function stringMatcher(m: StringMatchModel, ignoreCase = false): Record<string, unknown> {
  const base = m.kind === 'exact' ? { exact: m.value } : m.kind === 'prefix' ? { prefix: m.value } : { safe_regex: { regex: m.value } };
  return ignoreCase && m.kind !== 'regex' ? { ...base, ignore_case: true } : base;
}

function headerMatcher(name: string, m: StringMatchModel, invert = false): Record<string, unknown> {
  // Istio: an empty prefix means "header present".
  if (m.kind === 'prefix' && m.value === '') return { name, present_match: true, ...(invert ? { invert_match: true } : {}) };
  return { name, string_match: stringMatcher(m), ...(invert ? { invert_match: true } : {}) };
}

function routeMatch(m: HttpMatchModel | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const uri = m?.uri;
  if (!uri) out.prefix = '/';
  else if (uri.kind === 'exact') out.path = uri.value;
  else if (uri.kind === 'prefix') out.prefix = uri.value;
  else out.safe_regex = { regex: uri.value };
  if (m?.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: Record<string, unknown>[] = [];
  if (m?.method) headers.push(headerMatcher(':method', m.method));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  for (const h of m?.headers ?? []) headers.push(headerMatcher(h.name, h.match));
  for (const h of m?.withoutHeaders ?? []) headers.push(headerMatcher(h.name, h.match, true));
  if (headers.length > 0) out.headers = headers;
  const qp = (m?.queryParams ?? []).map((q) => (q.match.kind === 'prefix' && q.match.value === '' ? { name: q.name, present_match: true } : { name: q.name, string_match: stringMatcher(q.match) }));
  if (qp.length > 0) out.query_parameters = qp;
  return out;
}

function headerOps(ops: HeaderOperations | undefined, prefix: 'request' | 'response'): Record<string, unknown> {
  if (!ops) return {};
  const add: Record<string, unknown>[] = [];
  for (const k of Object.keys(ops.set ?? {}).sort()) add.push({ header: { key: k, value: ops.set![k] }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const k of Object.keys(ops.add ?? {}).sort()) add.push({ header: { key: k, value: ops.add![k] }, append_action: 'APPEND_IF_EXISTS_OR_ADD' });
  const out: Record<string, unknown> = {};
  if (add.length > 0) out[`${prefix}_headers_to_add`] = add;
  if (ops.remove?.length) out[`${prefix}_headers_to_remove`] = ops.remove.slice();
  return out;
}

function corsPolicy(c: CorsPolicy): Record<string, unknown> {
  const origins = [
    ...(c.allowOrigins ?? []).map((o) => (typeof o.exact === 'string' ? { exact: o.exact } : typeof o.prefix === 'string' ? { prefix: o.prefix } : { safe_regex: { regex: o.regex ?? '.*' } })),
    ...(c.allowOrigin ?? []).map((o) => (o === '*' ? { prefix: '' } : { exact: o })),
  ];
  const out: Record<string, unknown> = {};
  if (origins.length > 0) out.allow_origin_string_match = origins;
  if (c.allowMethods?.length) out.allow_methods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) out.allow_headers = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) out.expose_headers = c.exposeHeaders.join(',');
  if (c.maxAge) {
    const s = /^(\d+(?:\.\d+)?)s$/.exec(c.maxAge);
    const secs = s ? Math.floor(Number(s[1])) : /^(\d+)m$/.test(c.maxAge) ? Number(c.maxAge.slice(0, -1)) * 60 : /^(\d+)h$/.test(c.maxAge) ? Number(c.maxAge.slice(0, -1)) * 3600 : undefined;
    if (secs !== undefined) out.max_age = String(secs);
  }
  if (c.allowCredentials !== undefined) out.allow_credentials = { value: c.allowCredentials };
  if (c.unmatchedPreflights === 'IGNORE') out.forward_not_matching_preflights = { value: false };
  return out;
}

function hashPolicy(ctx: RouteContext, dests: WeightedDestination[], clusterPort: (d: WeightedDestination) => number | undefined): Record<string, unknown>[] | undefined {
  const first = dests[0];
  if (!first || dests.some((d) => d.host !== first.host)) return undefined;
  const dr = ctx.view.destinationRule(first.host);
  const policy = effectivePolicy(dr, clusterPort(first) ?? 0, dests.length === 1 ? first.subset : undefined);
  const ch = policy.loadBalancer?.consistentHash;
  if (!ch) return undefined;
  const grpc = ctx.view.proxy.kind === 'grpc';
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  const unsupported = (what: string) => {
    ctx.view.sink.add({ code: 'MCD4106', severity: 'warning', message: `consistent hash by ${what} is not supported by proxyless gRPC clients; hashing by channel instead`, ...(dr ? { resource: dr.key } : {}), path: 'spec.trafficPolicy.loadBalancer.consistentHash' });
    return [{ filter_state: { key: 'io.grpc.channel_id' } }];
  };
  if (ch.httpCookie) {
    if (grpc) return unsupported('cookie');
    const ttl = ch.httpCookie.ttl ? /^(\d+(?:\.\d+)?)s$/.exec(ch.httpCookie.ttl) : null;
    return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ttl ? { ttl: durationOf(Number(ttl[1]) * 1000) } : {}) } }];
  }
  if (ch.useSourceIp) return grpc ? unsupported('source IP') : [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return grpc ? unsupported('query parameter') : [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

function portOfCluster(name: string): number | undefined {
  const p = Number(name.split('|')[1]);
  return Number.isFinite(p) ? p : undefined;
}

/** Envoy routes for one VirtualService http route (one per surviving match). */
function translateHttpRoute(ctx: RouteContext, vs: VirtualServiceModel, r: HttpRouteModel): Record<string, unknown>[] {
  const { view } = ctx;
  const grpc = view.proxy.kind === 'grpc';
  const where = { resource: vs.key, path: r.path };
  const warn = (code: string, message: string, path = r.path) => view.sink.add({ code, severity: 'warning', message, resource: vs.key, path, origin: vs.origin });
  const matches = r.matches.length === 0 ? [undefined] : r.matches.filter((m) => matchApplies(ctx, m));
  if (matches.length === 0) return [];

  let action: Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  if (r.redirect || r.directResponse) {
    if (grpc) {
      warn('MCD4110', `${r.redirect ? 'redirect' : 'directResponse'} is not supported by proxyless gRPC clients; route left out`);
      return [];
    }
    if (r.redirect) {
      const rd = r.redirect;
      const codes: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };
      action = {
        redirect: {
          ...(rd.uri !== undefined ? { path_redirect: rd.uri } : {}),
          ...(rd.authority !== undefined ? { host_redirect: rd.authority } : {}),
          ...(rd.port !== undefined ? { port_redirect: rd.port } : {}),
          ...(rd.scheme !== undefined ? { scheme_redirect: rd.scheme } : {}),
          response_code: codes[rd.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY',
        },
      };
    } else {
      const dr = r.directResponse!;
      action = { direct_response: { status: dr.status, ...(dr.body !== undefined ? { body: { inline_string: dr.body } } : {}) } };
    }
  } else {
    const clusters: { name: string; weight: number; dest: WeightedDestination }[] = [];
    r.destinations.forEach((d, i) => {
      const name = destinationCluster(view, d, ctx.port, { ...where, path: `${r.path}.route[${i}].destination` });
      if (name) clusters.push({ name, weight: d.weight, dest: d });
    });
    const live = clusters.filter((c) => c.weight > 0);
    if (live.length === 0) {
      if (grpc) {
        warn('MCD4111', 'no destination of this route exists for proxyless gRPC clients; route left out');
        return [];
      }
      action = { direct_response: { status: 503 } };
    } else {
      const ra: Record<string, unknown> = {};
      if (live.length === 1 && live[0]!.dest.headers === undefined) ra.cluster = live[0]!.name;
      else {
        ra.weighted_clusters = {
          clusters: live.map((c) => ({
            name: c.name,
            weight: { value: c.weight },
            ...(!grpc ? headerOps(c.dest.headers?.request, 'request') : {}),
            ...(!grpc ? headerOps(c.dest.headers?.response, 'response') : {}),
          })),
        };
        if (grpc && live.some((c) => c.dest.headers)) warn('MCD4112', 'per-destination header changes are not applied by proxyless gRPC clients');
      }
      if (grpc) {
        if (r.timeoutMs !== undefined) ra.max_stream_duration = { max_stream_duration: durationOf(r.timeoutMs) };
      } else {
        ra.timeout = durationOf(r.timeoutMs ?? 0);
      }
      const retry = retryPolicy(ctx, r, warn);
      if (retry) ra.retry_policy = retry;
      const hp = hashPolicy(ctx, live.map((c) => c.dest), (d) => portOfCluster(live.find((c) => c.dest === d)!.name));
      if (hp) ra.hash_policy = hp;
      if (r.mirrors.length > 0) {
        if (grpc) warn('MCD4113', 'mirror is not supported by proxyless gRPC clients; not mirrored');
        else {
          const policies = r.mirrors.flatMap((m, i) => {
            const c = destinationCluster(view, m.destination, ctx.port, { ...where, path: `${r.path}.mirror${r.mirrors.length > 1 ? `s[${i}]` : ''}` });
            return c ? [{ cluster: c, runtime_fraction: { default_value: fractionalPercent(m.percent) } }] : [];
          });
          if (policies.length > 0) ra.request_mirror_policies = policies;
        }
      }
      if (r.rewrite) {
        if (grpc) warn('MCD4114', 'rewrite is not supported by proxyless gRPC clients; not rewritten');
        else {
          if (r.rewrite.uri !== undefined) ra.prefix_rewrite = r.rewrite.uri;
          if (r.rewrite.uriRegex) ra.regex_rewrite = { pattern: { regex: r.rewrite.uriRegex.match }, substitution: r.rewrite.uriRegex.rewrite };
          if (r.rewrite.authority !== undefined) ra.host_rewrite_literal = r.rewrite.authority;
        }
      }
      action = { route: ra };
    }
  }

  if (r.headers) {
    if (grpc) warn('MCD4112', 'header changes are not applied by proxyless gRPC clients');
    else Object.assign(extra, headerOps(r.headers.request, 'request'), headerOps(r.headers.response, 'response'));
  }
  const perFilter: Record<string, unknown> = {};
  if (r.fault) {
    const f: Record<string, unknown> = {};
    if (r.fault.delay) f.delay = { fixed_delay: durationOf(r.fault.delay.fixedDelayMs), percentage: fractionalPercent(r.fault.delay.percent) };
    if (r.fault.abort) {
      const a = r.fault.abort;
      const grpcCode = a.grpcStatus !== undefined ? (GRPC_CODES[a.grpcStatus.toUpperCase()] ?? (/^\d+$/.test(a.grpcStatus) ? Number(a.grpcStatus) : undefined)) : undefined;
      if (grpcCode !== undefined) f.abort = { grpc_status: grpcCode, percentage: fractionalPercent(a.percent) };
      else if (a.httpStatus !== undefined) f.abort = { http_status: a.httpStatus, percentage: fractionalPercent(a.percent) };
      else warn('MCD4115', `fault abort has no usable httpStatus or grpcStatus (${a.grpcStatus ?? ''}); abort left out`, `${r.path}.fault.abort`);
    }
    if (f.delay || f.abort) perFilter['envoy.filters.http.fault'] = any(T.fault, f);
  }
  if (r.cors) {
    if (grpc) view.sink.add({ code: 'MCD4116', severity: 'info', message: 'corsPolicy does not apply to proxyless gRPC clients', resource: vs.key, path: `${r.path}.corsPolicy` });
    else perFilter['envoy.filters.http.cors'] = any(T.corsPolicy, corsPolicy(r.cors));
  }
  if (Object.keys(perFilter).length > 0) extra.typed_per_filter_config = perFilter;

  const base = `${vs.namespace}/${vs.name}/${r.name ?? `http[${r.index}]`}`;
  return matches.map((m, j) => ({
    name: matches.length > 1 ? `${base}/${m?.name ?? `match[${j}]`}` : base,
    match: routeMatch(m),
    ...action,
    ...extra,
  }));
}

function retryPolicy(ctx: RouteContext, r: HttpRouteModel, warn: (code: string, message: string, path?: string) => void): Record<string, unknown> | undefined {
  const grpc = ctx.view.proxy.kind === 'grpc';
  const rt = r.retries;
  // Istio's default for Envoy: two retries on connection-level failures.
  if (!rt) return grpc ? undefined : { retry_on: ISTIO_DEFAULT_RETRY_ON, num_retries: { value: 2 } };
  if (rt.attempts <= 0) return undefined;
  if (grpc) {
    const wanted = (rt.retryOn ?? 'unavailable,cancelled').split(',').map((s) => s.trim());
    const codes = wanted.filter((c) => GRPC_RETRY_ON.has(c));
    if (codes.length < wanted.length) warn('MCD4117', `retryOn conditions ${wanted.filter((c) => !GRPC_RETRY_ON.has(c)).join(', ')} are not supported by proxyless gRPC clients`, `${r.path}.retries.retryOn`);
    if (rt.perTryTimeoutMs !== undefined) warn('MCD4117', 'retries.perTryTimeout is not supported by proxyless gRPC clients', `${r.path}.retries.perTryTimeout`);
    if (codes.length === 0) return undefined;
    return { retry_on: codes.join(','), num_retries: { value: rt.attempts } };
  }
  return {
    retry_on: rt.retryOn ?? ISTIO_DEFAULT_RETRY_ON,
    num_retries: { value: rt.attempts },
    ...(rt.perTryTimeoutMs !== undefined && rt.perTryTimeoutMs > 0 ? { per_try_timeout: durationOf(rt.perTryTimeoutMs) } : {}),
  };
}

function matchApplies(ctx: RouteContext, m: HttpMatchModel): boolean {
  const proxy = ctx.view.proxy;
  if (m.port !== undefined && ctx.port !== undefined && m.port !== ctx.port) return false;
  if (m.gateways.length > 0 && !m.gateways.includes(ctx.gateway)) return false;
  if (ctx.gateway === 'mesh') {
    if (m.sourceLabels && !selects(m.sourceLabels, proxy.labels)) return false;
    if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
  }
  return true;
}

/** Routes for traffic to `svc` on `port`: its VirtualService's http routes, or one default route. */
export function serviceRoutes(ctx: RouteContext, vs: VirtualServiceModel | undefined, svc: MeshService | undefined, port: number): Record<string, unknown>[] {
  const routes = vs ? vs.http.flatMap((r) => translateHttpRoute(ctx, vs, r)) : [];
  // Without a VirtualService (or when none of its routes applies here) traffic goes to the service itself, as in Istio.
  if (svc && routes.length === 0) routes.push(defaultRoute(ctx, svc, port));
  return routes;
}

export function defaultRoute(ctx: RouteContext, svc: MeshService, port: number): Record<string, unknown> {
  const cluster = `outbound|${port}||${svc.hostname}`;
  const ra: Record<string, unknown> = { cluster };
  if (ctx.view.proxy.kind !== 'grpc') {
    ra.timeout = durationOf(0);
    const rp = retryPolicy(ctx, { index: 0, matches: [], destinations: [], mirrors: [], path: '' }, () => undefined);
    if (rp) ra.retry_policy = rp;
  }
  const hp = hashPolicy(ctx, [{ host: svc.hostname, port, weight: 100 }], () => port);
  if (hp) ra.hash_policy = hp;
  return { name: 'default', match: { prefix: '/' }, route: ra };
}

/** Routes of the VirtualServices bound to a Gateway for one host pattern. */
export function gatewayRoutes(ctx: RouteContext, vss: VirtualServiceModel[]): Record<string, unknown>[] {
  return vss.flatMap((vs) => vs.http.flatMap((r) => translateHttpRoute(ctx, vs, r)));
}

/** Hostnames a client may use for `svc`: FQDN, `name.namespace`, short name (same namespace), VIPs; each with and without the port. */
export function serviceDomains(svc: MeshService, port: number, proxyNamespace: string, clusterDomain: string): string[] {
  const names = [svc.hostname];
  const suffix = `.${svc.namespace}.${clusterDomain}`;
  if (svc.hostname.endsWith(suffix)) {
    const short = svc.hostname.slice(0, -suffix.length);
    names.push(`${short}.${svc.namespace}`, `${short}.${svc.namespace}.svc`);
    if (svc.namespace === proxyNamespace) names.push(short);
  }
  names.push(...svc.addresses.filter((a) => !a.includes('/')));
  return names.flatMap((n) => [n, `${n}:${port}`]);
}
