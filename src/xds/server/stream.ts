// One ADS stream's protocol state, SotW or delta, independent of gRPC: it
// takes decoded requests and new snapshots, and hands prepared responses to
// `send`. Rules it keeps:
// - ACK/NACK are matched by nonce; a request carrying an older nonce than
//   the last one sent for its type is stale and ignored (SotW).
// - A response is sent when the subscribed names change or the resources
//   they select change; never the same version twice, never again a version
//   the proxy rejected (no NACK loops).
// - SotW LDS/CDS responses carry the whole set (absent = deleted); wildcard
//   when the first request names nothing or names `*`.
// - Make-before-break: clusters and endpoints go first, listeners and
//   routes next; clusters that disappear are kept (union with the previous
//   snapshot) until the proxy has answered the listener/route push, then
//   removed.
// - No message over the size limit is sent: it is refused, logged, counted.

import { createHash } from 'node:crypto';
import type { ProxyInfo, TypeUrl } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { WeakIntern } from '../../util/identity.js';
import { ALL_TYPES, shortType, type EncodedResource, type EncodedSnapshot } from '../cache/snapshot.js';
import { maySendSecret, type SecretScope } from './authorize.js';
import { diffSnapshots, preparedCache, resourceHash, versionOfSum, type Prepared } from './prepared.js';
import { encodeAnyList, type DeltaDiscoveryRequest, type DeltaResponse, type DiscoveryRequest, type PreparedResponse } from './service.js';

export interface NackRecord {
  type: TypeUrl;
  nonce: string;
  /** The version the proxy rejected (SotW) or the nonce's resources (delta). */
  version: string;
  message: string;
  resources: string[];
  at: string;
}

export interface TypeStatus {
  subscribed: string[] | '*';
  /** Set when `subscribed` was cut (syncz): how many names the stream subscribes. */
  subscribedCount?: number;
  sentVersion?: string;
  sentNonce?: string;
  ackedVersion?: string;
  ackedNonce?: string;
  lastNack?: NackRecord;
}

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  seenRequest: boolean;
  // SotW
  sentVersion?: string;
  sentNonce?: string;
  sentNames?: string;
  /** The request's names as they came (compared, not sorted, on the next request: an ACK repeats them). */
  raw?: readonly string[];
  /** Selection key of the current names (computed when they change, not per ACK). */
  sel?: string;
  /** The shared name set `names` is (SotW); held here so the pool keeps it while this stream uses it. */
  shared?: SharedNames;
  /** The snapshot (and make-before-break previous) the last answer was worked out for. */
  answeredFor?: EncodedSnapshot;
  answeredPrevious?: EncodedSnapshot;
  sentAt?: number;
  /** The revision the last sent response was built from. */
  sentRevision?: string;
  ackedVersion?: string;
  ackedNonce?: string;
  nackedVersion?: string;
  lastNack?: NackRecord;
  // delta: what the proxy holds (name → version) and nonces awaiting an answer
  known: Map<string, string>;
  /** Names sent as "does not exist", so they are not repeated. */
  absent: Set<string>;
  pending: Map<string, { at: number; resources: Map<string, string>; removed: string[]; revision: string | undefined }>;
  rejected: Map<string, string>;
  /**
   * The snapshot `known` agrees with (every resource of it this stream
   * selects and may receive is known at its version or rejected at it; every
   * subscribed name it lacks is known as absent): the next snapshot's delta is
   * its difference from this one, worked out once for all streams, not by
   * comparing every resource. Unset by whatever breaks the agreement
   * (a subscription change, a NACK, an oversize resource left out, the
   * make-before-break union).
   */
  synced?: EncodedSnapshot;
}

export interface StreamHooks {
  sendSotw(r: PreparedResponse, bytes: number): void;
  sendDelta(r: DeltaResponse): void;
  /** A push was acknowledged: its version, nonce, the revision it came from and seconds since it was sent. */
  acked(a: { type: TypeUrl; version: string; nonce: string; revision: string | undefined; seconds: number }): void;
  nacked(n: NackRecord, revision: string | undefined): void;
  oversize(type: TypeUrl, bytes: number): void;
  /** A response went out with `count` resources. */
  pushed(p: { type: TypeUrl; version: string; nonce: string; revision: string | undefined; bytes: number; count: number }): void;
}

