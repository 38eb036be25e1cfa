// The reconcile loop. Owns the sources: polls Git (with jitter, backing off
// on failure), watches folders, takes webhooks and manual refreshes. Every
// new revision is loaded and the MERGED set of all sources validated; valid →
// it becomes the desired state ('accepted'), invalid → rejected whole and the
// previous state stays ('rejected'). A failed fetch keeps the last good
// revision serving. The last accepted revision ids are persisted so a
// restart knows what it served (and can serve it from the local clone while
// the remote is unreachable).

import { EventEmitter } from 'node:events';
import type { ConfigSet, Diagnostic, Revision } from '../api/types.js';
import { loadRevision, ParseCache, type LoadResult } from '../config/load.js';
import { validate, hasErrors, ValidationCache } from '../validate/index.js';
import type { CompiledPolicy } from '../validate/policies.js';
import { json, type AdminServer, type AdminRequest } from '../admin/server.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { StateStore } from '../state/store.js';
import { GitFetchError, GitSource, type SourceUpdate } from './git.js';
import { DirSource } from './watch.js';
import { mergeLoads, type SourceLoad } from './merge.js';
import { readSecret, redact, safeUrl } from './secret.js';
import { pushedRef, verifyWebhook } from './webhook.js';
import type { SourceSpec } from './spec.js';

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

export interface NoticeEvent {
  source: string;
  message: string;
}

export interface SourceStatus {
  name: string;
  kind: 'git' | 'dir';
  /** Git URL without credentials, or the folder. */
  url: string;
  ref: string;
  path: string;
  namespaces?: string[];
  /** The accepted (serving) revision of this source. */
  revision?: string;
  acceptedAt?: string;
  /** The revision seen by the last successful fetch (may be rejected). */
  fetchedRevision?: string;
  lastFetchTime?: string;
  lastFetchDurationMs?: number;
  lastError?: { message: string; reason: string; at: string; consecutiveFailures: number };
  nextFetchAt?: string;
  lastRejected?: { revision: string; at: string; diagnostics: Diagnostic[] };
  /** Force-pushes, tag moves and the like, newest last (at most 20). */
  notices: { at: string; message: string }[];
  /** The revision persisted by a previous run, when this run has not accepted one yet. */
  restoredRevision?: string;
  webhook: boolean;
  /** Time spent in the last evaluation this source took part in (load = parse + merge). */
  lastEvaluation?: { loadMs: number; validateMs: number };
}

interface PersistedState {
  version: 1;
  sources: Record<string, { revision: string; commit: string; ref: string; url?: string; acceptedAt: string }>;
}

interface SourceState {
  spec: SourceSpec;
  source: GitSource | DirSource;
  cache: ParseCache;
  accepted?: SourceLoad & { at: number };
  /** Latest fetched revision and its pre-load diagnostics. */
  latest?: SourceUpdate;
  rejected?: { revision: string; at: number; diagnostics: Diagnostic[] };
  lastFetch?: number;
  lastFetchDurationMs?: number;
  error?: { message: string; reason: string; at: number };
  failures: number;
  notices: { at: number; message: string }[];
  timer?: NodeJS.Timeout;
  nextFetchAt?: number;
  tail: Promise<void>;
  queued?: Promise<void>;
  webhookAt?: number;
  /** The webhook time the running fetch cycle answers. */
  cycleWebhookAt?: number;
  persisted?: PersistedState['sources'][string];
  /** Re-evaluate a rejected revision once: another source changed around it. */
  retry?: boolean;
  evaluation?: { loadMs: number; validateMs: number };
}

