import test from 'ava';
import type { Measurement, RolloutSpec, Verdict } from '../../../src/rollout/contracts.js';
import { blendRoute, nextWakeup, overlayOf, step, type Action, type Observation, type RolloutState } from '../../../src/rollout/controller.js';
import type { RouteRouting, TargetRouting } from '../../../src/rollout/spec.js';
import { drive, gen } from './_drive.js';

const VS = 'VirtualService/shop/reviews';
const T0 = 1_000_000;

const route = (weights: Record<string, number>, index = 0, id = 'name:primary'): RouteRouting => ({
  id,
  index,
  destinations: Object.entries(weights).map(([subset, weight]) => ({ host: 'reviews', subset, weight })),
});
const target = (...routes: RouteRouting[]): TargetRouting => ({ virtualService: VS, file: 'reviews.yaml', source: 'config', routes });
const rev = (commit: string, ...routes: RouteRouting[]): Observation => ({ kind: 'revision', routing: target(...routes), commit });
const V1 = route({ v1: 100 });
const V2 = route({ v2: 100 });
const V3 = route({ v3: 100 });

function spec(over: Partial<RolloutSpec> = {}): RolloutSpec {
  return { target: { virtualService: 'reviews', route: 'primary' }, steps: [{ setWeight: 10 }, { pause: { duration: '30s' } }, { setWeight: 50 }], writeBack: 'revert', webhooks: [], ...over };
}
const withAnalysis = (over: Partial<RolloutSpec> = {}, limits: Partial<NonNullable<RolloutSpec['analysis']>> = {}): RolloutSpec =>
  spec({ analysis: { interval: '10s', failureLimit: 1, inconclusiveLimit: 1, consecutiveErrorLimit: 2, metrics: [{ name: 'success-rate', template: 'request-success-rate', thresholdRange: { min: 0.99 } }], ...limits }, ...over });

const m = (verdict: Verdict, at: number, metric = 'success-rate', value?: number): Measurement => ({ metric, at, verdict, ...(value !== undefined ? { value } : {}) });

const measure = (...ms: Measurement[]) => (st: RolloutState): Observation => ({ kind: 'measurements', generation: gen(st), measurements: ms });
const kinds = (a: Action[]) => a.map((x) => x.kind);
const weights = (st: RolloutState) => overlayOf(st).map((o) => o.destinations.map((d) => `${d.subset}=${d.weight}`).join(' '));
const begin: [number, Observation][] = [
  [T0, rev('c1', V1)],
  [T0, rev('c2', V2)],
];

test('setWeight arithmetic: the worked examples', (t) => {
  const cases: [RouteRouting, RouteRouting, number, string][] = [
    [route({ v1: 100, v2: 0 }), route({ v1: 0, v2: 100 }), 30, 'v1=70 v2=30'],
    [route({ a: 100 }), route({ b: 100 }), 30, 'a=70 b=30'],
    [route({ v1: 50, v2: 50 }), route({ v1: 100, v2: 0 }), 30, 'v1=65 v2=35'],
    [route({ v1: 90, v2: 10 }), route({ v2: 100 }), 50, 'v1=45 v2=55'],
    [route({ v1: 100 }), route({ v2: 100 }), 0, 'v1=100'],
    [route({ v1: 100 }), route({ v2: 100 }), 100, 'v2=100'],
    [route({ v1: 34, v2: 33, v3: 33 }), route({ v3: 100 }), 50, 'v1=17 v2=17 v3=66'],
  ];
  for (const [from, to, pct, want] of cases) {
    const got = blendRoute(from, to, pct).destinations.map((d) => `${d.subset}=${d.weight}`).join(' ');
    t.is(got, want, `${JSON.stringify(from.destinations)} → ${JSON.stringify(to.destinations)} at ${pct}`);
  }
});

test('first sighting is recorded, not walked; an unchanged target is quiet', (t) => {
  const { state, results } = drive(spec(), [[T0, rev('c1', V1)], [T0 + 1, rev('c1b', V1)]]);
  t.is(state.phase, 'Idle');
  t.deepEqual(overlayOf(state), []);
  t.deepEqual(results[1]!.actions, []);
});

