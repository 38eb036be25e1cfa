// Value checks shared by the per-kind rules, following Istio's
// pkg/config/validation (agent.ValidateWildcardDomain, ValidateDuration,
// ValidatePort, ValidateIPSubnet, …) and reporting Istio's wording. Each
// check returns the reason a value is invalid, or undefined.
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dns1123LabelError, labelKeyError, labelValueError } from '../schema/names.js';
import { at, type RuleContext } from './context.js';

// re2-wasm is CommonJS; load it once, lazily, so schema-only users never pay for the wasm module.
interface RE2Ctor {
  new (pattern: string, flags: string): unknown;
}
let re2: RE2Ctor | undefined;
function RE2(): RE2Ctor {
  if (!re2) re2 = (createRequire(import.meta.url)('re2-wasm') as { RE2: RE2Ctor }).RE2;
  return re2;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Istio's labels.IsDNS1123Label, which (unlike Kubernetes) also accepts upper case. */
export function isDns1123Label(v: string): boolean {
  return v.length <= 63 && /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(v);
}

/** Kubernetes' own rule, for values that name Kubernetes objects (namespaces). */
export function isK8sDns1123Label(v: string): boolean {
  return dns1123LabelError(v) === undefined;
}

// --- durations --------------------------------------------------------------

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Parses a Go/protobuf duration (`1s`, `1.5s`, `100ms`, `1h30m`) into nanoseconds. */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const m = /^([+-]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_NS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/** Istio's ValidateDuration: at least 1ms, millisecond precision. */
export function durationError(s: string, opts: { allowZero?: boolean } = {}): string | undefined {
  const ns = parseDuration(s);
  if (ns === undefined) return `invalid duration ${JSON.stringify(s)}: use a number with a unit, e.g. 1s, 100ms, 1m30s`;
  if (opts.allowZero && ns === 0) return undefined;
  if (ns < 1e6) return 'duration must be greater than 1ms';
  if (Math.round(ns) % 1e6 !== 0) return 'only durations to ms precision are supported';
  return undefined;
}

export function checkDuration(ctx: RuleContext, path: string, v: unknown, opts: { allowZero?: boolean } = {}): number | undefined {
  if (typeof v !== 'string') return undefined;
  const e = durationError(v, opts);
  if (e) ctx.error('duration', path, `${path}: ${e}`);
  return e ? undefined : parseDuration(v);
}

// --- ports ------------------------------------------------------------------

export function portError(n: number): string | undefined {
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? undefined : `port number ${n} must be in the range 1..65535`;
}

export function checkPort(ctx: RuleContext, path: string, v: unknown): void {
  if (typeof v !== 'number') return;
  const e = portError(v);
  if (e) ctx.error('port', path, e);
}

// --- hosts ------------------------------------------------------------------

const WILDCARD_LABEL = /^(\*|(\*|\*-)?[a-z0-9A-Z]([-a-z0-9A-Z]*[a-z0-9A-Z])?)$/;
const LOOSE_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

function dnsLabelsError(domain: string, whole: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1]!;
  if (tld !== '' && /^\d+$/.test(tld)) return `domain name ${JSON.stringify(whole)} invalid (top level domain ${JSON.stringify(tld)} cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    if (i === parts.length - 1 && label === '') return undefined; // `istio.io.`
    if (label.length > 63 || !LOOSE_LABEL.test(label)) return `domain name ${JSON.stringify(whole)} invalid (label ${JSON.stringify(label)} invalid)`;
  }
  return undefined;
}

function preconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** agent.ValidateFQDN */
export function fqdnError(name: string): string | undefined {
  return preconditions(name) ?? dnsLabelsError(name, name);
}

/** agent.ValidateWildcardDomain: a wildcard only as (a prefix of) the leftmost label. */
export function wildcardDomainError(domain: string): string | undefined {
  const pre = preconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first)) return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(first)} invalid)`;
  if (dot >= 0) return dnsLabelsError(domain.slice(dot + 1), domain);
  return undefined;
}

export function partialWildcardError(host: string): string | undefined {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.') ? `partial wildcard ${JSON.stringify(host)} not allowed` : undefined;
}

export function isIPAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** agent.ValidateIPSubnet: an IP or a CIDR block. */
export function ipSubnetError(s: string): string | undefined {
  if ((s.match(/\//g) ?? []).length === 1) {
    const [addr, bits] = s.split('/') as [string, string];
    const fam = isIP(addr);
    const n = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (fam === 0 || !(n >= 0 && n <= (fam === 4 ? 32 : 128))) return `${s} is not a valid CIDR block`;
    return undefined;
  }
  return isIP(s) ? undefined : `${s} is not a valid IP`;
}

/** Host part of a Sidecar egress or Gateway server host. */
function sidecarOrGatewayHostError(hostname: string, isGateway: boolean): string | undefined {
  if (hostname !== '*' && !hostname.includes('.')) return `short names (non FQDN) are not allowed: ${JSON.stringify(hostname)}`;
  const e = wildcardDomainError(hostname);
  if (e && !(isGateway && isIPAddress(hostname))) return e;
  return partialWildcardError(hostname);
}

/** agent.ValidateNamespaceSlashWildcardHostname */
export function namespaceSlashHostError(host: string, isGateway: boolean): string | undefined {
  const slash = host.indexOf('/');
  if (slash < 0) {
    if (isGateway) return sidecarOrGatewayHostError(host, true);
    return `host ${JSON.stringify(host)} must be of form namespace/dnsName`;
  }
  const ns = host.slice(0, slash);
  const name = host.slice(slash + 1);
  if (ns === '' || name === '') return `config namespace and dnsName in host entry cannot be empty: ${JSON.stringify(host)}`;
  const allowed = isGateway ? ['*', '.'] : ['*', '.', '~'];
  if (!allowed.includes(ns) && !isDns1123Label(ns)) return `invalid namespace value ${JSON.stringify(ns)} in ${isGateway ? 'gateway' : 'sidecar'}`;
  return sidecarOrGatewayHostError(name, isGateway);
}

// --- regexes ----------------------------------------------------------------

// Compiling with RE2 costs about a millisecond; configs repeat the same
// patterns across many routes, so results are kept (bounded).
const regexVerdicts = new Map<string, string | undefined>();
const REGEX_CACHE_LIMIT = 20000;

/** Compiles with RE2 (as Envoy does); names the construct RE2 refuses. */
export function regexError(re: string): string | undefined {
  if (regexVerdicts.has(re)) return regexVerdicts.get(re);
  const verdict = compileRegex(re);
  if (regexVerdicts.size >= REGEX_CACHE_LIMIT) regexVerdicts.clear();
  regexVerdicts.set(re, verdict);
  return verdict;
}

function compileRegex(re: string): string | undefined {
  if (re.length > 1024) return 'regex is too large, max length allowed is 1024';
  if (/(^|[^\\])(\\\\)*\(\?<?[=!]/.test(re)) return `look-around assertions such as (?=…), (?!…), (?<=…) are not supported by RE2, which Envoy uses (https://github.com/google/re2/wiki/Syntax)`;
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(re)) return `back-references such as \\1 are not supported by RE2, which Envoy uses (https://github.com/google/re2/wiki/Syntax)`;
  try {
    const compiled = new (RE2())(re, 'u') as { wrapper?: { delete?: () => void } };
    // The compiled program lives in wasm memory, which the JS garbage collector does not free.
    compiled.wrapper?.delete?.();
    return undefined;
  } catch (err) {
    const msg = (err as Error).message.replace(/^Invalid regular expression: \/.*\/u: /s, '');
    return `${msg}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`;
  }
}

export function checkRegex(ctx: RuleContext, path: string, re: unknown): void {
  if (typeof re !== 'string') return;
  if (re === '') {
    ctx.error('regex', path, `${path}: regex string match should not be empty`);
    return;
  }
  const e = regexError(re);
  if (e) ctx.error('regex', path, `${path}: invalid regex ${JSON.stringify(re.length > 60 ? re.slice(0, 60) + '…' : re)}: ${e}`);
}

/** StringMatch: a prefix must not be empty; a regex must compile. */
export function checkStringMatch(ctx: RuleContext, path: string, sm: unknown): void {
  if (!isObject(sm)) return;
  if (sm.prefix === '') ctx.error('missing', at(path, 'prefix'), `${path}: prefix string match should not be empty`);
  if ('regex' in sm) checkRegex(ctx, at(path, 'regex'), sm.regex);
}

// --- labels and selectors ---------------------------------------------------

/** labels.Instance.Validate */
export function checkLabels(ctx: RuleContext, path: string, labels: unknown): void {
  if (!isObject(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    const ke = labelKeyError(k);
    if (ke) ctx.error('labels', at(path, k), `invalid label key ${JSON.stringify(k)}: ${ke}`);
    if (typeof v === 'string') {
      const ve = labelValueError(v);
      if (ve) ctx.error('labels', at(path, k), `invalid label value ${JSON.stringify(v)} for ${k}: ${ve}`);
    }
  }
}

/** validateWorkloadSelector: no empty keys, no wildcards; a selector without labels selects everything (warning). */
export function checkWorkloadSelector(ctx: RuleContext, path: string, selector: unknown, field: 'matchLabels' | 'labels' = 'matchLabels'): void {
  if (!isObject(selector)) return;
  const labels = selector[field];
  const entries = isObject(labels) ? Object.entries(labels) : [];
  for (const [k, v] of entries) {
    const where = at(at(path, field), k);
    if (k === '') ctx.error('labels', where, `empty key is not supported in selector: "=${String(v)}"`);
    else if (k.includes('*') || String(v).includes('*')) ctx.error('labels', where, `wildcard is not supported in selector: "${k}=${String(v)}"`);
  }
  if (entries.length === 0) ctx.warn('labels', path, 'workload selector specified without labels; it selects every workload in the namespace');
  else checkLabels(ctx, at(path, field), labels);
}

// --- exportTo ---------------------------------------------------------------

/** validateExportTo */
export function checkExportTo(ctx: RuleContext, path: string, exportTo: unknown, opts: { serviceEntry?: boolean; ruleWithSelector?: boolean } = {}): void {
  if (!Array.isArray(exportTo) || exportTo.length === 0) return;
  const seen = new Set<string>();
  exportTo.forEach((e, i) => {
    if (typeof e !== 'string') return;
    const where = at(path, i);
    const key = e === '.' ? ctx.namespace : e;
    if (seen.has(key)) {
      ctx.error('duplicate', where, key !== e ? `duplicate entries in exportTo: . and current namespace ${ctx.namespace}` : `duplicate entries in exportTo for entry ${e}`);
      return;
    }
    if (e === '~' && opts.serviceEntry) {
      seen.add(key);
      return;
    }
    if (e !== '*' && e !== '.' && !isDns1123Label(e)) {
      ctx.error('exportTo', where, `only . or * or a valid DNS 1123 label is allowed as exportTo entry, found ${JSON.stringify(e)}`);
      return;
    }
    seen.add(key);
  });
  if (opts.ruleWithSelector && seen.size > 0) {
    if (seen.has(ctx.namespace)) {
      if (seen.size > 1) ctx.error('exportTo', path, 'destination rule with workload selector cannot have multiple entries in exportTo');
    } else {
      ctx.error('exportTo', path, 'destination rule with workload selector cannot have exportTo beyond current namespace');
    }
  }
  if (seen.has('*') && exportTo.length > 1) ctx.error('exportTo', path, 'cannot have both public (*) and non-public exportTo values for a resource');
  if (seen.has('~') && exportTo.length > 1) ctx.error('exportTo', path, 'cannot export service entry to no one (~) and someone');
}

// --- headers ----------------------------------------------------------------

const HEADER_TOKEN = /^[-_A-Za-z0-9]+$/;

export function headerNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!HEADER_TOKEN.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

// Envoy's header formatter: `%` starts a command that must be closed; `%%` is a literal percent.
export function headerValueError(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return `header value configuration ${JSON.stringify(value)} is invalid (control characters)`;
  let i = 0;
  while (i < value.length) {
    if (value[i] === '%') {
      if (value[i + 1] === '%') {
        i += 2;
        continue;
      }
      const end = value.indexOf('%', i + 1);
      if (end < 0) return `header value configuration ${JSON.stringify(value)} is invalid: unterminated variable expression (use %% for a literal %)`;
      if (!/^[A-Z_]+(\(.*\))?(:\w+)?$/.test(value.slice(i + 1, end))) return `header value configuration ${JSON.stringify(value)} is invalid: bad variable expression`;
      i = end + 1;
      continue;
    }
    i++;
  }
  return undefined;
}

function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}
function isAuthorityHeader(name: string): boolean {
  return name.toLowerCase() === ':authority' || name.toLowerCase() === 'host';
}

/** Headers.request/response add/set/remove, as validateHTTPRoute checks them. */
export function checkHeaderOperations(ctx: RuleContext, path: string, headers: unknown): void {
  if (!isObject(headers)) return;
  for (const side of ['request', 'response'] as const) {
    const ops = headers[side];
    if (!isObject(ops)) continue;
    for (const op of ['add', 'set'] as const) {
      const m = ops[op];
      if (!isObject(m)) continue;
      for (const [name, val] of Object.entries(m)) {
        const where = at(at(at(path, side), op), name);
        if (name === '') ctx.error('header', where, 'header name cannot be empty');
        else if (side === 'request' && isInternalHeader(name) && !isAuthorityHeader(name)) ctx.error('header', where, `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
        else if (side === 'response' && name.toLowerCase() === 'host') ctx.error('header', where, `invalid header ${JSON.stringify(name)}: cannot set Host header`);
        else if (side === 'response' && isInternalHeader(name)) ctx.error('header', where, `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
        if (typeof val === 'string') {
          const ve = headerValueError(val);
          if (ve) ctx.error('header', where, ve);
        }
      }
    }
    const rm = ops.remove;
    if (Array.isArray(rm)) {
      rm.forEach((name, i) => {
        if (typeof name !== 'string') return;
        const where = at(at(at(path, side), 'remove'), i);
        if (name === '') ctx.error('header', where, 'header name cannot be empty');
        else if (name.toLowerCase() === 'host') ctx.error('header', where, `invalid header ${JSON.stringify(name)}: cannot set Host header`);
        else if (isInternalHeader(name)) ctx.error('header', where, `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
      });
    }
  }
}

// --- misc -------------------------------------------------------------------

/** validatePercentage: 0, or 0.0001..100. */
export function checkPercent(ctx: RuleContext, path: string, pct: unknown): void {
  if (!isObject(pct) || typeof pct.value !== 'number') return;
  const v = pct.value;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) ctx.error('percentage', at(path, 'value'), `percentage ${v} is neither 0.0, nor in range [0.0001, 100.0]`);
}

export function checkSubsetName(ctx: RuleContext, path: string, name: unknown): void {
  if (typeof name !== 'string') return;
  if (name === '') ctx.error('name', path, 'subset name cannot be empty');
  else if (!isDns1123Label(name)) ctx.error('name', path, `subset name is invalid: ${name}`);
}

export function checkPortName(ctx: RuleContext, path: string, name: unknown): void {
  if (typeof name !== 'string') return;
  if (!isDns1123Label(name)) ctx.error('name', path, `invalid port name: ${name}`);
}

// Protocols Istio's protocol.Parse recognises (case-insensitive).
export const PROTOCOLS = ['TCP', 'UDP', 'GRPC', 'GRPC-WEB', 'HTTP', 'HTTP_PROXY', 'HTTP2', 'HTTPS', 'TLS', 'MONGO', 'REDIS', 'MYSQL'];

export function protocolKnown(p: string): boolean {
  return PROTOCOLS.includes(p.toUpperCase());
}
export function protocolIsHTTP(p: string): boolean {
  return ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY'].includes(p.toUpperCase());
}
export function protocolIsTLS(p: string): boolean {
  return ['HTTPS', 'TLS'].includes(p.toUpperCase());
}

/** destination: host (no bare `*`), subset name, port selector. */
export function checkDestination(ctx: RuleContext, path: string, dest: unknown): void {
  if (!isObject(dest)) return;
  const host = dest.host;
  if (typeof host === 'string') {
    if (host === '*') ctx.error('host', at(path, 'host'), `invalid destination host ${host}`);
    else {
      const e = wildcardDomainError(host);
      if (e) ctx.error('host', at(path, 'host'), e);
    }
  } else if (host === undefined) {
    ctx.error('missing', path, `${path}: destination.host is required`);
  }
  if (dest.subset !== undefined) checkSubsetName(ctx, at(path, 'subset'), dest.subset);
  if (isObject(dest.port)) checkPort(ctx, at(at(path, 'port'), 'number'), dest.port.number ?? 0);
}

/** Two hosts overlap when one matches the other (host.Name.Matches). */
export function hostsMatch(a: string, b: string): boolean {
  if (a === b) return true;
  const wa = a.startsWith('*'), wb = b.startsWith('*');
  if (wa && !wb) return b.endsWith(a.slice(1)) ;
  if (wb && !wa) return a.endsWith(b.slice(1));
  if (wa && wb) return a.length < b.length ? b.endsWith(a.slice(1)) : a.endsWith(b.slice(1));
  return false;
}

/** host.Name.SubsetOf: every name `a` matches is also matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (b.startsWith('*')) {
    if (a.startsWith('*')) return a.slice(1).endsWith(b.slice(1));
    return a.endsWith(b.slice(1));
  }
  return a === b;
}
