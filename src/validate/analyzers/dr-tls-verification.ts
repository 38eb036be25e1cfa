// IST0128 NoServerCertificateVerificationDestinationLevel and IST0129
// NoServerCertificateVerificationPortLevel, as Istio's
// destinationrule/ca-certificates analyzer: client TLS in SIMPLE or MUTUAL
// mode without caCertificates verifies nothing about the server, unless a
// credentialName supplies the CA *and* the rule has a workloadSelector
// (Istio's exception; a credentialName alone still warns).

import type { ClientTLSSettings } from '../../api/istio.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

function unverified(tls: unknown, hasSelector: boolean): tls is ClientTLSSettings {
  if (!isObj(tls)) return false;
  if (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL') return false;
  return !tls.caCertificates && !(tls.credentialName && hasSelector);
}

export const drTlsVerification: Analyzer = {
  name: 'destinationrule/ca-certificates',
  codes: [
    { code: 'IST0128', name: 'NoServerCertificateVerificationDestinationLevel', severity: 'warning', description: 'DestinationRule TLS (SIMPLE/MUTUAL) has no caCertificates: the server certificate is not verified.' },
    { code: 'IST0129', name: 'NoServerCertificateVerificationPortLevel', severity: 'warning', description: 'Port-level DestinationRule TLS has no caCertificates: the server certificate is not verified.' },
  ],
  run(ctx: AnalysisContext) {
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      const tp = dr.spec.trafficPolicy;
      if (!isObj(tp)) continue;
      const sel = isObj((dr.spec as { workloadSelector?: unknown }).workloadSelector);
      if (unverified(tp.tls, sel)) {
        ctx.report(dr, 'IST0128', 'warning', `DestinationRule ${nsName(dr)} in namespace ${dr.metadata.namespace} has TLS mode set to ${tp.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}`, 'spec.trafficPolicy.tls');
      }
      arr(tp.portLevelSettings).forEach((pl, i) => {
        if (!isObj(pl) || !unverified(pl.tls, sel)) return;
        // Istio prints the PortSelector message in protobuf text form.
        const port = isObj(pl.port) ? `number:${String(pl.port.number)}` : '';
        ctx.report(dr, 'IST0129', 'warning', `DestinationRule ${nsName(dr)} in namespace ${dr.metadata.namespace} has TLS mode set to ${pl.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host} at port ${port}`, `spec.trafficPolicy.portLevelSettings[${i}].tls`);
      });
    }
  },
};
