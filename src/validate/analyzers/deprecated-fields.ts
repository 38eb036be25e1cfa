// IST0002 Deprecated: fields Istio still accepts but has replaced, with the
// field to use instead. Listed from Istio's API docs.

import type { AnyResource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

function tpDeprecations(ctx: AnalysisContext, r: AnyResource, tp: unknown, base: string): void {
  if (!isObj(tp)) return;
  if (isObj(tp.outlierDetection) && tp.outlierDetection.consecutiveErrors !== undefined) {
    ctx.report(r, 'IST0002', 'warning', 'Deprecated: outlierDetection.consecutiveErrors; use consecutive5xxErrors', `${base}.outlierDetection.consecutiveErrors`);
  }
  const ch = isObj(tp.loadBalancer) ? tp.loadBalancer.consistentHash : undefined;
  if (isObj(ch) && ch.minimumRingSize !== undefined) {
    ctx.report(r, 'IST0002', 'warning', 'Deprecated: consistentHash.minimumRingSize; use consistentHash.ringHash.minimumRingSize', `${base}.loadBalancer.consistentHash.minimumRingSize`);
  }
}

export const deprecatedFields: Analyzer = {
  name: 'deprecated-fields',
  codes: [{ code: 'IST0002', name: 'Deprecated', severity: 'warning', description: 'A field Istio has deprecated is used.' }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      arr(vs.spec.http).forEach((r, i) => {
        if (!isObj(r)) return;
        const p = `spec.http[${i}]`;
        if (r.mirrorPercent !== undefined) ctx.report(vs, 'IST0002', 'warning', 'Deprecated: mirrorPercent; use mirrorPercentage', `${p}.mirrorPercent`);
        if (isObj(r.corsPolicy) && r.corsPolicy.allowOrigin !== undefined) ctx.report(vs, 'IST0002', 'warning', 'Deprecated: corsPolicy.allowOrigin; use corsPolicy.allowOrigins', `${p}.corsPolicy.allowOrigin`);
        if (isObj(r.fault) && isObj(r.fault.delay) && r.fault.delay.percent !== undefined) ctx.report(vs, 'IST0002', 'warning', 'Deprecated: fault.delay.percent; use fault.delay.percentage', `${p}.fault.delay.percent`);
      });
    }
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      tpDeprecations(ctx, dr, dr.spec.trafficPolicy, 'spec.trafficPolicy');
      arr(dr.spec.subsets).forEach((s, i) => isObj(s) && tpDeprecations(ctx, dr, s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
    }
  },
};
