// IST0130 VirtualServiceUnreachableRule and IST0131
// VirtualServiceIneffectiveMatch: routes are tried in order, so a rule after
// a catch-all (a rule with no match) is never used, a rule whose every match
// repeats an earlier one is never used, and a single repeated match is dead
// weight. Applies to http, tcp and tls routes, as Istio's analyzer does.
// Matches are compared as canonical JSON without their `name`.

import { canonicalJson } from '../../config/load.js';
import type { Resource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

function matchKey(m: unknown): string {
  if (!isObj(m)) return canonicalJson(m);
  const { name: _name, ...rest } = m;
  return canonicalJson(rest);
}

function checkSection(ctx: AnalysisContext, vs: Resource<'VirtualService'>, section: 'http' | 'tcp' | 'tls'): void {
  const rules = arr(vs.spec[section] as unknown[] | undefined);
  let catchAll = -1;
  const seen = new Map<string, number>();
  rules.forEach((r, ruleNo) => {
    if (!isObj(r)) return;
    const label = typeof r.name === 'string' ? `"${r.name}"` : `${section}[${ruleNo}]`;
    const matches = arr(r.match as unknown[] | undefined);
    if (catchAll >= 0) {
      ctx.report(vs, 'IST0130', 'warning', `VirtualService rule ${label} not used (only the last rule can have no matches; ${section}[${catchAll}] matches every request).`, `spec.${section}[${ruleNo}]`);
      return;
    }
    if (matches.length === 0) {
      catchAll = ruleNo;
      return;
    }
    let dupes = 0;
    const found: [number, number][] = [];
    matches.forEach((m, matchNo) => {
      const k = matchKey(m);
      const prev = seen.get(k);
      if (prev !== undefined) {
        dupes++;
        found.push([matchNo, prev]);
      } else {
        seen.set(k, ruleNo);
      }
    });
    if (dupes === matches.length) {
      ctx.report(vs, 'IST0130', 'warning', `VirtualService rule ${label} not used (all matches are used by prior rules).`, `spec.${section}[${ruleNo}]`);
      return;
    }
    for (const [matchNo, prev] of found) {
      ctx.report(vs, 'IST0131', 'info', `VirtualService rule ${label} match ${matchNo} is not used (duplicate/overlapping match in rule ${section}[${prev}]).`, `spec.${section}[${ruleNo}].match[${matchNo}]`);
    }
  });
}

export const vsRouteConditions: Analyzer = {
  name: 'virtualservice/conditions',
  codes: [
    { code: 'IST0130', name: 'VirtualServiceUnreachableRule', severity: 'warning', description: 'A VirtualService rule will never be used: an earlier rule matches everything, or uses all of its matches.' },
    { code: 'IST0131', name: 'VirtualServiceIneffectiveMatch', severity: 'info', description: 'A VirtualService match duplicates a match of an earlier rule.' },
  ],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) for (const s of ['http', 'tcp', 'tls'] as const) checkSection(ctx, vs, s);
  },
};
