// The rollout controller: a pure state machine. (Over 500 lines: one set
// of transitions shared by traffic rollouts and config canaries, which read
// best side by side; the arithmetic of weights and cohorts lives in spec.ts
// and cohort.ts.)
//
//   step(state, spec, observation, now) → { state, actions }
//
// No clock, no I/O: time comes in as `now`, results of I/O come in as
// observations, and what to do comes out as actions the runner performs in
// order (Persist always before SetOverlay). The overlay is derived from the
// state (`overlayOf`), never read back from the mesh. The state is plain JSON
// so a restart resumes the same step, weights and pause deadline.
//
// Weights. Git states the end state; a step `setWeight N` serves N% of the
// way from the old destinations' weights to the new ones, per destination:
//   w = old·(100−N)/100 + new·N/100, rounded to integers summing to 100.
// Worked examples (old → new at N):
//   v1 100 / v2 0  → v1 0 / v2 100  at 30%:  v1 70 / v2 30
//   host A 100     → host B 100      at 30%:  A 70 / B 30
//   v1 50 / v2 50  → v1 100 / v2 0   at 30%:  v1 65 / v2 35
//   v1 90 / v2 10  → v1 0 / v2 100   at 50%:  v1 45 / v2 55
// `canaryWeight` is N: the share of the target's traffic routed the new way.
//
// Analysis. Metrics named by an `analysis` step are measured for that step
// (it completes when each has one success); the others run in the
// background from the first step to promotion. Each `failure`,
// `inconclusive` and (consecutive) `error` counts against its limit; one past
// a limit rolls back. Missing data never promotes: after the last step the
// rollout waits until every background metric's latest verdict is success.
//
// Config canaries (strategy: proxies). The target is the content of the
// covered resources (spec.ts configTarget: a pseudo-route named `config`),
// so changes, reverts and restarts are told apart as for routes. A
// `setProxies` step asks the runner for a cohort (SelectCohort: the runner
// reads the affected proxies and calls cohort.ts's pure selectCohort), and
// the walk goes on only once every member ACKed the new revision
// (`cohortAcked`); a NACK from any proxy on the new revision rolls back at
// once, with the proxy's error text as the reason. The threshold never goes
// down, also across a restart of the walk by a new commit, so no proxy moves
// back to the old revision mid-canary. `compare: rest` metrics need a rest:
// once the cohort is every affected proxy they no longer gate promotion.
// What to serve is derived from the state (configServingOf).
//
// Changes to the target while a rollout runs: back to the routing in force
// before it (a `git revert`) → Aborted at once, nothing walked; anything else
// → restart from the routing in force now toward the new end state, counters
// reset. After a rollback the Rollout stays Failed (overlaying the old
// routing) until Git changes the target again; with writeBack: none the same
// routing is never retried (only `retry` does). A config canary whose change
// another one carried to promotion (the runner queues all but one: one config
// canary at a time) takes it as in force (`walkedBy`), walking nothing.

import type { RouteOverride } from '../api/types.js';
import type { Measurement, RolloutSpec, Verdict, WebhookType, WriteBackResult } from './contracts.js';
import { ALL } from './cohort.js';
import { spread, type RouteRouting, type TargetRouting } from './spec.js';

export type Phase = 'Idle' | 'Progressing' | 'Paused' | 'Succeeded' | 'Failed' | 'Aborted';
export type Command = 'promote' | 'abort' | 'retry' | 'pause' | 'resume';

/** The target's routing as Git last stated it, and the commit that stated it first. */
export interface Known {
  virtualService: string;
  routes: RouteRouting[];
  commit?: string;
  file?: string;
  source?: string;
  /** A config canary's covered files (path → digest of the covered resources in it). */
  config?: { files: Record<string, string> };
}

export interface Change {
  /** Increments at every (re)start; actions carry it and stale results are ignored. */
  generation: number;
  /** The routing in force before the rollout: what a rollback restores, what a `git revert` returns to. */
  origin: RouteRouting[];
  /** Where this walk starts: the origin, or the routing in force when a new commit restarted the walk. */
  from: RouteRouting[];
  /** What Git states: the end state. */
  to: RouteRouting[];
  goodCommit?: string;
  badCommit?: string;
  startedAt: number;
  /** A config canary: the covered files before the rollout (what a rollback's write-back restores). */
  originFiles?: Record<string, string>;
}

export interface Counters {
  failures: number;
  inconclusives: number;
  consecutiveErrors: number;
}

export interface HistoryEntry {
  at: number;
  phase: Phase;
  stepIndex: number;
  canaryWeight: number;
  message: string;
}

export type WriteBackStatus =
  | { status: 'none'; drift: boolean }
  | { status: 'pending'; mode: 'revert' | 'branch'; previousError?: string }
  | { status: 'done'; result: WriteBackResult };

interface Base {
  known?: Known;
  history: HistoryEntry[];
  /** Recent measurements, newest last (bounded). */
  measurements: Measurement[];
}

