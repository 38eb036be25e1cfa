// IST0113 MTLSPolicyConflict: a DestinationRule turns client TLS off
// (mode DISABLE) for a host whose workloads require mutual TLS (STRICT by
// the PeerAuthentication in force for them: workload selector, else
// namespace-wide, else mesh-wide in the root namespace). Every request would
// be refused by the server side. Istio has since retired IST0113; meshcd
// keeps the check as a warning (docs/codes says so).

import type { Resource, Workload } from '../../api/types.js';
import { labelsMatch } from '../../registry/config.js';
import { isObj, nsName, selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

function modeOf(pa: Resource<'PeerAuthentication'>): Mode {
  const m = isObj(pa.spec.mtls) ? pa.spec.mtls.mode : undefined;
  return m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE' ? m : 'UNSET';
}

/** The PeerAuthentication deciding a workload's mTLS mode, with that mode. */
export function effectivePeerAuthentication(ctx: AnalysisContext, w: Workload): { pa: Resource<'PeerAuthentication'>; mode: Mode } | undefined {
  const all = ctx.config.ofKind('PeerAuthentication');
  const inNs = all.filter((p) => p.metadata.namespace === w.namespace);
  const selected = inNs.find((p) => {
    const sel = selectorLabels(p.spec.selector);
    return sel && Object.keys(sel).length > 0 && labelsMatch(sel, w.labels) && modeOf(p) !== 'UNSET';
  });
  if (selected) return { pa: selected, mode: modeOf(selected) };
  const nsWide = inNs.find((p) => !selectorLabels(p.spec.selector) && modeOf(p) !== 'UNSET');
  if (nsWide) return { pa: nsWide, mode: modeOf(nsWide) };
  const root = all.find((p) => p.metadata.namespace === ctx.mesh.rootNamespace && !selectorLabels(p.spec.selector) && modeOf(p) !== 'UNSET');
  return root ? { pa: root, mode: modeOf(root) } : undefined;
}

export const mtlsConflicts: Analyzer = {
  name: 'destinationrule/mtls-conflict',
  codes: [{ code: 'IST0113', name: 'MTLSPolicyConflict', severity: 'warning', description: 'A DestinationRule disables TLS to workloads whose PeerAuthentication requires STRICT mutual TLS.' }],
  run(ctx: AnalysisContext) {
    if (ctx.config.ofKind('PeerAuthentication').length === 0) return;
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      const tp = dr.spec.trafficPolicy;
      if (!isObj(tp) || !isObj(tp.tls) || tp.tls.mode !== 'DISABLE' || typeof dr.spec.host !== 'string') continue;
      const svc = ctx.findService(dr.spec.host, dr.metadata.namespace);
      if (!svc) continue;
      for (const w of ctx.serviceWorkloads(svc)) {
        const eff = effectivePeerAuthentication(ctx, w);
        if (eff?.mode !== 'STRICT') continue;
        ctx.report(dr, 'IST0113', 'warning', `A DestinationRule and Policy are in conflict with regards to mTLS for host ${svc.hostname}. The DestinationRule "${nsName(dr)}" specifies that mTLS must be false but the Policy object "${nsName(eff.pa)}" specifies STRICT.`, 'spec.trafficPolicy.tls.mode');
        break;
      }
    }
  },
};