export interface StreamOptions {
  /** Largest response the client accepts (Infinity: no limit); delta responses are also split at DELTA_BATCH_BYTES. */
  maxMessageBytes: number;
  /** Which SDS secrets this stream may receive (src/xds/server/authorize.ts); default: only the trust bundle. */
  secretScope?: SecretScope;
  /** Subscribed names per type and across types (defaults: unbounded, the server sets them). */
  maxNamesPerType?: number;
  maxNamesPerStream?: number;
  /** Work delta responses out from the difference between snapshots (default true; tests compare both ways). */
  deltaFromDiff?: boolean;
}

/** A request went over a bound (names subscribed); the stream is ended with RESOURCE_EXHAUSTED. */
export class StreamLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamLimitError';
  }
}

/** Delta responses are split into messages of at most this size even for clients without a limit. */
export const DELTA_BATCH_BYTES = 4 * 1024 * 1024;

/** NACK details are kept (for syncz) up to this length. */
export const MAX_NACK_DETAIL = 16 * 1024;

function nackMessage(detail: { code?: number; message?: string }): string {
  const m = detail.message ?? `code ${detail.code}`;
  return m.length <= MAX_NACK_DETAIL ? m : `${m.slice(0, MAX_NACK_DETAIL)}… (truncated from ${m.length} characters)`;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Send order for make-before-break. */
const ORDER: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret];
const WILDCARD_TYPES = new Set<string>([TYPE_URL.listener, TYPE_URL.cluster]);

/**
 * A SotW subscription's names, shared by every stream that asks for the same
 * ones: thousands of sidecars subscribe the same few thousand EDS names, and
 * one set of them (the first asker's strings) is kept instead of a set and
 * its strings per stream. Read-only once made (SotW replaces a stream's set
 * when its names change; delta streams keep their own). Held weakly: an
 * entry goes when no stream uses its set.
 */
interface SharedNames {
  names: Set<string>;
  /** The names in the order the first asker sent them (an ACK repeating that order is matched without sorting). */
  raw: readonly string[];
  key: string;
}
const namePool = new WeakIntern<SharedNames>();

function sharedNames(names: Set<string>, key: string, list: readonly string[]): SharedNames {
  // Checked name by name, not trusted to the hash.
  return namePool.get(key, (kept) => kept.names.size === names.size && [...names].every((n) => kept.names.has(n)), () => ({ names, raw: list, key }));
}

let nonceCounter = 0;
function nextNonce(): string {
  nonceCounter = (nonceCounter + 1) % Number.MAX_SAFE_INTEGER;
  return nonceCounter.toString(36);
}

export class AdsStream {
  readonly types = new Map<TypeUrl, TypeState>();
  snapshot: EncodedSnapshot | undefined;
  /** The revision `snapshot` was built from (SnapshotWatch.revision). */
  revision: string | undefined;
  /** Snapshot whose clusters/endpoints stay until listeners and routes are answered. */
  private previous: EncodedSnapshot | undefined;
  readonly connectedAt = new Date();

  constructor(public proxy: ProxyInfo, readonly mode: 'sotw' | 'delta', private readonly hooks: StreamHooks, private readonly opts: StreamOptions) {}

  private state(type: TypeUrl): TypeState {
    let s = this.types.get(type);
    if (!s) {
      s = { wildcard: false, names: new Set(), seenRequest: false, known: new Map(), absent: new Set(), pending: new Map(), rejected: new Map() };
      this.types.set(type, s);
    }
    return s;
  }

  status(): Record<string, TypeStatus> {
    const out: Record<string, TypeStatus> = {};
    for (const [t, s] of this.types) {
      out[t] = {
        subscribed: s.wildcard ? '*' : [...s.names].sort(),
        sentVersion: s.sentVersion,
        sentNonce: s.sentNonce,
        ackedVersion: s.ackedVersion,
        ackedNonce: s.ackedNonce,
        lastNack: s.lastNack,
      };
    }
    return out;
  }

  /** A new snapshot for this proxy's class (from `revision`). */
  setSnapshot(snap: EncodedSnapshot, revision?: string): void {
    if (this.snapshot && this.snapshot !== snap) this.previous = this.snapshot;
    this.snapshot = snap;
    this.revision = revision;
    for (const t of ORDER) {
      const s = this.types.get(t);
      if (s?.seenRequest) this.respond(t);
    }
    this.maybeFinishRemoval();
  }

  // -------------------------------------------------------------------------
  // SotW

