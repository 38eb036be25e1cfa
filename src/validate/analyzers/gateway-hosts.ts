// IST0132 VirtualServiceHostNotFoundInGateway: a VirtualService bound to a
// Gateway only receives requests for hosts one of the Gateway's servers
// accepts (its `hosts`, with `ns/` restricting which namespaces may bind).
// A VirtualService host no server accepts is never reached through it.

import type { Resource } from '../../api/types.js';
import { arr, hostsOverlap, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';
import { gatewayRef } from './vs-gateways.js';

/** Hosts of a Gateway that a VirtualService in `vsNamespace` may bind to. */
export function gatewayHostsFor(gw: Resource<'Gateway'>, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const s of arr(gw.spec.servers)) {
    if (!isObj(s)) continue;
    for (const h of arr(s.hosts)) {
      if (typeof h !== 'string') continue;
      const i = h.indexOf('/');
      if (i < 0) {
        out.push(h);
        continue;
      }
      const ns = h.slice(0, i);
      if (ns === '*' || ns === vsNamespace || (ns === '.' && gw.metadata.namespace === vsNamespace)) out.push(h.slice(i + 1));
    }
  }
  return out;
}

export const vsGatewayHosts: Analyzer = {
  name: 'virtualservice/gateway-hosts',
  codes: [{ code: 'IST0132', name: 'VirtualServiceHostNotFoundInGateway', severity: 'warning', description: 'A host of a VirtualService is not accepted by any server of the Gateway it binds to.' }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      const hosts = arr(vs.spec.hosts).filter((h): h is string => typeof h === 'string');
      arr(vs.spec.gateways).forEach((ref, gi) => {
        if (typeof ref !== 'string') return;
        const g = gatewayRef(ref, vs.metadata.namespace);
        if (g === 'mesh') return;
        const gw = ctx.config.get('Gateway', g.namespace, g.name);
        if (!gw) return; // reported by virtualservice/gateways
        const accepted = gatewayHostsFor(gw, vs.metadata.namespace);
        const missing = hosts.filter((h) => !accepted.some((a) => hostsOverlap(a, h)));
        if (missing.length > 0) {
          ctx.report(vs, 'IST0132', 'warning', `one or more host [${missing.join(' ')}] defined in VirtualService ${nsName(vs)} not found in Gateway ${nsName(gw)}.`, `spec.gateways[${gi}]`);
        }
      });
    }
  },
};
