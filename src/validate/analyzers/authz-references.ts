// IST0101 ReferencedResourceNotFound (AuthorizationPolicy sources): a
// `source.namespaces` entry or the namespace inside a principal
// (`<trust-domain>/ns/<ns>/sa/<sa>`) that no resource, service or
// MeshConfig namespace declares: the rule can never match that peer.
// Wildcards (`*`, `prod-*`) are not checked.

import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const authzReferences: Analyzer = {
  name: 'authorizationpolicy/references',
  codes: [{ code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'An AuthorizationPolicy names a namespace (in namespaces or principals) that does not exist.' }],
  run(ctx: AnalysisContext) {
    for (const ap of ctx.config.ofKind('AuthorizationPolicy')) {
      arr(ap.spec.rules).forEach((rule, i) => {
        if (!isObj(rule)) return;
        arr(rule.from as unknown[] | undefined).forEach((from, j) => {
          if (!isObj(from) || !isObj(from.source)) return;
          const src = from.source;
          for (const field of ['namespaces', 'notNamespaces'] as const) {
            arr(src[field] as unknown[] | undefined).forEach((ns, k) => {
              if (typeof ns !== 'string' || ns.includes('*') || ctx.namespaces.has(ns)) return;
              ctx.report(ap, 'IST0101', 'error', `Referenced namespace not found: "${ns}"`, `spec.rules[${i}].from[${j}].source.${field}[${k}]`);
            });
          }
          for (const field of ['principals', 'notPrincipals'] as const) {
            arr(src[field] as unknown[] | undefined).forEach((p, k) => {
              if (typeof p !== 'string' || p.includes('*')) return;
              const m = /\/ns\/([^/]+)\/sa\//.exec(p);
              if (!m || ctx.namespaces.has(m[1]!)) return;
              ctx.report(ap, 'IST0101', 'error', `Referenced namespace not found: "${m[1]}" (in principal "${p}")`, `spec.rules[${i}].from[${j}].source.${field}[${k}]`);
            });
          }
        });
      });
    }
  },
};