  onRequest(req: DiscoveryRequest): void {
    const type = req.type_url as TypeUrl;
    if (!ALL_TYPES.includes(type)) return; // unknown types are ignored, as Envoy servers do
    const s = this.state(type);
    const raw = req.resource_names ?? [];
    // An ACK repeats the names it was sent for: compare (no sort, no hash) and keep the work done for them.
    const same = s.raw !== undefined && sameNames(raw, s.raw);
    const names = same ? [] : raw.filter((n) => n !== '');
    if (!same) this.checkNames(type, names.length, s.names.size);
    const nonce = req.response_nonce ?? '';
    if (nonce && s.sentNonce && nonce !== s.sentNonce) return; // stale
    if (nonce && s.sentNonce === nonce) {
      const sentAt = s.sentAt;
      if (req.error_detail && (req.error_detail.message || req.error_detail.code)) {
        s.nackedVersion = s.sentVersion;
        s.lastNack = { type, nonce, version: s.sentVersion ?? '', message: nackMessage(req.error_detail), resources: raw.slice(0, 100), at: new Date().toISOString() };
        this.hooks.nacked(s.lastNack, s.sentRevision);
      } else {
        s.ackedVersion = req.version_info ?? s.sentVersion;
        s.ackedNonce = nonce;
        if (sentAt !== undefined) this.hooks.acked({ type, version: s.ackedVersion ?? '', nonce, revision: s.sentRevision, seconds: (performance.now() - sentAt) / 1000 });
      }
      s.sentAt = undefined;
    }
    const first = !s.seenRequest;
    s.seenRequest = true;
    if (!same) {
      const star = names.includes('*');
      if (star || (names.length === 0 && (first || s.wildcard) && WILDCARD_TYPES.has(type))) s.wildcard = true;
      else if (names.length) s.wildcard = false;
      // Streams asking for the same names share one set (and one copy of the strings).
      const set = new Set(names.filter((n) => n !== '*'));
      const shared = sharedNames(set, this.namesKey(set), names);
      s.shared = shared;
      s.names = shared.names;
      s.raw = sameNames(raw, shared.raw) ? shared.raw : raw;
      s.sel = s.wildcard ? '*' : shared.key;
    }
    this.respond(type);
    this.maybeFinishRemoval();
  }

  /** Identifies the subscribed name set; hashed when long so thousands of streams do not each keep a copy of their EDS list. */
  private selectionKey(s: TypeState): string {
    return s.wildcard ? '*' : this.namesKey(s.names);
  }

  /** Sorts, joins and (when long) hashes: done when a subscription changes, never per ACK. */
  private namesKey(names: Iterable<string>): string {
    const joined = [...names].sort().join('\n');
    return joined.length <= 64 ? joined : createHash('sha1').update(joined).digest('base64');
  }

  /** The resources a response for this type carries now. */
  private select(type: TypeUrl, s: TypeState, snap: EncodedSnapshot | undefined = this.snapshot, withPrevious = true): EncodedResource[] {
    if (!snap) return [];
    const byName = new Map<string, EncodedResource>();
    const all = snap.encoded.get(type);
    if (s.wildcard) for (const [n, r] of all ?? []) byName.set(n, r);
    for (const n of s.names) {
      const r = this.lookup(snap, type, n);
      if (r) byName.set(n, r);
    }
    // Make-before-break: keep what the previous snapshot had until routes moved away.
    if (withPrevious && this.previous && (type === TYPE_URL.cluster || type === TYPE_URL.endpoint)) {
      const prev = this.previous.encoded.get(type);
      for (const [n, r] of prev ?? []) {
        if (byName.has(n)) continue;
        if (s.wildcard || s.names.has(n)) byName.set(n, r);
      }
    }
    return [...byName.keys()].sort().filter((n) => this.maySend(type, n)).map((n) => byName.get(n)!);
  }

  /** Secrets are filtered per stream: what its access allows (config-only streams get the trust bundle alone). */
  maySend(type: TypeUrl, name: string): boolean {
    return type !== TYPE_URL.secret || maySendSecret(this.opts.secretScope ?? 'trust-bundle', name);
  }

  /** A resource by requested name (translation emits every alias a proxyless client may ask for). */
  lookup(snap: EncodedSnapshot, type: TypeUrl, name: string): EncodedResource | undefined {
    return snap.encoded.get(type)?.get(name);
  }

