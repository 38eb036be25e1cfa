// IST0132 VirtualServiceHostNotFoundInGateway, as Istio's
// virtualservice/gateways analyzer: for each Gateway in `spec.gateways`,
// reported when *no* host of the VirtualService is accepted by any server of
// the Gateway (its `hosts`, with `ns/` restricting which namespaces may
// bind), and when the Gateway does not exist (it then accepts nothing; IST0101
// is reported too). The message lists all the VirtualService's hosts.

import type { Resource } from '../../api/types.js';
import { arr, hostsOverlap, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';
import { gatewayRef, isInternalGatewayRef } from './vs-gateways.js';

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
  codes: [{ code: 'IST0132', name: 'VirtualServiceHostNotFoundInGateway', severity: 'warning', description: 'No host of a VirtualService is accepted by a Gateway it binds to (or the Gateway does not exist).' }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      const hosts = arr(vs.spec.hosts).filter((h): h is string => typeof h === 'string');
      arr(vs.spec.gateways).forEach((ref, gi) => {
        if (typeof ref !== 'string' || isInternalGatewayRef(ref)) return;
        const g = gatewayRef(ref, vs.metadata.namespace);
        if (g === 'mesh') return;
        const gw = ctx.config.get('Gateway', g.namespace, g.name);
        const accepted = gw ? gatewayHostsFor(gw, vs.metadata.namespace) : [];
        if (hosts.some((h) => accepted.some((a) => hostsOverlap(a, h)))) return;
        ctx.report(vs, 'IST0132', 'warning', `one or more host [${hosts.join(' ')}] defined in VirtualService ${nsName(vs)} not found in Gateway ${g.namespace}/${g.name}.`, `spec.gateways[${gi}]`);
      });
    }
  },
};