export interface Walk {
  change: Change;
  stepIndex: number;
  canaryWeight: number;
  headerRoute?: { match: { headers?: Record<string, { exact?: string; prefix?: string; regex?: string }>; queryParams?: Record<string, { exact?: string; prefix?: string; regex?: string }> }[] };
  mirrorPercent?: number;
  counters: Counters;
  lastVerdicts: Record<string, Verdict>;
  /** Metrics of the current analysis step that have passed. */
  stepPassed: string[];
  nextMeasureAt?: number;
  /**
   * A config canary's cohort: the size the last setProxies step asked for,
   * the threshold and members the runner selected (absent while it selects),
   * and whether every member ACKed the new revision.
   */
  cohort?: { size: { count?: number; percent?: number }; threshold?: number; members?: string[]; eligible?: number; acked: boolean };
  /** A webhook gate being waited on (pre-rollout, rollout, confirm-promotion). */
  gate?: { type: WebhookType; key: string; pending: string[]; retryAt?: number };
  gatesPassed: string[];
}

export type RolloutState =
  | (Base & { phase: 'Idle' })
  | (Base & Walk & { phase: 'Progressing' })
  | (Base & Walk & { phase: 'Paused'; pause: { reason: 'step' | 'manual'; deadline?: number; remainingMs?: number } })
  | (Base & { phase: 'Succeeded'; change: Change })
  | (Base & { phase: 'Failed'; change: Change; reason: string; writeBack: WriteBackStatus; lastCounters: Counters })
  | (Base & { phase: 'Aborted'; change: Change; reason: string });

export type Observation =
  /** `walkedBy`: another config canary walked this change out with its own (one config canary at a time): take it as in force. */
  | { kind: 'revision'; routing: TargetRouting | undefined; commit?: string; walkedBy?: string }
  | { kind: 'measurements'; generation: number; measurements: Measurement[] }
  | { kind: 'tick' }
  | { kind: 'command'; command: Command }
  | { kind: 'writeBack'; generation: number; result: WriteBackResult }
  | { kind: 'webhook'; generation: number; name: string; type: WebhookType; ok: boolean; message?: string }
  | { kind: 'cohortSelected'; generation: number; threshold: number; members: string[]; eligible: number }
  | { kind: 'cohortAcked'; generation: number }
  | { kind: 'nack'; generation: number; proxy: string; type: string; error: string }
  | { kind: 'refused'; generation: number; error: string };

export type Action =
  | { kind: 'Persist' }
  | { kind: 'SetOverlay'; overrides: RouteOverride[] }
  | { kind: 'Measure'; generation: number; metrics: string[] }
  | { kind: 'WriteBack'; generation: number; mode: 'revert' | 'branch'; badCommit?: string; goodCommit?: string; file?: string; files?: string[]; source?: string; message: string }
  | { kind: 'SelectCohort'; generation: number; size: { count?: number; percent?: number }; previous: number }
  | { kind: 'Webhook'; generation: number; type: WebhookType; names: string[]; message: string }
  | { kind: 'Event'; level: 'info' | 'warn'; message: string };

export interface StepResult {
  state: RolloutState;
  actions: Action[];
  /** Set when a command does not apply to the current phase (the state is unchanged). */
  rejected?: string;
}

export const INITIAL_STATE: RolloutState = { phase: 'Idle', history: [], measurements: [] };

const MAX_HISTORY = 50;
const MAX_MEASUREMENTS = 40;

// ---------------------------------------------------------------------------
// Routing arithmetic.

function destKey(d: { host: string; subset?: string; port?: number }): string {
  return `${d.host}|${d.subset ?? ''}|${d.port ?? 0}`;
}

/** `percent`% of the way from `from` to `to` (see the worked examples above). */
export function blendRoute(from: RouteRouting, to: RouteRouting, percent: number): RouteRouting {
  if (percent >= 100) return to;
  if (percent <= 0) return { ...from, index: to.index };
  const keys: string[] = [];
  const dests = new Map<string, { host: string; subset?: string; port?: number }>();
  for (const d of [...from.destinations, ...to.destinations]) {
    const k = destKey(d);
    if (!dests.has(k)) {
      keys.push(k);
      const { weight: _w, ...rest } = d;
      dests.set(k, rest);
    }
  }
  const weightIn = (r: RouteRouting, k: string) => r.destinations.filter((d) => destKey(d) === k).reduce((a, d) => a + d.weight, 0);
  const shares = keys.map((k) => weightIn(from, k) * (100 - percent) + weightIn(to, k) * percent);
  const weights = spread(shares);
  return { id: to.id, index: to.index, destinations: keys.map((k, i) => ({ ...dests.get(k)!, weight: weights[i]! })).filter((d) => d.weight > 0) };
}

function sameRoutes(a: readonly RouteRouting[], b: readonly RouteRouting[]): boolean {
  const norm = (l: readonly RouteRouting[]) => JSON.stringify(l.map((r) => [r.id, r.destinations.map((d) => [destKey(d), d.weight])]));
  return norm(a) === norm(b);
}

function sameDestinations(a: RouteRouting, b: RouteRouting): boolean {
  return sameRoutes([a], [b]);
}

