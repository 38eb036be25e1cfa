// Things declared but used by nothing:
// MCD0310 WorkloadEntryNotSelected — a WorkloadEntry that no ServiceEntry's
//   workloadSelector (in its namespace) picks: it receives no traffic.
// MCD0311 MeshConfigNamespaceUnused — a namespace given labels in
//   MeshConfig.spec.namespaces that holds no resources and no services;
//   usually a misspelt namespace, so policies selecting it check nothing.

import { labelsMatch } from '../../registry/config.js';
import { isObj, keyOf, selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

export const orphans: Analyzer = {
  name: 'orphans',
  codes: [
    { code: 'MCD0310', name: 'WorkloadEntryNotSelected', severity: 'warning', description: "A WorkloadEntry is selected by no ServiceEntry's workloadSelector." },
    { code: 'MCD0311', name: 'MeshConfigNamespaceUnused', severity: 'info', description: 'A namespace declared in MeshConfig.spec.namespaces holds no resources.' },
  ],
  run(ctx: AnalysisContext) {
    const selectors = new Map<string, Record<string, string>[]>();
    for (const se of ctx.config.ofKind('ServiceEntry')) {
      const sel = selectorLabels(se.spec.workloadSelector);
      if (!sel) continue;
      let l = selectors.get(se.metadata.namespace);
      if (!l) selectors.set(se.metadata.namespace, (l = []));
      l.push(sel);
    }
    // Selected workloads, found from the selectors' side through the label index.
    const selected = new Set<string>();
    for (const [ns, sels] of selectors) for (const sel of sels) for (const w of ctx.select(ns, sel)) selected.add(w.id);
    // A Kubernetes Service's selector picks WorkloadEntries of its namespace too (Istio).
    for (const s of ctx.index.services()) if (s.resource?.startsWith('Service/')) for (const w of ctx.index.selectedWorkloads?.(s.hostname, s.namespace) ?? []) selected.add(w.id);
    const indexed = new Set(ctx.index.workloads().map((w) => w.id));
    for (const we of ctx.config.ofKind('WorkloadEntry')) {
      const id = keyOf(we);
      const labels = isObj(we.spec.labels) ? (we.spec.labels as Record<string, string>) : {};
      // A WorkloadEntry the index skipped (no address) is matched by labels directly.
      const hit = indexed.has(id) ? selected.has(id) : (selectors.get(we.metadata.namespace) ?? []).some((s) => labelsMatch(s, labels));
      if (!hit) {
        ctx.report(we, 'MCD0310', 'warning', `WorkloadEntry ${we.metadata.namespace}/${we.metadata.name} is selected by no ServiceEntry workloadSelector in namespace ${we.metadata.namespace}; it receives no traffic`, 'spec.labels');
      }
    }
    const mc = ctx.config.ofKind('MeshConfig')[0];
    if (!mc || !isObj(mc.spec.namespaces)) return;
    const used = new Set<string>();
    for (const r of ctx.config.resources) if (r.metadata.namespace) used.add(r.metadata.namespace);
    for (const s of ctx.index.services()) used.add(s.namespace);
    for (const ns of Object.keys(mc.spec.namespaces)) {
      if (!used.has(ns)) ctx.report(mc, 'MCD0311', 'info', `namespace "${ns}" is declared in MeshConfig but holds no resources`, `spec.namespaces.${ns}`);
    }
  },
};
