// The snapshot cache: it holds snapshots and decides which one each
// connected proxy is served. What a snapshot contains is the business of the
// SnapshotBuilder it is given (./builder.ts: model, translation, secrets,
// encoding); the server sees it only as a SnapshotWatcher (../watcher.ts).
//
// Revisions. The cache holds the current revision and, during a config
// canary, a second one:
//   update(inputs, id)                 the current revision (what everyone gets)
//   setCanary({id, inputs}, inCohort)  proxies for which inCohort(proxy) is
//                                      true get the canary revision, the rest
//                                      the current one; called again with a new
//                                      predicate it re-evaluates every connected
//                                      proxy and pushes only to those whose
//                                      snapshot changed
//   setCanary(undefined, …)            the canary ends: everyone on current
// A proxy that connects mid-canary gets its cohort's revision; a proxy is
// never served two revisions at once (all its streams share one snapshot).
//   revisionOf(proxyId), proxies()     which revision each proxy is on
//   affected()                         during a canary, the connected proxies
//                                      whose snapshot differs between the two
//                                      revisions (what the canary changes)
//
// Classes. Proxies whose builder class (PreparedRevision.classOf) is equal
// share one snapshot per revision, built once. Subscribers hear only about
// proxies whose snapshot version changed. A refused snapshot (inconsistent
// or failing the strict checks: a meshcd bug) is logged and kept for /debug;
// the class keeps its last good snapshot and its proxies what they had.
//
// Scheduling. update() and setCanary() return at once; the work runs in
// slices of about `sliceMs`, letting the event loop serve in between, and
// each class's proxies are notified as soon as that class is built, so the
// first proxies get their push while the rest still build. Updates that
// arrive meanwhile coalesce (the newest wins). flush() finishes all pending
// work now (tests, shutdown).
// Imports: src/api, src/util, ./builder, ./snapshot, ../watcher.
// A little over 500 lines: revisions, cohorts and the sliced rebuild share one
// state (which class of which revision each proxy is served from), and this
// header documents the API the rollout runner and serve build on.

import type { Diagnostic, ProxyInfo } from '../../api/types.js';
import { logger } from '../../util/log.js';
import { metric } from '../../util/metrics.js';
import type { EncodedSnapshot } from './snapshot.js';
import type { SnapshotWatch, SnapshotWatcher } from '../watcher.js';
import type { ClassBuild, ModelInputs, PreparedRevision, SnapshotBuilder } from './builder.js';

export * from './snapshot.js';
export * from './builder.js';

export interface CacheOptions {
  /** Work on a rebuild for about this long before letting the event loop run (ms, default 20). */
  sliceMs?: number;
}

/** Proxies (by id) whose snapshot changed, all to the same snapshot. */
export type SnapshotListener = (proxyIds: readonly string[], snapshot: EncodedSnapshot) => void;

/** A proxy's slot during a config canary. */
export type Cohort = 'current' | 'canary';

export interface CanaryRevision {
  id: string;
  inputs: ModelInputs;
}

/** A connected proxy and the revision it is served. */
export interface ProxyRevision {
  proxy: ProxyInfo;
  /** The revision its snapshot was built from (undefined before any). */
  revision: string | undefined;
  cohort: Cohort;
}

export interface ClassStatus {
  key: string;
  /** Which revision slot the class belongs to (`canary` only during a config canary). */
  cohort: Cohort;
  revision: string;
  proxies: number;
  version?: string;
  error?: { revision: string; errors: string[]; at: Date };
  diagnostics: Diagnostic[];
}

type Notify = (snapshot: EncodedSnapshot, revision: string | undefined) => void;

interface ClassState {
  key: string;
  representative: ProxyInfo;
  /** Proxies served from this class (ids). */
  members: Set<string>;
  /** Last good snapshot and the revision it came from. */
  snapshot?: EncodedSnapshot;
  snapshotRevision?: string;
  last?: ClassBuild;
  error?: ClassStatus['error'];
  /** The cache's epoch this class was built in (an invalidation makes every class stale). */
  epoch: number;
}