/** The destination gaining the most weight from `from` to `to` (the mirror target, the canary for templates). */
export function canaryOf(from: RouteRouting, to: RouteRouting): { host: string; subset?: string; port?: number } {
  let best = to.destinations[0]!;
  let gain = -Infinity;
  for (const d of to.destinations) {
    const before = from.destinations.filter((x) => destKey(x) === destKey(d)).reduce((a, x) => a + x.weight, 0);
    if (d.weight - before > gain) {
      gain = d.weight - before;
      best = d;
    }
  }
  const { weight: _w, ...rest } = best;
  return rest;
}

/** The destination losing the most weight (the stable side for templates). */
export function stableOf(from: RouteRouting, to: RouteRouting): { host: string; subset?: string; port?: number } {
  return canaryOf(to, from);
}

/** The routing in force during a walk. */
function inForce(w: Walk): RouteRouting[] {
  return w.change.to.map((t) => {
    const f = w.change.from.find((r) => r.id === t.id);
    return f ? blendRoute(f, t, w.canaryWeight) : t;
  });
}

// ---------------------------------------------------------------------------
// The overlay, derived from the state.

export function overlayOf(state: RolloutState): RouteOverride[] {
  const vs = state.known?.virtualService;
  if (!vs || state.known?.config) return [];
  if (state.phase === 'Progressing' || state.phase === 'Paused') {
    const out: RouteOverride[] = [];
    for (const t of state.change.to) {
      const f = state.change.from.find((r) => r.id === t.id);
      if (!f) continue;
      const now = blendRoute(f, t, state.canaryWeight);
      const changed = !sameDestinations(now, t);
      const header = state.headerRoute && !sameDestinations(f, t) ? state.headerRoute : undefined;
      const mirror = state.mirrorPercent && state.mirrorPercent > 0 && !sameDestinations(f, t) ? state.mirrorPercent : undefined;
      if (!changed && !header && !mirror) continue;
      out.push({
        virtualService: vs,
        routeIndex: t.index,
        destinations: now.destinations,
        ...(header ? { headerRoute: { matches: header.match, destinations: t.destinations } } : {}),
        ...(mirror ? { mirror: { ...canaryOf(f, t), percent: mirror } } : {}),
      });
    }
    return out;
  }
  if (state.phase === 'Failed' || state.phase === 'Aborted') {
    const out: RouteOverride[] = [];
    for (const k of state.known!.routes) {
      const o = state.change.origin.find((r) => r.id === k.id);
      if (o && !sameDestinations(o, k)) out.push({ virtualService: vs, routeIndex: k.index, destinations: o.destinations });
    }
    return out;
  }
  return [];
}

/** What a config canary serves: the new revision to all, the old one to all, or the new one to the cohort (threshold: cohort.ts). */
export type ConfigServing = { serve: 'new' } | { serve: 'old' } | { serve: 'canary'; threshold: number };

/** Undefined for traffic rollouts. */
export function configServingOf(state: RolloutState): ConfigServing | undefined {
  if (!state.known?.config) return undefined;
  if (state.phase === 'Progressing' || state.phase === 'Paused') return { serve: 'canary', threshold: state.cohort?.threshold ?? -1 };
  if ((state.phase === 'Failed' || state.phase === 'Aborted') && !sameRoutes(state.known.routes, state.change.origin)) return { serve: 'old' };
  return { serve: 'new' };
}

/** The next time a tick has something to do (pause deadline, measurement, webhook retry), or undefined. */
export function nextWakeup(state: RolloutState): number | undefined {
  if (state.phase !== 'Progressing' && state.phase !== 'Paused') return undefined;
  const times = [state.nextMeasureAt, state.gate?.retryAt, state.phase === 'Paused' ? state.pause.deadline : undefined].filter((t): t is number => typeof t === 'number');
  return times.length ? Math.min(...times) : undefined;
}

export function canaryWeightOf(state: RolloutState): number {
  if (state.phase === 'Progressing' || state.phase === 'Paused') return state.canaryWeight;
  return state.phase === 'Succeeded' ? 100 : 0;
}

// ---------------------------------------------------------------------------
// Durations (Go style, as the spec writes them).

export function durationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return NaN;
    consumed += m[0].length;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  return consumed === text.length && consumed > 0 ? total : NaN;
}

// ---------------------------------------------------------------------------
// The state machine.

type WalkState = Extract<RolloutState, { phase: 'Progressing' | 'Paused' }>;

class Ctx {
  actions: Action[] = [];
  constructor(
    readonly spec: RolloutSpec,
    readonly now: number,
  ) {}
  event(level: 'info' | 'warn', message: string): void {
    this.actions.push({ kind: 'Event', level, message });
  }
  hook(type: WebhookType, generation: number, message: string): void {
    const names = this.spec.webhooks.filter((w) => w.type === type).map((w) => w.name);
    if (names.length) this.actions.push({ kind: 'Webhook', generation, type, names, message });
  }
  notify(generation: number, message: string, level: 'info' | 'warn' = 'info'): void {
    this.event(level, message);
    this.hook('event', generation, message);
  }
}

function record<S extends RolloutState>(s: S, ctx: Ctx, message: string): S {
  const entry: HistoryEntry = { at: ctx.now, phase: s.phase, stepIndex: 'stepIndex' in s ? s.stepIndex : -1, canaryWeight: canaryWeightOf(s), message };
  return { ...s, history: [...s.history, entry].slice(-MAX_HISTORY) };
}

