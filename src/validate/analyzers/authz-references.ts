// IST0101 ReferencedResourceNotFound (AuthorizationPolicy sources), as
// Istio's authz analyzer: a `source.namespaces` / `notNamespaces` entry that
// matches no known namespace (one a resource, service or MeshConfig
// declares). Patterns match as Istio's: `*` anything, `*-bogus` a suffix,
// `bogus-*` a prefix, else equal ignoring case.
// MCD0312 PrincipalNamespaceNotFound (meshcd only, a warning): the namespace
// inside a principal (`<trust-domain>/ns/<ns>/sa/<sa>`) is unknown; Istio's
// analyzer does not check principals.

import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const authzReferences: Analyzer = {
  name: 'authorizationpolicy/references',
  codes: [
    { code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'An AuthorizationPolicy source namespace (or pattern such as `prod-*`) matches no known namespace.' },
    { code: 'MCD0312', name: 'PrincipalNamespaceNotFound', severity: 'warning', description: 'The namespace inside an AuthorizationPolicy principal (`…/ns/<ns>/sa/…`) is not a known namespace.' },
  ],
  run(ctx: AnalysisContext) {
    for (const ap of ctx.config.ofKind('AuthorizationPolicy')) {
      arr(ap.spec.rules).forEach((rule, i) => {
        if (!isObj(rule)) return;
        arr(rule.from as unknown[] | undefined).forEach((from, j) => {
          if (!isObj(from) || !isObj(from.source)) return;
          const src = from.source;
          for (const field of ['namespaces', 'notNamespaces'] as const) {
            arr(src[field] as unknown[] | undefined).forEach((ns, k) => {
              if (typeof ns !== 'string' || [...ctx.namespaces].some((known) => namespaceMatch(known, ns))) return;
              ctx.report(ap, 'IST0101', 'error', `Referenced namespace not found: "${ns}"`, `spec.rules[${i}].from[${j}].source.${field}[${k}]`);
            });
          }
          for (const field of ['principals', 'notPrincipals'] as const) {
            arr(src[field] as unknown[] | undefined).forEach((p, k) => {
              if (typeof p !== 'string' || p.includes('*')) return;
              const m = /\/ns\/([^/]+)\/sa\//.exec(p);
              if (!m || ctx.namespaces.has(m[1]!)) return;
              ctx.report(ap, 'MCD0312', 'warning', `Referenced namespace not found: "${m[1]}" (in principal "${p}")`, `spec.rules[${i}].from[${j}].source.${field}[${k}]`);
            });
          }
        });
      });
    }
  },
};

/** Istio's authz namespaceMatch. */
export function namespaceMatch(ns: string, exp: string): boolean {
  if (exp === '*') return true;
  if (exp.startsWith('*')) return ns.endsWith(exp.slice(1));
  if (exp.endsWith('*')) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}
