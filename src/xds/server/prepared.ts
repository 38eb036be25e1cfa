// Prepared SotW response bodies, shared between streams: the encoded
// `resources` bytes for a (snapshot or shared part, type, selection), built
// once; versions that depend only on the set of resources sent (a sum of
// per-resource hashes, so a shared part plus an own part and a
// make-before-break union of the same resources agree); and what a new
// snapshot changed and removed (worked out once per pair of snapshots or
// shared parts: delta answers and make-before-break). Used by ./stream.ts.
// Imports: src/api, src/xds/cache/snapshot (types).

import { createHash } from 'node:crypto';
import type { TypeUrl } from '../../api/types.js';
import type { EncodedResource, EncodedSnapshot } from '../cache/snapshot.js';

export interface Prepared {
  /**
   * The response's version: a sum of its resources' (name, version) hashes,
   * so it depends on the set and not on how it was put together (a shared
   * part plus an own part, or a make-before-break union, give the same
   * version for the same resources).
   */
  version: string;
  sum: readonly [number, number];
  /** Encoded `resources` fields, in order (a shared part's and a proxy's own). */
  bytes: Buffer[];
  size: number;
  count: number;
}
export const preparedCache = new WeakMap<EncodedSnapshot, Map<string, Prepared>>();

const hashes = new WeakMap<EncodedResource, readonly [number, number]>();

/** 64 bits of sha1(name, version), once per encoded resource. */
export function resourceHash(r: EncodedResource): readonly [number, number] {
  let h = hashes.get(r);
  if (!h) {
    const d = createHash('sha1').update(r.name).update('\0').update(r.version).digest();
    hashes.set(r, (h = [d.readUInt32BE(0), d.readUInt32BE(4)]));
  }
  return h;
}

export function versionOfSum(sum: readonly [number, number]): string {
  return sum[0].toString(16).padStart(8, '0') + sum[1].toString(16).padStart(8, '0');
}

/** What changed for one type between two snapshots: resources new or with another version, names gone; each sorted by name. */
export interface TypeDiff {
  changed: readonly EncodedResource[];
  removed: readonly string[];
}

const diffMemo = new WeakMap<EncodedSnapshot, WeakMap<EncodedSnapshot, Map<TypeUrl, TypeDiff>>>();
const NO_DIFF: TypeDiff = { changed: [], removed: [] };

/**
 * `cur` against `prev` for `type`, as a delta stream that held `prev`
 * needs it. For composed snapshots the shared parts are compared once for
 * every proxy of their scope and only the small own parts per pair; a name
 * that moved between the parts with the same version is neither.
 */
export function diffSnapshots(prev: EncodedSnapshot, cur: EncodedSnapshot, type: TypeUrl): TypeDiff {
  if (prev === cur) return NO_DIFF;
  if (!prev.parts || !cur.parts) return diffBetween(prev, cur, type);
  const shared = diffBetween(prev.parts.shared, cur.parts.shared, type);
  const own = diffBetween(prev.parts.own, cur.parts.own, type);
  if (!own.changed.length && !own.removed.length) return shared;
  const before = prev.encoded.get(type);
  const now = cur.encoded.get(type);
  const changed = [...shared.changed, ...own.changed].filter((r) => before?.get(r.name)?.version !== r.version).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const removed = [...new Set([...shared.removed, ...own.removed])].filter((n) => !now?.has(n)).sort();
  return { changed, removed };
}

function diffBetween(prev: EncodedSnapshot, cur: EncodedSnapshot, type: TypeUrl): TypeDiff {
  // The same snapshot, or a type built from the same map (a route change leaves every scope's clusters the same map).
  if (prev === cur || prev.encoded.get(type) === cur.encoded.get(type)) return NO_DIFF;
  let byCur = diffMemo.get(prev);
  if (!byCur) diffMemo.set(prev, (byCur = new WeakMap()));
  let byType = byCur.get(cur);
  if (!byType) byCur.set(cur, (byType = new Map()));
  let out = byType.get(type);
  if (!out) {
    const before = prev.encoded.get(type);
    const now = cur.encoded.get(type);
    const changed: EncodedResource[] = [];
    for (const [n, r] of now ?? []) if (before?.get(n)?.version !== r.version) changed.push(r);
    changed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const removed = [...(before?.keys() ?? [])].filter((n) => !now?.has(n)).sort();
    byType.set(type, (out = { changed, removed }));
  }
  return out;
}