function intervalMs(spec: RolloutSpec): number {
  const ms = spec.analysis ? durationMs(spec.analysis.interval) : NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : 60_000;
}

/** Metrics named by analysis steps: they gate their step, not the whole rollout. */
function stepMetrics(spec: RolloutSpec): Set<string> {
  const s = new Set<string>();
  for (const st of spec.steps) if ('analysis' in st) for (const m of st.analysis.metrics) s.add(m);
  return s;
}

function backgroundMetrics(spec: RolloutSpec, s?: WalkState): string[] {
  const inline = stepMetrics(spec);
  // A comparison with the rest has nothing to compare with once every affected proxy is in the cohort.
  const noRest = s?.cohort?.threshold !== undefined && s.cohort.threshold >= ALL;
  return (spec.analysis?.metrics ?? []).filter((m) => !inline.has(m.name) && !(noRest && m.compare === 'rest')).map((m) => m.name);
}

function startWalk(base: Base, ctx: Ctx, origin: RouteRouting[], from: RouteRouting[], to: RouteRouting[], generation: number, commits: { good?: string; bad?: string }, message: string, config?: { originFiles?: Record<string, string>; threshold?: number }): RolloutState {
  const change: Change = { generation, origin, from, to, ...(commits.good ? { goodCommit: commits.good } : {}), ...(commits.bad ? { badCommit: commits.bad } : {}), startedAt: ctx.now, ...(config?.originFiles ? { originFiles: config.originFiles } : {}) };
  const hasAnalysis = (ctx.spec.analysis?.metrics.length ?? 0) > 0;
  let s: WalkState = {
    ...base,
    phase: 'Progressing',
    change,
    stepIndex: 0,
    canaryWeight: 0,
    counters: { failures: 0, inconclusives: 0, consecutiveErrors: 0 },
    lastVerdicts: {},
    stepPassed: [],
    ...(hasAnalysis ? { nextMeasureAt: ctx.now + intervalMs(ctx.spec) } : {}),
    // A restarted config canary keeps its cohort on the (newer) canary revision: nobody goes back.
    ...(config?.threshold !== undefined && config.threshold >= 0 ? { cohort: { size: {}, threshold: config.threshold, acked: true } } : {}),
    gatesPassed: [],
  };
  s = record(s, ctx, message);
  ctx.notify(generation, message);
  return run(s, ctx);
}

/** Execute steps from the current one while they complete at once; stop at a pause, an analysis or a gate. */
function run(s0: WalkState, ctx: Ctx): RolloutState {
  let s: WalkState = s0;
  const steps = ctx.spec.steps;
  for (let guard = 0; guard <= steps.length + 3; guard++) {
    if (s.phase === 'Paused') return s;
    if (s.cohort && !s.cohort.acked) return s; // the runner selects the cohort, then its members ACK
    const gate = gateNeeded(s, ctx.spec);
    if (gate) {
      if (s.gate?.key === gate.key) return s;
      const names = ctx.spec.webhooks.filter((w) => w.type === gate.type).map((w) => w.name);
      ctx.hook(gate.type, s.change.generation, `${gate.type} gate for step ${s.stepIndex}`);
      return { ...s, gate: { type: gate.type, key: gate.key, pending: names } };
    }
    if (s.stepIndex >= steps.length) return promoteIfHealthy(s, ctx);
    const step = steps[s.stepIndex]!;
    if ('setProxies' in step) {
      const previous = s.cohort?.threshold ?? -1;
      const size = step.setProxies;
      const what = size.percent !== undefined ? `${size.percent}% of the affected proxies` : `${size.count ?? 0} affected prox${size.count === 1 ? 'y' : 'ies'}`;
      s = record({ ...s, cohort: { size, ...(previous >= 0 ? { threshold: previous } : {}), acked: false }, stepIndex: s.stepIndex + 1 }, ctx, `step ${s.stepIndex}: new revision to ${what}`);
      ctx.notify(s.change.generation, `step ${s.stepIndex - 1}: new revision to ${what}`);
      ctx.actions.push({ kind: 'SelectCohort', generation: s.change.generation, size, previous });
      continue;
    }
    if ('setWeight' in step) {
      s = record({ ...s, canaryWeight: step.setWeight, stepIndex: s.stepIndex + 1 }, ctx, `step ${s.stepIndex}: weight ${step.setWeight}%`);
      ctx.notify(s.change.generation, `step ${s.stepIndex - 1}: canary weight ${step.setWeight}%`);
    } else if ('setHeaderRoute' in step) {
      s = record({ ...s, headerRoute: { match: step.setHeaderRoute.match as NonNullable<Walk['headerRoute']>['match'] }, stepIndex: s.stepIndex + 1 }, ctx, `step ${s.stepIndex}: header route`);
    } else if ('setMirror' in step) {
      const { mirrorPercent: _m, ...rest } = s;
      s = record(step.setMirror.percent > 0 ? { ...s, mirrorPercent: step.setMirror.percent, stepIndex: s.stepIndex + 1 } : { ...rest, stepIndex: s.stepIndex + 1 }, ctx, `step ${s.stepIndex}: mirror ${step.setMirror.percent}%`);
    } else if ('pause' in step) {
      const ms = step.pause.duration ? durationMs(step.pause.duration) : NaN;
      const pause = Number.isFinite(ms) ? { reason: 'step' as const, deadline: ctx.now + ms } : { reason: 'step' as const };
      const p: WalkState = { ...s, phase: 'Paused', pause };
      ctx.notify(s.change.generation, Number.isFinite(ms) ? `step ${s.stepIndex}: paused for ${step.pause.duration}` : `step ${s.stepIndex}: paused until promoted`);
      return record(p, ctx, Number.isFinite(ms) ? `paused for ${step.pause.duration}` : 'paused until promoted');
    } else {
      const missing = step.analysis.metrics.filter((m) => !s.stepPassed.includes(m));
      if (missing.length > 0) {
        if (s.nextMeasureAt === undefined) s = { ...s, nextMeasureAt: ctx.now };
        return s;
      }
      s = record({ ...s, stepIndex: s.stepIndex + 1, stepPassed: [] }, ctx, `step ${s.stepIndex}: analysis passed`);
    }
  }
  return s;
}