interface Rev {
  cohort: Cohort;
  prepared: PreparedRevision;
  classes: Map<string, ClassState>;
  /** The revision this one replaced, for last-good snapshots and diagnostics, until every class was rebuilt. */
  prev?: Rev;
}

interface Entry {
  proxy: ProxyInfo;
  watchers: Set<Notify>;
  rev?: Rev;
  key?: string;
  snapshot?: EncodedSnapshot;
  revision?: string;
}

interface Job {
  /** (rev, class) groups still to build, each with the proxies to move onto it. */
  groups: { rev: Rev; key: string; entries: Entry[] }[];
  next: number;
  /** Milliseconds of work so far (the metric counts work, not waiting). */
  worked: number;
}

const refused = metric('counter', 'meshcd_xds_snapshot_refused_total', 'Snapshots refused because a resource failed the strict proto checks or the snapshot was inconsistent (a meshcd bug)');
const translateSeconds = metric('histogram', 'meshcd_xds_translate_seconds', 'Work (not waiting) to build the model and every proxy class for one revision', [], [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const classesGauge = metric('gauge', 'meshcd_xds_proxy_classes', 'Distinct translation keys (classes of proxy) with connected proxies');

export class SnapshotCache implements SnapshotWatcher {
  private readonly log = logger('xds-cache');
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<SnapshotListener>();
  private current: Rev | undefined;
  private canary: Rev | undefined;
  private inCohort: (proxy: ProxyInfo) => boolean = () => false;
  private pending: { id: string; inputs: ModelInputs } | undefined;
  private pendingCanary: { canary: CanaryRevision | undefined } | undefined;
  private job: Job | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  private epoch = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly sliceMs: number;
  private readonly stopInvalidate: (() => void) | undefined;
  /** Revisions prepared (a burst of updates coalesces into one). */
  rebuilds = 0;

  constructor(private readonly builder: SnapshotBuilder, opts: CacheOptions = {}) {
    this.sliceMs = opts.sliceMs ?? 20;
    this.stopInvalidate = builder.onInvalidate?.(() => this.refresh());
  }

  /** Id of the current revision (the newest given to update() and prepared). */
  get revision(): string | undefined {
    return this.pending?.id ?? this.current?.prepared.id;
  }

  /** Id of the canary revision, during a config canary. */
  get canaryRevision(): string | undefined {
    return this.pendingCanary ? this.pendingCanary.canary?.id : this.canary?.prepared.id;
  }

  // ---------------------------------------------------------------------------
  // SnapshotWatcher

  watch(proxy: ProxyInfo, onSnapshot: Notify): SnapshotWatch {
    const { entry } = this.registerEntry(proxy);
    entry.watchers.add(onSnapshot);
    let cancelled = false;
    return {
      current: entry.snapshot,
      get revision() {
        return entry.revision;
      },
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        entry.watchers.delete(onSnapshot);
        // Another stream of the same proxy (a reconnect) keeps it registered.
        if (entry.watchers.size === 0 && this.entries.get(proxy.id) === entry) this.unregister(proxy.id);
      },
    };
  }

  /** Hear about every proxy whose snapshot changed (grouped by snapshot). */
  onSnapshot(l: SnapshotListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  // ---------------------------------------------------------------------------
  // Revisions

  /** The current revision: every proxy outside a canary cohort is served it. */
  update(inputs: ModelInputs, revision: string): void {
    this.pending = { id: revision, inputs };
    this.schedule();
  }

  /**
   * Start, change or end a config canary. Proxies for which `inCohort` is
   * true are served `canary`, the rest the current revision. Calling it
   * again with the same canary id and a new predicate only moves proxies
   * between revisions; `undefined` puts everyone back on current.
   */
  setCanary(canary: CanaryRevision | undefined, inCohort: (proxy: ProxyInfo) => boolean = () => true): void {
    this.pendingCanary = { canary };
    this.inCohort = inCohort;
    this.schedule();
  }

  /** Rebuild every class (something besides a revision changed: the builder said so). */
  refresh(): void {
    this.epoch++;
    if (this.pending || this.pendingCanary || this.job) {
      this.startJob();
      this.schedule();
      return;
    }
    this.startJob();
    this.runJob(true);
  }

  /** Finish every pending update and rebuild now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.apply();
    this.runJob(true);
  }

  /** Resolves once every pending update and rebuild is done (without doing them now, as flush() does). */
  idle(): Promise<void> {
    if (!this.pending && !this.pendingCanary && !this.job && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Which revision a connected proxy is served (undefined before any or when unknown). */
  revisionOf(proxyId: string): string | undefined {
    return this.entries.get(proxyId)?.revision;
  }

  /** Every registered proxy with the revision it is on. */
  proxies(): ProxyRevision[] {
    return [...this.entries.values()].map((e) => ({ proxy: e.proxy, revision: e.revision, cohort: e.rev?.cohort ?? 'current' }));
  }

  /**
   * During a config canary: the connected proxies whose snapshot under the
   * canary revision differs from the one under the current revision (built
   * on demand, in slices), with the revision each is on now. Empty when no
   * canary is set.
   */
  async affected(): Promise<ProxyRevision[]> {
    await this.idle();
    const out: ProxyRevision[] = [];
    let sliceStart = performance.now();
    for (const e of [...this.entries.values()]) {
      const cur = this.current;
      const can = this.canary;
      if (!cur || !can) return [];
      if (this.entries.get(e.proxy.id) !== e) continue;
      const a = this.classFor(cur, e.proxy, false);
      const b = this.classFor(can, e.proxy, false);
      if (a.snapshot?.version !== b.snapshot?.version) out.push({ proxy: e.proxy, revision: e.revision, cohort: e.rev?.cohort ?? 'current' });
      if (performance.now() - sliceStart > this.sliceMs) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Proxies

  /** A proxy connected (or changed kind); returns its current snapshot (built now if its class is new). */
  register(proxy: ProxyInfo): { key?: string; snapshot?: EncodedSnapshot } {
    const { entry } = this.registerEntry(proxy);
    return { key: entry.key, snapshot: entry.snapshot };
  }

  unregister(proxyId: string): void {
    const e = this.entries.get(proxyId);
    if (!e) return;
    this.entries.delete(proxyId);
    this.leave(e);
  }

  /** The snapshot a proxy is being served. */
  snapshotFor(proxyId: string): EncodedSnapshot | undefined {
    return this.entries.get(proxyId)?.snapshot;
  }

  /** The current revision's snapshot of a class. */
  snapshotOf(key: string): EncodedSnapshot | undefined {
    return this.current?.classes.get(key)?.snapshot;
  }

  keyOf(proxyId: string): string | undefined {
    return this.entries.get(proxyId)?.key;
  }

  /** Per class with proxies (current revision first): proxies, snapshot version, last refusal, translation diagnostics. */
  status(): ClassStatus[] {
    const out: ClassStatus[] = [];
    for (const rev of [this.current, this.canary]) {
      if (!rev) continue;
      for (const [key, c] of rev.classes) {
        if (c.members.size === 0) continue;
        out.push({ key, cohort: rev.cohort, revision: rev.prepared.id, proxies: c.members.size, version: c.snapshot?.version, error: c.error, diagnostics: c.last?.diagnostics ?? [] });
      }
    }
    return out;
  }

  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.job = undefined;
    this.stopInvalidate?.();
    for (const fn of this.idleWaiters.splice(0)) fn();
  }

  // ---------------------------------------------------------------------------

  private registerEntry(proxy: ProxyInfo): { entry: Entry } {
    let entry = this.entries.get(proxy.id);
    if (entry) {
      this.leave(entry);
      entry.proxy = proxy;
    } else {
      entry = { proxy, watchers: new Set() };
      this.entries.set(proxy.id, entry);
    }
    const before = entry.snapshot;
    const rev = this.revFor(proxy);
    if (rev) this.assign(entry, rev, this.classFor(rev, proxy, true));
    // Another stream of the same proxy hears about a change its reconnect caused.
    if (entry.snapshot && entry.snapshot.version !== before?.version && before) for (const fn of [...entry.watchers]) fn(entry.snapshot, entry.revision);
    return { entry };
  }

  private leave(e: Entry): void {
    if (!e.rev || e.key === undefined) return;
    const c = e.rev.classes.get(e.key);
    if (c && c.members.delete(e.proxy.id) && c.members.size === 0) {
      e.rev.classes.delete(e.key);
      this.countClasses();
    }
    e.rev = undefined;
    e.key = undefined;
  }

  private revFor(proxy: ProxyInfo): Rev | undefined {
    return this.canary && this.inCohort(proxy) ? this.canary : this.current;
  }

  private countClasses(): void {
    classesGauge.set((this.current?.classes.size ?? 0) + (this.canary?.classes.size ?? 0));
  }

  /** The class of `proxy` under `rev`, built (or rebuilt after an invalidation) when needed. */
  private classFor(rev: Rev, proxy: ProxyInfo, member: boolean): ClassState {
    const key = rev.prepared.classOf(proxy);
    let c = rev.classes.get(key);
    if (!c) {
      c = { key, representative: proxy, members: new Set(), epoch: -1 };
      rev.classes.set(key, c);
      if (member) this.countClasses();
    }
    if (c.epoch !== this.epoch) this.buildClass(rev, c);
    return c;
  }

  private buildClass(rev: Rev, c: ClassState): void {
    const prior = c.epoch >= 0 ? c : rev.prev?.classes.get(c.key);
    c.epoch = this.epoch;
    let built: ClassBuild;
    try {
      built = rev.prepared.build(c.representative, prior?.last);
    } catch (err) {
      built = { errors: [`building the snapshot failed: ${(err as Error).message}`], diagnostics: prior?.last?.diagnostics ?? [] };
    }
    c.last = built;
    if (!built.snapshot) {
      // A refused class keeps its last good snapshot (or, new, none: its proxies keep what they had).
      c.snapshot = prior?.snapshot;
      c.snapshotRevision = prior?.snapshotRevision;
      c.error = { revision: rev.prepared.id, errors: built.errors ?? [], at: new Date() };
      refused.inc();
      this.log.error({ key: c.key, proxy: c.representative.id, revision: rev.prepared.id, errors: (built.errors ?? []).slice(0, 10) }, 'refusing to publish an invalid or inconsistent snapshot (meshcd bug); proxies keep their previous config');
      return;
    }
    c.error = undefined;
    // Same content as before: keep the old object so streams see no change.
    c.snapshot = prior?.snapshot?.version === built.snapshot.version ? prior.snapshot : built.snapshot;
    c.snapshotRevision = rev.prepared.id;
  }

  /** Serve `e` from class `c` of `rev`; true when its snapshot changed. */
  private assign(e: Entry, rev: Rev, c: ClassState): boolean {
    if (e.rev !== rev || e.key !== c.key) {
      this.leave(e);
      e.rev = rev;
      e.key = c.key;
      c.members.add(e.proxy.id);
    }
    const snap = c.snapshot ?? e.snapshot;
    if (!snap) return false;
    if (c.snapshot) e.revision = c.snapshotRevision;
    if (snap === e.snapshot || snap.version === e.snapshot?.version) {
      e.snapshot = snap;
      return false;
    }
    e.snapshot = snap;
    return true;
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = undefined;
    this.apply();
    this.runJob(false);
    if (!this.pending && !this.pendingCanary && !this.job && !this.scheduled) for (const fn of this.idleWaiters.splice(0)) fn();
  };

  /** Prepare pending revisions and plan the rebuild they need. */
  private apply(): void {
    const p = this.pending;
    const pc = this.pendingCanary;
    this.pending = undefined;
    this.pendingCanary = undefined;
    if (!p && !pc) return;
    const t0 = performance.now();
    if (p) {
      try {
        const prepared = this.builder.prepare(p.id, p.inputs, this.current?.prepared);
        this.current = { cohort: 'current', prepared, classes: new Map(), ...(this.current ? { prev: withoutChain(this.current) } : {}) };
        this.rebuilds++;
      } catch (err) {
        this.log.error({ revision: p.id, err: (err as Error).message }, 'building the mesh model failed; keeping the previous config (meshcd bug)');
      }
    }
    if (pc) {
      const c = pc.canary;
      if (!c) this.canary = undefined;
      else if (c.id !== this.canary?.prepared.id) {
        try {
          const prepared = this.builder.prepare(c.id, c.inputs, (this.canary ?? this.current)?.prepared);
          const prev = this.canary ?? this.current;
          this.canary = { cohort: 'canary', prepared, classes: new Map(), ...(prev ? { prev: withoutChain(prev) } : {}) };
          this.rebuilds++;
        } catch (err) {
          this.log.error({ revision: c.id, err: (err as Error).message }, 'building the canary revision failed; proxies stay where they are (meshcd bug)');
        }
      }
    }
    this.startJob(performance.now() - t0);
  }

  /** Plan: every proxy, grouped by the (revision, class) it should be served from. */
  private startJob(worked = 0): void {
    const groups = new Map<Rev, Map<string, Entry[]>>();
    for (const e of this.entries.values()) {
      const rev = this.revFor(e.proxy);
      if (!rev) continue;
      const key = rev.prepared.classOf(e.proxy);
      let byKey = groups.get(rev);
      if (!byKey) groups.set(rev, (byKey = new Map()));
      let l = byKey.get(key);
      if (!l) byKey.set(key, (l = []));
      l.push(e);
    }
    const list: Job['groups'] = [];
    for (const [rev, byKey] of groups) for (const [key, entries] of byKey) list.push({ rev, key, entries });
    this.job = { groups: list, next: 0, worked: (this.job?.worked ?? 0) + worked };
  }

  /** Build and publish class by class; yield after `sliceMs` unless `all`. */
  private runJob(all: boolean): void {
    const job = this.job;
    if (!job) return;
    const t0 = performance.now();
    while (job.next < job.groups.length) {
      const { rev, key, entries } = job.groups[job.next++]!;
      if (rev !== this.current && rev !== this.canary) continue;
      const live = entries.filter((e) => this.entries.get(e.proxy.id) === e && this.revFor(e.proxy) === rev);
      if (!live.length) continue;
      let c = rev.classes.get(key);
      if (!c) {
        c = { key, representative: live[0]!.proxy, members: new Set(), epoch: -1 };
        rev.classes.set(key, c);
      }
      if (c.epoch !== this.epoch) this.buildClass(rev, c);
      const changed: Entry[] = [];
      for (const e of live) if (this.assign(e, rev, c)) changed.push(e);
      if (changed.length) this.publish(changed, c.snapshot ?? changed[0]!.snapshot!);
      if (!all && performance.now() - t0 > this.sliceMs && job.next < job.groups.length) {
        job.worked += performance.now() - t0;
        this.schedule();
        return;
      }
    }
    job.worked += performance.now() - t0;
    this.job = undefined;
    translateSeconds.observe(job.worked / 1000);
    // Classes nobody is served from any more go; the replaced revisions are let go.
    for (const rev of [this.current, this.canary]) {
      if (!rev) continue;
      rev.prev = undefined;
      for (const [key, c] of rev.classes) if (c.members.size === 0) rev.classes.delete(key);
    }
    this.countClasses();
    this.builder.settled?.();
    for (const fn of this.idleWaiters.splice(0)) fn();
  }

  private publish(changed: Entry[], snapshot: EncodedSnapshot): void {
    const ids = changed.map((e) => e.proxy.id);
    for (const l of this.listeners) l(ids, snapshot);
    for (const e of changed) for (const fn of [...e.watchers]) fn(e.snapshot!, e.revision);
  }
}

/** A replaced revision kept only for its classes' last builds. */
function withoutChain(rev: Rev): Rev {
  return { cohort: rev.cohort, prepared: rev.prepared, classes: rev.classes };
}
