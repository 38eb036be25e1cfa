// IST0101 ReferencedResourceNotFound (VirtualService destinations): every
// route, mirror and delegate destination host must be a known service (a
// ServiceEntry host, exported to the VirtualService's namespace), and every
// subset it names must be defined by a DestinationRule for that host.
// Hosts are expanded with Istio's short-name rule (`reviews` →
// `reviews.<ns>.svc.cluster.local`).

import type { Destination } from '../../api/istio.js';
import type { Resource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

export interface DestinationRef {
  dest: Destination;
  path: string;
  /** `http`, `tcp`, `tls` or `mirror`. */
  kind: 'http' | 'tcp' | 'tls' | 'mirror';
}

/** Every destination a VirtualService sends traffic to, with its path in the resource. */
export function destinationsOf(vs: Resource<'VirtualService'>): DestinationRef[] {
  const out: DestinationRef[] = [];
  const push = (d: unknown, path: string, kind: DestinationRef['kind']) => {
    if (isObj(d) && typeof d.host === 'string') out.push({ dest: d as unknown as Destination, path, kind });
  };
  arr(vs.spec.http).forEach((r, i) => {
    if (!isObj(r)) return;
    arr(r.route).forEach((rd, j) => push(isObj(rd) ? rd.destination : undefined, `spec.http[${i}].route[${j}].destination`, 'http'));
    if (r.mirror) push(r.mirror, `spec.http[${i}].mirror`, 'mirror');
    arr(r.mirrors).forEach((m, j) => push(isObj(m) ? m.destination : undefined, `spec.http[${i}].mirrors[${j}].destination`, 'mirror'));
  });
  for (const section of ['tcp', 'tls'] as const) {
    arr(vs.spec[section] as unknown[] | undefined).forEach((r, i) => {
      if (!isObj(r)) return;
      arr(r.route as unknown[] | undefined).forEach((rd, j) => push(isObj(rd) ? rd.destination : undefined, `spec.${section}[${i}].route[${j}].destination`, section));
    });
  }
  return out;
}

export const vsDestinations: Analyzer = {
  name: 'virtualservice/destinations',
  codes: [
    { code: 'IST0101', name: 'ReferencedResourceNotFound', severity: 'error', description: 'A resource being referenced does not exist (host, subset, gateway, selector, namespace).' },
  ],
  run(ctx: AnalysisContext) {
    for (const vs of ctx.config.ofKind('VirtualService')) {
      const ns = vs.metadata.namespace;
      for (const { dest, path } of destinationsOf(vs)) {
        const svc = ctx.findService(dest.host, ns);
        if (!svc) {
          ctx.report(vs, 'IST0101', 'error', `Referenced host not found: "${dest.host}"`, `${path}.host`);
          continue;
        }
        if (typeof dest.subset === 'string' && dest.subset !== '' && !ctx.hasSubset(dest, ns)) {
          ctx.report(vs, 'IST0101', 'error', `Referenced host+subset in destinationrule not found: "${dest.host}+${dest.subset}"`, `${path}.subset`);
        }
      }
    }
  },
};
