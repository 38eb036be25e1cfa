// IST0101 ReferencedResourceNotFound (VirtualService destinations), as
// Istio's virtualservice/destinationhosts and destinationrules analyzers:
// - every route and mirror destination host must be a known service (a
//   ServiceEntry host, wildcards included, exported to the VirtualService's
//   namespace): `host` / `mirror host` not found;
// - a port it names must be one of that service's ports: `host:port`;
// - a subset it names must be defined by a DestinationRule whose host names
//   the same resource, checked on its own (also when the host is missing, or
//   known only through a wildcard or an external ServiceEntry): Istio keys
//   both sides by namespace/name, `name.ns.svc.cluster.local` or a short name
//   in the resource's namespace, so a wildcard DestinationRule does not
//   define subsets for the hosts it covers.
// Reported at the destination's host, as Istio does.

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
    // Istio's initDestHostsAndSubsets: `namespace/name` of each DestinationRule host → its subsets.
    const subsets = new Set<string>();
    for (const dr of ctx.config.ofKind('DestinationRule')) {
      if (typeof dr.spec.host !== 'string') continue;
      const name = resourceNameOfHost(dr.spec.host, dr.metadata.namespace, ctx.mesh.clusterDomain);
      for (const ss of arr(dr.spec.subsets)) if (isObj(ss) && typeof ss.name === 'string') subsets.add(`${name}|${ss.name}`);
    }
    for (const vs of ctx.config.ofKind('VirtualService')) {
      const ns = vs.metadata.namespace;
      for (const { dest, path, kind } of destinationsOf(vs)) {
        const mirror = kind === 'mirror';
        const at = `${path}.host`;
        const svc = ctx.findService(dest.host, ns);
        if (!svc) ctx.report(vs, 'IST0101', 'error', `Referenced ${mirror ? 'mirror host' : 'host'} not found: "${dest.host}"`, at);
        else if (isObj(dest.port) && typeof dest.port.number === 'number' && !svc.ports.some((p) => p.number === dest.port!.number)) {
          ctx.report(vs, 'IST0101', 'error', `Referenced host:port not found: "${dest.host}:${dest.port.number}"`, at);
        }
        if (typeof dest.subset === 'string' && dest.subset !== '' && !subsets.has(`${resourceNameOfHost(dest.host, ns, ctx.mesh.clusterDomain)}|${dest.subset}`)) {
          ctx.report(vs, 'IST0101', 'error', `Referenced ${mirror ? 'mirror' : 'host'}+subset in destinationrule not found: "${dest.host}+${dest.subset}"`, at);
        }
      }
    }
  },
};

/** Istio's GetResourceNameFromHost: `name.ns.svc.<domain>` is ns/name; anything else is a name in `namespace`. */
export function resourceNameOfHost(host: string, namespace: string, clusterDomain: string): string {
  const suffix = `.svc.${clusterDomain}`;
  if (host.endsWith(suffix)) {
    const rest = host.slice(0, -suffix.length);
    const dot = rest.lastIndexOf('.');
    if (dot > 0 && dot < rest.length - 1) return `${rest.slice(dot + 1)}/${rest.slice(0, dot)}`;
  }
  return `${namespace}/${host}`;
}
