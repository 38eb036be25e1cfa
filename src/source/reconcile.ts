// The reconcile loop, as wiring only: a Poller per source (poller.ts: queue,
// timer, backoff) runs fetch cycles; each new revision is loaded, the MERGED
// set of all sources validated, and decide.ts (pure) says accepted or
// rejected; this file performs the outcome — state, metrics, logs, the
// 'accepted' / 'rejected' / 'fetch-failed' / 'notice' events — and persists
// the accepted revisions so a restart knows what it served. Fetch bookkeeping
// and the status shape are in status.ts, the webhook route in webhook-route.ts.

import { EventEmitter } from 'node:events';
import type { ConfigSet, Diagnostic, Revision, ServiceIndex } from '../api/types.js';
import { fmtOrigin, isConfigPath, loadRevision, ParseCache, type LoadResult } from '../config/load.js';
import { validate, ValidationCache } from '../validate/index.js';
import type { CompiledPolicy } from '../validate/policies.js';
import { json, type AdminServer, type AdminRequest } from '../admin/server.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { StateStore } from '../state/store.js';
import { TreeStore } from '../state/tree.js';
import { GitFetchError, GitSource, type SourceUpdate } from './git.js';
import { DirSource } from './watch.js';
import { readFolderRevision } from './folder.js';
import { mergeLoads, type SourceLoad } from './merge.js';
import { redact, safeUrl } from './secret.js';
import { decide, planEvaluation, retryCandidates, type SourceView } from './decide.js';
import { Poller } from './poller.js';
import { FetchRecord, sourceStatus, type SourceStatus } from './status.js';
import { webhookRoute } from './webhook-route.js';
import type { SourceSpec } from './spec.js';

export type { SourceStatus } from './status.js';

export interface ReconcilerOptions {
  sources: SourceSpec[];
  /** Holds the Git clones (`sources/<name>.git`) and persisted state (`state/`). */
  stateDir: string;
  policies?: readonly CompiledPolicy[];
  /** Clock in ms (tests). */
  now?: () => number;
  /** Jitter source in [0,1) (tests). */
  random?: () => number;
  /** Cap for the exponential backoff after failed fetches; default 5 minutes. */
  maxBackoffMs?: number;
  /**
   * When false, start() resolves as soon as the revisions a previous run
   * accepted are serving again (restored from the state dir), and the first
   * fetch goes on in the background; when nothing could be restored it still
   * waits for the first fetch. Default true (start() waits for the first fetch).
   */
  awaitFirstFetch?: boolean;
  /** The service index analyzers check hosts and workloads against (default: the config's own ServiceEntries; serve merges in Kubernetes). */
  indexFor?: (config: ConfigSet) => ServiceIndex;
  /**
   * Revisions someone else still needs loadable with `configAt` (a config
   * canary's revision in force before it): their saved folder copies are kept.
   */
  retain?: () => readonly { source: string; commit: string }[];
}

export interface AcceptedEvent {
  config: ConfigSet;
  /** The accepted revision of every source, in source order. */
  revisions: Revision[];
  /** Warnings and infos of the accepted set (no errors). */
  diagnostics: Diagnostic[];
  /** The set accepted before this one (undefined for the first); the rollout controller walks from it to `config`. */
  previous?: ConfigSet;
}

export interface RejectedEvent {
  source: string;
  revision: string;
  diagnostics: Diagnostic[];
}

export interface FetchFailedEvent {
  source: string;
  reason: string;
  message: string;
  consecutiveFailures: number;
}

/** A source is back to a good state: a new revision accepted after a rejection, or a fetch after failed ones. */
export interface RecoveredEvent {
  source: string;
  from: 'rejection' | 'fetch-failure';
  /** The revision it serves now (undefined when nothing is accepted yet). */
  serving?: string;
  /** Failed fetches before this one (from: 'fetch-failure'). */
  failures?: number;
}

export interface NoticeEvent {
  source: string;
  message: string;
}

interface PersistedState {
  version: 1;
  sources: Record<string, { revision: string; commit: string; ref: string; url?: string; acceptedAt: string }>;
}

