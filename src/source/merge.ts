// Several sources → one LoadResult. Each source's resources must stay inside
// the namespaces the source is limited to, no resource may be defined by two
// sources, and only one source may carry the MeshConfig. Violations are error
// Diagnostics naming both places; the offending resources are left out.

import type { AnyResource, Diagnostic, ResourceKey, Revision } from '../api/types.js';
import { fmtOrigin, makeConfigSet, type LoadResult } from '../config/load.js';

export interface SourceLoad {
  source: { name: string; namespaces?: readonly string[] };
  revision: Revision;
  load: LoadResult;
}

export const MERGE_CODES = {
  outsideNamespaces: 'MCD3001',
  definedTwice: 'MCD3002',
  meshConfigTwice: 'MCD3005',
} as const;

function keyOf(r: AnyResource): ResourceKey {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

export function mergeLoads(loads: readonly SourceLoad[]): LoadResult {
  if (loads.length === 1 && !loads[0]!.source.namespaces) return loads[0]!.load;
  const diagnostics: Diagnostic[] = [];
  const owner = new Map<ResourceKey, SourceLoad>();
  const kept: AnyResource[] = [];
  let meshFrom: SourceLoad | undefined;
  for (const sl of loads) {
    diagnostics.push(...sl.load.diagnostics);
    const limits = sl.source.namespaces;
    for (const r of sl.load.config.resources) {
      const key = keyOf(r);
      if (limits) {
        const ns = r.metadata.namespace;
        if (ns === '' || !limits.includes(ns)) {
          diagnostics.push({
            code: MERGE_CODES.outsideNamespaces,
            severity: 'error',
            message: ns === ''
              ? `${r.kind} ${r.metadata.name} is mesh-wide, but source "${sl.source.name}" is limited to namespaces ${limits.join(', ')}`
              : `${key} is in namespace "${ns}", outside the namespaces of source "${sl.source.name}" (${limits.join(', ')})`,
            resource: key,
            origin: r.origin,
          });
          continue;
        }
      }
      if (r.kind === 'MeshConfig') {
        if (meshFrom) {
          diagnostics.push({ code: MERGE_CODES.meshConfigTwice, severity: 'error', message: `MeshConfig in source "${sl.source.name}" and in source "${meshFrom.source.name}"; only one source may set mesh-wide settings`, resource: key, origin: r.origin });
          continue;
        }
        meshFrom = sl;
      }
      const prior = owner.get(key);
      if (prior) {
        const first = prior.load.config.byKey.get(key)!;
        diagnostics.push({
          code: MERGE_CODES.definedTwice,
          severity: 'error',
          message: `${key} is defined by two sources: "${sl.source.name}" at ${fmtOrigin(r.origin)} and "${prior.source.name}" at ${fmtOrigin(first.origin)}`,
          resource: key,
          origin: r.origin,
        });
        continue;
      }
      owner.set(key, sl);
      kept.push(r);
    }
  }
  const mesh = meshFrom?.load.config.mesh ?? loads[0]?.load.config.mesh;
  return {
    config: makeConfigSet(kept, mesh),
    diagnostics,
    locate(key, path) {
      return owner.get(key)?.load.locate(key, path);
    },
  };
}