test('healthy: steps walk out, analysis passes, promoted; Persist precedes SetOverlay', (t) => {
  const s = withAnalysis();
  const { state, results } = drive(s, [
    ...begin,
    [T0 + 10_000, { kind: 'tick' }],
    [T0 + 10_001, measure(m('success', T0 + 10_000, 'success-rate', 1))],
    [T0 + 30_000, { kind: 'tick' }],
  ]);
  const started = results[1]!;
  t.is(started.state.phase, 'Paused');
  t.deepEqual(kinds(started.actions).slice(0, 2), ['Persist', 'SetOverlay']);
  t.deepEqual(weights(started.state), ['v1=90 v2=10']);
  t.deepEqual(kinds(results[2]!.actions), ['Persist', 'Measure']);
  t.deepEqual((results[2]!.actions[1] as Extract<Action, { kind: 'Measure' }>).metrics, ['success-rate']);
  t.is(state.phase, 'Succeeded');
  t.deepEqual(overlayOf(state), []);
  t.true(results[4]!.actions.some((a) => a.kind === 'SetOverlay' && a.overrides.length === 0));
  t.deepEqual(state.history.map((h) => h.message).slice(-3), ['pause of step 1 ended', 'step 2: weight 50%', 'promoted: all steps done']);
});

test('failureLimit exceeded: rolled back at once, WriteBack revert of the bad commit onto the good one', (t) => {
  const s = withAnalysis();
  const { state, last } = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0, 'success-rate', 0.8))], [T0 + 20_000, measure(m('failure', T0, 'success-rate', 0.7))]]);
  t.is(state.phase, 'Failed');
  t.deepEqual(kinds(last.actions).slice(0, 2), ['Persist', 'SetOverlay']);
  t.deepEqual(weights(state), ['v1=100']);
  const wb = last.actions.find((a) => a.kind === 'WriteBack') as Extract<Action, { kind: 'WriteBack' }>;
  t.like(wb, { mode: 'revert', badCommit: 'c2', goodCommit: 'c1', file: 'reviews.yaml', source: 'config' });
  t.regex(wb.message, /2 failed measurements \(failureLimit 1\); last: success-rate=0.7 failure/);
  // The same routing again (an unrelated commit) does not restart it.
  const again = step(state, s, rev('c3', V2), T0 + 30_000);
  t.is(again.state.phase, 'Failed');
  t.deepEqual(again.actions, []);
  // The revert lands: Git states what runs, the overlay goes away, still Failed with its write-back.
  const wbDone = step(state, s, { kind: 'writeBack', generation: 1, result: { kind: 'reverted', commit: 'c4', branch: 'main' } }, T0 + 31_000).state;
  const reverted = step(wbDone, s, rev('c4', V1), T0 + 32_000);
  t.is(reverted.state.phase, 'Failed');
  t.deepEqual(overlayOf(reverted.state), []);
  t.like((reverted.state as Extract<RolloutState, { phase: 'Failed' }>).writeBack, { status: 'done', result: { kind: 'reverted', commit: 'c4' } });
});

test('missing data never promotes: inconclusive and errors count, the rollout waits at the end, then rolls back', (t) => {
  const s = withAnalysis({ steps: [{ setWeight: 50 }] }, { inconclusiveLimit: 2, consecutiveErrorLimit: 1 });
  let r = drive(s, [...begin, [T0 + 10_000, measure(m('inconclusive', T0))], [T0 + 20_000, measure(m('error', T0))]]);
  t.is(r.state.phase, 'Progressing');
  t.is((r.state as Extract<RolloutState, { phase: 'Progressing' }>).stepIndex, 1);
  t.deepEqual(weights(r.state), ['v1=50 v2=50']);
  r = drive(s, [[T0 + 30_000, measure(m('error', T0))]], r.state);
  t.is(r.state.phase, 'Failed');
  t.regex((r.state as Extract<RolloutState, { phase: 'Failed' }>).reason, /2 measurement errors in a row \(consecutiveErrorLimit 1\)/);
});

