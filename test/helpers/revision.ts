// In-memory Revision for tests: path → YAML text.
import { createHash } from 'node:crypto';
import type { Revision } from '../../src/api/types.js';
import { loadRevision, type LoadResult } from '../../src/config/load.js';

export function memoryRevision(files: Record<string, string>, source = 'test', ref = 'dir'): Revision {
  const enc = new TextEncoder();
  const paths = Object.keys(files).sort();
  const ids = new Map(paths.map((p) => [p, createHash('sha256').update(files[p]!).digest('hex')]));
  const commit = createHash('sha256').update(paths.map((p) => `${p}\0${ids.get(p)}`).join('\n')).digest('hex');
  return {
    source,
    ref,
    commit,
    id: `${ref}@sha256:${commit}`,
    paths,
    read: async (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`${p}: not found`);
      return enc.encode(t);
    },
    blobId: (p) => ids.get(p),
  };
}

export function loadYaml(files: Record<string, string>): Promise<LoadResult> {
  return loadRevision(memoryRevision(files));
}
