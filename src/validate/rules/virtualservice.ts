// VirtualService rules: Istio's ValidateVirtualService / validateHTTPRoute /
// validateTCPRoute / validateTLSRoute, plus meshcd's weight-sum rule.
import type { HTTPRoute, VirtualServiceSpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import {
  checkDestination,
  checkDuration,
  checkExportTo,
  checkHeaderOperations,
  checkLabels,
  checkPercent,
  checkPort,
  checkRegex,
  checkStringMatch,
  fqdnError,
  headerNameError,
  hostSubsetOf,
  hostsMatch,
  ipSubnetError,
  isDns1123Label,
  isIPAddress,
  isObject,
  wildcardDomainError,
} from './common.js';

const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const GRPC_STATUS = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);
// Status codes Go's http.StatusText knows: Istio accepts these in retryOn.
const KNOWN_HTTP_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408,
  409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export function checkVirtualService(ctx: RuleContext, spec: VirtualServiceSpec): void {
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : [];
  const gateways = Array.isArray(spec.gateways) ? spec.gateways : [];
  const http = Array.isArray(spec.http) ? spec.http : [];
  const tcp = Array.isArray(spec.tcp) ? spec.tcp : [];
  const tls = Array.isArray(spec.tls) ? spec.tls : [];
  const isDelegate = hosts.length === 0;

  if (isDelegate) {
    // No hosts: this must be a delegate VirtualService.
    if (gateways.length > 0) ctx.error('conflict', 'spec.gateways', 'delegate virtual service must have no gateways specified');
    if (tls.length > 0) ctx.error('conflict', 'spec.tls', 'delegate virtual service must have no tls route specified');
    if (tcp.length > 0) ctx.error('conflict', 'spec.tcp', 'delegate virtual service must have no tcp route specified');
  }
  const appliesToGateway = gateways.length > 0 && !gateways.includes('mesh');
  const appliesToMesh = !appliesToGateway;
  checkGatewayNames(ctx, 'spec.gateways', gateways);

  let allHostsValid = true;
  hosts.forEach((h, i) => {
    if (typeof h !== 'string') return;
    const e = wildcardDomainError(h);
    if (e) {
      if (!isIPAddress(h)) {
        ctx.error('host', at('spec.hosts', i), e);
        allHostsValid = false;
      }
    } else if (appliesToMesh && h === '*') {
      ctx.error('host', at('spec.hosts', i), 'wildcard host * is not allowed for virtual services bound to the mesh gateway');
      allHostsValid = false;
    }
  });
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        const a = hosts[i], b = hosts[j];
        if (typeof a === 'string' && typeof b === 'string' && hostsMatch(a, b)) ctx.error('duplicate', at('spec.hosts', j), `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
      }
    }
  }

  if (http.length === 0 && tcp.length === 0 && tls.length === 0) ctx.error('missing', 'spec', 'http, tcp or tls must be provided in virtual service');

  http.forEach((route, i) => {
    if (isObject(route)) checkHTTPRoute(ctx, at('spec.http', i), route, isDelegate, appliesToGateway);
  });
  tls.forEach((route, i) => {
    const path = at('spec.tls', i);
    if (!isObject(route)) return;
    const matches = Array.isArray(route.match) ? route.match : [];
    if (matches.length === 0) ctx.error('missing', path, 'TLS route must have at least one match condition');
    matches.forEach((m, j) => {
      const mp = at(at(path, 'match'), j);
      const sni = Array.isArray(m?.sniHosts) ? m.sniHosts : [];
      if (sni.length === 0) ctx.error('missing', mp, 'TLS match must have at least one SNI host');
      sni.forEach((h, k) => checkSniHost(ctx, at(at(mp, 'sniHosts'), k), h, hosts.filter((x): x is string => typeof x === 'string')));
      checkL4Match(ctx, mp, m);
    });
    checkRouteDestinations(ctx, path, route.route, 'TLS');
  });
  tcp.forEach((route, i) => {
    const path = at('spec.tcp', i);
    if (!isObject(route)) return;
    (Array.isArray(route.match) ? route.match : []).forEach((m, j) => checkL4Match(ctx, at(at(path, 'match'), j), m));
    checkRouteDestinations(ctx, path, route.route, 'TCP');
  });

  checkExportTo(ctx, 'spec.exportTo', spec.exportTo);
  checkCatchAll(ctx, 'spec.http', http);
  checkCatchAll(ctx, 'spec.tcp', tcp);
  checkCatchAll(ctx, 'spec.tls', tls);
}

function checkGatewayNames(ctx: RuleContext, path: string, gateways: readonly unknown[]): void {
  gateways.forEach((g, i) => {
    if (typeof g !== 'string') return;
    const where = at(path, i);
    const parts = g.split('/');
    if (parts.length < 2) {
      if (g.includes('.')) {
        const [name, ns] = g.split('.');
        ctx.warn('deprecated', where, `using legacy gatewayName format ${JSON.stringify(g)}; prefer the <namespace>/<name> format: "${ns}/${name}"`);
      }
      const e = fqdnError(g);
      if (e) ctx.error('name', where, e);
      return;
    }
    const ns = parts[0]!;
    const name = parts.slice(1).join('/');
    if (ns === '' || name === '') ctx.error('name', where, 'config namespace and gateway name cannot be empty');
    else if (!isDns1123Label(ns)) ctx.error('name', where, `invalid value for namespace: ${JSON.stringify(ns)}`);
    // A reference to an implementation-generated Gateway is the analyzers' IST0165 (a warning), not a bad name.
    else if (!isDns1123Label(name) && !name.includes('~istio-autogenerated-k8s-gateway~')) ctx.error('name', where, `invalid value for gateway name: ${JSON.stringify(name)}`);
  });
}

function checkSniHost(ctx: RuleContext, path: string, sni: unknown, hosts: readonly string[]): void {
  if (typeof sni !== 'string') return;
  const e = wildcardDomainError(sni);
  if (e) {
    if (isIPAddress(sni)) ctx.warn('host', path, `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`);
    else ctx.error('host', path, e);
    return;
  }
  if (!hosts.some((h) => hostSubsetOf(sni, h))) {
    ctx.error('host', path, `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${hosts.join(', ')}]`);
  }
}

function checkL4Match(ctx: RuleContext, path: string, m: unknown): void {
  if (!isObject(m)) return;
  if (Array.isArray(m.destinationSubnets)) {
    m.destinationSubnets.forEach((s, i) => {
      if (typeof s !== 'string') return;
      const e = ipSubnetError(s);
      if (e) ctx.error('address', at(at(path, 'destinationSubnets'), i), e);
    });
  }
  if (typeof m.port === 'number' && m.port !== 0) checkPort(ctx, at(path, 'port'), m.port);
  checkLabels(ctx, at(path, 'sourceLabels'), m.sourceLabels);
  if (Array.isArray(m.gateways)) checkGatewayNames(ctx, at(path, 'gateways'), m.gateways);
  if (typeof m.sourceNamespace === 'string' && m.sourceNamespace !== '' && !isDns1123Label(m.sourceNamespace)) {
    ctx.error('name', at(path, 'sourceNamespace'), `sourceNamespace match ${m.sourceNamespace} is invalid`);
  }
}

/**
 * Weights, as Istio's validateHTTPRouteDestinations: none negative, and with
 * several destinations not all 0. Istio's weights are relative (Envoy and
 * gRPC split by weight / sum), so a sum other than 100 is valid; it is a
 * warning that says the split traffic will really get, because a sum that
 * misses 100 is usually a slip (90 meant as 90%).
 */
/** Envoy's routes and grpc-go refuse weighted clusters whose weights sum past uint32 (Istio sums in int32 and does not check); HTTP routes only. */
const MAX_TOTAL_WEIGHT = 4_294_967_295;

function checkWeights(ctx: RuleContext, path: string, routes: readonly unknown[], http = false): void {
  let total = 0;
  let anyWeight = false;
  let negative = false;
  routes.forEach((d, i) => {
    if (!isObject(d) || typeof d.weight !== 'number') return;
    anyWeight = true;
    const w = d.weight;
    if (w < 0) {
      ctx.error('weight', at(at(path, i), 'weight'), `weight ${w} < 0`);
      negative = true;
    }
    total += w;
  });
  if (routes.length > 1) {
    if (total === 0) ctx.error('weight', path, 'total destination weight = 0');
    else if (http && total > MAX_TOTAL_WEIGHT && !negative) ctx.warn('weight', path, `destination weights sum to ${total}, over ${MAX_TOTAL_WEIGHT}: Istio accepts this, but Envoy and gRPC clients refuse (NACK) a route whose weights sum past a 32-bit count, so the route would not change; scale the weights down`);
    else if (total !== 100 && !negative) ctx.warn('relativeWeights', path, `destination weights sum to ${total}, not 100; Istio treats them as relative, so traffic splits ${splitText(routes, total)}`);
  } else if (routes.length === 1 && anyWeight) {
    const w = (routes[0] as { weight: number }).weight;
    if (w !== 0 && w !== 100 && w >= 0) {
      ctx.warn('weight', at(at(path, 0), 'weight'), `a single destination receives all traffic irrespective of its weight (${w}); set 100 or remove the weight`);
    }
  }
}

/** `reviews (v1) 33.3%, reviews (v2) 66.7%`: each destination's share of traffic. */
function splitText(routes: readonly unknown[], total: number): string {
  return routes
    .map((d) => {
      const r = isObject(d) ? d : {};
      const dest = isObject(r.destination) ? r.destination : {};
      const port = isObject(dest.port) && typeof dest.port.number === 'number' ? `:${dest.port.number}` : '';
      const name = `${typeof dest.host === 'string' ? dest.host : '?'}${port}${typeof dest.subset === 'string' ? ` (${dest.subset})` : ''}`;
      const w = typeof r.weight === 'number' ? r.weight : 0;
      return `${name} ${formatShare((100 * w) / total)}%`;
    })
    .join(', ');
}

function formatShare(p: number): string {
  return Number.isInteger(p) ? String(p) : p.toFixed(1);
}

function checkRouteDestinations(ctx: RuleContext, routePath: string, routes: unknown, what: 'TCP' | 'TLS'): void {
  const list = Array.isArray(routes) ? routes : [];
  const path = at(routePath, 'route');
  if (list.length === 0) {
    ctx.error('missing', routePath, `${what} route is required`);
    return;
  }
  list.forEach((d, i) => {
    if (!isObject(d)) return;
    if (!isObject(d.destination)) ctx.error('missing', at(path, i), 'destination is required');
    else checkDestination(ctx, at(at(path, i), 'destination'), d.destination);
  });
  checkWeights(ctx, path, list);
}

function checkHTTPRoute(ctx: RuleContext, path: string, http: HTTPRoute, delegate: boolean, appliesToGateway: boolean): void {
  const hasRoute = Array.isArray(http.route) && http.route.length > 0;
  const isRoot = !delegate && http.delegate !== undefined;

  // Conflicts between what a route does.
  if (isRoot) {
    const label = http.name ? `root HTTP route ${http.name}` : 'root HTTP route';
    if (http.redirect) ctx.error('conflict', at(path, 'redirect'), `${label} must not specify redirect`);
    if (http.route) ctx.error('conflict', at(path, 'route'), `${label} must not specify route`);
    if (http.directResponse) ctx.error('conflict', at(path, 'directResponse'), 'root HTTP route must not specify directResponse');
    if (isObject(http.delegate) && typeof http.delegate.name === 'string' && http.delegate.name === '') ctx.error('missing', at(at(path, 'delegate'), 'name'), 'delegate name is required');
  } else {
    if (delegate && http.delegate) ctx.error('conflict', at(path, 'delegate'), 'delegate HTTP route cannot contain delegate');
    if (http.redirect) {
      if (hasRoute) ctx.error('conflict', at(path, 'redirect'), 'HTTP route cannot contain both route and redirect');
      if (http.fault) ctx.error('conflict', at(path, 'fault'), 'HTTP route cannot contain both fault and redirect');
      if (http.rewrite) ctx.error('conflict', at(path, 'rewrite'), 'HTTP route rule cannot contain both rewrite and redirect');
      if (http.directResponse) ctx.error('conflict', at(path, 'directResponse'), 'HTTP route cannot contain both redirect and direct response');
    } else if (http.directResponse) {
      if (hasRoute) ctx.error('conflict', at(path, 'directResponse'), 'HTTP route cannot contain both route and direct response');
    } else if (!hasRoute) {
      ctx.error('missing', path, 'HTTP route or redirect is required');
    }
  }
  if (http.mirror && http.mirrors) ctx.error('conflict', at(path, 'mirrors'), 'HTTP route cannot contain both mirror and mirrors');

  // Matches.
  (Array.isArray(http.match) ? http.match : []).forEach((m, i) => {
    const mp = at(at(path, 'match'), i);
    if (!isObject(m)) return;
    for (const field of ['uri', 'scheme', 'method', 'authority'] as const) {
      const sm = m[field];
      if (!isObject(sm)) continue;
      if (delegate && 'regex' in sm) ctx.error('regex', at(mp, field), `${field === 'uri' ? 'url' : field} match does not support regex match for delegating`);
      else checkStringMatch(ctx, at(mp, field), sm);
    }
    for (const field of ['headers', 'withoutHeaders', 'queryParams'] as const) {
      const map = m[field];
      if (!isObject(map)) continue;
      for (const [name, sm] of Object.entries(map)) {
        const where = at(at(mp, field), name);
        if (sm === null || sm === undefined) ctx.error('missing', where, `${field === 'queryParams' ? 'query param' : field === 'headers' ? 'header' : 'withoutHeaders'} match ${name} cannot be null`);
        if (field !== 'queryParams') {
          const claim = /^@request\.auth\.claims(\.|\[)/.test(name);
          if (claim && !appliesToGateway) ctx.error('header', where, `JWT claim based routing (key: ${name}) is only supported for gateway`);
          else if (!claim) {
            const e = headerNameError(name);
            if (e) ctx.error('header', where, e);
          }
        }
        // Stricter than Istio (its webhook accepts it), so a warning: a regex match in a delegated route is not merged with the root's matches.
        if (delegate && isObject(sm) && 'regex' in sm) ctx.warn('regex', where, `${field === 'queryParams' ? 'query param' : 'header'} match ${name} does not support regex match for delegating`);
        else checkStringMatch(ctx, where, sm);
      }
    }
    if (typeof m.port === 'number' && m.port !== 0) checkPort(ctx, at(mp, 'port'), m.port);
    checkLabels(ctx, at(mp, 'sourceLabels'), m.sourceLabels);
    if (Array.isArray(m.gateways)) checkGatewayNames(ctx, at(mp, 'gateways'), m.gateways);
    if (typeof m.sourceNamespace === 'string' && m.sourceNamespace !== '' && !isDns1123Label(m.sourceNamespace)) {
      ctx.error('name', at(mp, 'sourceNamespace'), `sourceNamespace match ${m.sourceNamespace} is invalid`);
    }
  });

  checkHeaderOperations(ctx, at(path, 'headers'), http.headers);
  checkAuthorityRewrite(ctx, path, http);
  if (isObject(http.corsPolicy)) checkCors(ctx, at(path, 'corsPolicy'), http.corsPolicy);
  if (isObject(http.fault)) checkFault(ctx, at(path, 'fault'), http.fault);

  if (typeof http.mirrorPercent === 'number') {
    if (http.mirrorPercent > 100) ctx.error('percentage', at(path, 'mirrorPercent'), `mirror_percent must have a max value of 100 (it has ${http.mirrorPercent})`);
    ctx.warn('deprecated', at(path, 'mirrorPercent'), 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  if (isObject(http.mirrorPercentage) && typeof http.mirrorPercentage.value === 'number') {
    const v = http.mirrorPercentage.value;
    if (v > 100) ctx.error('percentage', at(at(path, 'mirrorPercentage'), 'value'), `mirror_percentage must have a max value of 100 (it has ${v})`);
    if (v < 0) ctx.error('percentage', at(at(path, 'mirrorPercentage'), 'value'), `mirror_percentage must have a min value of 0 (it has ${v})`);
  }
  if (isObject(http.mirror)) checkDestination(ctx, at(path, 'mirror'), http.mirror);
  (Array.isArray(http.mirrors) ? http.mirrors : []).forEach((m, i) => {
    const mp = at(at(path, 'mirrors'), i);
    if (!isObject(m)) return;
    if (!isObject(m.destination)) {
      ctx.error('missing', mp, 'destination is required for mirrors');
      return;
    }
    checkDestination(ctx, at(mp, 'destination'), m.destination);
    if (isObject(m.percentage) && typeof m.percentage.value === 'number') {
      const v = m.percentage.value;
      if (v > 100) ctx.error('percentage', at(at(mp, 'percentage'), 'value'), `mirror percentage must have a max value of 100 (it has ${v})`);
      if (v < 0) ctx.error('percentage', at(at(mp, 'percentage'), 'value'), `mirror percentage must have a min value of 0 (it has ${v})`);
    }
  });

  if (isObject(http.redirect)) {
    const r = http.redirect;
    const rp = at(path, 'redirect');
    if (!r.uri && !r.authority && r.port === undefined && r.derivePort === undefined && !r.scheme) ctx.error('missing', rp, 'redirect must specify URI, authority, scheme, or port');
    if (typeof r.redirectCode === 'number' && r.redirectCode !== 0 && (r.redirectCode < 300 || r.redirectCode > 399)) {
      ctx.error('status', at(rp, 'redirectCode'), `${r.redirectCode} is not a valid redirect code, must be 3xx`);
    }
    if (typeof r.scheme === 'string' && r.scheme !== '' && r.scheme !== 'http' && r.scheme !== 'https') ctx.error('conflict', at(rp, 'scheme'), 'invalid redirect scheme, must be "http" or "https"');
    if (typeof r.port === 'number' && r.port > 0) checkPort(ctx, at(rp, 'port'), r.port);
  }
  if (isObject(http.directResponse)) {
    const d = http.directResponse;
    const dp = at(path, 'directResponse');
    if (typeof d.status === 'number' && (d.status < 200 || d.status > 599)) ctx.error('status', at(dp, 'status'), `HTTP status ${d.status} is not in range 200-599`);
    else if (d.status === undefined) ctx.error('missing', dp, 'directResponse.status is required');
    const body = isObject(d.body) ? (d.body.string ?? d.body.bytes) : undefined;
    if (typeof body === 'string' && body.length > 1024 * 1024) ctx.error('conflict', at(dp, 'body'), 'large direct_responses may impact control plane performance, must be less than 1MB');
    else if (typeof body === 'string' && body.length > 100 * 1024) ctx.warn('conflict', at(dp, 'body'), 'large direct_responses may impact control plane performance');
  }
  if (isObject(http.retries)) checkRetries(ctx, at(path, 'retries'), http.retries);
  if (isObject(http.rewrite)) {
    const rw = http.rewrite;
    const rp = at(path, 'rewrite');
    if (rw.uri && rw.uriRegexRewrite) ctx.error('conflict', at(rp, 'uriRegexRewrite'), 'rewrite may only contain one of URI or UriRegexRewrite');
    else if (!rw.uri && !rw.uriRegexRewrite && !rw.authority) {
      ctx.error('missing', rp, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified');
    }
    if (isObject(rw.uriRegexRewrite)) {
      const rr = rw.uriRegexRewrite;
      if (!rr.match || !rr.rewrite) ctx.error('missing', at(rp, 'uriRegexRewrite'), 'UriRegexRewrite requires both Rewrite and Match fields to be specified');
      else checkRegex(ctx, at(at(rp, 'uriRegexRewrite'), 'match'), rr.match);
    }
  }
  const routes = Array.isArray(http.route) ? http.route : [];
  routes.forEach((d, i) => {
    const dp = at(at(path, 'route'), i);
    if (!isObject(d)) return;
    if (!isObject(d.destination)) ctx.error('missing', dp, 'destination is required');
    else checkDestination(ctx, at(dp, 'destination'), d.destination);
    checkHeaderOperations(ctx, at(dp, 'headers'), d.headers);
  });
  if (routes.length > 0) checkWeights(ctx, at(path, 'route'), routes, true);
  if (typeof http.timeout === 'string') checkDuration(ctx, at(path, 'timeout'), http.timeout, { allowZero: true });
}

function checkAuthorityRewrite(ctx: RuleContext, path: string, http: HTTPRoute): void {
  let current = isObject(http.rewrite) && typeof http.rewrite.authority === 'string' ? http.rewrite.authority : '';
  const req = isObject(http.headers) && isObject(http.headers.request) ? http.headers.request : undefined;
  for (const op of ['set', 'add'] as const) {
    const m = req?.[op];
    if (!isObject(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      if (!(k.toLowerCase() === ':authority' || k.toLowerCase() === 'host')) continue;
      if (current !== '') {
        ctx.error('conflict', at(at(at(at(path, 'headers'), 'request'), op), k), `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(v)}`);
        return;
      }
      current = String(v);
    }
  }
}

function checkRetries(ctx: RuleContext, path: string, r: NonNullable<HTTPRoute['retries']>): void {
  const attempts = typeof r.attempts === 'number' ? r.attempts : 0;
  if (attempts < 0) ctx.error('retry', at(path, 'attempts'), 'attempts cannot be negative');
  if (attempts === 0 && (r.perTryTimeout !== undefined || (r.retryOn !== undefined && r.retryOn !== '') || r.retryRemoteLocalities !== undefined)) {
    ctx.error('retry', path, 'http retry policy configured when attempts are set to 0 (disabled)');
  }
  if (typeof r.perTryTimeout === 'string') checkDuration(ctx, at(path, 'perTryTimeout'), r.perTryTimeout);
  if (typeof r.retryOn === 'string' && r.retryOn !== '') {
    for (const policy of r.retryOn.split(',')) {
      const code = /^\d+$/.test(policy) ? Number(policy) : NaN;
      if (!KNOWN_HTTP_STATUS.has(code) && !RETRY_ON.has(policy)) {
        ctx.error('retry', at(path, 'retryOn'), `${JSON.stringify(policy)} is not a valid retryOn policy; use one of ${[...RETRY_ON].join(', ')} or an HTTP status code`);
      }
    }
  }
}

function checkFault(ctx: RuleContext, path: string, f: NonNullable<HTTPRoute['fault']>): void {
  if (!f.abort && !f.delay) ctx.error('fault', path, 'HTTP fault injection must have an abort and/or a delay');
  if (isObject(f.abort)) {
    const ap = at(path, 'abort');
    checkPercent(ctx, at(ap, 'percentage'), f.abort.percentage);
    if (typeof f.abort.grpcStatus === 'string') {
      if (!GRPC_STATUS.has(f.abort.grpcStatus)) {
        ctx.error('fault', at(ap, 'grpcStatus'), `gRPC status ${JSON.stringify(f.abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`);
      }
    } else if (f.abort.http2Error !== undefined) {
      ctx.error('fault', at(ap, 'http2Error'), 'HTTP/2 abort fault injection not supported yet');
    } else if (typeof f.abort.httpStatus === 'number') {
      if (f.abort.httpStatus < 200 || f.abort.httpStatus > 599) ctx.error('fault', at(ap, 'httpStatus'), `HTTP status ${f.abort.httpStatus} is not in range 200-599`);
    } else {
      ctx.warn('fault', ap, 'abort configured, but error type not set');
    }
  }
  if (isObject(f.delay)) {
    const dp = at(path, 'delay');
    checkPercent(ctx, at(dp, 'percentage'), f.delay.percentage);
    if (typeof f.delay.percent === 'number' && (f.delay.percent < 0 || f.delay.percent > 100)) ctx.error('percentage', at(dp, 'percent'), `percentage ${f.delay.percent} is not in range 0..100`);
    if (typeof f.delay.fixedDelay === 'string') checkDuration(ctx, at(dp, 'fixedDelay'), f.delay.fixedDelay);
    else if (typeof f.delay.exponentialDelay === 'string') {
      checkDuration(ctx, at(dp, 'exponentialDelay'), f.delay.exponentialDelay);
      ctx.error('fault', at(dp, 'exponentialDelay'), 'exponentialDelay not supported yet');
    } else {
      // Istio accepts a delay without a type (stricter than Istio, so a warning): it delays nothing.
      ctx.warn('fault', dp, 'delay must set fixedDelay');
    }
  }
}

function checkCors(ctx: RuleContext, path: string, c: NonNullable<HTTPRoute['corsPolicy']>): void {
  (Array.isArray(c.allowOrigins) ? c.allowOrigins : []).forEach((o, i) => {
    const op = at(at(path, 'allowOrigins'), i);
    if (!isObject(o)) return;
    const value = o.exact ?? o.prefix ?? o.regex;
    if (value === undefined || value === '') ctx.error('cors', op, `'${value ?? ''}' is not a valid match type for CORS allow origins`);
    else if ('regex' in o) checkRegex(ctx, at(op, 'regex'), o.regex);
  });
  (Array.isArray(c.allowMethods) ? c.allowMethods : []).forEach((m, i) => {
    if (typeof m === 'string' && !HTTP_METHODS.has(m)) ctx.error('cors', at(at(path, 'allowMethods'), i), `${JSON.stringify(m)} is not a supported HTTP method`);
  });
  for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
    (Array.isArray(c[field]) ? c[field]! : []).forEach((h, i) => {
      if (typeof h !== 'string' || h === '*') return;
      const e = headerNameError(h);
      if (e) ctx.error('cors', at(at(path, field), i), e);
    });
  }
  if (typeof c.maxAge === 'string') {
    const ns = checkDuration(ctx, at(path, 'maxAge'), c.maxAge);
    if (ns !== undefined && ns % 1e9 !== 0) ctx.error('cors', at(path, 'maxAge'), 'max_age duration is accurate only to seconds precision');
  }
}

/** Only the last rule may have no matches (a catch-all); rules after it are never used. */
function checkCatchAll(ctx: RuleContext, path: string, routes: readonly unknown[]): void {
  let catchAll = -1;
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    const matches = Array.isArray(route.match) ? route.match : [];
    const name = typeof route.name === 'string' && route.name !== '' ? JSON.stringify(route.name) : `#${i}`;
    if (catchAll >= 0) {
      const reason = matches.length === 0 ? 'only the last rule can have no matches' : `rule #${catchAll} before it has no matches and catches all traffic`;
      ctx.warn('unreachable', at(path, i), `virtualService rule ${name} not used (${reason})`);
      return;
    }
    if (matches.length === 0) catchAll = i;
  });
}
