// IST0127 NoMatchingWorkloadsFound: a PeerAuthentication,
// AuthorizationPolicy, RequestAuthentication or Sidecar whose selector
// matches no workload in its namespace (any namespace for the root
// namespace) applies to nothing — usually a typo in a label.

import type { MeshKind } from '../../api/istio.js';
import type { AnyResource } from '../../api/types.js';
import { selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

const SELECTOR_FIELD: Partial<Record<MeshKind, 'selector' | 'workloadSelector'>> = {
  PeerAuthentication: 'selector',
  AuthorizationPolicy: 'selector',
  RequestAuthentication: 'selector',
  Sidecar: 'workloadSelector',
};

export const selectorWorkloads: Analyzer = {
  name: 'selector/matching-workloads',
  codes: [{ code: 'IST0127', name: 'NoMatchingWorkloadsFound', severity: 'warning', description: 'A policy or Sidecar selector matches no workload.' }],
  run(ctx: AnalysisContext) {
    for (const [kind, field] of Object.entries(SELECTOR_FIELD) as [MeshKind, string][]) {
      for (const r of ctx.config.ofKind(kind) as readonly AnyResource[]) {
        const spec = r.spec as unknown as Record<string, unknown>;
        const labels = selectorLabels(spec[field]);
        if (!labels) continue;
        if (Object.keys(labels).length === 0) continue;
        if (ctx.workloadsSelected(labels, r.metadata.namespace).length > 0) continue;
        const text = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
        ctx.report(r, 'IST0127', 'warning', `No matching workloads for this resource with the following labels: ${text}`, `spec.${field}`);
      }
    }
  },
};
