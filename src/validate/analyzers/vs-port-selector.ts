// IST0112 VirtualServiceDestinationPortSelectorRequired: a route destination
// whose service exposes more than one port must say which port; otherwise
// Envoy cannot tell which cluster the route means.

import { destinationsOf } from './vs-destinations.js';
import type { AnalysisContext, Analyzer } from './context.js';

export const vsPortSelector: Analyzer = {
  name: 'virtualservice/destination-port',
  codes: [{ code: 'IST0112', name: 'VirtualServiceDestinationPortSelectorRequired', severity: 'error', description: 'A VirtualService routes to a service with more than one port and does not say which.' }],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      for (const { dest, path, kind } of destinationsOf(vs)) {
        if (kind === 'mirror') continue;
        if (dest.port && typeof dest.port.number === 'number') continue;
        const svc = ctx.findService(dest.host, vs.metadata.namespace);
        if (!svc || svc.ports.length < 2) continue;
        const ports = svc.ports.map((p) => p.number).join(' ');
        ctx.report(vs, 'IST0112', 'error', `This VirtualService routes to a service "${dest.host}" that exposes multiple ports [${ports}]. Specifying a port in the destination is required to disambiguate.`, path);
      }
    }
  },
};
