// DestinationRule host and subsets:
// IST0174 UnknownDestinationRuleHost — the rule's host matches no service,
//   so it configures nothing.
// IST0173 DestinationRuleSubsetNotSelectPods — a subset's labels select no
//   workload of the host's service: traffic routed to it has no endpoints.
//   Istio's message; a warning, not Istio's error (see docs/codes).

import { labelsMatch } from '../../registry/config.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const drHostsSubsets: Analyzer = {
  name: 'destinationrule/host-and-subsets',
  codes: [
    { code: 'IST0173', name: 'DestinationRuleSubsetNotSelectPods', severity: 'warning', description: 'A DestinationRule subset selects no workload of its host.' },
    { code: 'IST0174', name: 'UnknownDestinationRuleHost', severity: 'warning', description: 'The host of a DestinationRule matches no service in the mesh.' },
  ],
  run(ctx: AnalysisContext) {
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      if (typeof dr.spec.host !== 'string') continue;
      const ns = dr.metadata.namespace;
      const host = ctx.fqdn(dr.spec.host, ns);
      if (host.startsWith('*')) {
        if (!ctx.anyServiceOverlapping(host)) ctx.report(dr, 'IST0174', 'warning', `The host ${dr.spec.host} defined in the DestinationRule does not match any services in the mesh.`, 'spec.host');
        continue;
      }
      const svc = ctx.findService(host, ns) ?? ctx.index.service(host);
      if (!svc) {
        ctx.report(dr, 'IST0174', 'warning', `The host ${dr.spec.host} defined in the DestinationRule does not match any services in the mesh.`, 'spec.host');
        continue;
      }
      const workloads = ctx.serviceWorkloads(svc);
      arr(dr.spec.subsets).forEach((s, i) => {
        if (!isObj(s)) return;
        const labels = isObj(s.labels) ? (s.labels as Record<string, string>) : undefined;
        if (!labels || Object.keys(labels).length === 0) return;
        if (!workloads.some((w) => labelsMatch(labels, w.labels))) {
          ctx.report(dr, 'IST0173', 'warning', `The Subset ${String(s.name)} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`, `spec.subsets[${i}].labels`);
        }
      });
    }
  },
};