const metrics = {
  revision: () => metric('gauge', 'meshcd_source_revision_info', 'Accepted revision of each source (value 1)', ['source', 'revision']),
  appliedAt: () => metric('gauge', 'meshcd_source_last_applied_timestamp_seconds', 'When the current revision of each source was accepted', ['source']),
  fetchSeconds: () => metric('histogram', 'meshcd_source_fetch_duration_seconds', 'Duration of a source fetch (Git fetch or folder read)', ['source'], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
  fetchFailures: () => metric('counter', 'meshcd_source_fetch_failures_total', 'Failed source fetches', ['source', 'reason']),
  rejected: () => metric('counter', 'meshcd_source_rejected_revisions_total', 'Revisions rejected by validation', ['source']),
  webhookToApplied: () => metric('histogram', 'meshcd_source_webhook_to_applied_seconds', 'Time from a verified webhook to the new revision accepted', ['source'], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
  webhooks: () => metric('counter', 'meshcd_source_webhooks_total', 'Webhook requests by result', ['source', 'result']),
};

const MAX_NOTICES = 20;
const MAX_REJECTED_DIAGNOSTICS = 200;

export class Reconciler extends EventEmitter {
  private readonly states = new Map<string, SourceState>();
  private readonly store: StateStore;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly maxBackoffMs: number;
  private readonly policies: readonly CompiledPolicy[] | undefined;
  /** Schema and rule findings of unchanged resources are reused from one evaluation to the next. */
  private readonly validationCache = new ValidationCache();
  private readonly log = logger('source');
  private evaluating: Promise<void> = Promise.resolve();
  private current: AcceptedEvent | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: ReconcilerOptions) {
    super();
    this.store = new StateStore(opts.stateDir);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5 * 60_000;
    this.policies = opts.policies;
    for (const spec of opts.sources) {
      if (this.states.has(spec.name)) throw new Error(`source name "${spec.name}" is used twice`);
      const source = spec.kind === 'git' ? new GitSource(spec, opts.stateDir) : new DirSource(spec);
      if (spec.url?.startsWith('http://') && (spec.auth?.token || spec.auth?.password) && !/^http:\/\/(127\.|localhost[:/]|\[::1\])/.test(spec.url)) {
        this.log.warn({ source: spec.name, url: safeUrl(spec.url) }, 'credentials will be sent over plain HTTP; use https://');
      }
      this.states.set(spec.name, { spec, source, cache: new ParseCache(), failures: 0, notices: [], tail: Promise.resolve() });
    }
  }

  /** The desired state now (last accepted), if any. */
  desired(): AcceptedEvent | undefined {
    return this.current;
  }

  hasAccepted(): boolean {
    return this.current !== undefined;
  }

  /** Fetches every source once, evaluates, then keeps polling/watching. Resolves after the first evaluation (accepted or not). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const persisted = await this.store.read<PersistedState>('sources');
    for (const st of this.states.values()) {
      const p = persisted?.version === 1 ? persisted.sources[st.spec.name] : undefined;
      // Only trust it for the same repository and ref (a renamed source must not inherit history).
      if (p && p.ref === st.spec.ref && (p.url ?? '') === (st.spec.url ?? st.spec.dir ?? '')) {
        st.persisted = p;
        if (st.source instanceof GitSource) st.source.lastCommit = p.commit;
      }
    }
    await Promise.all(
      [...this.states.values()].map((st) => {
        // Through the source's queue, so a webhook arriving now waits its turn.
        const run = st.tail.then(() => this.fetchOnce(st, true));
        st.tail = run.then(() => undefined, () => undefined);
        return run;
      }),
    );
    if (this.stopped) return;
    await this.serialize(() => this.guarded([...this.states.values()][0]!, () => this.evaluateAll()));
    for (const st of this.states.values()) {
      if (st.source instanceof DirSource) {
        st.source.onError = (err) => this.log.error({ source: st.spec.name, err: err.message }, 'watching the folder failed');
        await st.source.watch(() => void this.enqueue(st));
      } else if (!st.timer) {
        this.schedule(st);
      }
    }
  }

  /** Fetches a source now (after any fetch in progress) and evaluates what it finds. */
  refresh(name: string): Promise<void> {
    const st = this.states.get(name);
    if (!st) return Promise.reject(new Error(`unknown source "${name}"`));
    return this.enqueue(st);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const st of this.states.values()) {
      clearTimeout(st.timer);
      st.timer = undefined;
      if (st.source instanceof DirSource) await st.source.close();
      else st.source.close();
    }
    await Promise.all([...this.states.values()].map((st) => st.tail));
    await this.evaluating.catch(() => undefined);
  }

  status(): SourceStatus[] {
    return [...this.states.values()].map((st) => this.statusOf(st));
  }

  private statusOf(st: SourceState): SourceStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const s: SourceStatus = {
      name: st.spec.name,
      kind: st.spec.kind,
      url: st.spec.kind === 'git' ? safeUrl(st.spec.url!) : st.spec.dir!,
      ref: st.spec.ref,
      path: st.spec.path,
      notices: st.notices.map((n) => ({ at: iso(n.at)!, message: n.message })),
      webhook: st.spec.webhookSecret !== undefined,
    };
    if (st.spec.namespaces) s.namespaces = st.spec.namespaces;
    if (st.accepted) {
      s.revision = st.accepted.revision.id;
      s.acceptedAt = iso(st.accepted.at);
    } else if (st.persisted) s.restoredRevision = st.persisted.revision;
    if (st.latest) s.fetchedRevision = st.latest.revision.id;
    if (st.lastFetch !== undefined) s.lastFetchTime = iso(st.lastFetch);
    if (st.lastFetchDurationMs !== undefined) s.lastFetchDurationMs = st.lastFetchDurationMs;
    if (st.error) s.lastError = { message: st.error.message, reason: st.error.reason, at: iso(st.error.at)!, consecutiveFailures: st.failures };
    if (st.nextFetchAt !== undefined) s.nextFetchAt = iso(st.nextFetchAt);
    if (st.evaluation) s.lastEvaluation = st.evaluation;
    if (st.rejected) s.lastRejected = { revision: st.rejected.revision, at: iso(st.rejected.at)!, diagnostics: st.rejected.diagnostics };
    return s;
  }

  registerAdmin(admin: AdminServer): void {
    admin.setReadyCheck(() => this.hasAccepted());
    admin.route('GET', '/api/v1/sources', () => json(200, { sources: this.status() }));
    admin.route('POST', '/api/v1/sources/:name/refresh', async (req: AdminRequest) => {
      const st = this.states.get(req.params.name!);
      if (!st) return json(404, { error: `unknown source "${req.params.name}"` });
      await this.enqueue(st);
      return json(200, this.statusOf(st));
    });
    admin.route('POST', '/hooks/:name', (req: AdminRequest) => this.webhook(req));
  }

  private async webhook(req: AdminRequest) {
    const name = req.params.name!;
    const st = this.states.get(name);
    if (!st) return json(404, { error: `unknown source "${name}"` });
    if (!st.spec.webhookSecret) {
      metrics.webhooks().inc({ source: name, result: 'disabled' });
      return json(403, { error: `source "${name}" has no webhook secret configured` });
    }
    let secret: string;
    try {
      secret = await readSecret(st.spec.webhookSecret, `${name}: webhook secret`);
    } catch (err) {
      this.log.error({ source: name, err: redact((err as Error).message) }, 'webhook secret unavailable');
      return json(500, { error: 'webhook secret unavailable' });
    }
    const verdict = verifyWebhook(req.headers, req.body, secret);
    if (!verdict.ok) {
      metrics.webhooks().inc({ source: name, result: 'unauthorized' });
      this.log.warn({ source: name, reason: verdict.reason }, 'webhook rejected');
      return json(401, { error: verdict.reason });
    }
    const ref = pushedRef(req.body);
    if (ref !== undefined && st.spec.kind === 'git' && !/^[0-9a-f]{40}$/.test(st.spec.ref) && ref !== st.spec.ref) {
      metrics.webhooks().inc({ source: name, result: 'ignored' });
      return json(202, { status: 'ignored', reason: `push to ${ref}, source follows ${st.spec.ref}` });
    }
    metrics.webhooks().inc({ source: name, result: 'accepted' });
    st.webhookAt ??= this.now();
    this.log.info({ source: name, kind: verdict.kind }, 'webhook: fetching');
    void this.enqueue(st);
    return json(202, { status: 'fetching', source: name });
  }

  // ---------------------------------------------------------------------------

  private enqueue(st: SourceState): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (st.queued) return st.queued;
    const run = st.tail.then(async () => {
      st.queued = undefined;
      if (this.stopped) return;
      // A webhook arriving from now on waits for the next cycle (its push may be newer than this fetch).
      st.cycleWebhookAt = st.webhookAt;
      st.webhookAt = undefined;
      try {
        const fresh = await this.fetchOnce(st, false);
        if (fresh) await this.serialize(() => this.guarded(st, () => this.evaluate(st)));
      } finally {
        st.cycleWebhookAt = undefined;
        // Polling must go on whatever happened above.
        if (st.source instanceof GitSource && !this.stopped) this.schedule(st);
      }
    });
    st.queued = run;
    st.tail = run.catch(() => undefined);
    return run;
  }

  private schedule(st: SourceState): void {
    clearTimeout(st.timer);
    if (this.stopped) return;
    const base = st.spec.pollIntervalMs;
    const delay = st.failures > 0
      ? Math.min(this.maxBackoffMs, Math.min(base, 1000) * 2 ** Math.min(st.failures - 1, 20))
      : base * (0.9 + 0.2 * this.random());
    st.nextFetchAt = this.now() + delay;
    st.timer = setTimeout(() => {
      st.timer = undefined;
      void this.enqueue(st);
    }, delay);
    st.timer.unref?.();
  }

  /** One fetch; records status. True when there is a revision worth evaluating. */
  private async fetchOnce(st: SourceState, initial: boolean): Promise<boolean> {
    const name = st.spec.name;
    const t0 = performance.now();
    let update: SourceUpdate;
    try {
      update = await st.source.fetch();
    } catch (err) {
      if (this.stopped) return false; // aborted by stop()
      const message = redact((err as Error).message ?? String(err));
      const reason = err instanceof GitFetchError ? err.reason : 'other';
      st.failures++;
      st.error = { message, reason, at: this.now() };
      metrics.fetchFailures().inc({ source: name, reason });
      this.log.warn({ source: name, reason, failures: st.failures, serving: st.accepted?.revision.id ?? null }, `fetch failed: ${message}`);
      this.emit('fetch-failed', { source: name, reason, message, consecutiveFailures: st.failures } satisfies FetchFailedEvent);
      if (initial && st.persisted && st.source instanceof GitSource) {
        // Serve what the previous run served, from the local clone.
        try {
          st.latest = await st.source.revisionAt(st.persisted.commit);
          this.log.warn({ source: name, revision: st.latest.revision.id }, 'remote unreachable at start: using the last accepted revision from the local clone');
          return true;
        } catch {
          /* nothing local either */
        }
      }
      return false;
    } finally {
      const ms = performance.now() - t0;
      st.lastFetchDurationMs = Math.round(ms);
      metrics.fetchSeconds().observe({ source: name }, ms / 1000);
    }
    st.lastFetch = this.now();
    if (st.failures > 0) this.log.info({ source: name, after: st.failures }, 'fetch recovered');
    st.failures = 0;
    st.error = undefined;
    for (const message of update.notices) {
      st.notices.push({ at: this.now(), message });
      if (st.notices.length > MAX_NOTICES) st.notices.shift();
      this.log.warn({ source: name }, message);
      this.emit('notice', { source: name, message } satisfies NoticeEvent);
    }
    const prevId = st.latest?.revision.id;
    st.latest = update;
    return update.revision.id !== prevId || update.revision.id !== st.accepted?.revision.id;
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
  private async guarded(st: SourceState, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const revision = st.latest?.revision.id ?? '(none)';
      const message = redact((err as Error)?.message ?? String(err));
      this.log.error({ source: st.spec.name, revision, err: message }, 'internal error while evaluating a revision');
      const diagnostics: Diagnostic[] = [{ code: 'MCD3000', severity: 'error', message: `internal error while loading or validating ${revision}: ${message}` }];
      st.rejected = { revision, at: this.now(), diagnostics };
      metrics.rejected().inc({ source: st.spec.name });
      this.emit('rejected', { source: st.spec.name, revision, diagnostics } satisfies RejectedEvent);
    }
  }

  /** Startup: evaluate all sources together once every source has a revision. */
  private async evaluateAll(): Promise<void> {
    const missing = [...this.states.values()].filter((st) => !st.latest);
    if (missing.length > 0) {
      this.log.warn({ waitingFor: missing.map((s) => s.spec.name) }, 'not every source has a revision yet; nothing accepted');
      return;
    }
    const first = [...this.states.values()][0]!;
    await this.evaluate(first, true);
  }

  /** Evaluates `st`'s latest revision merged with the accepted revisions of the others. */
  private async evaluate(st: SourceState, all = false): Promise<void> {
    const latest = st.latest;
    if (!latest) return;
    if (!all && latest.revision.id === st.accepted?.revision.id) return;
    if (!all && st.rejected?.revision === latest.revision.id && !st.retry) return;
    st.retry = false;
    // Before the first acceptance every source needs a revision of its own.
    const parts: { st: SourceState; update: SourceUpdate }[] = [];
    for (const other of this.states.values()) {
      if (other === st || all) {
        if (!other.latest) return;
        parts.push({ st: other, update: other.latest });
      } else if (other.accepted) {
        parts.push({ st: other, update: { revision: other.accepted.revision, changed: false, diagnostics: [], notices: [] } });
      } else if (other.latest) {
        parts.push({ st: other, update: other.latest });
      } else return;
    }
    const loads: SourceLoad[] = [];
    const pre: Diagnostic[] = [];
    const t0 = performance.now();
    for (const { st: s, update } of parts) {
      const load: LoadResult = s.accepted && s.accepted.revision === update.revision ? s.accepted.load : await loadRevision(update.revision, { cache: s.cache, sourceName: s.spec.name });
      loads.push({ source: s.spec, revision: update.revision, load });
      pre.push(...update.diagnostics);
    }
    const merged = mergeLoads(loads);
    const t1 = performance.now();
    const diagnostics = [...pre, ...validate(merged, { cache: this.validationCache, ...(this.policies ? { policies: this.policies } : {}) })];
    const evaluation = { loadMs: Math.round(t1 - t0), validateMs: Math.round(performance.now() - t1) };
    for (const { st: s } of parts) s.evaluation = evaluation;
    const changedSources = parts.filter(({ st: s, update }) => s.accepted?.revision.id !== update.revision.id);
    if (hasErrors(diagnostics)) {
      const errors = diagnostics.filter((d) => d.severity === 'error');
      // Blame the sources whose new revision is part of this set.
      for (const { st: s, update } of changedSources) {
        s.rejected = { revision: update.revision.id, at: this.now(), diagnostics: diagnostics.slice(0, MAX_REJECTED_DIAGNOSTICS) };
        metrics.rejected().inc({ source: s.spec.name });
        this.log.warn({ source: s.spec.name, revision: update.revision.id, errors: errors.length, first: errors.slice(0, 3).map((d) => `${d.code} ${d.origin ? `${d.origin.source ? `${d.origin.source}:` : ''}${d.origin.file}:${d.origin.line}` : ''} ${d.message}`), serving: s.accepted?.revision.id ?? null }, 'revision rejected');
        this.emit('rejected', { source: s.spec.name, revision: update.revision.id, diagnostics } satisfies RejectedEvent);
      }
      return;
    }
    const at = this.now();
    for (const { st: s, update } of changedSources) {
      const old = s.accepted?.revision.id;
      if (old) metrics.revision().remove({ source: s.spec.name, revision: old });
      s.accepted = { source: s.spec, revision: update.revision, load: loads.find((l) => l.source === s.spec)!.load, at };
      metrics.revision().set({ source: s.spec.name, revision: update.revision.id }, 1);
      metrics.appliedAt().set({ source: s.spec.name }, at / 1000);
      if (s.cycleWebhookAt !== undefined) {
        metrics.webhookToApplied().observe({ source: s.spec.name }, (at - s.cycleWebhookAt) / 1000);
        s.cycleWebhookAt = undefined;
      }
      this.log.info({ source: s.spec.name, revision: update.revision.id, previous: old ?? null, warnings: diagnostics.filter((d) => d.severity === 'warning').length, ...evaluation }, 'revision accepted');
    }
    const revisions = [...this.states.values()].map((s) => s.accepted!.revision);
    const previous = this.current?.config;
    this.current = { config: merged.config, revisions, diagnostics, ...(previous ? { previous } : {}) };
    await this.persist();
    this.emit('accepted', this.current);
    // A revision rejected only because of another source's state may fit now.
    for (const other of this.states.values()) {
      if (other.latest && other.rejected?.revision === other.latest.revision.id && other.accepted?.revision.id !== other.latest.revision.id) {
        other.retry = true;
        await this.evaluate(other);
      }
    }
  }

  private async persist(): Promise<void> {
    const sources: PersistedState['sources'] = {};
    for (const s of this.states.values()) {
      if (s.accepted) sources[s.spec.name] = { revision: s.accepted.revision.id, commit: s.accepted.revision.commit, ref: s.spec.ref, url: s.spec.url ?? s.spec.dir ?? '', acceptedAt: new Date(s.accepted.at).toISOString() };
    }
    try {
      await this.store.write('sources', { version: 1, sources } satisfies PersistedState);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot persist accepted revisions');
    }
  }
}
