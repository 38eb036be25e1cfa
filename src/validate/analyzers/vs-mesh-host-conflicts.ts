// IST0109 ConflictingMeshGatewayVirtualServiceHosts, as Istio's
// virtualservice/conflictingmeshgatewayhosts analyzer: VirtualServices bound
// to the `mesh` gateway (sidecars) are grouped by `scope/host`, where the
// scope is `*` for one exported to all namespaces, else each namespace it is
// exported to (`.` is its own), and a short host is made a FQDN in the
// VirtualService's namespace. A namespace-scoped host also conflicts with
// every host exported to all that it matches as a wildcard
// (`d/*.productpage.d` against `*/*.d`); hosts exported to all conflict only
// when equal. Sidecars do not merge such VirtualServices, so which wins is
// undefined. Each VirtualService is reported once, at its name.

import type { Resource } from '../../api/types.js';
import { arr, hostsOverlap, nsName, type AnalysisContext, type Analyzer } from './context.js';

function boundToMesh(vs: Resource<'VirtualService'>): boolean {
  const gws = arr(vs.spec.gateways);
  return gws.length === 0 || gws.includes('mesh');
}

/** Istio's exportTo scopes: `*` when empty or holding `*`, else each namespace named (`.` is the own). */
function scopes(exportTo: readonly unknown[], namespace: string): string[] {
  if (exportTo.length === 0 || exportTo.includes('*')) return ['*'];
  return [...new Set(exportTo.filter((e): e is string => typeof e === 'string').map((e) => (e === '.' ? namespace : e)))];
}

export const vsMeshHostConflicts: Analyzer = {
  name: 'virtualservice/conflicting-mesh-hosts',
  codes: [{ code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', severity: 'error', description: 'VirtualServices bound to the mesh gateway define the same host in one scope (a namespace-scoped wildcard also against hosts exported to all).' }],
  run(ctx: AnalysisContext) {
    const byScopedHost = new Map<string, Resource<'VirtualService'>[]>();
    for (const vs of ctx.config.ofKind('VirtualService')) {
      if (!boundToMesh(vs)) continue;
      for (const scope of scopes(arr(vs.spec.exportTo), vs.metadata.namespace)) {
        for (const h of arr(vs.spec.hosts)) {
          if (typeof h !== 'string') continue;
          const host = h.startsWith('*') || h.includes('.') ? h : `${h}.${vs.metadata.namespace}.${ctx.mesh.clusterDomain}`;
          const k = `${scope}/${host}`;
          let l = byScopedHost.get(k);
          if (!l) byScopedHost.set(k, (l = []));
          l.push(vs);
        }
      }
    }
    const reported = new Set<Resource<'VirtualService'>>();
    for (const [scopedHost, own] of byScopedHost) {
      const slash = scopedHost.indexOf('/');
      const scope = scopedHost.slice(0, slash), host = scopedHost.slice(slash + 1);
      let list = own;
      if (scope !== '*') {
        list = [...own];
        for (const [other, vss] of byScopedHost) if (other.startsWith('*/') && hostsOverlap(host, other.slice(2))) list.push(...vss);
      }
      if (list.length < 2) continue;
      const names = list.map(nsName).sort().join(',');
      for (const vs of list) {
        if (reported.has(vs)) continue;
        reported.add(vs);
        ctx.report(vs, 'IST0109', 'error', `The VirtualServices ${names} associated with mesh gateway define the same host ${scopedHost} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, 'metadata.name');
      }
    }
  },
};