function gateNeeded(s: WalkState, spec: RolloutSpec): { type: WebhookType; key: string } | undefined {
  const has = (t: WebhookType) => spec.webhooks.some((w) => w.type === t);
  const need = (type: WebhookType, key: string) => (has(type) && !s.gatesPassed.includes(key) ? { type, key } : undefined);
  if (s.stepIndex === 0) {
    const g = need('pre-rollout', 'pre-rollout@0');
    if (g) return g;
  }
  if (s.stepIndex < spec.steps.length) return need('rollout', `rollout@${s.stepIndex}`);
  return need('confirm-promotion', `confirm-promotion@${s.stepIndex}`);
}

function promoteIfHealthy(s: WalkState, ctx: Ctx): RolloutState {
  const waiting = backgroundMetrics(ctx.spec, s).filter((m) => s.lastVerdicts[m] !== 'success');
  if (waiting.length > 0) return s; // missing data never promotes: wait for the next measurements
  return succeed(s, ctx, 'promoted: all steps done');
}

function succeed(s: WalkState, ctx: Ctx, message: string): RolloutState {
  const done: RolloutState = record({ phase: 'Succeeded', ...(s.known ? { known: s.known } : {}), history: s.history, measurements: s.measurements, change: s.change }, ctx, message);
  ctx.notify(s.change.generation, message);
  ctx.hook('post-rollout', s.change.generation, message);
  return done;
}

function rollback(s: WalkState, ctx: Ctx, reason: string): RolloutState {
  const mode = ctx.spec.writeBack;
  const writeBack: WriteBackStatus = mode === 'none' ? { status: 'none', drift: true } : { status: 'pending', mode };
  const failed: RolloutState = record(
    { phase: 'Failed', ...(s.known ? { known: s.known } : {}), history: s.history, measurements: s.measurements, change: s.change, reason, writeBack, lastCounters: s.counters },
    ctx,
    `rolled back: ${reason}`,
  );
  ctx.notify(s.change.generation, `rolled back: ${reason}`, 'warn');
  ctx.hook('rollback', s.change.generation, reason);
  if (mode === 'none') ctx.event('warn', `writeBack: none — Git still states the rolled-back routing of ${s.known?.virtualService ?? 'the target'}; it will not be retried until Git changes`);
  else ctx.actions.push(writeBackAction(failed as Extract<RolloutState, { phase: 'Failed' }>, mode));
  return failed;
}

function writeBackAction(f: Extract<RolloutState, { phase: 'Failed' }>, mode: 'revert' | 'branch'): Action {
  return {
    kind: 'WriteBack',
    generation: f.change.generation,
    mode,
    ...(f.change.badCommit ? { badCommit: f.change.badCommit } : {}),
    ...(f.change.goodCommit ? { goodCommit: f.change.goodCommit } : {}),
    ...(f.known?.file ? { file: f.known.file } : {}),
    ...(f.known?.config ? { files: changedFiles(f.change.originFiles ?? {}, f.known.config.files) } : {}),
    ...(f.known?.source ? { source: f.known.source } : {}),
    message: `rolled back ${f.known?.virtualService ?? ''}: ${f.reason}`,
  };
}

/** Files whose covered content differs between two config-canary targets (added, changed or removed). */
export function changedFiles(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((f) => before[f] !== after[f]).sort();
}

function limitPassed(c: Counters, spec: RolloutSpec): string | undefined {
  const a = spec.analysis;
  const failureLimit = a?.failureLimit ?? 0;
  if (c.failures > failureLimit) return `${c.failures} failed measurements (failureLimit ${failureLimit})`;
  if (a && c.inconclusives > a.inconclusiveLimit) return `${c.inconclusives} inconclusive measurements (inconclusiveLimit ${a.inconclusiveLimit})`;
  if (a && c.consecutiveErrors > a.consecutiveErrorLimit) return `${c.consecutiveErrors} measurement errors in a row (consecutiveErrorLimit ${a.consecutiveErrorLimit})`;
  return undefined;
}

function describe(m: Measurement): string {
  const v = m.value === undefined ? 'no value' : `${m.value}${m.stableValue !== undefined ? ` (stable ${m.stableValue})` : ''}`;
  return `${m.metric}=${v} ${m.verdict}${m.message ? `: ${m.message}` : ''}`;
}

