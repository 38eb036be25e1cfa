// Object identity as memo keys: a number per object (`idOf`) and one object
// standing for a tuple of objects (`ownerOf`). Both on WeakMaps, so nothing
// is kept alive by being named. Used by translation's memos
// (src/xds/translate/memo.ts) and the snapshot builder (src/xds/cache).
// Imports nothing.

const ids = new WeakMap<object, number>();
let nextId = 1;

/** A number naming an object's identity (0 for none), for memo keys. */
export function idOf(o: object | undefined): number {
  if (!o) return 0;
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

const tuples = new WeakMap<object, WeakMap<object, unknown>>();

/**
 * One object standing for a tuple of objects, the same while all of them
 * are: a memo owner that goes (with everything kept under it) as soon as any
 * of them is replaced and the old one is let go.
 */
export function ownerOf(first: object, ...rest: object[]): object {
  let level = tuples as WeakMap<object, unknown>;
  let key = first;
  for (const next of rest) {
    let inner = level.get(key) as WeakMap<object, unknown> | undefined;
    if (!inner) level.set(key, (inner = new WeakMap()));
    level = inner;
    key = next;
  }
  let owner = level.get(key) as object | undefined;
  if (!owner) level.set(key, (owner = {}));
  return owner;
}