  private respond(type: TypeUrl): void {
    if (this.mode === 'delta') return this.respondDelta(type);
    const s = this.state(type);
    if (!this.snapshot) return;
    const sel = (s.sel ??= this.selectionKey(s));
    // Nothing changed since this type was last answered (an ACK): no work.
    if (s.answeredFor === this.snapshot && s.answeredPrevious === this.previous && s.sentNames === sel) return;
    const p = this.prepared(type, s, sel);
    const answered = () => {
      s.answeredFor = this.snapshot;
      s.answeredPrevious = this.previous;
    };
    if (p.version === s.sentVersion && sel === s.sentNames) return answered(); // nothing new for this proxy
    if (p.version === s.nackedVersion && sel === s.sentNames) return answered(); // rejected before: do not loop
    const size = p.size + 200;
    if (size > this.opts.maxMessageBytes) {
      this.hooks.oversize(type, size);
      return;
    }
    answered();
    const nonce = nextNonce();
    s.sentVersion = p.version;
    s.sentNonce = nonce;
    s.sentNames = sel;
    s.sentAt = performance.now();
    s.sentRevision = this.revision;
    this.hooks.sendSotw({ version_info: p.version, type_url: type, nonce, resourcesBytes: p.bytes }, size);
    this.hooks.pushed({ type, version: p.version, nonce, revision: this.revision, bytes: size, count: p.count });
  }

  /**
   * The response body for this type and selection, shared by every stream
   * with the same snapshot (or, for a composed snapshot, the same shared
   * part): the shared part's bytes are prepared once for all the proxies of
   * its scope, and a stream adds only its own part's.
   */
  private prepared(type: TypeUrl, s: TypeState, sel: string): Prepared {
    const snap = this.snapshot!;
    const parts = snap.parts;
    // Make-before-break matters only when something this stream selects is gone from the new snapshot.
    const mbb = this.previous !== undefined && (type === TYPE_URL.cluster || type === TYPE_URL.endpoint) && this.removedSelected(type, s);
    if (parts && !mbb && type !== TYPE_URL.secret) {
      if (!s.wildcard && !parts.own.encoded.get(type)?.size) return this.preparedFrom(parts.shared, type, s, sel, false);
      if (s.wildcard && s.names.size === 0) {
        const a = this.preparedFrom(parts.shared, type, s, sel, false);
        const b = this.preparedFrom(parts.own, type, s, sel, false);
        if (b.count === 0) return a;
        if (a.count === 0) return b;
        const sum = [(a.sum[0] + b.sum[0]) >>> 0, (a.sum[1] + b.sum[1]) >>> 0] as const;
        return { version: versionOfSum(sum), sum, bytes: [...a.bytes, ...b.bytes], size: a.size + b.size, count: a.count + b.count };
      }
    }
    return this.preparedFrom(snap, type, s, sel, mbb);
  }

  /** Does the previous snapshot hold a resource of `type` this stream selects that the current one lacks? */
  private removedSelected(type: TypeUrl, s: TypeState): boolean {
    const { removed } = diffSnapshots(this.previous!, this.snapshot!, type);
    if (removed.length === 0) return false;
    return s.wildcard || removed.some((n) => s.names.has(n));
  }

  private preparedFrom(snap: EncodedSnapshot, type: TypeUrl, s: TypeState, sel: string, withPrevious: boolean): Prepared {
    let cache = preparedCache.get(snap);
    if (!cache) preparedCache.set(snap, (cache = new Map()));
    const pk = `${type}\0${withPrevious ? this.previous?.version ?? '' : ''}\0${this.proxy.namespace}\0${type === TYPE_URL.secret ? this.opts.secretScope ?? 'trust-bundle' : ''}\0${sel}`;
    let p = cache.get(pk);
    if (!p) {
      const list = this.select(type, s, snap, withPrevious);
      let s0 = 0;
      let s1 = 0;
      for (const r of list) {
        const [a, b] = resourceHash(r);
        s0 = (s0 + a) >>> 0;
        s1 = (s1 + b) >>> 0;
      }
      const bytes = encodeAnyList(type, list);
      const sum = [s0, s1] as const;
      p = { version: versionOfSum(sum), sum, bytes: [bytes], size: bytes.length, count: list.length };
      cache.set(pk, p);
    }
    return p;
  }

