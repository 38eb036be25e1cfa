// ConfigSet pair → ResourceDiff[]: resources added, changed (digest differs)
// or removed, each with a unified YAML diff and JSON Patch operations.

import { createTwoFilesPatch } from 'diff';
import jsonPatch from 'fast-json-patch';
import { stringify } from 'yaml';
import type { AnyResource, ConfigSet, Origin, ResourceKey } from '../api/types.js';
import { isRecord } from '../config/parse.js';

export type ChangeKind = 'added' | 'changed' | 'removed';

/** RFC 6902 operation, as fast-json-patch produces it. */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export interface ResourceDiff {
  key: ResourceKey;
  kind: string;
  namespace: string;
  name: string;
  change: ChangeKind;
  /** Where the resource was in the base (absent when added). */
  base?: Origin;
  /** Where the resource is in the head (absent when removed). */
  head?: Origin;
  /** Unified diff of the YAML renderings (headers `base/<key>`, `head/<key>`). */
  yamlDiff: string;
  /** Operations turning the base document into the head document. */
  patch: JsonPatchOp[];
  /** Why this entry may not be what it seems, e.g. a removal caused by a file that no longer parses. */
  note?: string;
}

/** Load problems that drop a file's documents: a resource "removed" by them was not removed on purpose. */
const UNREADABLE_CODES = new Set(['MCD0001', 'MCD0003', 'MCD0004', 'MCD0005']);

/** Marks removals whose file fails to load in the head, so a YAML typo does not read as a deletion. */
export function annotateUnreadable(diffs: ResourceDiff[], headDiagnostics: readonly { code: string; severity: string; origin?: Origin }[]): ResourceDiff[] {
  const broken = new Map<string, number>();
  for (const d of headDiagnostics) if (d.severity === 'error' && UNREADABLE_CODES.has(d.code) && d.origin && !broken.has(d.origin.file)) broken.set(d.origin.file, d.origin.line);
  return diffs.map((x) => {
    const line = x.change === 'removed' && x.base ? broken.get(x.base.file) : undefined;
    return line === undefined ? x : { ...x, note: `${x.base!.file} does not load in the head (error at line ${line}); the resource may not be meant to go` };
  });
}

function keyOf(r: AnyResource): ResourceKey {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

const ORDER: Record<ChangeKind, number> = { removed: 0, changed: 1, added: 2 };

/**
 * Resources of `head` compared with `base`, ordered by key. A resource that
 * only moved to another file or had its keys reordered is not a change:
 * identity is the digest of its canonical JSON.
 */
export function diffConfigSets(base: ConfigSet, head: ConfigSet, opts: { context?: number } = {}): ResourceDiff[] {
  const out: ResourceDiff[] = [];
  const keys = new Set<ResourceKey>([...base.byKey.keys(), ...head.byKey.keys()]);
  for (const key of keys) {
    const b = base.byKey.get(key);
    const h = head.byKey.get(key);
    if (b && h && b.digest === h.digest) continue;
    const r = (h ?? b)!;
    const change: ChangeKind = !b ? 'added' : !h ? 'removed' : 'changed';
    out.push({
      key,
      kind: r.kind,
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      change,
      ...(b ? { base: b.origin } : {}),
      ...(h ? { head: h.origin } : {}),
      yamlDiff: yamlDiff(key, b?.raw, h?.raw, opts.context ?? 3),
      patch: patchOf(b?.raw, h?.raw),
    });
  }
  return out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : ORDER[x.change] - ORDER[y.change]));
}

/** Unified diff of two documents rendered as YAML; `undefined` means absent. */
export function yamlDiff(key: string, base: Record<string, unknown> | undefined, head: Record<string, unknown> | undefined, context = 3): string {
  // The base is rendered in the head's key order so a diff shows what changed,
  // not how the author ordered keys; the head keeps the author's order.
  const baseText = base ? renderYaml(head ? alignKeys(base, head) : base) : '';
  const headText = head ? renderYaml(head) : '';
  const patch = createTwoFilesPatch(base ? `base/${key}` : '/dev/null', head ? `head/${key}` : '/dev/null', baseText, headText, undefined, undefined, { context });
  // Drop jsdiff's `Index:`/`====` banner; keep the `---`/`+++` headers and hunks.
  const lines = patch.split('\n');
  const start = lines.findIndex((l) => l.startsWith('--- '));
  return lines.slice(start < 0 ? 0 : start).join('\n').replace(/\n+$/, '\n');
}

export function renderYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** `value` with the keys of every mapping ordered like `like` (keys `like` lacks keep their order, after). */
export function alignKeys(value: unknown, like: unknown): unknown {
  if (Array.isArray(value)) return value.map((v, i) => alignKeys(v, Array.isArray(like) ? like[i] : undefined));
  if (!isRecord(value)) return value;
  if (!isRecord(like)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(like)) if (k in value) out[k] = alignKeys(value[k], like[k]);
  for (const k of Object.keys(value)) if (!(k in out)) out[k] = value[k];
  return out;
}

function patchOf(base: Record<string, unknown> | undefined, head: Record<string, unknown> | undefined): JsonPatchOp[] {
  if (!base && head) return [{ op: 'add', path: '', value: head }];
  if (base && !head) return [{ op: 'remove', path: '' }];
  return jsonPatch.compare(base ?? {}, head ?? {}) as JsonPatchOp[];
}

export interface DiffCounts {
  added: number;
  changed: number;
  removed: number;
}

export function countChanges(diffs: readonly { change: ChangeKind }[]): DiffCounts {
  const c: DiffCounts = { added: 0, changed: 0, removed: 0 };
  for (const d of diffs) c[d.change]++;
  return c;
}
