// A Gateway's `credentialName` against the Secrets the registry read, as
// Istio's gateway SecretAnalyzer (pkg/config/analysis/analyzers/gateway/secret.go):
// IST0101 ReferencedResourceNotFound — no Secret of that name in the
//   namespace of the gateway's workload (or in `ns` for `ns/name`).
// IST0161 InvalidGatewayCredential — the Secret is there but is no valid TLS
//   credential: no cert/key (or tls.crt/tls.key), a certificate that does
//   not parse, or one expired or not yet valid (registry/kubernetes/secrets.ts).
// The namespace looked in is the gateway workload's, not the Gateway's: the
// first workload the selector picks (Istio takes any one). A selector that
// picks nothing is gateway/workloads' IST0101, not repeated here. Reported at
// `spec.servers[i].tls.credentialName`.
// Only when the index reads Secrets (`serve` with Kubernetes and
// `--gateway-secrets`); otherwise nothing is checked, as istioctl analyze
// without a cluster skips this analyzer (it reads no Secrets from files).
// Warnings, where Istio says error: `serve` refuses a revision with an error,
// and a Secret created after its Gateway (cert-manager) or a certificate
// that expires is not a fault of the revision; istiod serves the config
// (and an expired certificate) and only logs.

import { labelsMatch } from '../../registry/config.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const gatewaySecrets: Analyzer = {
  name: 'gateway/secrets',
  codes: [
    { code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'warning', description: "A Gateway's credentialName names no Secret in its workload's namespace (only when serve reads the Secrets)." },
    { code: 'IST0161', name: 'InvalidGatewayCredential', severity: 'warning', description: "A Gateway's credentialName names a Secret that is no valid TLS credential: no certificate and key, a certificate that does not parse, expired or not yet valid (only when serve reads the Secrets)." },
  ],
  run(ctx: AnalysisContext) {
    const lookup = ctx.index.credentialSecret?.bind(ctx.index);
    if (!lookup) return;
    const workloads = ctx.index.workloads();
    for (const gw of ctx.config.ofKind('Gateway')) {
      const sel = isObj(gw.spec.selector) ? (gw.spec.selector as Record<string, string>) : {};
      const gwNs = workloads.find((w) => labelsMatch(sel, w.labels))?.namespace;
      if (gwNs === undefined) continue;
      arr(gw.spec.servers).forEach((s, i) => {
        if (!isObj(s) || !isObj(s.tls)) return;
        const cn = s.tls.credentialName;
        if (typeof cn !== 'string' || cn === '') return;
        const slash = cn.indexOf('/');
        const [ns, name] = slash < 0 ? [gwNs, cn] : [cn.slice(0, slash), cn.slice(slash + 1)];
        const secret = lookup(ns, name);
        const path = `spec.servers[${i}].tls.credentialName`;
        if (!secret) ctx.report(gw, 'IST0101', 'warning', `Referenced credentialName not found: ${JSON.stringify(cn)}`, path);
        else if (!secret.valid) ctx.report(gw, 'IST0161', 'warning', `The credential referenced by the Gateway ${gw.metadata.name} in namespace ${gwNs} is invalid, which can cause the traffic not to work as expected.`, path);
      });
    }
  },
};