test('an analysis step completes only on success of its metrics', (t) => {
  const s = spec({
    steps: [{ setWeight: 20 }, { analysis: { metrics: ['smoke'] } }, { setWeight: 60 }],
    analysis: { interval: '10s', failureLimit: 0, inconclusiveLimit: 5, consecutiveErrorLimit: 5, metrics: [{ name: 'smoke', query: 'q', thresholdRange: { max: 0 } }] },
  });
  const r = drive(s, [...begin, [T0 + 10_000, { kind: 'tick' }], [T0 + 10_001, measure(m('inconclusive', T0, 'smoke'))], [T0 + 20_000, { kind: 'tick' }], [T0 + 20_001, measure(m('success', T0, 'smoke', 0))]]);
  t.deepEqual((r.results[2]!.actions.find((a) => a.kind === 'Measure') as Extract<Action, { kind: 'Measure' }>).metrics, ['smoke']);
  t.is(r.results[3]!.state.phase, 'Progressing');
  t.deepEqual(weights(r.results[3]!.state), ['v1=80 v2=20']);
  // Inline metrics do not gate promotion once their step has passed.
  t.is(r.state.phase, 'Succeeded');
});

test('header step: matching requests go to the new destinations; mirror step copies to the canary', (t) => {
  const s = spec({ steps: [{ setWeight: 10 }, { setHeaderRoute: { match: [{ headers: { 'x-canary': { exact: '1' } } }] } }, { setMirror: { percent: 20 } }, { pause: {} }] });
  const { state } = drive(s, begin);
  t.is(state.phase, 'Paused');
  const [o] = overlayOf(state);
  t.deepEqual(o, {
    virtualService: VS,
    routeIndex: 0,
    destinations: [{ host: 'reviews', subset: 'v1', weight: 90 }, { host: 'reviews', subset: 'v2', weight: 10 }],
    headerRoute: { matches: [{ headers: { 'x-canary': { exact: '1' } } }], destinations: [{ host: 'reviews', subset: 'v2', weight: 100 }] },
    mirror: { host: 'reviews', subset: 'v2', percent: 20 },
  });
  // setMirror 0 removes the mirror.
  const off = drive(spec({ steps: [{ setMirror: { percent: 20 } }, { setMirror: { percent: 0 } }, { pause: {} }] }), begin).state;
  t.is(overlayOf(off)[0]!.mirror, undefined);
});

test('pause until promote: ticks do not end it, promote does; resume of an open pause promotes too', (t) => {
  const s = spec({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }, { pause: {} }, { setWeight: 70 }] });
  const r = drive(s, [...begin, [T0 + 3_600_000, { kind: 'tick' }]]);
  t.is(r.state.phase, 'Paused');
  t.is(nextWakeup(r.state), undefined);
  const p = drive(s, [[T0 + 1, { kind: 'command', command: 'promote' }]], r.state);
  t.is(p.state.phase, 'Paused');
  t.deepEqual(weights(p.state), ['v1=60 v2=40']);
  const q = drive(s, [[T0 + 2, { kind: 'command', command: 'resume' }]], p.state);
  t.is(q.state.phase, 'Succeeded');
});

test('abort restores the routing before the rollout and is not retried until Git changes or retry', (t) => {
  const s = spec();
  const r = drive(s, [...begin, [T0 + 1, { kind: 'command', command: 'abort' }], [T0 + 2, rev('c3', V2)]]);
  t.is(r.state.phase, 'Aborted');
  t.deepEqual(weights(r.state), ['v1=100']);
  t.deepEqual(r.last.actions, []);
  const bad = step(r.state, s, { kind: 'command', command: 'promote' }, T0 + 3);
  t.regex(bad.rejected ?? '', /nothing to promote: the rollout is Aborted/);
  t.is(bad.state, r.state);
  const retried = step(r.state, s, { kind: 'command', command: 'retry' }, T0 + 4);
  t.is(retried.state.phase, 'Paused');
  t.is(gen(retried.state), 2);
  t.deepEqual(weights(retried.state), ['v1=90 v2=10']);
});

test('retry after failure walks out again from step 0 with counters reset; nothing to retry once Git agrees', (t) => {
  const s = withAnalysis({}, { failureLimit: 0 });
  const failed = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0))]]).state;
  t.is(failed.phase, 'Failed');
  const r = step(failed, s, { kind: 'command', command: 'retry' }, T0 + 20_000);
  t.is(r.state.phase, 'Paused');
  t.like(r.state, { stepIndex: 1, canaryWeight: 10, counters: { failures: 0, inconclusives: 0, consecutiveErrors: 0 } });
  const agreed = step(failed, s, rev('c3', V1), T0 + 20_000).state;
  t.regex(step(agreed, s, { kind: 'command', command: 'retry' }, T0 + 20_001).rejected ?? '', /Git already states the routing in force/);
});

