// The rollout runner: the thin shell around the pure controller. It feeds
// the controller observations (accepted revisions, timer ticks, analysis
// results, write-back and webhook results, manual commands) and performs the
// actions it returns, in order: state persisted atomically
// (`<stateDir>/state/rollouts.json`) before the overlay is applied, the
// overlay merged over every Rollout and handed to `apply` (serve passes it
// to XdsServer.update), measurements through the AnalysisProvider, Git
// write-back through the WriteBack, webhooks through a WebhookSender.
// Everything runs through one queue, so observations are applied one at a
// time; slow I/O (queries, pushes, webhooks) runs outside the queue and
// comes back as an observation.
// Over 500 lines: a config canary's restart (stable revisions persisted and
// loaded again, a cohort tracked again) and one-at-a-time release need the
// queue and the entries; the pure planning is in ./canary-plan.ts.
// Imports: src/api, src/mesh/names.ts, src/state, src/util, ./*.

import type { ConfigSet, Resource, RolloutOverlay, RouteOverride } from '../api/types.js';
import { resolveHost } from '../mesh/names.js';
import type { StateStore } from '../state/store.js';
import { logger, type Logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import type { AnalysisProvider, Measurement, RolloutSpec, TemplateArgs, ThresholdRange, WebhookSpec, WebhookType, WriteBack, WriteBackResult } from './contracts.js';
import { canaryOf, canaryWeightOf, configServingOf, INITIAL_STATE, nextWakeup, overlayOf, stableOf, step, type Action, type Command, type Observation, type RolloutState } from './controller.js';
import { configTarget, meshDefaultRollout, rolloutSpecOf, targetRouting } from './spec.js';
import { ConfigCanaryDriver, type CanaryPort, type Driving, type RevisionRef } from './config-canary.js';
import { planCanaries } from './canary-plan.js';
import { RevisionGate } from './revision-gate.js';
import type { TargetRouting } from './spec.js';

export interface WebhookPayload {
  rollout: string;
  type: WebhookType;
  phase: string;
  stepIndex: number;
  canaryWeight: number;
  message: string;
}

/** Sends one webhook (HMAC-signed by the implementation); never throws. */
export interface WebhookSender {
  send(hook: WebhookSpec, payload: WebhookPayload): Promise<{ ok: boolean; message?: string }>;
}

/** Where rollout states persist: the state dir (StateStore), or the cluster when replicated (src/cluster). */
export type RolloutStore = Pick<StateStore, 'read' | 'write'>;

export interface RunnerOptions {
  store: RolloutStore;
  /**
   * Replicated: only the leader steps rollouts (timers, analysis, write-back,
   * webhooks, persistence); the others serve the overlay of the states the
   * leader persisted, re-read by `reload()`. Default: always the leader.
   */
  isLeader?: () => boolean;
  /** Serve the config with this overlay (serve: XdsServer.update + flush). */
  apply: (config: ConfigSet, overlay: RolloutOverlay, revisionId: string) => void;
  analysis?: AnalysisProvider;
  writeBack?: WriteBack;
  webhooks?: WebhookSender;
  /** Prometheus address when a Rollout names none. */
  prometheus?: string;
  author?: { name: string; email: string };
  /** A revision's file (relative to its source's folder) as a path from the repository root; default: unchanged. */
  repoPath?: (source: string, file: string) => string;
  /** Called after a write-back pushed to the tracked branch (serve: fetch the source now); also when a new leader finds a state for a revision it has not accepted yet. */
  refreshSource?: (source: string) => void;
  /**
   * Replicated: how long a new leader waits to accept the revision the
   * persisted state was stepped with before it steps with its own (default
   * 30 s); until then it serves the persisted overlay as it is.
   */
  catchUpMs?: number;
  /** Config canaries (strategy: proxies): the cache's second revision and the server's ACK/NACK per proxy (config-canary.ts). */
  canary?: CanaryPort;
  /**
   * The config at earlier accepted revisions (serve: Reconciler.configAt) —
   * after a restart mid-canary, the revision in force before it.
   */
  loadConfig?: (revisions: readonly RevisionRef[]) => Promise<ConfigSet>;
  /** After a restart, how long members of a cohort that was still ACKing are waited for to reconnect (default 30 s). */
  resumeGraceMs?: number;
  now?: () => number;
  log?: Logger;
}

interface Entry {
  key: string;
  resource: Resource<'Rollout'>;
  spec: RolloutSpec;
  state: RolloutState;
  timer?: NodeJS.Timeout;
  /** A config canary whose change waits for the one walking (one at a time): its key. */
  queuedBehind?: string;
  /** Loaded from the persisted states and not stepped by this process yet (a restart). */
  restored?: boolean;
  /** MeshConfig's configCanary: covers only what no strategy: proxies Rollout covers. */
  meshDefault?: boolean;
}

/** A Rollout and what this revision says of its target. */
interface Item {
  entry: Entry;
  routing: TargetRouting | undefined;
  commit?: string;
}

/** `<stateDir>/state/rollouts.json`. */
interface StateDoc {
  version: number;
  rollouts: Record<string, RolloutState>;
  /** While a config canary walks (or holds the old revision after a rollback): the revisions everyone outside the cohort is on. */
  configCanary?: { stable: { id: string; revisions: RevisionRef[] } };
}

const STATE_DOC = 'rollouts';
const PHASES = ['Idle', 'Progressing', 'Paused', 'Succeeded', 'Failed', 'Aborted'] as const;

const phaseGauge = metric('gauge', 'meshcd_rollout_phase', 'Rollout phase (1 for the current phase)', ['namespace', 'name', 'phase']);
const weightGauge = metric('gauge', 'meshcd_rollout_canary_weight', 'Percent of the target traffic routed the new way (0-100)', ['namespace', 'name']);
const analysisCounter = metric('counter', 'meshcd_rollout_analysis_total', 'Analysis measurements by verdict', ['namespace', 'name', 'metric', 'result']);
const rollbackCounter = metric('counter', 'meshcd_rollout_rollbacks_total', 'Automatic rollbacks', ['namespace', 'name']);

export class RolloutRunner {
  private readonly entries = new Map<string, Entry>();
  private persisted: Record<string, RolloutState> = {};
  /** The stable revisions a previous run persisted (loaded once a config canary drives again after a restart). */
  private persistedStable: { id: string; revisions: RevisionRef[] } | undefined;
  private config: ConfigSet | undefined;
  private revisionId = '';
  private revisions: readonly RevisionRef[] = [];
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly listeners = new Set<(rollout: RolloutStatus) => void>();

  private readonly canary: ConfigCanaryDriver | undefined;
  /** Replicated: which persisted states this replica may step with its revision (./revision-gate.ts). */
  private readonly gate: RevisionGate;

  constructor(private readonly opts: RunnerOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger('rollout');
    this.gate = new RevisionGate({ ...(opts.catchUpMs !== undefined ? { catchUpMs: opts.catchUpMs } : {}), now: this.now, log: this.log, ...(opts.refreshSource ? { refresh: opts.refreshSource } : {}), retry: () => void this.enqueue(async () => (this.config ? this.apply(this.config, this.revisions) : undefined)) });
    this.canary = opts.canary
      ? new ConfigCanaryDriver(opts.canary, (key, o) => void this.enqueue(async () => {
          const e = this.entries.get(key);
          if (e && this.leads()) await this.observe(e, o).done;
        }), this.log)
      : undefined;
  }

  /** Load the persisted states (a restart resumes them once their Rollout is seen in an accepted revision). */
  async start(): Promise<void> {
    const doc = await this.opts.store.read<StateDoc>(STATE_DOC);
    if (doc && doc.version === 1 && doc.rollouts && typeof doc.rollouts === 'object') {
      this.persisted = doc.rollouts;
      const st = doc.configCanary?.stable;
      this.persistedStable = st && typeof st.id === 'string' && Array.isArray(st.revisions) && st.revisions.every((r) => typeof r?.source === 'string' && typeof r.commit === 'string' && typeof r.id === 'string') ? st : undefined;
    } else if (doc) this.log.warn('state/rollouts.json has an unknown shape; starting rollouts from scratch');
  }

  /**
   * Revisions that must stay loadable (the Reconciler keeps their saved folder
   * copies): the ones in force now, and a config canary's stable ones.
   */
  revisionsInUse(): RevisionRef[] {
    const stable = this.canary?.stableRevisions()?.revisions ?? this.persistedStable?.revisions ?? [];
    return [...this.revisions, ...stable];
  }

  stop(): void {
    this.stopped = true;
    this.canary?.close();
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.gate.stop();
  }

  /** Wait for queued work (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  /** An accepted revision: step every Rollout with its target's routing, then serve the config with the overlay. */
  accepted(config: ConfigSet, revisions: readonly { source: string; commit: string; id: string }[]): Promise<void> {
    return this.enqueue(() => this.apply(config, revisions));
  }

  /** accepted()'s work, inside the queue. */
  private async apply(config: ConfigSet, revisions: readonly { source: string; commit: string; id: string }[]): Promise<void> {
    // The config in force now is what a config canary starting with this revision keeps serving to the rest.
    // Not when the same config is applied again (reload(): a new leader, a follower re-reading the leader's
    // states; a held state retried): its entries are cleared, so nothing would look walking, and the new
    // revision would become the "stable" one everyone outside the cohort is served.
    if (config !== this.config) this.canary?.revision(this.config && { config: this.config, id: this.revisionId, revisions: this.revisions }, this.driving() !== undefined);
    this.config = config;
    this.revisions = revisions.map((r) => ({ source: r.source, commit: r.commit, id: r.id }));
    this.revisionId = revisions.map((r) => r.id).join(',');
    this.gate.accepted(revisions);
    const items: Item[] = [];
    const meshDefault = meshDefaultRollout(config);
    for (const ro of [...config.ofKind('Rollout'), ...(meshDefault ? [meshDefault] : [])]) {
      const key = `${ro.metadata.namespace}/${ro.metadata.name}`;
      const spec = rolloutSpecOf(ro);
      let entry = this.entries.get(key);
      if (!entry) {
        entry = { key, resource: ro, spec, state: this.persisted[key] ?? INITIAL_STATE, ...(this.persisted[key] ? { restored: true } : {}) };
        this.entries.set(key, entry);
      }
      entry.resource = ro;
      entry.spec = spec;
      entry.meshDefault = ro === meshDefault;
      // A follower starts from what the leader persisted and takes the same (pure) step for this revision, so it
      // serves what the leader is about to persist rather than Git's end state; it performs nothing.
      if (!this.leads()) entry.state = this.persisted[key] ?? INITIAL_STATE;
      items.push({ entry, ...this.targetOf(entry, config, revisions) });
    }
    const seen = new Set(items.map((i) => i.entry.key));
    for (const [key, e] of this.entries) {
      if (seen.has(key)) continue;
      this.gate.release(key);
      if (e.timer) clearTimeout(e.timer);
      this.entries.delete(key);
      this.log.info({ rollout: key }, 'Rollout removed from the config; its overlay is dropped');
    }
    const plan = planCanaries(items, this.now());
    const pending: { entry: Entry; actions: Action[] }[] = [];
    const resumed: Entry[] = [];
    for (const { entry, routing, commit } of items) {
      const p = plan.get(entry.key);
      if (entry.queuedBehind !== p?.queuedBehind && p?.queuedBehind) this.log.info({ rollout: entry.key, walking: p.queuedBehind }, 'config canary: one at a time; this change is carried by the one walking and waits for its outcome');
      entry.queuedBehind = p?.queuedBehind;
      const restored = entry.restored;
      delete entry.restored;
      // Queued: not stepped, so its known content stays as it was and the change is still seen as one later.
      if (p?.queuedBehind) continue;
      const r = step(entry.state, entry.spec, { kind: 'revision', routing: p?.routing ?? routing, ...(commit ? { commit } : {}) }, this.now());
      if (r.state !== entry.state && this.gate.hold(entry.key, entry.state.known, this.leads(), this.revisionId)) continue;
      this.gate.release(entry.key);
      if (restored && r.state === entry.state) resumed.push(entry);
      entry.state = r.state;
      if (this.leads()) pending.push({ entry, actions: r.actions });
    }
    await this.restoreStable();
    if (!this.leads()) return this.serve();
    // One write for all, before the config (with its overlay) is served.
    await this.persist();
    this.serve();
    for (const p of pending) await this.perform(p.entry, p.actions.filter((a) => a.kind !== 'Persist' && a.kind !== 'SetOverlay'));
    for (const e of resumed) this.resumeCohort(e);
  }

  /** What a revision says of a Rollout's target (its routes, or a config canary's covered content), and the commit that says it. */
  private targetOf(e: Entry, config: ConfigSet, revisions: readonly RevisionRef[]): { routing: TargetRouting | undefined; commit?: string } {
    const explicitCanaries = () => config.ofKind('Rollout').map((r) => rolloutSpecOf(r)).filter((sp) => sp.strategy === 'proxies');
    const routing = e.spec.strategy !== 'proxies' ? targetRouting(config, e.resource.metadata.namespace, e.spec) : configTarget(config, e.spec, e.meshDefault ? explicitCanaries() : []);
    const rev = revisions.find((r) => r.source === routing?.source) ?? (revisions.length === 1 ? revisions[0] : undefined);
    const sourced = routing && rev && !routing.source ? { ...routing, source: rev.source } : routing;
    return { routing: sourced, ...(rev ? { commit: rev.commit } : {}) };
  }

  /** After a restart, the config at the stable revisions a previous run persisted, for the config canary driving again. */
  private async restoreStable(): Promise<void> {
    const p = this.persistedStable;
    if (!this.canary || this.canary.hasStable() || !p || !this.driving()) return;
    if (!this.opts.loadConfig) return void this.log.warn('config canary: no way to load the revision in force before it (not running in serve)');
    try {
      const config = await this.opts.loadConfig(p.revisions);
      this.canary.restoreStable({ config, id: p.id, revisions: p.revisions });
      this.log.info({ stable: p.id, canary: this.revisionId }, 'config canary: the revision in force before it is loaded again; the cohort keeps the new one, everyone else the old one');
    } catch (err) {
      this.log.error({ stable: p.id, err: (err as Error).message }, 'config canary: cannot load the revision in force before it');
    }
  }

  /** After a restart, the cohort of a walk: select it again (after the grace), track its members' ACKs again, or (ACKed) watch for NACKs. */
  private resumeCohort(e: Entry): void {
    const s = e.state;
    if (!this.canary || this.driving()?.key !== e.key || (s.phase !== 'Progressing' && s.phase !== 'Paused') || !s.cohort) return;
    if (this.canary.tracks(e.key, s.change.generation)) return;
    // ACKed before the restart: nothing to wait for, but a NACK of the new revision (a member sent it again on reconnecting) still rolls back.
    if (s.cohort.acked) return this.canary.watch(e.key, s.change.generation, s.cohort.members ?? [], this.revisionId);
    const grace = this.opts.resumeGraceMs ?? 30_000;
    const generation = s.change.generation;
    if (s.cohort.members) return this.canary.resume(e.key, generation, s.cohort.members, this.revisionId, grace);
    // Selected from the proxies connected after the grace, so the ones reconnecting now are counted.
    this.log.info({ rollout: e.key, graceMs: grace }, 'config canary: selecting the cohort again after a restart, once proxies had time to reconnect');
    const cohort = s.cohort;
    const t = setTimeout(() => void this.enqueue(async () => {
      const cur = this.entries.get(e.key)?.state;
      if (!cur || !('change' in cur) || cur.change.generation !== generation || !('cohort' in cur) || !cur.cohort || cur.cohort.acked || cur.cohort.members || !this.leads()) return;
      await this.canary!.select(e.key, e.spec, generation, cohort.size, cohort.threshold ?? -1, this.revisionId).catch((err: Error) => this.log.error({ rollout: e.key, err: err.message }, 'config canary: cannot select a cohort'));
    }), grace);
    t.unref?.();
  }

  /**
   * Re-read the persisted states and start over from them with the config in
   * force: a follower serves the leader's latest overlay; a new leader resumes
   * stepping where the old one persisted (as after a restart).
   */
  reload(): Promise<void> {
    // One job: the config is the one in force when it runs. (Read before it ran, a revision accepted meanwhile
    // would be undone by the older one — a replica back on the old routing reads that as "Git reverted".)
    return this.enqueue(async () => {
      await this.start();
      for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
      this.entries.clear();
      if (this.config) await this.apply(this.config, this.revisions);
    });
  }

  private leads(): boolean {
    return this.opts.isLeader?.() ?? true;
  }

  /** A manual command; resolves with the rejection reason when it does not apply. */
  command(namespace: string, name: string, command: Command): Promise<{ found: boolean; rejected?: string }> {
    return this.enqueue(async () => {
      const e = this.entries.get(`${namespace}/${name}`);
      if (!e) return { found: false };
      if (!this.leads()) return { found: true, rejected: 'this replica is not the leader; send the command to the leader' };
      const r = this.observe(e, { kind: 'command', command });
      await r.done;
      return { found: true, ...(r.rejected ? { rejected: r.rejected } : {}) };
    });
  }

  list(): RolloutStatus[] {
    return [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((e) => this.statusFor(e));
  }

  status(namespace: string, name: string): RolloutStatus | undefined {
    const e = this.entries.get(`${namespace}/${name}`);
    return e ? this.statusFor(e) : undefined;
  }

  /** Called with a Rollout's status each time it steps (the dashboard's live updates); returns the unsubscribe. */
  onChange(listener: (rollout: RolloutStatus) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** statusOf, and for a config canary its cohort and which revision each connected proxy is on. */
  private statusFor(e: Entry): RolloutStatus {
    const st = statusOf(e.resource, e.spec, e.state);
    if (e.spec.strategy !== 'proxies') return st;
    const s = e.state;
    if (e.queuedBehind) st.queuedBehind = e.queuedBehind;
    const cohort = (s.phase === 'Progressing' || s.phase === 'Paused') && s.cohort ? s.cohort : undefined;
    const revisions = this.canary && this.driving()?.key === e.key ? this.canary.served() : undefined;
    return {
      ...st,
      strategy: 'proxies',
      ...(cohort ? { cohort: { ...(cohort.threshold !== undefined ? { threshold: cohort.threshold } : {}), members: cohort.members ?? [], eligible: cohort.eligible ?? 0, acked: cohort.acked, pending: this.canary?.pending() ?? [] } } : {}),
      ...(this.canary ? { proxies: this.canary.proxies() } : {}),
      ...(revisions ? { revisions } : {}),
    };
  }

  /** The overlay of every Rollout, merged. */
  overlay(): RolloutOverlay {
    return { overrides: [...this.entries.values()].flatMap((e) => overlayOf(e.state)) };
  }

  // -------------------------------------------------------------------------

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      (err: unknown) => this.log.error({ err: (err as Error).message }, 'rollout runner step failed'),
    );
    return run;
  }

  /** Step one Rollout and perform the actions (inside the queue). */
  private observe(e: Entry, o: Observation): { rejected?: string; done: Promise<void> } {
    const r = step(e.state, e.spec, o, this.now());
    if (r.rejected) return { rejected: r.rejected, done: Promise.resolve() };
    e.state = r.state;
    return { done: this.perform(e, r.actions).then(() => this.release(e)) };
  }

  /**
   * A config canary that walked no more: the ones queued behind it go on.
   * Promoted, it carried their changes to every proxy: they take them as in
   * force (walkedBy). Rolled back or aborted, they wait for Git's next
   * revision (the revert), which they walk on their own if their change is
   * still in it.
   */
  private async release(lead: Entry): Promise<void> {
    if (lead.state.phase !== 'Succeeded' || !this.config) return;
    const queued = [...this.entries.values()].filter((x) => x.queuedBehind === lead.key);
    for (const q of queued) {
      delete q.queuedBehind;
      const t = this.targetOf(q, this.config, this.revisions);
      const r = step(q.state, q.spec, { kind: 'revision', routing: t.routing, ...(t.commit ? { commit: t.commit } : {}), walkedBy: lead.key }, this.now());
      q.state = r.state;
      await this.perform(q, r.actions);
    }
  }

  private async perform(e: Entry, actions: Action[]): Promise<void> {
    for (const a of actions) {
      switch (a.kind) {
        case 'Persist':
          await this.persist();
          break;
        case 'SetOverlay':
          this.serve();
          break;
        case 'Event': {
          const fields = { rollout: e.key, phase: e.state.phase, canaryWeight: canaryWeightOf(e.state) };
          if (a.level === 'warn') this.log.warn(fields, a.message);
          else this.log.info(fields, a.message);
          if (/^rolled back/.test(a.message)) rollbackCounter.inc({ namespace: e.resource.metadata.namespace, name: e.resource.metadata.name });
          break;
        }
        case 'Measure':
          void this.measure(e, a.generation, a.metrics);
          break;
        case 'WriteBack':
          void this.writeBack(e, a);
          break;
        case 'Webhook':
          for (const hook of e.spec.webhooks.filter((w) => a.names.includes(w.name))) void this.webhook(e, a.generation, hook, a.message);
          break;
        case 'SelectCohort':
          if (this.canary) void this.canary.select(e.key, e.spec, a.generation, a.size, a.previous, this.revisionId).catch((err: Error) => this.log.error({ rollout: e.key, err: err.message }, 'config canary: cannot select a cohort'));
          else {
            this.log.warn({ rollout: e.key }, 'config canaries need meshcd serve (its cache serves two revisions); nothing to select here');
            void this.later(e, { kind: 'cohortSelected', generation: a.generation, threshold: -1, members: [], eligible: 0 });
          }
          break;
      }
    }
    this.metrics(e);
    this.schedule(e);
    if (this.listeners.size === 0) return;
    const status = this.statusFor(e);
    for (const l of this.listeners) {
      try {
        l(status);
      } catch (err) {
        this.log.warn({ rollout: e.key, err: (err as Error).message }, 'a rollout change listener failed');
      }
    }
  }

  private async persist(): Promise<void> {
    const rollouts: Record<string, RolloutState> = {};
    for (const [k, e] of this.entries) rollouts[k] = e.state;
    this.persisted = rollouts;
    // Written before the canary is served: a restart must find the revisions everyone outside the cohort is on.
    const stable = this.driving() ? (this.canary?.stableRevisions() ?? this.persistedStable) : undefined;
    if (!stable) this.persistedStable = undefined;
    const doc: StateDoc = { version: 1, rollouts, ...(stable ? { configCanary: { stable: { id: stable.id, revisions: [...stable.revisions] } } } : {}) };
    try {
      await this.opts.store.write(STATE_DOC, doc);
    } catch (err) {
      // Keep serving: a full disk must not freeze traffic mid-rollout; a restart would resume from the last good write.
      this.log.error({ err: (err as Error).message }, 'cannot write state/rollouts.json');
    }
  }

  private serve(): void {
    if (!this.config || this.stopped) return;
    if (!this.canary) return this.opts.apply(this.config, this.overlay(), this.revisionId);
    this.canary.serve(this.driving(), { config: this.config, overlay: this.overlay(), id: this.revisionId }, (x) => this.opts.apply(x.config, x.overlay, x.id));
  }

  /** The config canary that decides what the cache serves: the first (by namespace/name) not serving the new revision to all. */
  private driving(): Driving | undefined {
    const e = [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).find((x) => x.spec.strategy === 'proxies' && configServingOf(x.state) !== undefined && configServingOf(x.state)!.serve !== 'new');
    return e && { key: e.key, spec: e.spec, state: e.state };
  }

  private metrics(e: Entry): void {
    const { namespace, name } = e.resource.metadata;
    for (const p of PHASES) phaseGauge.set({ namespace, name, phase: p }, e.state.phase === p ? 1 : 0);
    weightGauge.set({ namespace, name }, canaryWeightOf(e.state));
  }

  private schedule(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    const at = nextWakeup(e.state);
    if (at === undefined || this.stopped || !this.leads()) return;
    // setTimeout holds at most ~24.8 days; a later deadline wakes up early and reschedules.
    const delay = Math.min(Math.max(0, at - this.now()), 2 ** 31 - 1);
    e.timer = setTimeout(() => void this.enqueue(async () => (this.entries.get(e.key) === e ? this.observe(e, { kind: 'tick' }).done : undefined)), delay);
  }

  private later(e: Entry, o: Observation): Promise<void> {
    return this.enqueue(async () => {
      if (this.entries.get(e.key) === e && this.leads()) await this.observe(e, o).done;
    });
  }

  private async measure(e: Entry, generation: number, names: string[]): Promise<void> {
    const a = e.spec.analysis;
    const now = this.now();
    const address = a?.prometheus?.address ?? this.opts.prometheus;
    const args = this.templateArgs(e);
    const results = await Promise.all(
      names.map(async (name): Promise<Measurement> => {
        const m = a?.metrics.find((x) => x.name === name);
        if (!m) return { metric: name, at: now, verdict: 'error', message: 'metric not defined' };
        if (!this.opts.analysis) return { metric: name, at: now, verdict: 'error', message: 'no analysis provider configured' };
        if (!address) return { metric: name, at: now, verdict: 'error', message: 'no Prometheus address (spec.analysis.prometheus.address or serve --prometheus)' };
        if (!args) return { metric: name, at: now, verdict: 'error', message: 'the target has no route being walked out' };
        try {
          return await this.opts.analysis.measure(m, args, address, now);
        } catch (err) {
          return { metric: name, at: now, verdict: 'error', message: (err as Error).message };
        }
      }),
    );
    for (const r of results) analysisCounter.inc({ namespace: e.resource.metadata.namespace, name: e.resource.metadata.name, metric: r.metric, result: r.verdict });
    await this.later(e, { kind: 'measurements', generation, measurements: results });
  }

  /** Template arguments from the first route being walked out: stable = the destination losing most weight, canary = the one gaining most. */
  private templateArgs(e: Entry): TemplateArgs | undefined {
    const s = e.state;
    if (!('change' in s) || !this.config) return undefined;
    if (e.spec.strategy === 'proxies') {
      const pods = this.canary?.pods('cohort' in s ? (s.cohort?.members ?? []) : []) ?? { cohort: [], rest: [] };
      return { namespace: e.resource.metadata.namespace, service: '', interval: e.spec.analysis?.interval ?? '1m', canary: { host: '', pods: pods.cohort }, stable: { host: '', pods: pods.rest } };
    }
    const to = s.change.to.find((t) => s.change.from.some((f) => f.id === t.id));
    const from = to && s.change.from.find((f) => f.id === to.id);
    if (!to || !from) return undefined;
    const ns = e.resource.metadata.namespace;
    const settings = { clusterDomain: this.config.mesh.clusterDomain };
    const side = (d: { host: string; subset?: string }) => {
      const host = resolveHost(d.host, ns, settings);
      const dr = this.config!.ofKind('DestinationRule').find((x) => resolveHost(x.spec.host ?? '', x.metadata.namespace, settings) === host);
      const version = d.subset ? dr?.spec.subsets?.find((x) => x.name === d.subset)?.labels?.version : undefined;
      return { host, ...(d.subset ? { subset: d.subset } : {}), ...(version ? { version } : {}) };
    };
    const canary = side(canaryOf(from, to));
    return { namespace: ns, service: canary.host, interval: e.spec.analysis?.interval ?? '1m', stable: side(stableOf(from, to)), canary };
  }

  private async writeBack(e: Entry, a: Extract<Action, { kind: 'WriteBack' }>): Promise<void> {
    let result: WriteBackResult;
    if (!this.opts.writeBack) result = { kind: 'failed', error: 'no Git write-back configured for this source', notGit: true };
    else if (!a.source || !a.badCommit || !a.goodCommit || !(a.files?.length || a.file)) result = { kind: 'failed', error: 'the target does not come from a Git source with known commits', notGit: true };
    else {
      try {
        result = await this.opts.writeBack.apply({
          mode: a.mode,
          source: a.source,
          badCommit: a.badCommit,
          goodCommit: a.goodCommit,
          paths: (a.files?.length ? a.files : [a.file!]).map((f) => (this.opts.repoPath ? this.opts.repoPath(a.source!, f) : f)),
          rollout: e.key,
          message: `meshcd: roll back Rollout ${e.key}\n\n${a.message}`,
          author: this.opts.author ?? { name: 'meshcd', email: 'meshcd@localhost' },
          now: this.now(),
        });
      } catch (err) {
        result = { kind: 'failed', error: (err as Error).message };
      }
    }
    await this.later(e, { kind: 'writeBack', generation: a.generation, result });
    if (result.kind === 'reverted' && a.source) this.opts.refreshSource?.(a.source);
  }

  private async webhook(e: Entry, generation: number, hook: WebhookSpec, message: string): Promise<void> {
    const s = e.state;
    const payload: WebhookPayload = { rollout: e.key, type: hook.type, phase: s.phase, stepIndex: 'stepIndex' in s ? s.stepIndex : -1, canaryWeight: canaryWeightOf(s), message };
    let res: { ok: boolean; message?: string };
    if (!this.opts.webhooks) res = { ok: false, message: 'webhooks are not configured' };
    else {
      try {
        res = await this.opts.webhooks.send(hook, payload);
      } catch (err) {
        res = { ok: false, message: (err as Error).message };
      }
    }
    if (!res.ok) this.log.warn({ rollout: e.key, webhook: hook.name, type: hook.type }, `webhook failed: ${res.message ?? 'not ok'}`);
    if (hook.type === 'pre-rollout' || hook.type === 'rollout' || hook.type === 'confirm-promotion') {
      await this.later(e, { kind: 'webhook', generation, name: hook.name, type: hook.type, ok: res.ok, ...(res.message ? { message: res.message } : {}) });
    }
  }
}

// ---------------------------------------------------------------------------
// Status, as the admin API and `meshcd rollout status -o json` show it.

export interface RolloutStatus {
  namespace: string;
  name: string;
  phase: RolloutState['phase'];
  stepIndex: number;
  canaryWeight: number;
  steps: RolloutSpec['steps'];
  target: RolloutSpec['target'];
  revision?: string;
  reason?: string;
  pause?: { reason: string; deadline?: string; remainingMs?: number };
  analysis?: { failures: number; inconclusives: number; consecutiveErrors: number; metrics: Record<string, MetricStatus> };
  writeBack?: unknown;
  /** Git states a routing that is not what runs (after an abort, or writeBack: none). */
  drift: boolean;
  /** Config canaries: the strategy, the cohort of the current step (members by id, those whose ACK is awaited), and each connected proxy's revision. */
  strategy?: 'proxies';
  /** A config canary whose change waits for the one walking (one config canary at a time; docs/rollouts.md): that one's namespace/name. */
  queuedBehind?: string;
  cohort?: { threshold?: number; members: string[]; eligible: number; acked: boolean; pending: string[] };
  /** The config canary driving the cache: the revision everyone outside the cohort is served (in force) and, during a walk, the cohort's. */
  revisions?: { inForce: string; canary?: string };
  proxies?: { proxy: string; revision: string | undefined; cohort: string }[];
  /** Where the routing in force differs from what Git states: per http route of the target, the destinations and weights in force now (this Rollout's part of the overlay). */
  overrides: RouteOverride[];
  history: { at: string; phase: string; stepIndex: number; canaryWeight: number; message: string }[];
}

export interface MetricStatus {
  verdict?: string;
  recent: Measurement[];
  measurements: Measurement[];
  thresholdRange?: ThresholdRange;
}

export function statusOf(r: Resource<'Rollout'>, spec: RolloutSpec, s: RolloutState): RolloutStatus {
  const walking = s.phase === 'Progressing' || s.phase === 'Paused';
  const lastStep = [...s.history].reverse().find((h) => h.stepIndex >= 0)?.stepIndex ?? 0;
  const counters = walking ? s.counters : s.phase === 'Failed' ? s.lastCounters : undefined;
  const metrics: Record<string, MetricStatus> = {};
  for (const m of spec.analysis?.metrics ?? []) {
    // `measurements`: every one kept (the dashboard's chart); `thresholdRange`: its band.
    const all = s.measurements.filter((x) => x.metric === m.name);
    const recent = all.slice(-5);
    metrics[m.name] = { ...(recent.length ? { verdict: recent[recent.length - 1]!.verdict } : {}), recent, measurements: all, ...(m.thresholdRange ? { thresholdRange: m.thresholdRange } : {}) };
  }
  return {
    namespace: r.metadata.namespace,
    name: r.metadata.name,
    phase: s.phase,
    stepIndex: walking ? s.stepIndex : s.phase === 'Succeeded' ? spec.steps.length : lastStep,
    canaryWeight: canaryWeightOf(s),
    steps: spec.steps,
    target: spec.target,
    ...(s.known?.commit ? { revision: s.known.commit } : {}),
    ...((s.phase === 'Failed' || s.phase === 'Aborted') && { reason: s.reason }),
    ...(s.phase === 'Paused' ? { pause: { reason: s.pause.reason, ...(s.pause.deadline !== undefined ? { deadline: new Date(s.pause.deadline).toISOString() } : {}), ...(s.pause.remainingMs !== undefined ? { remainingMs: s.pause.remainingMs } : {}) } } : {}),
    ...(spec.analysis ? { analysis: { ...(counters ?? { failures: 0, inconclusives: 0, consecutiveErrors: 0 }), metrics } } : {}),
    ...(s.phase === 'Failed' ? { writeBack: s.writeBack } : {}),
    drift: (overlayOf(s).length > 0 || configServingOf(s)?.serve === 'old') && (s.phase === 'Failed' || s.phase === 'Aborted'),
    overrides: overlayOf(s),
    history: s.history.map((h) => ({ ...h, at: new Date(h.at).toISOString() })),
  };
}
