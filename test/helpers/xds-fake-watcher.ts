// A SnapshotWatcher for the server's unit tests: no cache, no translator, no
// debounce. `resources(proxy)` says what a proxy gets; `publish(revision)`
// rebuilds every watched proxy's snapshot and notifies those whose version
// changed, synchronously, as the real cache does after a flush.

import type { ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { buildSnapshot, EncodeCache, type EncodedSnapshot } from '../../src/xds/cache/snapshot.js';
import type { SnapshotWatch, SnapshotWatcher } from '../../src/xds/watcher.js';

interface Watch {
  proxy: ProxyInfo;
  fn: (s: EncodedSnapshot, revision: string | undefined) => void;
  current: EncodedSnapshot | undefined;
}

export class FakeWatcher implements SnapshotWatcher {
  private readonly watches = new Set<Watch>();
  private readonly encode = new EncodeCache();
  private secrets: XdsResource[] = [];
  revision: string | undefined;
  /** How many watches were opened and cancelled (the server must cancel each). */
  opened = 0;
  cancelled = 0;

  constructor(private readonly resources: (proxy: ProxyInfo) => ProxyResources) {}

  private build(proxy: ProxyInfo): EncodedSnapshot | undefined {
    if (this.revision === undefined) return undefined;
    let r = this.resources(proxy);
    if (this.secrets.length) {
      const merged = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>(r);
      merged.set(TYPE_URL.secret, new Map([...(r.get(TYPE_URL.secret) ?? []), ...this.secrets.map((s) => [s.name, s] as const)]));
      r = merged;
    }
    const res = buildSnapshot(r, this.encode);
    if (!res.snapshot) throw new Error(`fake watcher: invalid snapshot: ${res.errors.join('; ')}`);
    return res.snapshot;
  }

  watch(proxy: ProxyInfo, fn: Watch['fn']): SnapshotWatch {
    const w: Watch = { proxy, fn, current: this.build(proxy) };
    this.watches.add(w);
    this.opened++;
    const self = this;
    let done = false;
    return {
      current: w.current,
      get revision() {
        return self.revision;
      },
      cancel: () => {
        if (done) return;
        done = true;
        this.cancelled++;
        this.watches.delete(w);
      },
    };
  }

  publish(revision: string): void {
    this.revision = revision;
    for (const w of [...this.watches]) {
      const snap = this.build(w.proxy);
      if (!snap || snap.version === w.current?.version) continue;
      w.current = snap;
      w.fn(snap, revision);
    }
  }

  setSecrets(secrets: XdsResource[]): void {
    this.secrets = secrets;
    if (this.revision !== undefined) this.publish(this.revision);
  }

  get watching(): number {
    return this.watches.size;
  }
}
