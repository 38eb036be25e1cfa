// The snapshot cache: model inputs in, one consistent EncodedSnapshot per
// class of proxy out. Proxies with the same translation key share a
// snapshot, so a revision is translated once per class, not once per proxy.
// Bursts of updates are debounced (quiet period, bounded by a max delay);
// subscribers hear only about keys whose snapshot version changed. An
// inconsistent or invalid snapshot is refused: the key keeps its last good
// one and the error is kept for /debug and logged as a meshcd bug.
// Imports: src/api, src/xds/proto (via snapshot.ts), src/util. The translator
// is injected (see Translator) so this folder does not depend on src/mesh.

import type { ConfigSet, Diagnostic, ProxyInfo, ProxyResources, RolloutOverlay, ServiceIndex, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { logger } from '../../util/log.js';
import { metric } from '../../util/metrics.js';
import { buildSnapshot, EncodeCache, type EncodedSnapshot } from './snapshot.js';
import type { SnapshotWatch, SnapshotWatcher } from '../watcher.js';

export * from './snapshot.js';

export interface ModelInputs {
  config: ConfigSet;
  index: ServiceIndex;
  overlay?: RolloutOverlay;
}

export interface TranslateOutput {
  resources: ProxyResources;
  diagnostics?: Diagnostic[];
}

/** What the cache needs from translation (src/mesh + src/xds/translate). */
export interface Translator<M = unknown> {
  /** Built once per accepted revision. */
  model(inputs: ModelInputs): M;
  /** Two proxies with the same key get identical resources. */
  key(proxy: ProxyInfo): string;
  translate(proxy: ProxyInfo, model: M): TranslateOutput;
  /**
   * Optional: the proxy with everything translation ignores under this model
   * removed (e.g. IPs no workload uses), so that more proxies share a key.
   * Keys are recomputed with each new model.
   */
  canonical?(proxy: ProxyInfo, model: M): ProxyInfo;
}

export interface CacheOptions {
  /** Quiet period before a rebuild (ms). */
  debounceMs?: number;
  /** Longest a burst may delay a rebuild (ms). */
  maxDelayMs?: number;
  /**
   * Which gateway credentials (of those set with setCredentials) go into a
   * proxy class's snapshot, given the SDS names its resources reference. The
   * decision lives with the identity checks (src/xds/server/authorize.ts,
   * `credentialsFor`); without it no credential is ever served.
   */
  authorizeCredentials?: CredentialPolicy;
}

export type CredentialPolicy = (proxy: ProxyInfo, referenced: ReadonlySet<string>, byNamespace: ReadonlyMap<string, ReadonlyMap<string, XdsResource>>) => XdsResource[];

/** Proxies (by id) whose snapshot changed, all to the same snapshot. */
export type SnapshotListener = (proxyIds: readonly string[], snapshot: EncodedSnapshot) => void;

interface KeyState {
  representative: ProxyInfo;
  proxies: Set<string>;
  snapshot?: EncodedSnapshot;
  /** Why the latest translation for this key was refused, if it was. */
  error?: { revision: string; errors: string[]; at: Date };
  diagnostics: Diagnostic[];
}

const refused = metric('counter', 'meshcd_xds_snapshot_refused_total', 'Snapshots refused because a resource failed the strict proto checks or the snapshot was inconsistent (a meshcd bug)');
const translateSeconds = metric('histogram', 'meshcd_xds_translate_seconds', 'Time to build the model and translate every proxy class for one revision', [], [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const classes = metric('gauge', 'meshcd_xds_proxy_classes', 'Distinct translation keys (classes of proxy) with connected proxies');

export class SnapshotCache<M = unknown> implements SnapshotWatcher {
  private readonly log = logger('xds-cache');
  private keys = new Map<string, KeyState>();
  private readonly proxies = new Map<string, { proxy: ProxyInfo; key?: string; snapshot?: EncodedSnapshot }>();
  private readonly encodeCache = new EncodeCache();
  private readonly listeners = new Set<SnapshotListener>();
  private model: M | undefined;
  private pending: { inputs: ModelInputs; revision: string } | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private secrets = new Map<string, XdsResource>();
  /** Gateway credentials (credentialName → SDS secrets) by namespace; served only to gateways that use them. */
  private credentials = new Map<string, ReadonlyMap<string, XdsResource>>();
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly authorizeCredentials: CredentialPolicy | undefined;
  /** Id of the revision the current model was built from. */
  revision: string | undefined;
  rebuilds = 0;
  translations = 0;

  constructor(private readonly translator: Translator<M>, opts: CacheOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 1000;
    this.authorizeCredentials = opts.authorizeCredentials;
  }

  /** Per proxy id: the streams watching it (a proxy may hold more than one, e.g. while reconnecting). */
  private readonly watchers = new Map<string, Set<(snapshot: EncodedSnapshot, revision: string | undefined) => void>>();
  private unwatchAll: (() => void) | undefined;

  /** SnapshotWatcher: the server's view of the cache (src/xds/watcher.ts). */
  watch(proxy: ProxyInfo, onSnapshot: (snapshot: EncodedSnapshot, revision: string | undefined) => void): SnapshotWatch {
    this.unwatchAll ??= this.onSnapshot((ids, snap) => {
      for (const id of ids) for (const fn of [...(this.watchers.get(id) ?? [])]) fn(snap, this.revision);
    });
    let set = this.watchers.get(proxy.id);
    if (!set) this.watchers.set(proxy.id, (set = new Set()));
    set.add(onSnapshot);
    const { snapshot } = this.register(proxy);
    let cancelled = false;
    const cache = this;
    return {
      current: snapshot,
      get revision() {
        return cache.revision;
      },
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        const s = this.watchers.get(proxy.id);
        s?.delete(onSnapshot);
        // Another stream of the same proxy (a reconnect) keeps it registered.
        if (!s || s.size === 0) {
          this.watchers.delete(proxy.id);
          this.unregister(proxy.id);
        }
      },
    };
  }

  onSnapshot(l: SnapshotListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Schedule a rebuild from new inputs; bursts within the quiet period coalesce. */
  update(inputs: ModelInputs, revision: string): void {
    this.pending = { inputs, revision };
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), this.debounceMs);
    this.maxTimer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  /** Apply pending inputs now (tests and shutdown use this). */
  flush(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.maxTimer) clearTimeout(this.maxTimer);
    this.quietTimer = this.maxTimer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    const end = translateSeconds.startTimer();
    let model: M;
    try {
      model = this.translator.model(p.inputs);
    } catch (err) {
      this.log.error({ revision: p.revision, err: (err as Error).message }, 'building the mesh model failed; keeping the previous config (meshcd bug)');
      end();
      return;
    }
    this.model = model;
    this.revision = p.revision;
    this.rebuilds++;
    this.regroup();
    this.encodeCache.sweep();
    end();
  }

  /** Replace the SDS secrets served to every proxy (e.g. ROOTCA from the CA's trust bundle). */
  setSecrets(secrets: XdsResource[]): void {
    this.secrets = new Map(secrets.map((s) => [s.name, s]));
    this.regroup();
  }

  /**
   * Replace the gateway credentials (TLS certificates and keys named by a
   * Gateway's credentialName), by namespace. Which proxy classes get which
   * is the `authorizeCredentials` policy's decision.
   */
  setCredentials(byNamespace: ReadonlyMap<string, readonly XdsResource[]>): void {
    this.credentials = new Map([...byNamespace].map(([ns, list]) => [ns, new Map(list.map((s) => [s.name, s]))]));
    this.regroup();
  }

  /** A proxy connected (or changed kind); returns its current snapshot (translated now if its class is new). */
  register(proxy: ProxyInfo): { key?: string; snapshot?: EncodedSnapshot } {
    this.unregister(proxy.id);
    const entry: { proxy: ProxyInfo; key?: string; snapshot?: EncodedSnapshot } = { proxy };
    this.proxies.set(proxy.id, entry);
    if (this.model === undefined) return {};
    const canonical = this.canonical(proxy);
    const key = this.translator.key(canonical);
    entry.key = key;
    let st = this.keys.get(key);
    if (!st) {
      st = { representative: canonical, proxies: new Set(), diagnostics: [] };
      this.keys.set(key, st);
      classes.set(this.keys.size);
      this.translateKey(key, st, undefined);
    }
    st.proxies.add(proxy.id);
    entry.snapshot = st.snapshot;
    return { key, snapshot: st.snapshot };
  }

  unregister(proxyId: string): void {
    const e = this.proxies.get(proxyId);
    if (!e) return;
    this.proxies.delete(proxyId);
    if (e.key === undefined) return;
    const st = this.keys.get(e.key);
    if (!st) return;
    st.proxies.delete(proxyId);
    if (st.proxies.size === 0) {
      this.keys.delete(e.key);
      classes.set(this.keys.size);
    }
  }

  /** The snapshot a proxy is being served. */
  snapshotFor(proxyId: string): EncodedSnapshot | undefined {
    return this.proxies.get(proxyId)?.snapshot;
  }

  snapshotOf(key: string): EncodedSnapshot | undefined {
    return this.keys.get(key)?.snapshot;
  }

  keyOf(proxyId: string): string | undefined {
    return this.proxies.get(proxyId)?.key;
  }

  /** Per key: proxies, snapshot version, last refusal, translation diagnostics. */
  status(): { key: string; proxies: number; version?: string; error?: KeyState['error']; diagnostics: Diagnostic[] }[] {
    return [...this.keys].map(([key, st]) => ({ key, proxies: st.proxies.size, version: st.snapshot?.version, error: st.error, diagnostics: st.diagnostics }));
  }

  close(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.maxTimer) clearTimeout(this.maxTimer);
    this.quietTimer = this.maxTimer = undefined;
  }

  private canonical(proxy: ProxyInfo): ProxyInfo {
    return this.translator.canonical && this.model !== undefined ? this.translator.canonical(proxy, this.model) : proxy;
  }

  /** Re-key every proxy under the current model, translate once per class, notify proxies whose snapshot changed. */
  private regroup(): void {
    if (this.model === undefined) return;
    const old = this.keys;
    const next = new Map<string, KeyState>();
    for (const [id, e] of this.proxies) {
      const canonical = this.canonical(e.proxy);
      const key = this.translator.key(canonical);
      e.key = key;
      let st = next.get(key);
      if (!st) next.set(key, (st = { representative: canonical, proxies: new Set(), diagnostics: [] }));
      st.proxies.add(id);
    }
    this.keys = next;
    classes.set(next.size);
    for (const [key, st] of next) this.translateKey(key, st, old.get(key));
    const changed = new Map<EncodedSnapshot, string[]>();
    for (const [id, e] of this.proxies) {
      const st = next.get(e.key!)!;
      // A refused class keeps serving each proxy what it had.
      const snap = st.snapshot ?? e.snapshot;
      if (!snap || snap === e.snapshot || snap.version === e.snapshot?.version) continue;
      e.snapshot = snap;
      let l = changed.get(snap);
      if (!l) changed.set(snap, (l = []));
      l.push(id);
    }
    for (const [snap, ids] of changed) for (const l of this.listeners) l(ids, snap);
  }

  private translateKey(key: string, st: KeyState, previous: KeyState | undefined): void {
    if (this.model === undefined) return;
    st.snapshot = previous?.snapshot;
    let out: TranslateOutput;
    this.translations++;
    try {
      out = this.translator.translate(st.representative, this.model);
    } catch (err) {
      this.refuse(key, st, [`translation failed: ${(err as Error).message}`]);
      return;
    }
    st.diagnostics = out.diagnostics ?? [];
    const said = new Set((previous?.diagnostics ?? []).map((d) => `${d.code}|${d.resource ?? ''}|${d.message}`));
    const fresh = st.diagnostics.filter((d) => d.severity !== 'info' && !said.has(`${d.code}|${d.resource ?? ''}|${d.message}`));
    // What a client kind cannot do is said once per proxy class, not on every push.
    for (const d of fresh.slice(0, 20)) this.log.warn({ proxyClass: st.representative.kind, namespace: st.representative.namespace, code: d.code, resource: d.resource, origin: d.origin }, d.message);
    let resources = out.resources;
    const credentials = this.authorizeCredentials && this.credentials.size ? this.authorizeCredentials(st.representative, sdsNamesIn(resources), this.credentials).map((s) => [s.name, s] as const) : [];
    if (this.secrets.size || credentials.length) {
      const merged = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>(resources);
      merged.set(TYPE_URL.secret, new Map([...(resources.get(TYPE_URL.secret) ?? []), ...this.secrets, ...credentials]));
      resources = merged;
    }
    const res = buildSnapshot(resources, this.encodeCache);
    if (!res.snapshot) {
      this.refuse(key, st, res.errors);
      return;
    }
    if (res.warnings.length) this.log.debug({ key, warnings: res.warnings.slice(0, 5) }, 'snapshot warnings');
    // Same content as before: keep the old object so streams see no change.
    st.snapshot = previous?.snapshot?.version === res.snapshot.version ? previous.snapshot : res.snapshot;
  }

  private refuse(key: string, st: KeyState, errors: string[]): void {
    refused.inc();
    st.error = { revision: this.revision ?? '', errors, at: new Date() };
    this.log.error({ key, proxy: st.representative.id, revision: this.revision, errors: errors.slice(0, 10) }, 'refusing to publish an invalid or inconsistent snapshot (meshcd bug); proxies keep their previous config');
  }
}

/** Names of the SDS secrets a proxy's listeners and clusters reference (`…sds_secret_config(s)`). */
export function sdsNamesIn(resources: ProxyResources): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown, underSds: boolean): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, underSds);
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (underSds && typeof o.name === 'string') names.add(o.name);
      for (const [k, x] of Object.entries(o)) walk(x, /sds_secret_configs?$/.test(k));
    }
  };
  for (const t of [TYPE_URL.listener, TYPE_URL.cluster]) for (const r of resources.get(t)?.values() ?? []) walk(r.value, false);
  return names;
}
