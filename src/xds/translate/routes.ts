// VirtualService HTTP routes → Envoy Route / VirtualHost objects, per client
// kind. Proxyless gRPC clients NACK redirect and direct_response actions and
// ignore mirrors, rewrites and header mutation, so those are left out for
// them with a warning diagnostic instead of silently changing behaviour.

import type { HeaderOperations } from '../../api/istio.js';
import type { ProxyKind } from '../../api/types.js';
import type { CorsModel, HttpMatchModel, HttpRouteModel, MeshService, StringMatchModel, VirtualServiceModel, WeightedDestination } from '../../mesh/model.js';
import { T, any, durationOf } from './common.js';
import { destinationCluster, effectivePolicy } from './clusters.js';
import type { ProxyView } from './view.js';
import { FragmentMemo, idOf } from './memo.js';
import type { RetryPolicy, Route, envoy_extensions_filters_http_cors_v3_CorsPolicy as CorsPolicy, RouteAction, TypedAny, envoy_config_route_v3_RedirectAction_RedirectResponseCode, envoy_extensions_filters_http_fault_v3_HTTPFault as HTTPFault, RouteMatch, envoy_config_route_v3_HeaderMatcher as HeaderMatcher, envoy_config_route_v3_RouteAction_HashPolicy as HashPolicy, envoy_type_matcher_v3_StringMatcher as StringMatcher, envoy_type_v3_FractionalPercent as FractionalPercent } from '../envoy-types.js';
import { selects } from './view.js';


export interface RouteContext {
  view: ProxyView;
  /** `mesh` for sidecars and proxyless clients, `ns/name` of the Gateway for routers. */
  gateway: string;
  /** Port of the listener the routes serve (match.port, destination port defaulting). */
  port: number | undefined;
}

/** Retry conditions grpc-js understands (gRFC A44); others are Envoy-only. */
const GRPC_RETRY_ON = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);
const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/** A percentage (0..100, fractions allowed) as FractionalPercent per million. */
export function fractionalPercent(percent: number): FractionalPercent {
  return { numerator: Math.round(Math.min(100, Math.max(0, percent)) * 10_000), denominator: 'MILLION' };
}

export function stringMatcher(m: StringMatchModel, ignoreCase = false): StringMatcher {
  const base = m.kind === 'exact' ? { exact: m.value } : m.kind === 'prefix' ? { prefix: m.value } : { safe_regex: { regex: m.value } };
  return ignoreCase && m.kind !== 'regex' ? { ...base, ignore_case: true } : base;
}

function headerMatcher(name: string, m: StringMatchModel, invert = false): HeaderMatcher {
  // Istio: an empty prefix means "header present".
  if (m.kind === 'prefix' && m.value === '') return { name, present_match: true, ...(invert ? { invert_match: true } : {}) };
  return { name, string_match: stringMatcher(m), ...(invert ? { invert_match: true } : {}) };
}