test('new commit mid-rollout restarts from the routing in force toward the new end state', (t) => {
  const s = withAnalysis({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }] }, { failureLimit: 3 });
  const r = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0))], [T0 + 20_000, rev('c3', V3)]]);
  const st = r.state as Extract<RolloutState, { phase: 'Paused' }>;
  t.is(st.phase, 'Paused');
  t.is(st.change.generation, 2);
  t.deepEqual(st.counters, { failures: 0, inconclusives: 0, consecutiveErrors: 0 });
  t.deepEqual(st.change.from[0]!.destinations.map((d) => `${d.subset}=${d.weight}`), ['v1=90', 'v2=10']);
  t.deepEqual(st.change.origin, [V1]);
  t.deepEqual(weights(st), ['v1=81 v2=9 v3=10']);
  // Stale measurements of the first walk are ignored.
  t.deepEqual(step(st, s, { kind: 'measurements', generation: 1, measurements: [m('failure', T0)] }, T0 + 20_001).actions, []);
});

test('git revert mid-rollout: Aborted at once, the old routing restored, no steps, no write-back', (t) => {
  const s = withAnalysis();
  const r = drive(s, [...begin, [T0 + 5_000, rev('c3', V1)]]);
  t.is(r.state.phase, 'Aborted');
  t.deepEqual(overlayOf(r.state), []); // Git states the old routing again
  t.deepEqual(kinds(r.last.actions).slice(0, 2), ['Persist', 'SetOverlay']);
  t.false(r.last.actions.some((a) => a.kind === 'WriteBack' || a.kind === 'Measure'));
  t.is(nextWakeup(r.state), undefined);
});

test('restart mid-rollout and mid-pause: the state round-trips through JSON and resumes the same step, weights and deadline', (t) => {
  const s = withAnalysis();
  const mid = drive(s, begin).state;
  const restored = JSON.parse(JSON.stringify(mid)) as RolloutState;
  t.deepEqual(restored, mid);
  t.deepEqual(weights(restored), ['v1=90 v2=10']);
  t.is(nextWakeup(restored), T0 + 10_000);
  const early = step(restored, s, { kind: 'tick' }, T0 + 29_999).state;
  t.is(early.phase, 'Paused');
  const late = step(step(early, s, measure(m('success', T0))(early), T0 + 29_999).state, s, { kind: 'tick' }, T0 + 30_000).state;
  t.is(late.phase, 'Succeeded');
});

test('manual pause keeps the remaining time of a timed pause', (t) => {
  const s = spec();
  const r = drive(s, [...begin, [T0 + 10_000, { kind: 'command', command: 'pause' }], [T0 + 500_000, { kind: 'tick' }], [T0 + 600_000, { kind: 'command', command: 'resume' }]]);
  t.like(r.results[2]!.state, { phase: 'Paused', pause: { reason: 'manual', remainingMs: 20_000 } });
  t.is(r.results[3]!.state.phase, 'Paused');
  t.like(r.state, { phase: 'Paused', pause: { reason: 'step', deadline: T0 + 620_000 } });
});

test('write-back conflict falls back to a branch', (t) => {
  const s = withAnalysis({}, { failureLimit: 0 });
  const failed = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0))]]).state;
  const r = step(failed, s, { kind: 'writeBack', generation: 1, result: { kind: 'failed', error: 'merge conflict in reviews.yaml' } }, T0 + 11_000);
  t.like(r.actions.find((a) => a.kind === 'WriteBack'), { mode: 'branch', badCommit: 'c2' });
  const done = step(r.state, s, { kind: 'writeBack', generation: 1, result: { kind: 'branch', branch: 'meshcd/rollback/reviews-c2', commit: 'c9' } }, T0 + 12_000).state;
  t.like(done, { phase: 'Failed', writeBack: { status: 'done', result: { kind: 'branch', branch: 'meshcd/rollback/reviews-c2' } } });
});

