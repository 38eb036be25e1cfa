// IST0177 ConflictingServiceEntryProtocol, as Istio's serviceentry
// ConflictingServiceEntryProtocolAnalyzer: ServiceEntries visible in the same
// scope (exported to all, or to one namespace; one exported to all counts in
// every namespace) that define the same host and port with different
// protocols (compared in upper case; an unset protocol is its own value).
// Each ServiceEntry involved is reported once, at its name.

import type { Resource } from '../../api/types.js';
import { arr, isObj, nsName, type AnalysisContext, type Analyzer } from './context.js';

function scopes(exportTo: readonly unknown[], namespace: string): string[] {
  if (exportTo.length === 0 || exportTo.includes('*')) return ['*'];
  return [...new Set(exportTo.filter((e): e is string => typeof e === 'string').map((e) => (e === '.' ? namespace : e)))];
}

export const serviceEntryProtocols: Analyzer = {
  name: 'serviceentry/conflicting-protocols',
  codes: [{ code: 'IST0177', name: 'ConflictingServiceEntryProtocol', severity: 'warning', description: 'ServiceEntries visible in one scope define the same host and port with different protocols.' }],
  run(ctx: AnalysisContext) {
    type Entry = { protocol: string; se: Resource<'ServiceEntry'> };
    const index = new Map<string, Entry[]>();
    for (const se of ctx.config.ofKind('ServiceEntry')) {
      for (const scope of scopes(arr(se.spec.exportTo), se.metadata.namespace)) {
        for (const host of arr(se.spec.hosts)) {
          if (typeof host !== 'string') continue;
          for (const p of arr(se.spec.ports)) {
            if (!isObj(p) || typeof p.number !== 'number') continue;
            const k = `${scope}|${host}|${p.number}`;
            let l = index.get(k);
            if (!l) index.set(k, (l = []));
            l.push({ protocol: typeof p.protocol === 'string' ? p.protocol : '', se });
          }
        }
      }
    }
    const reported = new Set<Resource<'ServiceEntry'>>();
    for (const [key, own] of index) {
      const [scope, host, port] = key.split('|') as [string, string, string];
      const entries = scope === '*' ? own : [...own, ...(index.get(`*|${host}|${port}`) ?? [])];
      const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
      if (protocols.length < 2) continue;
      const names = [...new Set(entries.map((e) => nsName(e.se)))].sort().join(', ');
      for (const { se } of entries) {
        if (reported.has(se)) continue;
        reported.add(se);
        ctx.report(se, 'IST0177', 'warning', `Multiple ServiceEntries (${names}) define the same host "${host}" and port ${port} with conflicting protocols (${protocols.join(', ')}).`, 'metadata.name');
      }
    }
  },
};