  /** Drop the make-before-break union once listeners and routes are answered. */
  private maybeFinishRemoval(): void {
    if (!this.previous) return;
    for (const t of [TYPE_URL.listener, TYPE_URL.route] as TypeUrl[]) {
      const s = this.types.get(t);
      if (!s?.seenRequest) continue;
      if (this.mode === 'sotw' ? s.sentAt !== undefined : s.pending.size > 0) return;
    }
    this.previous = undefined;
    for (const t of [TYPE_URL.cluster, TYPE_URL.endpoint] as TypeUrl[]) {
      const s = this.types.get(t);
      if (s?.seenRequest) this.respond(t);
    }
  }

  // -------------------------------------------------------------------------
  // Delta

  onDeltaRequest(req: DeltaDiscoveryRequest): void {
    const type = req.type_url as TypeUrl;
    if (!ALL_TYPES.includes(type)) return;
    const s = this.state(type);
    const nonce = req.response_nonce ?? '';
    const pend = nonce ? s.pending.get(nonce) : undefined;
    if (pend) {
      s.pending.delete(nonce);
      if (req.error_detail && (req.error_detail.message || req.error_detail.code)) {
        // The proxy kept its previous versions of these resources; remember what it refused.
        for (const [n, v] of pend.resources) {
          s.rejected.set(n, v);
          s.known.delete(n);
        }
        s.synced = undefined;
        s.lastNack = { type, nonce, version: [...pend.resources.values()].slice(0, 100).join(','), message: nackMessage(req.error_detail), resources: [...pend.resources.keys()].slice(0, 100), at: new Date().toISOString() };
        this.hooks.nacked(s.lastNack, pend.revision);
      } else {
        s.ackedNonce = nonce;
        s.ackedVersion = this.snapshot?.version;
        this.hooks.acked({ type, version: s.ackedVersion ?? '', nonce, revision: pend.revision, seconds: (performance.now() - pend.at) / 1000 });
      }
    }
    const first = !s.seenRequest;
    s.seenRequest = true;
    // A bare ACK or NACK changes no subscription: nothing to work out again.
    const resubscribes = first || (req.resource_names_subscribe?.length ?? 0) > 0 || (req.resource_names_unsubscribe?.length ?? 0) > 0;
    if (resubscribes) s.synced = undefined;
    if (first && req.initial_resource_versions) for (const [n, v] of Object.entries(req.initial_resource_versions)) s.known.set(n, v);
    const sub = req.resource_names_subscribe ?? [];
    const unsub = req.resource_names_unsubscribe ?? [];
    this.checkNames(type, s.names.size + sub.length, s.names.size);
    if (first && sub.length === 0 && WILDCARD_TYPES.has(type)) s.wildcard = true;
    for (const n of sub) {
      if (n === '*') s.wildcard = true;
      else {
        s.names.add(n);
        s.absent.delete(n);
        s.rejected.delete(n);
      }
    }
    for (const n of unsub) {
      if (n === '*') s.wildcard = false;
      else {
        s.names.delete(n);
        s.known.delete(n);
        s.absent.delete(n);
      }
    }
    if (resubscribes) this.respondDelta(type);
    this.maybeFinishRemoval();
  }

  private respondDelta(type: TypeUrl): void {
    const s = this.state(type);
    const snap = this.snapshot;
    if (!snap) return;
    // Make-before-break matters only when something this stream selects is gone from the new snapshot.
    const mbb = this.previous !== undefined && (type === TYPE_URL.cluster || type === TYPE_URL.endpoint) && this.removedSelected(type, s);
    const fromDiff = s.synced !== undefined && !mbb && this.opts.deltaFromDiff !== false;
    const { changed, removed } = fromDiff ? this.deltaFromDiff(type, s, s.synced!, snap) : this.deltaFromAll(type, s, mbb);
    // known agrees with this snapshot once the answer below is sent, unless the make-before-break union or an oversize resource is in the way.
    s.synced = mbb ? undefined : snap;
    if (!changed.length && !removed.length) return;
    // Split by size: delta responses need not be whole, so several messages are fine.
    const batchBytes = Math.min(this.opts.maxMessageBytes, DELTA_BATCH_BYTES);
    const batches: EncodedResource[][] = [];
    let cur: EncodedResource[] = [];
    let size = 200;
    for (const r of changed) {
      const rs = r.bytes.length + r.name.length + type.length + 40;
      if (rs + 200 > this.opts.maxMessageBytes) {
        this.hooks.oversize(type, rs);
        s.synced = undefined;
        continue;
      }
      if (size + rs > batchBytes && cur.length) {
        batches.push(cur);
        cur = [];
        size = 200;
      }
      cur.push(r);
      size += rs;
    }
    batches.push(cur);
    batches.forEach((batch, i) => {
      const rm = i === batches.length - 1 ? removed : [];
      if (!batch.length && !rm.length) return;
      const nonce = nextNonce();
      const resources = new Map(batch.map((r) => [r.name, r.version]));
      s.pending.set(nonce, { at: performance.now(), resources, removed: rm, revision: this.revision });
      for (const r of batch) s.known.set(r.name, r.version);
      for (const n of rm) s.known.delete(n);
      s.sentNonce = nonce;
      s.sentVersion = this.snapshot!.version;
      const bytes = batch.reduce((a, r) => a + r.bytes.length, 0);
      this.hooks.sendDelta({ system_version_info: this.snapshot!.version, type_url: type, nonce, resources: batch.map((r) => ({ name: r.name, version: r.version, bytes: r.bytes })), removed_resources: rm });
      this.hooks.pushed({ type, version: this.snapshot!.version, nonce, revision: this.revision, bytes, count: batch.length });
    });
  }

