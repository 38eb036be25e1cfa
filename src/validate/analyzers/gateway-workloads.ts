// Gateway selectors and ports:
// IST0101 ReferencedResourceNotFound — a Gateway's selector matches no
//   workload at all (Istio looks in every namespace), so no proxy serves it.
// IST0162 GatewayPortNotDefinedOnService — a server port that no service
//   in front of the selected gateway workloads exposes (by port or
//   targetPort): clients reaching the gateway through its service cannot use it.

import { labelsMatch } from '../../registry/config.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export const gatewayWorkloads: Analyzer = {
  name: 'gateway/workloads',
  codes: [
    { code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'A Gateway selector matches no workload.' },
    { code: 'IST0162', name: 'GatewayPortNotDefinedOnService', severity: 'warning', description: 'A Gateway listens on a port the service of its workloads does not expose.' },
  ],
  run(ctx: AnalysisContext) {
    const all = ctx.index.workloads();
    for (const gw of ctx.config.ofKind('Gateway')) {
      const sel = isObj(gw.spec.selector) ? (gw.spec.selector as Record<string, string>) : {};
      const selText = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',');
      const picked = all.filter((w) => labelsMatch(sel, w.labels));
      if (picked.length === 0) {
        ctx.report(gw, 'IST0101', 'error', `Referenced selector not found: "${selText}"`, 'spec.selector');
        continue;
      }
      const ids = new Set(picked.map((w) => w.id));
      const ports = new Set<number>();
      let fronted = false;
      for (const svc of ctx.index.services()) {
        if (!ctx.serviceWorkloads(svc).some((w) => ids.has(w.id))) continue;
        fronted = true;
        for (const p of svc.ports) {
          ports.add(p.number);
          if (p.targetPort) ports.add(p.targetPort);
        }
      }
      if (!fronted) continue;
      arr(gw.spec.servers).forEach((s, i) => {
        if (!isObj(s) || !isObj(s.port) || typeof s.port.number !== 'number') return;
        if (!ports.has(s.port.number)) {
          ctx.report(gw, 'IST0162', 'warning', `The gateway is listening on a target port (port ${s.port.number}) that is not defined in the Service associated with its workload instances (Pod selector ${selText}). If you need to access the gateway port through the gateway Service, it will not be available.`, `spec.servers[${i}].port.number`);
        }
      });
    }
  },
};
