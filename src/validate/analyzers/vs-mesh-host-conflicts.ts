// IST0109 ConflictingMeshGatewayVirtualServiceHosts: two VirtualServices
// bound to the `mesh` gateway (sidecars) that define the same host and are
// visible in the same namespace. Sidecars do not merge them, so which one
// wins is undefined. (Gateway-bound VirtualServices are merged by Istio and
// are not reported.)

import type { Resource } from '../../api/types.js';
import { resolveExportTo } from '../../registry/config.js';
import { arr, nsName, type AnalysisContext, type Analyzer } from './context.js';

function boundToMesh(vs: Resource<'VirtualService'>): boolean {
  const gws = arr(vs.spec.gateways);
  return gws.length === 0 || gws.includes('mesh');
}

function exportsOverlap(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  if (a.includes('*') || b.includes('*')) return true;
  return a.some((x) => b.includes(x));
}

export const vsMeshHostConflicts: Analyzer = {
  name: 'virtualservice/conflicting-mesh-hosts',
  codes: [{ code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', severity: 'error', description: 'VirtualServices bound to the mesh gateway define the same host.' }],
  run(ctx: AnalysisContext) {
    const byHost = new Map<string, { vs: Resource<'VirtualService'>; hostIndex: number; exportTo: string[] }[]>();
    for (const vs of ctx.config.ofKind('VirtualService')) {
      if (!boundToMesh(vs)) continue;
      const exportTo = resolveExportTo(vs.spec.exportTo, vs.metadata.namespace);
      arr(vs.spec.hosts).forEach((h, i) => {
        if (typeof h !== 'string') return;
        const host = ctx.fqdn(h, vs.metadata.namespace);
        let l = byHost.get(host);
        if (!l) byHost.set(host, (l = []));
        l.push({ vs, hostIndex: i, exportTo });
      });
    }
    for (const [host, list] of byHost) {
      if (list.length < 2) continue;
      for (const a of list) {
        const others = list.filter((b) => b !== a && exportsOverlap(a.exportTo, b.exportTo));
        if (others.length === 0) continue;
        const names = [a, ...others].map((x) => nsName(x.vs)).sort().join(',');
        ctx.report(a.vs, 'IST0109', 'error', `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, `spec.hosts[${a.hostIndex}]`);
      }
    }
  },
};