function onMeasurements(s0: WalkState, ms: Measurement[], ctx: Ctx): RolloutState {
  let s = s0;
  const counters = { ...s.counters };
  const lastVerdicts = { ...s.lastVerdicts };
  const stepPassed = [...s.stepPassed];
  const current = ctx.spec.steps[s.stepIndex];
  const currentMetrics = current && 'analysis' in current ? current.analysis.metrics : [];
  let worst: Measurement | undefined;
  for (const m of ms) {
    lastVerdicts[m.metric] = m.verdict;
    if (m.verdict === 'success') {
      counters.consecutiveErrors = 0;
      if (currentMetrics.includes(m.metric) && !stepPassed.includes(m.metric)) stepPassed.push(m.metric);
    } else if (m.verdict === 'failure') {
      counters.failures++;
      counters.consecutiveErrors = 0;
      worst = m;
    } else if (m.verdict === 'inconclusive') {
      counters.inconclusives++;
      counters.consecutiveErrors = 0;
      worst ??= m;
    } else {
      counters.consecutiveErrors++;
      worst ??= m;
    }
  }
  s = { ...s, counters, lastVerdicts, stepPassed, measurements: [...s.measurements, ...ms].slice(-MAX_MEASUREMENTS) };
  const passed = limitPassed(counters, ctx.spec);
  if (passed) return rollback(s, ctx, `${passed}; last: ${worst ? describe(worst) : ms.map(describe).join(', ')}`);
  if (worst) ctx.event('warn', `analysis: ${describe(worst)} (failures ${counters.failures}, inconclusive ${counters.inconclusives}, errors in a row ${counters.consecutiveErrors})`);
  return run(s, ctx);
}

function onTick(s0: WalkState, ctx: Ctx): RolloutState {
  let s: WalkState = s0;
  if (s.gate?.retryAt !== undefined && s.gate.retryAt <= ctx.now) {
    const names = ctx.spec.webhooks.filter((w) => w.type === s.gate!.type).map((w) => w.name);
    ctx.hook(s.gate.type, s.change.generation, `${s.gate.type} gate for step ${s.stepIndex} (again)`);
    const { retryAt: _r, ...g } = s.gate;
    s = { ...s, gate: { ...g, pending: names } };
  }
  if (s.nextMeasureAt !== undefined && s.nextMeasureAt <= ctx.now) {
    const current = ctx.spec.steps[s.stepIndex];
    const inline = current && 'analysis' in current ? current.analysis.metrics.filter((m: string) => !s.stepPassed.includes(m)) : [];
    const metrics = [...new Set([...backgroundMetrics(ctx.spec, s), ...inline])];
    if (metrics.length > 0) ctx.actions.push({ kind: 'Measure', generation: s.change.generation, metrics });
    s = { ...s, nextMeasureAt: ctx.now + intervalMs(ctx.spec) };
  }
  if (s.phase === 'Paused' && s.pause.reason === 'step' && s.pause.deadline !== undefined && s.pause.deadline <= ctx.now) {
    const { pause: _p, ...rest } = s;
    const next: WalkState = record({ ...rest, phase: 'Progressing', stepIndex: s.stepIndex + 1 }, ctx, `pause of step ${s.stepIndex} ended`);
    return run(next, ctx);
  }
  return s;
}

function onWebhook(s: WalkState, o: Extract<Observation, { kind: 'webhook' }>, ctx: Ctx): RolloutState {
  if (!s.gate || s.gate.type !== o.type || !s.gate.pending.includes(o.name)) return s;
  if (o.ok) {
    const pending = s.gate.pending.filter((n) => n !== o.name);
    if (pending.length > 0) return { ...s, gate: { ...s.gate, pending } };
    const { gate: _g, ...rest } = s;
    return run({ ...rest, gatesPassed: [...s.gatesPassed, s.gate.key] }, ctx);
  }
  const counters = { ...s.counters, failures: s.counters.failures + 1 };
  const passed = limitPassed(counters, ctx.spec);
  const why = `${o.type} webhook ${o.name} failed${o.message ? `: ${o.message}` : ''}`;
  if (passed) return rollback({ ...s, counters }, ctx, `${passed}; last: ${why}`);
  ctx.event('warn', why);
  return { ...s, counters, gate: { ...s.gate, pending: [], retryAt: ctx.now + intervalMs(ctx.spec) } };
}

function onCohort(s: WalkState, o: Extract<Observation, { kind: 'cohortSelected' | 'cohortAcked' | 'nack' | 'refused' }>, ctx: Ctx): RolloutState {
  if (o.kind === 'nack') return rollback(s, ctx, `proxy ${o.proxy} NACKed the new revision (${o.type}): ${o.error}`);
  if (o.kind === 'refused') return rollback(s, ctx, `meshcd refused the new revision's snapshot for the cohort: ${o.error}`);
  if (!s.cohort || s.cohort.acked) return s;
  if (o.kind === 'cohortSelected') {
    const share = o.eligible > 0 ? Math.round((o.members.length / o.eligible) * 100) : 100;
    const cohort = { ...s.cohort, threshold: o.threshold, members: o.members, eligible: o.eligible, acked: o.members.length === 0 };
    const next = record({ ...s, cohort, canaryWeight: share }, ctx, `cohort: ${o.members.length} of ${o.eligible} affected proxies${o.members.length ? '; waiting for their ACKs' : ''}`);
    return cohort.acked ? run(next, ctx) : next;
  }
  if (s.cohort.threshold === undefined) return s;
  return run(record({ ...s, cohort: { ...s.cohort, acked: true } }, ctx, `every cohort proxy ACKed the new revision`), ctx);
}

