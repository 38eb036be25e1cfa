// Two layers can see the same mistake: the CRD's CEL rules (MCD0108) and
// Istio's webhook rules (MCD02xx) check some things twice, and Istio's
// webhook and `istioctl analyze` overlap too. One mistake gets one finding:
// the one the user would meet first (the API server's before the webhook's;
// the analyzer's Istio code over the rule layer's). Pure.

import type { Diagnostic } from '../api/types.js';

/** Rule-layer codes an analyzer code replaces on the same part of a resource (the rule's path, or a path inside it). */
const SAME_FINDING: Readonly<Record<string, string>> = { MCD0211: 'IST0130' };

const inside = (path: string, base: string) => path === base || path.startsWith(`${base}.`) || path.startsWith(`${base}[`);
/** The first key below `base` in `path` (`a.b["x*"].c` below `a.b` → `x*`). */
function keyBelow(path: string, base: string): string | undefined {
  const rest = path.slice(base.length);
  const m = /^\.([^.[]+)|^\["((?:[^"\\]|\\.)*)"\]/.exec(rest);
  return m ? (m[1] ?? (JSON.parse(`"${m[2]}"`) as string)) : undefined;
}

type Same = (rule: Diagnostic, other: Diagnostic) => boolean;
const at = (code: string, rel = ''): Same => (cel, d) => d.code === code && d.path === `${cel.path ?? ''}${rel}`;
const under = (code: string): Same => (cel, d) => d.code === code && inside(d.path ?? '', cel.path ?? '');

/**
 * For each CEL rule of Istio's CRDs (by its message), the rule-layer findings
 * that report the same mistake. Kept to the rules whose mistake meshcd's rule
 * layer also catches (test/unit/validate/cel-rules.test.ts shows each pair).
 */
const CEL_DUPLICATES: Readonly<Record<string, Same>> = {
  'only one of targetRefs or selector can be set': (cel, d) => d.code === 'MCD0209' && (d.path === `${cel.path}.targetRef` || d.path === `${cel.path}.targetRefs`),
  'Cannot set serviceAccounts with namespaces or principals': at('MCD0209', '.serviceAccounts'),
  'wildcard not allowed in label key match': (cel, d) => d.code === 'MCD0207' && inside(d.path ?? '', cel.path ?? '') && (keyBelow(d.path ?? '', cel.path ?? '') ?? '').includes('*'),
  'key must not be empty': at('MCD0207', '[""]'),
  'wildcard not allowed in label value match': at('MCD0207'),
  'wildcard is not supported in selector': at('MCD0207'),
  'cross namespace referencing is not currently supported': at('MCD0209'),
  'must be a valid duration greater than 1ms': at('MCD0202'),
  'port must be between 1-65535': under('MCD0201'),
  'portLevelMtls requires selector': at('MCD0225', '.portLevelMtls'),
  'only one of jwks or jwksUri can be set': at('MCD0209', '.jwks'),
  'url must have scheme http:// or https://': at('MCD0219'),
  'only one of WorkloadSelector or Endpoints can be set': at('MCD0209', '.workloadSelector'),
  'CIDR addresses are allowed only for NONE/STATIC resolution types': at('MCD0217', '.resolution'),
  'NONE mode cannot set endpoints': at('MCD0217', '.endpoints'),
  'DNS_ROUND_ROBIN mode cannot have multiple endpoints': at('MCD0217', '.endpoints'),
  'Address is required': at('MCD0210'),
  'UDS may not include ports': at('MCD0208', '.ports'),
  'UDS must be an absolute path or abstract socket': at('MCD0208'),
  'UDS may not be a dir': at('MCD0208'),
  'port name must be valid': under('MCD0206'),
  'hostname cannot be wildcard': at('MCD0200'),
  'port number cannot be duplicated': (cel, d) => d.code === 'MCD0216' && inside(d.path ?? '', cel.path ?? '') && (d.path ?? '').endsWith('.number'),
};

/** The CEL rule a finding reports (its message ends with the rule's message, or `evaluating rule: <message>`). */
const CEL_RULES = Object.entries(CEL_DUPLICATES);
function celRuleOf(d: Diagnostic): Same | undefined {
  return CEL_RULES.find(([message]) => d.message.endsWith(`: ${message}`))?.[1];
}

export function dropEquivalents(diags: Diagnostic[], celCode: string): Diagnostic[] {
  const present = new Map<string, string[]>();
  const cel = new Map<string, { d: Diagnostic; same: Same }[]>();
  for (const d of diags) {
    const k = `${d.code}|${d.resource ?? ''}`;
    let l = present.get(k);
    if (!l) present.set(k, (l = []));
    l.push(d.path ?? '');
    if (d.code === celCode) {
      const same = celRuleOf(d);
      if (!same) continue;
      let c = cel.get(d.resource ?? '');
      if (!c) cel.set(d.resource ?? '', (c = []));
      c.push({ d, same });
    }
  }
  return diags.filter((d) => {
    if (/^MCD02\d\d$/.test(d.code) && cel.get(d.resource ?? '')?.some((c) => c.same(c.d, d))) return false;
    const preferred = SAME_FINDING[d.code];
    if (!preferred) return true;
    const paths = present.get(`${preferred}|${d.resource ?? ''}`) ?? [];
    const mine = d.path ?? '';
    return !paths.some((p) => inside(p, mine));
  });
}
