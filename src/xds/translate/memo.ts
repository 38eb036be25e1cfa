// Translation work memoized across revisions by the identity of the model
// parts it read. src/mesh/intern.ts keeps an unchanged service, rule or route
// the same object from one revision's model to the next, so a fragment
// (a service's clusters, a service port's routes) keyed by the objects it
// depends on — and by everything else it reads, spelled into the key — is
// reused until one of them changes: a VirtualService change re-translates
// only the routes that use it, an endpoint change only that service's
// clusters and endpoints. Diagnostics a fragment produced are kept with it
// and said again when it is reused.
// Pure (no clock, no I/O); the caches are WeakMaps on the model objects.

import type { Diagnostic } from '../../api/types.js';
import { DiagnosticSink } from './common.js';

export { idOf, ownerOf, WeakIntern } from '../../util/identity.js';

/** Fragments kept per owner object: a few keys each (a DestinationRule or scope that changed leaves its old entry to age out). */
const PER_OWNER = 16;

const all: FragmentMemo<unknown>[] = [];

/** Hits and misses of every fragment memo (tests and the bench read them). */
export function memoStats(): { hits: number; misses: number } {
  return all.reduce((a, m) => ({ hits: a.hits + m.hits, misses: a.misses + m.misses }), { hits: 0, misses: 0 });
}

export class FragmentMemo<T> {
  /** `perOwner`: how many keys one owner keeps (the oldest goes first). */
  constructor(private readonly perOwner = PER_OWNER) {
    all.push(this as FragmentMemo<unknown>);
  }

  private readonly byOwner = new WeakMap<object, Map<string, { value: T; diagnostics: Diagnostic[] }>>();
  hits = 0;
  misses = 0;

  /**
   * `build()`'s value for (owner, key), built once. What it said goes to a
   * sink of its own while it runs (`holder.sink` is swapped), is kept with
   * the value and is added to the holder's sink now and on every reuse, so a
   * reused fragment says exactly what building it again would.
   */
  get(owner: object, key: string, holder: { sink: DiagnosticSink }, build: () => T): T {
    let m = this.byOwner.get(owner);
    if (!m) this.byOwner.set(owner, (m = new Map()));
    let entry = m.get(key);
    if (entry) this.hits++;
    else {
      this.misses++;
      const parent = holder.sink;
      holder.sink = new DiagnosticSink();
      try {
        entry = { value: build(), diagnostics: holder.sink.list };
      } finally {
        holder.sink = parent;
      }
      if (m.size >= this.perOwner) m.delete(m.keys().next().value!);
      m.set(key, entry);
    }
    for (const d of entry.diagnostics) holder.sink.add(d);
    return entry.value;
  }
}