  /** Every selected resource compared with what the proxy holds. */
  private deltaFromAll(type: TypeUrl, s: TypeState, withPrevious: boolean): { changed: EncodedResource[]; removed: string[] } {
    const want = new Map<string, EncodedResource>();
    for (const r of this.select(type, s, this.snapshot, withPrevious)) want.set(r.name, r);
    const changed: EncodedResource[] = [];
    for (const [n, r] of want) {
      if (s.known.get(n) === r.version) continue;
      if (s.rejected.get(n) === r.version) continue;
      changed.push(r);
    }
    const removed: string[] = [];
    for (const n of s.known.keys()) if (!want.has(n)) this.gone(s, n, removed);
    for (const n of s.names) if (!want.has(n) && !s.known.has(n)) this.gone(s, n, removed);
    return { changed, removed };
  }

  /**
   * Only what differs between the snapshot `known` agrees with and this one
   * (./prepared.ts diffSnapshots, once per pair for every stream), filtered
   * by this stream's subscription: the same answer as deltaFromAll while the
   * subscription is unchanged, without walking thousands of resources per
   * stream on every push.
   */
  private deltaFromDiff(type: TypeUrl, s: TypeState, from: EncodedSnapshot, to: EncodedSnapshot): { changed: EncodedResource[]; removed: string[] } {
    const d = diffSnapshots(from, to, type);
    const changed: EncodedResource[] = [];
    for (const r of d.changed) {
      if (!(s.wildcard || s.names.has(r.name)) || !this.maySend(type, r.name)) continue;
      if (s.known.get(r.name) === r.version || s.rejected.get(r.name) === r.version) continue;
      changed.push(r);
    }
    const removed: string[] = [];
    for (const n of d.removed) this.gone(s, n, removed);
    return { changed, removed };
  }

  /**
   * `n` is not in what this stream gets: reported removed when the proxy
   * holds it, or when it asked for it by name (once: clients stop waiting
   * for a name that does not exist, and are not told twice).
   */
  private gone(s: TypeState, n: string, removed: string[]): void {
    if (s.known.has(n)) {
      removed.push(n);
      if (s.names.has(n)) s.absent.add(n);
    } else if (s.names.has(n) && !s.absent.has(n)) {
      removed.push(n);
      s.absent.add(n);
    }
  }

  /** Refuses a request that would subscribe more names than the bounds allow (the stream ends). */
  private checkNames(type: TypeUrl, after: number, before: number): void {
    const perType = this.opts.maxNamesPerType ?? Infinity;
    if (after > perType) throw new StreamLimitError(`${after} resource names subscribed for ${shortType(type)}; the limit is ${perType} per type (--xds-max-names-per-type)`);
    let total = after - before;
    for (const st of this.types.values()) total += st.names.size;
    const perStream = this.opts.maxNamesPerStream ?? Infinity;
    if (total > perStream) throw new StreamLimitError(`${total} resource names subscribed on one stream; the limit is ${perStream} (--xds-max-names-per-stream)`);
  }

  /** Short text for logs. */
  describe(): string {
    return `${this.proxy.id} (${this.proxy.kind}, ${this.mode}) ${[...this.types.keys()].map(shortType).join(',')}`;
  }
}
