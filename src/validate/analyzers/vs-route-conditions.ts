// IST0130 VirtualServiceUnreachableRule and IST0131
// VirtualServiceIneffectiveMatch, as Istio's VirtualService validation
// (analyzeUnreachableHTTPRules/TCP/TLS in pkg/config/validation) reports them
// to `istioctl analyze`: routes are tried in order, so
// - a second rule without matches, or any match of a rule after a rule
//   without matches, is never used (IST0130, once per match);
// - a match repeating an earlier one (compared without its `name`) is
//   IST0131, and a rule all of whose matches repeat earlier ones is IST0130
//   as well;
// - an http prefix match covered by an earlier prefix match with the same
//   port, method, authority, headers, query parameters and withoutHeaders
//   (`/api/v1/product` before `/api/v1/products`) is IST0131.
// Rules are named as Istio names them: `"name"` or `#N`.

import { canonicalJson } from '../../config/load.js';
import type { Resource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

function matchKey(m: unknown): string {
  if (!isObj(m)) return canonicalJson(m);
  const { name: _name, ...rest } = m;
  return canonicalJson(rest);
}

const ruleName = (r: Record<string, unknown>, n: number) => (typeof r.name === 'string' && r.name !== '' ? `"${r.name}"` : `#${n}`);
const matchName = (m: unknown, n: number) => (isObj(m) && typeof m.name === 'string' && m.name !== '' ? `"${m.name}"` : `#${n}`);

/** `exact:v` / `prefix:v` of a StringMatch, '' for neither (Istio's assignExactOrPrefix). */
function exactOrPrefix(s: unknown): string {
  if (!isObj(s)) return '';
  if (typeof s.exact === 'string' && s.exact !== '') return `exact:${s.exact}`;
  if (typeof s.prefix === 'string' && s.prefix !== '') return `prefix:${s.prefix}`;
  return '';
}

interface PrefixMatch {
  rule: string;
  match: string;
  prefix: string;
  port: unknown;
  method: string;
  authority: string;
  headers: Map<string, string>;
  query: Map<string, string>;
  without: Map<string, string>;
}

function prefixMatch(rule: string, m: unknown, matchNo: number): PrefixMatch | undefined {
  if (!isObj(m) || !isObj(m.uri) || typeof m.uri.prefix !== 'string' || m.uri.prefix === '') return undefined;
  const map = (v: unknown) => new Map(Object.entries(isObj(v) ? v : {}).map(([k, s]) => [k, exactOrPrefix(s)]));
  return {
    rule,
    match: matchName(m, matchNo),
    prefix: m.uri.prefix,
    port: m.port ?? 0,
    // Istio: no method information is GET by default.
    method: exactOrPrefix(m.method) || 'exact:GET',
    authority: exactOrPrefix(m.authority),
    headers: map(m.headers),
    query: map(m.queryParams),
    without: map(m.withoutHeaders),
  };
}

/** Istio's coveredValidation: does earlier `a` cover later `b`? */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  const within = (x: string, y: string) => x === y || x.startsWith(y);
  if (!within(a.method, b.method) || !within(a.authority, b.authority)) return false;
  for (const [am, bm] of [[a.headers, b.headers], [a.query, b.query], [a.without, b.without]] as const) {
    if (am.size !== bm.size) return false;
    for (const [k, v] of am) {
      const w = bm.get(k);
      if (w === undefined || !within(v, w)) return false;
    }
  }
  return true;
}

function checkSection(ctx: AnalysisContext, vs: Resource<'VirtualService'>, section: 'http' | 'tcp' | 'tls'): void {
  const rules = arr(vs.spec[section] as unknown[] | undefined);
  const unreachable = (rule: string, reason: string, at: string) => ctx.report(vs, 'IST0130', 'warning', `VirtualService rule ${rule} not used (${reason}).`, at);
  const ineffective = (rule: string, match: string, dup: string, at: string) => ctx.report(vs, 'IST0131', 'info', `VirtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup}).`, at);
  const seen = new Map<string, number>();
  let catchAll = -1;
  const prefixes: { m: PrefixMatch; at: string }[] = [];
  rules.forEach((r, ruleNo) => {
    if (!isObj(r)) return;
    const name = ruleName(r, ruleNo);
    const at = `spec.${section}[${ruleNo}]`;
    const matches = arr(r.match as unknown[] | undefined);
    if (matches.length === 0) {
      if (catchAll >= 0) unreachable(name, 'only the last rule can have no matches', at);
      catchAll = ruleNo;
      return;
    }
    let dupes = 0;
    matches.forEach((m, matchNo) => {
      if (catchAll >= 0) {
        unreachable(name, 'route without matches defined before', `${at}.match[${matchNo}]`);
        return;
      }
      const k = matchKey(m);
      const prev = seen.get(k);
      if (prev !== undefined) {
        ineffective(name, matchName(m, matchNo), ruleName(rules[prev] as Record<string, unknown>, prev), `${at}.match[${matchNo}]`);
        dupes++;
        return;
      }
      seen.set(k, ruleNo);
      if (section === 'http') {
        const p = prefixMatch(name, m, matchNo);
        if (p) prefixes.push({ m: p, at: `${at}.match[${matchNo}]` });
      }
    });
    if (dupes === matches.length) unreachable(name, 'all matches used by prior rules', at);
  });
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      const a = prefixes[i]!.m, b = prefixes[j]!.m;
      if (a.prefix === b.prefix || !covers(a, b)) continue;
      ineffective(b.rule, `${b.match} of prefix ${b.prefix}`, `${a.match} of prefix ${a.prefix} on ${a.rule}`, prefixes[j]!.at);
    }
  }
}

export const vsRouteConditions: Analyzer = {
  name: 'virtualservice/conditions',
  codes: [
    { code: 'IST0130', name: 'VirtualServiceUnreachableRule', severity: 'warning', description: 'A VirtualService rule will never be used: a rule without matches comes before it, or all its matches repeat earlier ones.' },
    { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', severity: 'info', description: 'A VirtualService match repeats, or is covered by the prefix of, a match of an earlier rule.' },
  ],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) for (const s of ['http', 'tcp', 'tls'] as const) checkSection(ctx, vs, s);
  },
};