function routeMatch(m: HttpMatchModel | undefined): RouteMatch {
  const out: RouteMatch = {};
  const uri = m?.uri;
  if (!uri) out.prefix = '/';
  else if (uri.kind === 'exact') out.path = uri.value;
  else if (uri.kind === 'prefix') out.prefix = uri.value;
  else out.safe_regex = { regex: uri.value };
  if (m?.ignoreUriCase) out.case_sensitive = { value: false };
  const headers: HeaderMatcher[] = [];
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

function corsPolicy(c: CorsModel): CorsPolicy {
  const out: CorsPolicy = {};
  if (c.allowOrigins.length > 0) out.allow_origin_string_match = c.allowOrigins.map((o) => stringMatcher(o));
  if (c.allowMethods.length) out.allow_methods = c.allowMethods.join(',');
  if (c.allowHeaders.length) out.allow_headers = c.allowHeaders.join(',');
  if (c.exposeHeaders.length) out.expose_headers = c.exposeHeaders.join(',');
  if (c.maxAgeSeconds !== undefined) out.max_age = String(c.maxAgeSeconds);
  if (c.allowCredentials !== undefined) out.allow_credentials = { value: c.allowCredentials };
  if (c.unmatchedPreflights === 'IGNORE') out.forward_not_matching_preflights = { value: false };
  return out;
}

function hashPolicy(ctx: RouteContext, dests: WeightedDestination[], clusterPort: (d: WeightedDestination) => number | undefined): HashPolicy[] | undefined {
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
    const ttlMs = ch.httpCookie.ttlMs;
    return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ttlMs !== undefined ? { ttl: durationOf(ttlMs) } : {}) } }];
  }
  if (ch.useSourceIp) return grpc ? unsupported('source IP') : [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return grpc ? unsupported('query parameter') : [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

function portOfCluster(name: string): number | undefined {
  const p = Number(name.split('|')[1]);
  return Number.isFinite(p) ? p : undefined;
}

/** Where a builder reports what a client kind cannot do (deduplicated by the sink). */
export type Warn = (code: string, message: string, path?: string, severity?: 'warning' | 'info') => void;

const REDIRECT_CODES: Record<number, envoy_config_route_v3_RedirectAction_RedirectResponseCode> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

/** Proxyless gRPC clients NACK redirect and direct_response: such a route is left out for them, with a warning. */
function leftOutForGrpc(kind: ProxyKind, warn: Warn, what: string): boolean {
  if (kind !== 'grpc') return false;
  warn('MCD4110', `${what} is not supported by proxyless gRPC clients; route left out`);
  return true;
}

/** `redirect` action; undefined (route left out) for proxyless gRPC clients. */
export function redirectAction(r: HttpRouteModel, kind: ProxyKind, warn: Warn): Pick<Route, 'redirect'> | undefined {
  const rd = r.redirect;
  if (!rd || leftOutForGrpc(kind, warn, 'redirect')) return undefined;
  return {
    redirect: {
      ...(rd.uri !== undefined ? { path_redirect: rd.uri } : {}),
      ...(rd.authority !== undefined ? { host_redirect: rd.authority } : {}),
      ...(rd.port !== undefined ? { port_redirect: rd.port } : {}),
      ...(rd.scheme !== undefined ? { scheme_redirect: rd.scheme } : {}),
      response_code: REDIRECT_CODES[rd.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY',
    },
  };
}

/** `direct_response` action; left out (undefined) for proxyless gRPC clients, which NACK it. */
export function directResponseAction(r: HttpRouteModel, kind: ProxyKind, warn: Warn): Pick<Route, 'direct_response'> | undefined {
  const dr = r.directResponse;
  if (!dr || leftOutForGrpc(kind, warn, 'directResponse')) return undefined;
  return { direct_response: { status: dr.status, ...(dr.body !== undefined ? { body: { inline_string: dr.body } } : {}) } };
}

/** A route's destinations and mirrors resolved to clusters that exist for this proxy. */
export interface ResolvedTargets {
  clusters: { name: string; weight: number; dest: WeightedDestination }[];
  mirrors: { cluster: string; percent: number }[];
  hashPolicy?: HashPolicy[];
}

/** `route` action (weighted clusters, timeout, retries, hash policy, mirrors, rewrite), or 503 / left out when no cluster exists. */
export function forwardAction(r: HttpRouteModel, kind: ProxyKind, warn: Warn, targets: ResolvedTargets): Pick<Route, 'route' | 'direct_response'> | undefined {
  const grpc = kind === 'grpc';
  const live = targets.clusters.filter((c) => c.weight > 0);
  if (live.length === 0) {
    if (grpc) {
      warn('MCD4111', 'no destination of this route exists for proxyless gRPC clients; route left out');
      return undefined;
    }
    return { direct_response: { status: 503 } };
  }
  const ra: RouteAction = {};
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
  const retry = retryPolicy(r, kind, warn);
  if (retry) ra.retry_policy = retry;
  if (targets.hashPolicy) ra.hash_policy = targets.hashPolicy;
  if (r.mirrors.length > 0) {
    if (grpc) warn('MCD4113', 'mirror is not supported by proxyless gRPC clients; not mirrored');
    else if (targets.mirrors.length > 0) ra.request_mirror_policies = targets.mirrors.map((m) => ({ cluster: m.cluster, runtime_fraction: { default_value: fractionalPercent(m.percent) } }));
  }
  if (r.rewrite) {
    if (grpc) warn('MCD4114', 'rewrite is not supported by proxyless gRPC clients; not rewritten');
    else {
      if (r.rewrite.uri !== undefined) ra.prefix_rewrite = r.rewrite.uri;
      if (r.rewrite.uriRegex) ra.regex_rewrite = { pattern: { regex: r.rewrite.uriRegex.match }, substitution: r.rewrite.uriRegex.rewrite };
      if (r.rewrite.authority !== undefined) ra.host_rewrite_literal = r.rewrite.authority;
    }
  }
  return { route: ra };
}

/** Route-level request/response header changes (Envoy only). */
export function routeHeaderOps(r: HttpRouteModel, kind: ProxyKind, warn: Warn): Pick<Route, 'request_headers_to_add' | 'request_headers_to_remove' | 'response_headers_to_add' | 'response_headers_to_remove'> {
  if (!r.headers) return {};
  if (kind === 'grpc') {
    warn('MCD4112', 'header changes are not applied by proxyless gRPC clients');
    return {};
  }
  return { ...headerOps(r.headers.request, 'request'), ...headerOps(r.headers.response, 'response') };
}

/** The fault filter's per-route config, or undefined. */
export function faultPerRoute(r: HttpRouteModel, _kind: ProxyKind, warn: Warn): TypedAny | undefined {
  if (!r.fault) return undefined;
  const f: HTTPFault = {};
  if (r.fault.delay) f.delay = { fixed_delay: durationOf(r.fault.delay.fixedDelayMs), percentage: fractionalPercent(r.fault.delay.percent) };
  const a = r.fault.abort;
  if (a) {
    if (a.grpcCode !== undefined) f.abort = { grpc_status: a.grpcCode, percentage: fractionalPercent(a.percent) };
    else if (a.httpStatus !== undefined) f.abort = { http_status: a.httpStatus, percentage: fractionalPercent(a.percent) };
    else warn('MCD4115', `fault abort has no usable httpStatus or grpcStatus (${a.grpcStatus ?? ''}); abort left out`, `${r.path}.fault.abort`);
  }
  return f.delay || f.abort ? any(T.fault, f) : undefined;
}

/** The CORS filter's per-route config (Envoy only), or undefined. */
export function corsPerRoute(r: HttpRouteModel, kind: ProxyKind, warn: Warn): TypedAny | undefined {
  if (!r.cors) return undefined;
  if (kind === 'grpc') {
    warn('MCD4116', 'corsPolicy does not apply to proxyless gRPC clients', `${r.path}.corsPolicy`, 'info');
    return undefined;
  }
  return any(T.corsPolicy, corsPolicy(r.cors));
}

/** `typed_per_filter_config` for a route: fault and CORS. */
export function perFilterConfig(r: HttpRouteModel, kind: ProxyKind, warn: Warn): Pick<Route, 'typed_per_filter_config'> {
  const perFilter: Record<string, TypedAny> = {};
  const fault = faultPerRoute(r, kind, warn);
  if (fault) perFilter['envoy.filters.http.fault'] = fault;
  const cors = corsPerRoute(r, kind, warn);
  if (cors) perFilter['envoy.filters.http.cors'] = cors;
  return Object.keys(perFilter).length > 0 ? { typed_per_filter_config: perFilter } : {};
}

/** Destinations and mirrors → clusters visible to this proxy (the one step that needs the view). */
function resolveTargets(ctx: RouteContext, vs: VirtualServiceModel, r: HttpRouteModel): ResolvedTargets {
  const where = { resource: vs.key, path: r.path };
  const clusters: ResolvedTargets['clusters'] = [];
  r.destinations.forEach((d, i) => {
    const name = destinationCluster(ctx.view, d, ctx.port, { ...where, path: `${r.path}.route[${i}].destination` });
    if (name) clusters.push({ name, weight: d.weight, dest: d });
  });
  const live = clusters.filter((c) => c.weight > 0);
  if (live.length === 0) return { clusters, mirrors: [] };
  const hp = hashPolicy(ctx, live.map((c) => c.dest), (d) => portOfCluster(live.find((c) => c.dest === d)!.name));
  const mirrors = ctx.view.proxy.kind === 'grpc' ? [] : r.mirrors.flatMap((m, i) => {
    const c = destinationCluster(ctx.view, m.destination, ctx.port, { ...where, path: `${r.path}.mirror${r.mirrors.length > 1 ? `s[${i}]` : ''}` });
    return c ? [{ cluster: c, percent: m.percent }] : [];
  });
  return { clusters, mirrors, ...(hp ? { hashPolicy: hp } : {}) };
}

/** Envoy routes for one VirtualService http route (one per surviving match). */
function translateHttpRoute(ctx: RouteContext, vs: VirtualServiceModel, r: HttpRouteModel): Route[] {
  const { view } = ctx;
  const kind = view.proxy.kind;
  const warn: Warn = (code, message, path = r.path, severity = 'warning') => view.sink.add({ code, severity, message, resource: vs.key, path, ...(severity === 'warning' ? { origin: vs.origin } : {}) });
  const matches = r.matches.length === 0 ? [undefined] : r.matches.filter((m) => matchApplies(ctx, m));
  if (matches.length === 0) return [];
  const action = r.redirect ? redirectAction(r, kind, warn) : r.directResponse ? directResponseAction(r, kind, warn) : forwardAction(r, kind, warn, resolveTargets(ctx, vs, r));
  if (!action) return [];
  const extra = { ...routeHeaderOps(r, kind, warn), ...perFilterConfig(r, kind, warn) };
  const base = `${vs.namespace}/${vs.name}/${r.name ?? `http[${r.index}]`}`;
  return matches.map((m, j) => ({
    name: matches.length > 1 ? `${base}/${m?.name ?? `match[${j}]`}` : base,
    match: routeMatch(m),
    ...action,
    ...extra,
  }));
}

/** Retry policy: Istio's default for Envoy without `retries`; for gRPC only the status codes grpc-js retries on. */
export function retryPolicy(r: Pick<HttpRouteModel, 'retries' | 'path'>, kind: ProxyKind, warn: Warn): RetryPolicy | undefined {
  const grpc = kind === 'grpc';
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

/**
 * What a VirtualService's http routes read besides itself: the hosts (and
 * subsets) they send to or mirror to, and whether a match looks at the
 * source (labels or namespace). Worked out once per VirtualService object.
 */
interface RouteReads {
  /** Destination and mirror hosts, sorted, each once. */
  hosts: string[];
  destinations: { host: string; subset?: string }[];
  source: boolean;
}
const readsMemo = new WeakMap<VirtualServiceModel, RouteReads>();
function routeReads(vs: VirtualServiceModel): RouteReads {
  let r = readsMemo.get(vs);
  if (!r) {
    const destinations = vs.http.flatMap((h) => [...h.destinations, ...h.mirrors.map((m) => m.destination)]).map((d) => ({ host: d.host, ...(d.subset ? { subset: d.subset } : {}) }));
    const source = vs.http.some((h) => h.matches.some((m) => m.sourceLabels !== undefined || m.sourceNamespace !== undefined));
    readsMemo.set(vs, (r = { hosts: [...new Set(destinations.map((d) => d.host))].sort(), destinations, source }));
  }
  return r;
}

/**
 * What the routes of `svc` on `port` depend on besides `svc` itself, as a
 * memo key: the VirtualService, the port, the scope (kind, namespace and the
 * labels that select routes or rules), the mesh settings, and for every host
 * the routes send to the service and the DestinationRule this proxy sees.
 */
export function routesKey(ctx: RouteContext, vs: VirtualServiceModel | undefined, svc: MeshService | undefined, port: number): string {
  const { view } = ctx;
  const deps = [idOf(vs), port, ctx.gateway, portable(view, vs) ? view.proxy.kind : view.scopeKey, idOf(view.model.settings), idOf(svc ? view.destinationRule(svc.hostname) : undefined)];
  if (vs) for (const h of routeReads(vs).hosts) deps.push(idOf(view.serviceByHost.get(h)), idOf(view.destinationRule(h)));
  return deps.join('|');
}

/**
 * Routes that are the same for every scope of a client kind that sees the
 * same services and DestinationRules (the rest of the key): the
 * VirtualService matches no source (labels or namespace), and every
 * destination and subset it names is visible, so nothing it says names the
 * proxy's namespace. Then a mesh's namespaces share one translation of it
 * (at Istio's default visibility, thousands of services' routes are not
 * translated once per namespace).
 */
function portable(view: ProxyView, vs: VirtualServiceModel | undefined): boolean {
  if (!vs) return true;
  const { source, destinations } = routeReads(vs);
  if (source) return false;
  for (const d of destinations) {
    if (!view.serviceByHost.has(d.host)) return false;
    if (d.subset && !view.destinationRule(d.host)?.subsets.some((s) => s.name === d.subset)) return false;
  }
  return true;
}


const routesMemo = new FragmentMemo<Route[]>();

/** Routes for traffic to `svc` on `port`: its VirtualService's http routes, or one default route. Memoized across revisions (./memo.ts). */
export function serviceRoutes(ctx: RouteContext, vs: VirtualServiceModel | undefined, svc: MeshService | undefined, port: number): Route[] {
  if (!svc) return serviceRoutesOf(ctx, vs, svc, port);
  return routesMemo.get(svc, routesKey(ctx, vs, svc, port), ctx.view, () => serviceRoutesOf(ctx, vs, svc, port));
}

function serviceRoutesOf(ctx: RouteContext, vs: VirtualServiceModel | undefined, svc: MeshService | undefined, port: number): Route[] {
  const routes = vs ? vs.http.flatMap((r) => translateHttpRoute(ctx, vs, r)) : [];
  // Without a VirtualService (or when none of its routes applies here) traffic goes to the service itself, as in Istio.
  if (svc && routes.length === 0) routes.push(defaultRoute(ctx, svc, port));
  return routes;
}

export function defaultRoute(ctx: RouteContext, svc: MeshService, port: number): Route {
  const cluster = `outbound|${port}||${svc.hostname}`;
  const ra: RouteAction = { cluster };
  if (ctx.view.proxy.kind !== 'grpc') {
    ra.timeout = durationOf(0);
    const rp = retryPolicy({ path: '' }, ctx.view.proxy.kind, () => undefined);
    if (rp) ra.retry_policy = rp;
  }
  const hp = hashPolicy(ctx, [{ host: svc.hostname, port, weight: 100 }], () => port);
  if (hp) ra.hash_policy = hp;
  return { name: 'default', match: { prefix: '/' }, route: ra };
}

/** Routes of the VirtualServices bound to a Gateway for one host pattern. */
export function gatewayRoutes(ctx: RouteContext, vss: VirtualServiceModel[]): Route[] {
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