test('a source that cannot be written back (a folder): no branch is tried, and the status says the source still states the change', (t) => {
  const s = withAnalysis({}, { failureLimit: 0 });
  const failed = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0))]]).state;
  const r = step(failed, s, { kind: 'writeBack', generation: 1, result: { kind: 'failed', error: 'write-back: source mesh is a folder; there is no commit to revert', notGit: true } }, T0 + 11_000);
  t.false(r.actions.some((a) => a.kind === 'WriteBack'), 'no branch attempt');
  t.like(r.state, { phase: 'Failed', writeBack: { status: 'done', result: { kind: 'failed', notGit: true } } });
  t.regex(r.state.history.at(-1)!.message, /^write-back: not done \(write-back: source mesh is a folder; there is no commit to revert\); the source still states the rolled-back routing/);
  t.notRegex(JSON.stringify(r.state.history), /Git still states|trying a branch/);
});

test('writeBack none: no write-back, drift reported, the same revision never retried', (t) => {
  const s = withAnalysis({ writeBack: 'none' }, { failureLimit: 0 });
  const r = drive(s, [...begin, [T0 + 10_000, measure(m('failure', T0))], [T0 + 20_000, rev('c2', V2)], [T0 + 30_000, rev('c5', V2)]]);
  t.like(r.state, { phase: 'Failed', writeBack: { status: 'none', drift: true } });
  t.false(r.results[2]!.actions.some((a) => a.kind === 'WriteBack'));
  t.true(r.results[2]!.actions.some((a) => a.kind === 'Event' && /writeBack: none/.test(a.message)));
  t.deepEqual(r.results[3]!.actions, []);
  t.deepEqual(r.results[4]!.actions, []);
  t.deepEqual(weights(r.state), ['v1=100']);
  // A different change starts a new walk from what runs.
  t.is(step(r.state, s, rev('c6', V3), T0 + 40_000).state.phase, 'Paused');
});

test('webhook gates: pre-rollout before the first step, a failure counts against failureLimit', (t) => {
  const s = withAnalysis({ webhooks: [{ name: 'load', type: 'pre-rollout', url: 'http://127.0.0.1:1/x' }, { name: 'note', type: 'event', url: 'http://127.0.0.1:1/y' }] }, { failureLimit: 1 });
  const r = drive(s, begin);
  t.is(r.state.phase, 'Progressing');
  t.deepEqual(overlayOf(r.state), [{ virtualService: VS, routeIndex: 0, destinations: [{ host: 'reviews', subset: 'v1', weight: 100 }] }]);
  t.true(r.last.actions.some((a) => a.kind === 'Webhook' && a.type === 'pre-rollout'));
  t.true(r.last.actions.some((a) => a.kind === 'Webhook' && a.type === 'event'));
  const failed = step(r.state, s, { kind: 'webhook', generation: 1, name: 'load', type: 'pre-rollout', ok: false, message: '500' }, T0 + 1);
  t.like(failed.state, { phase: 'Progressing', counters: { failures: 1 } });
  const again = step(failed.state, s, { kind: 'tick' }, T0 + 10_001);
  t.true(again.actions.some((a) => a.kind === 'Webhook' && a.type === 'pre-rollout'));
  const ok = step(again.state, s, { kind: 'webhook', generation: 1, name: 'load', type: 'pre-rollout', ok: true }, T0 + 10_002);
  t.is(ok.state.phase, 'Paused');
  t.deepEqual(weights(ok.state), ['v1=90 v2=10']);
});

test('the target VirtualService removed mid-rollout aborts it', (t) => {
  const r = drive(spec(), [...begin, [T0 + 1, { kind: 'revision', routing: undefined }]]);
  t.is(r.state.phase, 'Aborted');
  t.deepEqual(overlayOf(r.state), []);
});

test('a route that did not change gets no override; only changed routes are overlaid', (t) => {
  const other = route({ v1: 100 }, 1, 'name:other');
  const r = drive(spec(), [[T0, rev('c1', V1, other)], [T0, rev('c2', V2, other)]]);
  t.deepEqual(overlayOf(r.state).map((o) => o.routeIndex), [0]);
});