function onCommand(s: RolloutState, command: Command, ctx: Ctx): RolloutState | string {
  const walking = s.phase === 'Progressing' || s.phase === 'Paused';
  switch (command) {
    case 'promote': {
      if (!walking) return `nothing to promote: the rollout is ${s.phase}`;
      if (s.stepIndex >= ctx.spec.steps.length) return succeed(s, ctx, 'promoted by command');
      const { gate: _g, ...rest } = s;
      const base = { ...rest, phase: 'Progressing' as const, stepIndex: s.stepIndex + 1, stepPassed: [] };
      if ('pause' in base) delete (base as { pause?: unknown }).pause;
      ctx.notify(s.change.generation, `step ${s.stepIndex} promoted by command`);
      return run(record(base as WalkState, ctx, `step ${s.stepIndex} promoted by command`), ctx);
    }
    case 'abort': {
      if (!walking) return `nothing to abort: the rollout is ${s.phase}`;
      ctx.notify(s.change.generation, 'aborted by command: the routing in force before the rollout is restored', 'warn');
      return record({ phase: 'Aborted', ...(s.known ? { known: s.known } : {}), history: s.history, measurements: s.measurements, change: s.change, reason: 'aborted by command' }, ctx, 'aborted by command');
    }
    case 'retry': {
      if (s.phase !== 'Failed' && s.phase !== 'Aborted') return `nothing to retry: the rollout is ${s.phase}`;
      if (!s.known || sameRoutes(s.known.routes, s.change.origin)) return 'nothing to retry: Git already states the routing in force';
      const base: Base = { ...(s.known ? { known: s.known } : {}), history: s.history, measurements: s.measurements };
      return startWalk(base, ctx, s.change.origin, s.change.origin, s.known.routes, s.change.generation + 1, { ...(s.change.goodCommit ? { good: s.change.goodCommit } : {}), ...(s.change.badCommit ? { bad: s.change.badCommit } : {}) }, 'retry by command: walking out again', s.change.originFiles ? { originFiles: s.change.originFiles } : undefined);
    }
    case 'pause': {
      if (s.phase === 'Progressing') return record({ ...s, phase: 'Paused', pause: { reason: 'manual' } }, ctx, 'paused by command');
      if (s.phase === 'Paused' && s.pause.reason === 'step' && s.pause.deadline !== undefined) {
        return record({ ...s, pause: { reason: 'manual', remainingMs: Math.max(0, s.pause.deadline - ctx.now) } }, ctx, 'paused by command');
      }
      return `cannot pause: the rollout is ${s.phase}${s.phase === 'Paused' ? ' already' : ''}`;
    }
    case 'resume': {
      if (s.phase !== 'Paused') return `nothing to resume: the rollout is ${s.phase}`;
      if (s.pause.reason === 'manual') {
        if (s.pause.remainingMs !== undefined) return record({ ...s, pause: { reason: 'step', deadline: ctx.now + s.pause.remainingMs } }, ctx, 'resumed by command');
        const { pause: _p, ...rest } = s;
        return run(record({ ...rest, phase: 'Progressing' }, ctx, 'resumed by command'), ctx);
      }
      if (s.pause.deadline === undefined) return onCommand(s, 'promote', ctx);
      return 'the rollout is in a timed pause; use promote to skip it';
    }
  }
}

