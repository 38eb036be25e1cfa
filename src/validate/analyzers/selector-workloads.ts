// Selectors that match no workload.
// IST0127 NoMatchingWorkloadsFound — as Istio's authz analyzer: an
//   AuthorizationPolicy whose selector matches no workload of its namespace
//   (any namespace for the root namespace), or one without a selector in a
//   namespace that has no workload at all (Istio prints empty labels then).
//   meshcd applies the same check to PeerAuthentication and
//   RequestAuthentication selectors (Istio's analyzers do not look at those).
// IST0101 ReferencedResourceNotFound — as Istio's sidecar/selector analyzer:
//   a Sidecar whose workloadSelector matches no workload of its namespace,
//   reported at the selector's first label.
// Labels are printed as Kubernetes prints a selector: `k=v,k2=v2`, sorted.

import type { MeshKind } from '../../api/istio.js';
import type { AnyResource } from '../../api/types.js';
import { selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

const POLICY_KINDS: readonly MeshKind[] = ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication'];

export function selectorText(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

export const selectorWorkloads: Analyzer = {
  name: 'selector/matching-workloads',
  codes: [
    { code: 'IST0127', name: 'NoMatchingWorkloadsFound', severity: 'warning', description: 'An AuthorizationPolicy (meshcd: also PeerAuthentication, RequestAuthentication) selector matches no workload, or a selector-less AuthorizationPolicy sits in a namespace without workloads.' },
    { code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'A Sidecar workloadSelector matches no workload in its namespace.' },
  ],
  run(ctx: AnalysisContext) {
    for (const kind of POLICY_KINDS) {
      for (const r of ctx.config.ofKind(kind) as readonly AnyResource[]) {
        const labels = selectorLabels((r.spec as unknown as Record<string, unknown>).selector);
        if (!labels || Object.keys(labels).length === 0) {
          if (kind === 'AuthorizationPolicy' && r.metadata.namespace !== ctx.mesh.rootNamespace && ctx.select(r.metadata.namespace, {}).length === 0) {
            ctx.report(r, 'IST0127', 'warning', 'No matching workloads for this resource with the following labels: ');
          }
          continue;
        }
        if (ctx.workloadsSelected(labels, r.metadata.namespace).length > 0) continue;
        ctx.report(r, 'IST0127', 'warning', `No matching workloads for this resource with the following labels: ${selectorText(labels)}`, 'spec.selector');
      }
    }
    for (const sc of ctx.config.ofKind('Sidecar')) {
      const labels = selectorLabels((sc.spec as { workloadSelector?: unknown }).workloadSelector);
      if (!labels || Object.keys(labels).length === 0) continue;
      if (ctx.select(sc.metadata.namespace, labels).length > 0) continue;
      const first = Object.keys(labels).sort()[0]!;
      ctx.report(sc, 'IST0101', 'error', `Referenced selector not found: "${selectorText(labels)}"`, `spec.workloadSelector.labels.${first}`);
    }
  },
};
