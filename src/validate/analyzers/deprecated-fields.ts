// IST0002 Deprecated, exactly as Istio's deprecation analyzer
// (pkg/config/analysis/analyzers/deprecation) reports it:
// - a VirtualService fault delay with `percent` above 0 (replaced by
//   `percentage`);
// - a Sidecar `outboundTrafficPolicy.egressProxy`, which Istio ignores.
// Istio's message has no field location; it points at the resource.
// The removed rbac.istio.io types (ServiceRole, …) and their CRDs are not mesh
// kinds; the loader (config/load.ts) reports them with this code.
// Other deprecated fields that Istio's webhook warns about (mirrorPercent,
// corsPolicy.allowOrigin, consecutiveErrors, minimumRingSize, legacy gateway
// names) are the rules layer's MCD0229.

import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const deprecatedFields: Analyzer = {
  name: 'deprecated-fields',
  codes: [{ code: 'IST0002', name: 'Deprecated', severity: 'warning', description: "What Istio's deprecation analyzer reports: fault.delay.percent, Sidecar outboundTrafficPolicy.egressProxy; and (from the loader) the removed rbac.istio.io types and their CRDs." }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      for (const r of arr(vs.spec.http)) {
        if (!isObj(r) || !isObj(r.fault) || !isObj(r.fault.delay)) continue;
        const percent = r.fault.delay.percent;
        if (typeof percent === 'number' && percent > 0) ctx.report(vs, 'IST0002', 'warning', 'Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage');
      }
    }
    for (const sc of ctx.config.ofKind('Sidecar')) {
      const otp = (sc.spec as { outboundTrafficPolicy?: unknown }).outboundTrafficPolicy;
      if (isObj(otp) && otp.egressProxy !== undefined && otp.egressProxy !== null) ctx.report(sc, 'IST0002', 'warning', 'Deprecated: OutboundTrafficPolicy.EgressProxy ignored');
    }
  },
};
