// MCD0320 ConflictingDestinationRules: several DestinationRules for the same
// host in one namespace (without workload selectors) are merged by Istio in
// creation order; a repeated subset name or a second top-level
// trafficPolicy is then silently dropped. meshcd has no creation order, so
// which one wins would depend on file order: say so.

import type { Resource } from '../../api/types.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

export const drConflicts: Analyzer = {
  name: 'destinationrule/conflicts',
  codes: [{ code: 'MCD0320', name: 'ConflictingDestinationRules', severity: 'warning', description: 'DestinationRules for the same host in one namespace define the same subset or both a top-level trafficPolicy.' }],
  run(ctx: AnalysisContext) {
    const groups = new Map<string, Resource<'DestinationRule'>[]>();
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      if (typeof dr.spec.host !== 'string' || isObj(dr.spec.workloadSelector)) continue;
      const k = `${dr.metadata.namespace}|${ctx.fqdn(dr.spec.host, dr.metadata.namespace)}`;
      let l = groups.get(k);
      if (!l) groups.set(k, (l = []));
      l.push(dr);
    }
    for (const list of groups.values()) {
      if (list.length < 2) continue;
      const subsetOwner = new Map<string, Resource<'DestinationRule'>>();
      let policyOwner: Resource<'DestinationRule'> | undefined;
      for (const dr of list) {
        if (isObj(dr.spec.trafficPolicy)) {
          if (policyOwner) ctx.report(dr, 'MCD0320', 'warning', `DestinationRule ${nsName(policyOwner)} already sets a trafficPolicy for host ${dr.spec.host}; Istio keeps only one of them`, 'spec.trafficPolicy');
          else policyOwner = dr;
        }
        arr(dr.spec.subsets).forEach((s, i) => {
          if (!isObj(s) || typeof s.name !== 'string') return;
          const prior = subsetOwner.get(s.name);
          if (prior) ctx.report(dr, 'MCD0320', 'warning', `subset "${s.name}" of host ${dr.spec.host} is also defined by DestinationRule ${nsName(prior)}; Istio keeps only one of them`, `spec.subsets[${i}].name`);
          else subsetOwner.set(s.name, dr);
        });
      }
    }
  },
};
