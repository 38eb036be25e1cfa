// Sidecar scoping:
// IST0111 MultipleSidecarsWithoutWorkloadSelectors — more than one Sidecar
//   without a selector in a namespace: which one applies is undefined.
// IST0110 ConflictingSidecarWorkloadSelectors — two Sidecars whose selectors
//   pick the same workload.
// MCD0330 SidecarEgressHostNotFound (meshcd only; Istio's analyzers do not
//   check egress hosts) — an egress host `ns/host` that names no service in
//   that namespace, so the Sidecar imports nothing for it: a warning.

import type { Resource } from '../../api/types.js';
import { labelsMatch } from '../../registry/config.js';
import { arr, hostCovers, isObj, nsName, selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

export const sidecars: Analyzer = {
  name: 'sidecar/selectors-and-egress',
  codes: [
    { code: 'IST0110', name: 'ConflictingSidecarWorkloadSelectors', severity: 'error', description: 'Two Sidecars select the same workload.' },
    { code: 'IST0111', name: 'MultipleSidecarsWithoutWorkloadSelectors', severity: 'error', description: 'More than one Sidecar in a namespace has no workload selector.' },
    { code: 'MCD0330', name: 'SidecarEgressHostNotFound', severity: 'warning', description: 'A Sidecar egress host `ns/host` names no service in that namespace, so the Sidecar imports nothing for it (Istio does not check this).' },
  ],
  run(ctx: AnalysisContext) {
    const byNs = new Map<string, Resource<'Sidecar'>[]>();
    for (const sc of ctx.config.ofKind('Sidecar')) {
      let l = byNs.get(sc.metadata.namespace);
      if (!l) byNs.set(sc.metadata.namespace, (l = []));
      l.push(sc);
      checkEgress(ctx, sc);
    }
    for (const [ns, list] of byNs) {
      const noSel = list.filter((s) => !selectorLabels(s.spec.workloadSelector));
      if (noSel.length > 1) {
        const names = noSel.map((s) => s.metadata.name).sort().join(' ');
        for (const s of noSel) ctx.report(s, 'IST0111', 'error', `The Sidecars [${names}] in namespace "${ns}" have no workload selector, which can lead to undefined behavior.`);
      }
      const withSel = list.filter((s) => !noSel.includes(s));
      if (withSel.length < 2) continue;
      const workloads = ctx.index.workloads().filter((w) => w.namespace === ns);
      for (const w of workloads) {
        const hits = withSel.filter((s) => labelsMatch(selectorLabels(s.spec.workloadSelector), w.labels));
        if (hits.length < 2) continue;
        // Istio's message: the names as Go prints a list, the workload by its name, at metadata.name.
        const names = hits.map((s) => s.metadata.name).sort().join(' ');
        const pod = w.id.slice(w.id.lastIndexOf('/') + 1);
        for (const s of hits) ctx.report(s, 'IST0110', 'error', `The Sidecars [${names}] in namespace "${ns}" select the same workload pod "${pod}", which can lead to undefined behavior.`, 'metadata.name');
      }
    }
  },
};

function checkEgress(ctx: AnalysisContext, sc: Resource<'Sidecar'>): void {
  const services = ctx.index.services();
  arr(sc.spec.egress).forEach((eg, i) => {
    if (!isObj(eg)) return;
    arr(eg.hosts).forEach((h, j) => {
      if (typeof h !== 'string') return;
      const slash = h.indexOf('/');
      if (slash < 0) return; // malformed; the rules layer reports it
      let ns = h.slice(0, slash);
      const host = h.slice(slash + 1);
      if (ns === '*' || ns === '~' || host === '*') return;
      if (ns === '.') ns = sc.metadata.namespace;
      const found = services.some((s) => s.namespace === ns && (hostCovers(host, s.hostname) || hostCovers(s.hostname, host)));
      if (!found) ctx.report(sc, 'MCD0330', 'warning', `egress host "${h}" names no service in namespace ${ns}: Sidecar ${nsName(sc)} imports nothing for it`, `spec.egress[${i}].hosts[${j}]`);
    });
  });
}