interface Slot {
  spec: SourceSpec;
  source: GitSource | DirSource;
  cache: ParseCache;
  poller: Poller;
  fetches: FetchRecord;
  /** The newest revision to consider, with its pre-load diagnostics (from a fetch, or restored). */
  candidate?: SourceUpdate;
  accepted?: SourceLoad & { at: number };
  rejected?: { revision: string; at: number; diagnostics: Diagnostic[] };
  persisted?: PersistedState['sources'][string];
  evaluation?: { loadMs: number; validateMs: number };
  /** Rejected since its last acceptance: the next acceptance is a recovery. */
  recovering?: boolean;
  /** The folder copy saved last (its unchanged files are hard-linked into the next). */
  saved?: { key: string; revision: Revision };
}

const metrics = {
  revision: () => metric('gauge', 'meshcd_source_revision_info', 'Accepted revision of each source (value 1)', ['source', 'revision']),
  appliedAt: () => metric('gauge', 'meshcd_source_last_applied_timestamp_seconds', 'When the current revision of each source was accepted', ['source']),
  fetchSeconds: () => metric('histogram', 'meshcd_source_fetch_duration_seconds', 'Duration of a source fetch (Git fetch or folder read)', ['source'], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
  fetchFailures: () => metric('counter', 'meshcd_source_fetch_failures_total', 'Failed source fetches', ['source', 'reason']),
  rejected: () => metric('counter', 'meshcd_source_rejected_revisions_total', 'Revisions rejected by validation', ['source']),
  webhookToApplied: () => metric('histogram', 'meshcd_source_webhook_to_applied_seconds', 'Time from a verified webhook to the new revision accepted', ['source'], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
};

const MAX_REJECTED_DIAGNOSTICS = 200;

export class Reconciler extends EventEmitter {
  private readonly slots = new Map<string, Slot>();
  private readonly store: StateStore;
  private readonly trees: TreeStore;
  private readonly awaitFirstFetch: boolean;
  /** The first fetch and what follows it, when start() did not wait for it. */
  private background: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly policies: readonly CompiledPolicy[] | undefined;
  /** Schema and rule findings of unchanged resources are reused from one evaluation to the next. */
  private readonly validationCache = new ValidationCache();
  private readonly log = logger('source');
  private evaluating: Promise<void> = Promise.resolve();
  private current: AcceptedEvent | undefined;
  private started = false;
  private stopped = false;
  private readonly indexFor: ReconcilerOptions['indexFor'];
  private readonly retain: ReconcilerOptions['retain'];

  constructor(opts: ReconcilerOptions) {
    super();
    this.store = new StateStore(opts.stateDir);
    this.trees = new TreeStore(opts.stateDir);
    this.awaitFirstFetch = opts.awaitFirstFetch ?? true;
    this.now = opts.now ?? Date.now;
    const random = opts.random ?? Math.random;
    const maxBackoffMs = opts.maxBackoffMs ?? 5 * 60_000;
    this.policies = opts.policies;
    this.indexFor = opts.indexFor;
    this.retain = opts.retain;
    for (const spec of opts.sources) {
      if (this.slots.has(spec.name)) throw new Error(`source name "${spec.name}" is used twice`);
      const source = spec.kind === 'git' ? new GitSource(spec, opts.stateDir) : new DirSource(spec);
      if (spec.url?.startsWith('http://') && (spec.auth?.token || spec.auth?.password) && !/^http:\/\/(127\.|localhost[:/]|\[::1\])/.test(spec.url)) {
        this.log.warn({ source: spec.name, url: safeUrl(spec.url) }, 'credentials will be sent over plain HTTP; use https://');
      }
      const fetches = new FetchRecord();
      const slot: Slot = {
        spec,
        source,
        cache: new ParseCache(),
        fetches,
        poller: new Poller({
          intervalMs: spec.pollIntervalMs,
          maxBackoffMs,
          periodic: spec.kind === 'git',
          now: this.now,
          random,
          failures: () => fetches.failures,
          cycle: async () => {
            const fresh = await this.fetchOnce(slot);
            if (fresh) await this.serialize(() => this.guarded(slot, () => this.evaluate(slot)));
          },
        }),
      };
      this.slots.set(spec.name, slot);
    }
  }

  /** The desired state now (last accepted), if any. */
  desired(): AcceptedEvent | undefined {
    return this.current;
  }

  hasAccepted(): boolean {
    return this.current !== undefined;
  }

  /**
   * Serves what the previous run accepted (restored from the local clones and
   * saved folder copies, before any fetch), then fetches every source once,
   * evaluates, and keeps polling/watching. Resolves after the first fetch's
   * evaluation (accepted or not) — or, with `awaitFirstFetch: false`, as soon
   * as the restored revisions are accepted.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const persisted = await this.store.read<PersistedState>('sources');
    for (const slot of this.slots.values()) {
      const p = persisted?.version === 1 ? persisted.sources[slot.spec.name] : undefined;
      // Only trust it for the same repository and ref (a renamed source must not inherit history).
      if (p && p.ref === slot.spec.ref && (p.url ?? '') === (slot.spec.url ?? slot.spec.dir ?? '')) {
        slot.persisted = p;
        if (slot.source instanceof GitSource) slot.source.lastCommit = p.commit;
      }
    }
    await this.restore();
    if (this.awaitFirstFetch || !this.current) return this.firstFetch();
    this.background = this.firstFetch().catch((err) => this.log.error({ err: redact((err as Error)?.message ?? String(err)) }, 'first fetch failed'));
  }

  /** The persisted revision of every source, from the local clone or the saved folder copy; accepted together when all are there. */
  private async restore(): Promise<void> {
    for (const slot of this.slots.values()) {
      const p = slot.persisted;
      if (!p) continue;
      try {
        slot.candidate = await this.updateAt(slot, p.commit);
      } catch (err) {
        this.log.warn({ source: slot.spec.name, revision: p.revision, err: redact((err as Error).message) }, 'cannot restore the last accepted revision; waiting for the first fetch');
      }
    }
    if ([...this.slots.values()].some((s) => !s.candidate)) return;
    this.log.info({ revisions: [...this.slots.values()].map((s) => s.candidate!.revision.id) }, 'serving the last accepted revisions from the state dir; fetching');
    await this.serialize(() => this.guarded([...this.slots.values()][0]!, () => this.evaluate(undefined)));
  }

  /** A source's revision at a commit it accepted before: from the local clone, or the saved folder copy. */
  private async updateAt(slot: Slot, commit: string): Promise<SourceUpdate> {
    if (slot.source instanceof GitSource) return slot.source.revisionAt(commit);
    const revision = await readFolderRevision(this.trees.path(treeKey(slot.spec.name, commit)), { name: slot.spec.name, filter: isConfigPath });
    // The copy must be exactly what was accepted (same paths, same bytes).
    if (revision.commit !== commit) throw new Error(`saved copy does not match ${slot.spec.name}@${commit}`);
    return { revision, changed: true, diagnostics: [], notices: [] };
  }

  /**
   * The merged config at earlier accepted revisions of every source (a config
   * canary's revision in force before it, after a restart), loaded as when
   * they were accepted and not validated again. Throws naming the source
   * whose revision cannot be read.
   */
  async configAt(revisions: readonly { source: string; commit: string }[]): Promise<ConfigSet> {
    for (const r of revisions) if (!this.slots.has(r.source)) throw new Error(`source "${r.source}" is not configured any more`);
    const loads: SourceLoad[] = [];
    for (const slot of this.slots.values()) {
      const want = revisions.find((r) => r.source === slot.spec.name);
      if (!want) throw new Error(`no revision of source "${slot.spec.name}" was kept`);
      let revision: Revision;
      try {
        revision = slot.accepted?.revision.commit === want.commit ? slot.accepted.revision : (await this.updateAt(slot, want.commit)).revision;
      } catch (err) {
        throw new Error(`source "${slot.spec.name}": cannot read ${want.commit}: ${redact((err as Error).message)}`);
      }
      loads.push({ source: slot.spec, revision, load: await loadRevision(revision, { cache: slot.cache, sourceName: slot.spec.name }) });
    }
    return mergeLoads(loads).config;
  }

  private async firstFetch(): Promise<void> {
    const restored = this.current !== undefined;
    // Folders are watched before they are read, so no edit is missed after the read
    // (a change now queues a cycle behind the first fetch).
    for (const slot of this.slots.values()) {
      if (this.stopped) return;
      if (!(slot.source instanceof DirSource)) continue;
      slot.source.onError = (err) => this.log.error({ source: slot.spec.name, err: err.message }, 'watching the folder failed');
      await slot.source.watch(() => void slot.poller.trigger());
    }
    // Through each source's queue, so a webhook arriving now waits its turn.
    const fresh = await Promise.all([...this.slots.values()].map((slot) => slot.poller.exclusive(() => this.fetchOnce(slot))));
    if (this.stopped) return;
    if (!restored) await this.serialize(() => this.guarded([...this.slots.values()][0]!, () => this.evaluate(undefined)));
    else {
      const slots = [...this.slots.values()];
      for (let i = 0; i < slots.length; i++) if (fresh[i]) await this.serialize(() => this.guarded(slots[i]!, () => this.evaluate(slots[i]!)));
    }
    for (const slot of this.slots.values()) if (slot.source instanceof GitSource && !slot.poller.scheduled && !this.stopped) slot.poller.schedule();
  }

  /** Fetches a source now (after any fetch in progress) and evaluates what it finds. */
  refresh(name: string): Promise<void> {
    const slot = this.slots.get(name);
    if (!slot) return Promise.reject(new Error(`unknown source "${name}"`));
    return slot.poller.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const tails: Promise<void>[] = [];
    for (const slot of this.slots.values()) {
      tails.push(slot.poller.stop());
      if (slot.source instanceof DirSource) await slot.source.close();
      else slot.source.close();
    }
    await Promise.all(tails);
    await this.background;
    await this.evaluating.catch(() => undefined);
  }

  status(): SourceStatus[] {
    return [...this.slots.values()].map((slot) => this.statusOf(slot));
  }

  private statusOf(slot: Slot): SourceStatus {
    return sourceStatus(slot.spec, slot.fetches, {
      ...(slot.accepted ? { accepted: { id: slot.accepted.revision.id, at: slot.accepted.at } } : {}),
      ...(slot.rejected ? { rejected: slot.rejected } : {}),
      ...(slot.persisted ? { restoredRevision: slot.persisted.revision } : {}),
      ...(slot.poller.nextFetchAt !== undefined ? { nextFetchAt: slot.poller.nextFetchAt } : {}),
      ...(slot.evaluation ? { evaluation: slot.evaluation } : {}),
    });
  }

  registerAdmin(admin: AdminServer): void {
    admin.setReadyCheck(() => this.hasAccepted());
    admin.route('GET', '/api/v1/sources', () => json(200, { sources: this.status() }));
    // The accepted config as written (the dashboard's mesh graph); ?kind= narrows it.
    admin.route('GET', '/api/v1/config', (req: AdminRequest) => {
      const cur = this.current;
      if (!cur) return json(503, { error: 'no revision accepted yet' });
      const kind = req.query.get('kind');
      const resources = cur.config.resources.filter((r) => kind === null || r.kind === kind);
      return json(200, { revisions: cur.revisions.map((r) => r.id), resources: resources.map((r) => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, origin: r.origin, resource: r.raw })) });
    });
    // A mutating route like the others: it makes meshcd fetch (Git, CPU) on demand, so it needs the admin
    // token. Unauthenticated fetches on demand are `POST /hooks/NAME`, gated by the webhook signature.
    admin.route('POST', '/api/v1/sources/:name/refresh', async (req: AdminRequest) => {
      const slot = this.slots.get(req.params.name!);
      if (!slot) return json(404, { error: `unknown source "${req.params.name}"` });
      await slot.poller.trigger();
      return json(200, this.statusOf(slot));
    }, { auth: 'admin-token' });
    admin.route('POST', '/hooks/:name', webhookRoute((name) => {
      const slot = this.slots.get(name);
      return slot && {
        spec: slot.spec,
        fetch: () => {
          slot.poller.noteWebhook();
          void slot.poller.trigger();
        },
      };
    }));
  }

  // ---------------------------------------------------------------------------

  /** One fetch; records status. True when there is a revision worth evaluating. */
  private async fetchOnce(slot: Slot): Promise<boolean> {
    const name = slot.spec.name;
    const t0 = performance.now();
    let update: SourceUpdate;
    try {
      update = await slot.source.fetch();
    } catch (err) {
      if (this.stopped) return false; // aborted by stop()
      const message = redact((err as Error).message ?? String(err));
      const reason = err instanceof GitFetchError ? err.reason : 'other';
      slot.fetches.failed(message, reason, this.now());
      const failures = slot.fetches.failures;
      metrics.fetchFailures().inc({ source: name, reason });
      this.log.warn({ source: name, reason, failures, serving: slot.accepted?.revision.id ?? null }, `fetch failed: ${message}`);
      this.emit('fetch-failed', { source: name, reason, message, consecutiveFailures: failures } satisfies FetchFailedEvent);
      return false;
    } finally {
      const ms = performance.now() - t0;
      slot.fetches.took(ms);
      metrics.fetchSeconds().observe({ source: name }, ms / 1000);
    }
    const ended = slot.fetches.succeeded(update, this.now());
    if (ended > 0) {
      this.log.info({ source: name, after: ended }, 'fetch recovered');
      this.emit('recovered', { source: name, from: 'fetch-failure', failures: ended, ...(slot.accepted ? { serving: slot.accepted.revision.id } : {}) } satisfies RecoveredEvent);
    }
    for (const message of update.notices) {
      this.log.warn({ source: name }, message);
      this.emit('notice', { source: name, message } satisfies NoticeEvent);
    }
    const prevId = slot.candidate?.revision.id;
    slot.candidate = update;
    return update.revision.id !== prevId || update.revision.id !== slot.accepted?.revision.id;
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const run = this.evaluating.then(fn);
    this.evaluating = run.catch(() => undefined);
    return run;
  }

  /**
   * A failure inside loading or validation (a bug, not bad config) rejects the
   * revision with MCD3000 instead of stopping the loop; the last good state stays.
   */
  private async guarded(slot: Slot, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const revision = slot.candidate?.revision.id ?? '(none)';
      const message = redact((err as Error)?.message ?? String(err));
      this.log.error({ source: slot.spec.name, revision, err: message }, 'internal error while evaluating a revision');
      const diagnostics: Diagnostic[] = [{ code: 'MCD3000', severity: 'error', message: `internal error while loading or validating ${revision}: ${message}` }];
      slot.rejected = { revision, at: this.now(), diagnostics };
      metrics.rejected().inc({ source: slot.spec.name });
      this.emit('rejected', { source: slot.spec.name, revision, diagnostics } satisfies RejectedEvent);
    }
  }

  private views(): SourceView[] {
    return [...this.slots.values()].map((s) => ({
      name: s.spec.name,
      ...(s.accepted ? { accepted: s.accepted.revision.id } : {}),
      ...(s.candidate ? { candidate: s.candidate.revision.id } : {}),
      ...(s.rejected ? { rejected: s.rejected.revision } : {}),
    }));
  }

  /**
   * Evaluates `target`'s candidate merged with the accepted revisions of the
   * others, or (target undefined, at start) every source's candidate together;
   * `decide` says what happens, this performs it.
   */
  private async evaluate(target: Slot | undefined, retry = false): Promise<void> {
    const plan = planEvaluation(this.views(), target?.spec.name, retry);
    if (!plan.evaluate) {
      if (target === undefined) this.log.warn({ waitingFor: [...this.slots.values()].filter((s) => !s.candidate).map((s) => s.spec.name) }, 'not every source has a revision yet; nothing accepted');
      return;
    }
    const parts = plan.parts.map(({ name, use }) => {
      const s = this.slots.get(name)!;
      const update: SourceUpdate = use === 'candidate' ? s.candidate! : { revision: s.accepted!.revision, changed: false, diagnostics: [], notices: [] };
      return { s, update };
    });
    const loads: SourceLoad[] = [];
    const pre: Diagnostic[] = [];
    const t0 = performance.now();
    for (const { s, update } of parts) {
      const load: LoadResult = s.accepted && s.accepted.revision === update.revision ? s.accepted.load : await loadRevision(update.revision, { cache: s.cache, sourceName: s.spec.name });
      loads.push({ source: s.spec, revision: update.revision, load });
      pre.push(...update.diagnostics);
    }
    const merged = mergeLoads(loads);
    const t1 = performance.now();
    const diagnostics = [...pre, ...validate(merged, { cache: this.validationCache, ...(this.policies ? { policies: this.policies } : {}), ...(this.indexFor ? { indexFor: this.indexFor } : {}) })];
    const evaluation = { loadMs: Math.round(t1 - t0), validateMs: Math.round(performance.now() - t1) };
    for (const { s } of parts) s.evaluation = evaluation;
    const decision = decide(parts.map(({ s, update }) => ({ name: s.spec.name, ...(s.accepted ? { accepted: s.accepted.revision.id } : {}), revision: update.revision.id })), diagnostics);
    const inSet = (names: string[]) => parts.filter(({ s }) => names.includes(s.spec.name));
    if (decision.outcome === 'rejected') {
      const errors = decision.errors;
      for (const { s, update } of inSet(decision.blamed)) {
        s.rejected = { revision: update.revision.id, at: this.now(), diagnostics: diagnostics.slice(0, MAX_REJECTED_DIAGNOSTICS) };
        s.recovering = true;
        metrics.rejected().inc({ source: s.spec.name });
        this.log.warn({ source: s.spec.name, revision: update.revision.id, errors: errors.length, first: errors.slice(0, 3).map((d) => `${d.code} ${d.origin ? fmtOrigin(d.origin) : ''} ${d.message}`), serving: s.accepted?.revision.id ?? null }, 'revision rejected');
        this.emit('rejected', { source: s.spec.name, revision: update.revision.id, diagnostics } satisfies RejectedEvent);
      }
      return;
    }
    const at = this.now();
    for (const { s, update } of inSet(decision.changed)) {
      const old = s.accepted?.revision.id;
      if (old) metrics.revision().remove({ source: s.spec.name, revision: old });
      s.accepted = { source: s.spec, revision: update.revision, load: loads.find((l) => l.source === s.spec)!.load, at };
      metrics.revision().set({ source: s.spec.name, revision: update.revision.id }, 1);
      metrics.appliedAt().set({ source: s.spec.name }, at / 1000);
      const webhookAt = s.poller.answeringWebhookAt;
      if (webhookAt !== undefined) {
        metrics.webhookToApplied().observe({ source: s.spec.name }, (at - webhookAt) / 1000);
        s.poller.webhookAnswered();
      }
      this.log.info({ source: s.spec.name, revision: update.revision.id, previous: old ?? null, warnings: decision.warnings, ...evaluation }, 'revision accepted');
    }
    const revisions = [...this.slots.values()].map((s) => s.accepted!.revision);
    const previous = this.current?.config;
    this.current = { config: merged.config, revisions, diagnostics, ...(previous ? { previous } : {}) };
    await this.persist();
    this.emit('accepted', this.current);
    for (const { s } of inSet(decision.changed)) {
      if (!s.recovering) continue;
      s.recovering = false;
      this.emit('recovered', { source: s.spec.name, from: 'rejection', serving: s.accepted!.revision.id } satisfies RecoveredEvent);
    }
    // A revision rejected only because of another source's state may fit now.
    for (const name of retryCandidates(this.views())) await this.evaluate(this.slots.get(name)!, true);
  }

  /** The accepted revision of every source; for folders also a copy of the accepted files (saved before the state names it). */
  private async persist(): Promise<void> {
    const sources: PersistedState['sources'] = {};
    const keep = new Set<string>();
    try {
      for (const s of this.slots.values()) {
        if (!s.accepted) continue;
        const { revision } = s.accepted;
        sources[s.spec.name] = { revision: revision.id, commit: revision.commit, ref: s.spec.ref, url: s.spec.url ?? s.spec.dir ?? '', acceptedAt: new Date(s.accepted.at).toISOString() };
        if (s.spec.kind !== 'dir') continue;
        const key = treeKey(s.spec.name, revision.commit);
        const prior = s.saved;
        await this.trees.save(key, revision.paths, (p) => revision.read(p), prior && { key: prior.key, same: (p) => { const id = revision.blobId(p); return id !== undefined && id === prior.revision.blobId(p); } });
        s.saved = { key, revision };
        keep.add(key);
      }
      for (const r of this.retain?.() ?? []) if (this.slots.get(r.source)?.spec.kind === 'dir') keep.add(treeKey(r.source, r.commit));
      await this.store.write('sources', { version: 1, sources } satisfies PersistedState);
      await this.trees.prune(keep);
    } catch (err) {
      this.log.error({ err: redact((err as Error).message) }, 'cannot persist accepted revisions');
    }
  }
}

/** Where a folder source's accepted copy is saved: by source name and content digest. */
function treeKey(source: string, digest: string): string {
  return `${source}@${digest}`;
}
