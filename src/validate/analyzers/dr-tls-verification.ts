// IST0128 NoServerCertificateVerificationDestinationLevel and IST0129
// NoServerCertificateVerificationPortLevel: client TLS in SIMPLE or MUTUAL
// mode with neither caCertificates nor credentialName verifies nothing about
// the server it talks to (unless insecureSkipVerify says so on purpose).

import type { ClientTLSSettings } from '../../api/istio.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

function unverified(tls: unknown): tls is ClientTLSSettings {
  if (!isObj(tls)) return false;
  if (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL') return false;
  if (tls.insecureSkipVerify === true) return false;
  return !tls.caCertificates && !tls.credentialName;
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
      if (unverified(tp.tls)) {
        ctx.report(dr, 'IST0128', 'warning', `DestinationRule ${nsName(dr)} has TLS mode set to ${tp.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host}`, 'spec.trafficPolicy.tls');
      }
      arr(tp.portLevelSettings).forEach((pl, i) => {
        if (!isObj(pl) || !unverified(pl.tls)) return;
        const port = isObj(pl.port) ? String(pl.port.number) : '?';
        ctx.report(dr, 'IST0129', 'warning', `DestinationRule ${nsName(dr)} has TLS mode set to ${pl.tls!.mode} but no caCertificates are set to validate server identity for host: ${dr.spec.host} at port ${port}`, `spec.trafficPolicy.portLevelSettings[${i}].tls`);
      });
    }
  },
};
