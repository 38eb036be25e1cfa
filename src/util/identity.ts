// Object identity as memo keys: a number per object (`idOf`), one object
// standing for a tuple of objects (`ownerOf`), and one object for equal ones
// (`WeakIntern`). All weak, so nothing is kept alive by being named. Used by
// translation's memos (src/xds/translate), the snapshot builder
// (src/xds/cache) and the xDS streams' shared name sets (src/xds/server).
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

/**
 * One object for all that are equal: `get` gives the object kept under a key
 * when `same` confirms it (a key may be a hash; it is not trusted alone),
 * else keeps and gives `make()`'s. Held weakly: an entry goes with the last
 * user of its object.
 */
export class WeakIntern<T extends object> {
  private readonly pool = new Map<string, WeakRef<T>>();
  private readonly gone = new FinalizationRegistry<string>((key) => {
    if (this.pool.get(key)?.deref() === undefined) this.pool.delete(key);
  });

  get(key: string, same: (kept: T) => boolean, make: () => T): T {
    const kept = this.pool.get(key)?.deref();
    if (kept && same(kept)) return kept;
    const made = make();
    this.pool.set(key, new WeakRef(made));
    this.gone.register(made, key);
    return made;
  }
}
