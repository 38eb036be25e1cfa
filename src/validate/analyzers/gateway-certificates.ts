// IST0138 GatewayDuplicateCertificate, as Istio's gateway CertificateAnalyzer:
// two Gateways whose selectors overlap (one's labels a subset of the
// other's; a Gateway without selector overlaps every Gateway) and that serve
// TLS with the same certificate (the same credentialName; or, both without
// one, the same serverCertificate and privateKey files). A client reusing an
// HTTP/2 connection for the second host then gets 404s. Reported on each such
// Gateway at its name, once per pair of servers, as Istio does.

import type { Resource } from '../../api/types.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

function sameCertificate(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ca = typeof a.credentialName === 'string' ? a.credentialName : '';
  const cb = typeof b.credentialName === 'string' ? b.credentialName : '';
  if (ca !== '' && cb !== '') return ca === cb;
  if (ca !== '' || cb !== '') return false;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  if (str(a.serverCertificate) === '' || str(a.serverCertificate) !== str(b.serverCertificate)) return false;
  return str(a.privateKey) !== '' && str(a.privateKey) === str(b.privateKey);
}

/** Istio's selectorSubset: every label of `x` is in `y` with the same value. */
function selectorSubset(x: Record<string, unknown>, y: Record<string, unknown>): boolean {
  return Object.entries(x).every(([k, v]) => k in y && y[k] === v);
}

export const gatewayCertificates: Analyzer = {
  name: 'gateway/certificates',
  codes: [{ code: 'IST0138', name: 'GatewayDuplicateCertificate', severity: 'warning', description: 'Gateways with overlapping selectors serve the same TLS certificate; clients reusing an HTTP/2 connection may get 404s.' }],
  run(ctx: AnalysisContext) {
    const gateways = ctx.config.ofKind('Gateway');
    const tlsOf = (g: Resource<'Gateway'>) => arr(g.spec.servers).map((s) => (isObj(s) && isObj(s.tls) ? s.tls : undefined));
    for (const cur of gateways) {
      const sel = isObj(cur.spec.selector) ? cur.spec.selector : {};
      const mine = tlsOf(cur);
      for (const other of gateways) {
        if (other === cur) continue;
        const otherSel = isObj(other.spec.selector) ? other.spec.selector : {};
        if (Object.keys(sel).length > 0 && !selectorSubset(sel, otherSel)) continue;
        const theirs = tlsOf(other);
        for (const a of mine) {
          for (const b of theirs) {
            if (!a || !b || !sameCertificate(a, b)) continue;
            ctx.report(cur, 'IST0138', 'warning', `Duplicate certificate in multiple gateways [${nsName(cur)} ${nsName(other)}] may cause 404s if clients re-use HTTP2 connections.`, 'metadata.name');
          }
        }
      }
    }
  },
};