function onRevision(s: RolloutState, o: Extract<Observation, { kind: 'revision' }>, ctx: Ctx): RolloutState {
  const r = o.routing;
  const generation = 'change' in s ? s.change.generation + 1 : 1;
  if (!r) {
    const { known: _k, ...rest } = s;
    if (s.phase === 'Progressing' || s.phase === 'Paused') {
      ctx.notify(s.change.generation, 'the target VirtualService is gone; rollout aborted', 'warn');
      return record({ phase: 'Aborted', history: s.history, measurements: s.measurements, change: s.change, reason: 'target removed' }, ctx, 'target removed');
    }
    return rest as RolloutState;
  }
  const known: Known = { virtualService: r.virtualService, routes: r.routes, ...(o.commit ? { commit: o.commit } : {}), ...(r.file ? { file: r.file } : {}), ...(r.source ? { source: r.source } : {}), ...(r.config ? { config: r.config } : {}) };
  if (!s.known) return { ...s, known };
  if (sameRoutes(s.known.routes, r.routes)) return s;
  const base: Base = { known, history: s.history, measurements: s.measurements };
  if (o.walkedBy && s.phase !== 'Progressing' && s.phase !== 'Paused') {
    ctx.event('info', `the change was walked out by config canary ${o.walkedBy}`);
    return record({ ...s, known }, ctx, `the change was walked out by config canary ${o.walkedBy}`);
  }
  const commits = { ...(s.known.commit ? { good: s.known.commit } : {}), ...(o.commit ? { bad: o.commit } : {}) };
  switch (s.phase) {
    case 'Idle':
    case 'Succeeded':
      return startWalk(base, ctx, s.known.routes, s.known.routes, r.routes, generation, commits, 'new revision: walking out the change', s.known.config ? { originFiles: s.known.config.files } : undefined);
    case 'Failed':
    case 'Aborted': {
      if (sameRoutes(r.routes, s.change.origin)) {
        ctx.event('info', `Git now states the routing in force (${s.phase === 'Failed' ? 'the rollback is in Git' : 'reverted'})`);
        return record({ ...s, known }, ctx, 'Git states the routing in force');
      }
      const good = s.change.goodCommit;
      return startWalk(base, ctx, s.change.origin, s.change.origin, r.routes, generation, { ...(good ? { good } : {}), ...(o.commit ? { bad: o.commit } : {}) }, 'new revision after a rollback: walking out the change', s.change.originFiles ? { originFiles: s.change.originFiles } : undefined);
    }
    case 'Progressing':
    case 'Paused': {
      if (sameRoutes(r.routes, s.change.origin)) {
        ctx.notify(s.change.generation, 'Git reverted the change mid-rollout: aborted, the routing before the rollout is restored', 'warn');
        return record({ phase: 'Aborted', known, history: s.history, measurements: s.measurements, change: s.change, reason: 'reverted in Git' }, ctx, 'reverted in Git');
      }
      const good = s.change.goodCommit;
      const config = s.change.originFiles ? { originFiles: s.change.originFiles, ...(s.cohort?.threshold !== undefined ? { threshold: s.cohort.threshold } : {}) } : undefined;
      return startWalk(base, ctx, s.change.origin, inForce(s), r.routes, generation, { ...(good ? { good } : {}), ...(o.commit ? { bad: o.commit } : {}) }, config ? 'new revision mid-canary: restarting; each proxy keeps the revision slot it is on' : 'new revision mid-rollout: restarting from the routing in force', config);
    }
  }
}

function onWriteBack(s: RolloutState, o: Extract<Observation, { kind: 'writeBack' }>, ctx: Ctx): RolloutState {
  if (s.phase !== 'Failed' || s.change.generation !== o.generation || s.writeBack.status !== 'pending') return s;
  if (o.result.kind === 'failed' && s.writeBack.mode === 'revert' && !o.result.notGit) {
    ctx.event('warn', `revert failed (${o.result.error}); pushing a rollback branch instead`);
    const next = record({ ...s, writeBack: { status: 'pending' as const, mode: 'branch' as const, previousError: o.result.error } }, ctx, 'revert failed; trying a branch');
    ctx.actions.push(writeBackAction(next, 'branch'));
    return next;
  }
  const msg =
    o.result.kind === 'reverted' ? `write-back: reverted in ${o.result.commit} on ${o.result.branch}` : o.result.kind === 'branch' ? `write-back: pushed branch ${o.result.branch} (${o.result.commit})${o.result.reason ? `: ${o.result.reason}` : ''}` : o.result.notGit ? `write-back: not done (${o.result.error}); the source still states the rolled-back routing: change it there, or retry the rollout` : `write-back failed: ${o.result.error}; Git still states the rolled-back routing`;
  ctx.notify(s.change.generation, msg, o.result.kind === 'failed' ? 'warn' : 'info');
  return record({ ...s, writeBack: { status: 'done', result: o.result } }, ctx, msg);
}

export function step(state: RolloutState, spec: RolloutSpec, observation: Observation, now: number): StepResult {
  const ctx = new Ctx(spec, now);
  let next: RolloutState | string = state;
  const walking = state.phase === 'Progressing' || state.phase === 'Paused';
  switch (observation.kind) {
    case 'revision':
      next = onRevision(state, observation, ctx);
      break;
    case 'measurements':
      if (walking && state.change.generation === observation.generation) next = onMeasurements(state, observation.measurements, ctx);
      break;
    case 'tick':
      if (walking) next = onTick(state, ctx);
      break;
    case 'command':
      next = onCommand(state, observation.command, ctx);
      break;
    case 'writeBack':
      next = onWriteBack(state, observation, ctx);
      break;
    case 'webhook':
      if (walking && state.change.generation === observation.generation) next = onWebhook(state, observation, ctx);
      break;
    case 'cohortSelected':
    case 'cohortAcked':
    case 'nack':
    case 'refused':
      if (walking && state.change.generation === observation.generation) next = onCohort(state, observation, ctx);
      break;
  }
  const servingBefore = JSON.stringify(configServingOf(state));
  if (typeof next === 'string') return { state, actions: [], rejected: next };
  const head: Action[] = [];
  if (JSON.stringify(next) !== JSON.stringify(state)) head.push({ kind: 'Persist' });
  const before = overlayOf(state);
  const after = overlayOf(next);
  if (JSON.stringify(before) !== JSON.stringify(after) || servingBefore !== JSON.stringify(configServingOf(next))) head.push({ kind: 'SetOverlay', overrides: after });
  return { state: next, actions: [...head, ...ctx.actions] };
}
