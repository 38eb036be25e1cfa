// IST0101 ReferencedResourceNotFound (gateways): every gateway a
// VirtualService (or one of its matches) binds to must exist. `mesh` is the
// sidecars' implicit gateway; a name without `ns/` is in the
// VirtualService's namespace.

import type { Resource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

/** `ns/name` of a gateway reference as Istio resolves it, or `mesh`. */
export function gatewayRef(ref: string, vsNamespace: string): { namespace: string; name: string } | 'mesh' {
  if (ref === 'mesh') return 'mesh';
  const i = ref.indexOf('/');
  if (i >= 0) return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
  // Istio also accepts `name.namespace.svc.cluster.local`-style FQDN refs; the first label is the name.
  if (ref.includes('.')) {
    const [name, namespace] = ref.split('.');
    return { namespace: namespace!, name: name! };
  }
  return { namespace: vsNamespace, name: ref };
}

export function gatewayRefsOf(vs: Resource<'VirtualService'>): { ref: string; path: string }[] {
  const out: { ref: string; path: string }[] = [];
  arr(vs.spec.gateways).forEach((g, i) => typeof g === 'string' && out.push({ ref: g, path: `spec.gateways[${i}]` }));
  for (const section of ['http', 'tcp', 'tls'] as const) {
    arr(vs.spec[section] as unknown[] | undefined).forEach((r, i) => {
      if (!isObj(r)) return;
      arr(r.match as unknown[] | undefined).forEach((m, j) => {
        if (!isObj(m)) return;
        arr(m.gateways as unknown[] | undefined).forEach((g, k) => typeof g === 'string' && out.push({ ref: g, path: `spec.${section}[${i}].match[${j}].gateways[${k}]` }));
      });
    });
  }
  return out;
}

export const vsGateways: Analyzer = {
  name: 'virtualservice/gateways',
  codes: [{ code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'A VirtualService binds to a Gateway that does not exist.' }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      for (const { ref, path } of gatewayRefsOf(vs)) {
        const g = gatewayRef(ref, vs.metadata.namespace);
        if (g === 'mesh') continue;
        if (!ctx.config.get('Gateway', g.namespace, g.name)) ctx.report(vs, 'IST0101', 'error', `Referenced gateway not found: "${ref}"`, path);
      }
    }
  },
};
