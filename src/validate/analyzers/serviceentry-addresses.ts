// IST0134 ServiceEntryAddressesRequired: a ServiceEntry port speaking TCP
// (or no declared protocol) cannot be told apart from other TCP traffic by
// host name — the sidecar only sees an IP and port — so the entry needs
// virtual IP `addresses`. As Istio's serviceentry analyzer: one finding per
// such port, at the port, with Istio's message; none when the entry's status
// carries addresses the cluster allocated (status.addresses).

import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const serviceEntryAddresses: Analyzer = {
  name: 'serviceentry/addresses',
  codes: [{ code: 'IST0134', name: 'ServiceEntryAddressesRequired', severity: 'warning', description: 'Virtual IP addresses are required for ServiceEntry ports serving TCP (or unset) protocol.' }],
  run(ctx: AnalysisContext) {
    for (const se of ctx.config.ofKind('ServiceEntry')) {
      if (arr(se.spec.addresses).length > 0) continue;
      const status = se.raw.status;
      if (isObj(status) && arr(status.addresses).length > 0) continue;
      arr(se.spec.ports).forEach((p, i) => {
        if (!isObj(p)) return;
        const proto = typeof p.protocol === 'string' ? p.protocol.toUpperCase() : '';
        if (proto === '' || proto === 'TCP') {
          ctx.report(se, 'IST0134', 'warning', 'ServiceEntry addresses are required for this protocol.', `spec.ports[${i}]`);
        }
      });
    }
  },
};
