// Builds a LoadResult from inline YAML text held in memory, so rule and schema
// tests read like the config they check.
import type { Diagnostic, Revision } from '../../../../src/api/types.js';
import { loadRevision, type LoadResult } from '../../../../src/config/load.js';

export function memoryRevision(files: Record<string, string>): Revision {
  const enc = new TextEncoder();
  return {
    source: 'test',
    ref: 'mem',
    commit: 'mem',
    id: 'mem@test',
    paths: Object.keys(files),
    read: async (p) => {
      const t = files[p];
      if (t === undefined) throw new Error(`no such file ${p}`);
      return enc.encode(t);
    },
    blobId: () => undefined,
  };
}

export async function loadYaml(text: string, file = 'config.yaml'): Promise<LoadResult> {
  return loadRevision(memoryRevision({ [file]: text }));
}

/** Removes common leading indentation so YAML can be written indented in test tables. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export function brief(d: Diagnostic): string {
  return `${d.origin?.line ?? '?'} ${d.severity} ${d.code} ${d.path ?? ''} ${d.message}`;
}
