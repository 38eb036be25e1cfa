// The state machine for config canaries (strategy: proxies): the target is
// the covered content (spec.ts configTarget), setProxies steps ask for a
// cohort and wait for its ACKs, a NACK rolls back at once with the proxy's
// text, what to serve comes from configServingOf, a new commit restarts
// without moving anyone back, a revert returns everyone at once, and
// `compare: rest` stops gating once there is no rest.

import test from 'ava';
import type { Measurement, RolloutSpec } from '../../../src/rollout/contracts.js';
import { ALL } from '../../../src/rollout/cohort.js';
import { changedFiles, configServingOf, overlayOf, step, type Action, type Observation, type RolloutState } from '../../../src/rollout/controller.js';
import type { TargetRouting } from '../../../src/rollout/spec.js';
import { drive, gen } from './_drive.js';

const T0 = 2_000_000;

/** The covered content of a revision: per-file digests, and the pseudo-route over them (as configTarget builds it). */
const content = (files: Record<string, string>): TargetRouting => ({
  virtualService: '',
  config: { files },
  source: 'config',
  routes: [{ id: 'config', index: -1, destinations: [{ host: `sha256:${Object.entries(files).map(([f, d]) => `${f}=${d}`).join(',')}`, weight: 100 }] }],
});
const A = content({ 'dr.yaml': 'a1', 'authz.yaml': 'z1' });
const B = content({ 'dr.yaml': 'b1', 'authz.yaml': 'z1' });
const C = content({ 'dr.yaml': 'b1', 'authz.yaml': 'z2', 'new.yaml': 'n1' });
const rev = (commit: string, r: TargetRouting): Observation => ({ kind: 'revision', routing: r, commit });

function spec(over: Partial<RolloutSpec> = {}): RolloutSpec {
  return { strategy: 'proxies', target: { virtualService: '', kinds: ['DestinationRule', 'AuthorizationPolicy'], namespaces: ['bookinfo'] }, steps: [{ setProxies: { count: 1 } }, { pause: {} }, { setProxies: { percent: 100 } }], writeBack: 'revert', webhooks: [], ...over };
}

const selected = (threshold: number, members: string[], eligible: number) => (st: RolloutState): Observation => ({ kind: 'cohortSelected', generation: gen(st), threshold, members, eligible });
const acked = (st: RolloutState): Observation => ({ kind: 'cohortAcked', generation: gen(st) });
const kinds = (a: Action[]) => a.map((x) => x.kind);
const begin: [number, Observation][] = [
  [T0, rev('c1', A)],
  [T0, rev('c2', B)],
];

test('a change walks cohort by cohort: select, wait for ACKs, pause, then every affected proxy; promoted serves the new revision to all', (t) => {
  const { state, results } = drive(spec(), [
    ...begin,
    [T0 + 10, selected(100, ['p1'], 4)],
    [T0 + 20, acked],
    [T0 + 30, { kind: 'command', command: 'promote' }],
    [T0 + 40, selected(ALL, ['p1', 'p2', 'p3', 'p4'], 4)],
    [T0 + 50, acked],
  ]);
  t.deepEqual(configServingOf(results[0]!.state), { serve: 'new' }, 'first sighting: nothing to walk');
  const start = results[1]!;
  t.is(start.state.phase, 'Progressing');
  t.deepEqual(kinds(start.actions).slice(0, 2), ['Persist', 'SetOverlay']);
  t.deepEqual(start.actions.find((a) => a.kind === 'SelectCohort'), { kind: 'SelectCohort', generation: 1, size: { count: 1 }, previous: -1 });
  t.deepEqual(configServingOf(start.state), { serve: 'canary', threshold: -1 }, 'nobody on the new revision before the cohort is chosen');
  t.deepEqual(overlayOf(start.state), [], 'a config canary never overlays routes');
  const chosen = results[2]!;
  t.like(chosen.state, { phase: 'Progressing', canaryWeight: 25, stepIndex: 1 });
  t.deepEqual(configServingOf(chosen.state), { serve: 'canary', threshold: 100 });
  t.true(kinds(chosen.actions).includes('SetOverlay'), 'the runner serves the cohort');
  t.like(results[3]!.state, { phase: 'Paused', stepIndex: 1 });
  t.deepEqual(results[4]!.actions.find((a) => a.kind === 'SelectCohort'), { kind: 'SelectCohort', generation: 1, size: { percent: 100 }, previous: 100 });
  t.is(results[5]!.state.phase, 'Progressing', 'still waiting for the ACKs of the whole cohort');
  t.is(state.phase, 'Succeeded');
  t.deepEqual(configServingOf(state), { serve: 'new' });
  t.true(state.history.some((h) => h.message === 'every cohort proxy ACKed the new revision'));
});

test('a NACK from a proxy on the new revision rolls back at once with its text; the write-back reverts the changed files', (t) => {
  const { state, last } = drive(spec(), [
    ...begin,
    [T0 + 10, selected(100, ['p1'], 4)],
    [T0 + 20, (st) => ({ kind: 'nack', generation: gen(st), proxy: 'sidecar~10.0.0.1~p1.bookinfo~bookinfo.svc.cluster.local', type: 'CDS', error: 'ring_hash_lb_config.minimum_ring_size is too large: 10000000' })],
  ]);
  t.is(state.phase, 'Failed');
  if (state.phase !== 'Failed') return;
  t.is(state.reason, 'proxy sidecar~10.0.0.1~p1.bookinfo~bookinfo.svc.cluster.local NACKed the new revision (CDS): ring_hash_lb_config.minimum_ring_size is too large: 10000000');
  t.deepEqual(configServingOf(state), { serve: 'old' });
  const wb = last.actions.find((a) => a.kind === 'WriteBack');
  t.like(wb, { kind: 'WriteBack', mode: 'revert', goodCommit: 'c1', badCommit: 'c2', files: ['dr.yaml'], source: 'config' });
  // The revert read back: Git states what runs, everyone is served the (old) content as the current revision.
  const after = step(state, spec(), rev('c3', A), T0 + 30).state;
  t.is(after.phase, 'Failed');
  t.deepEqual(configServingOf(after), { serve: 'new' });
});

test('a snapshot meshcd refuses for the cohort rolls back at once, naming why', (t) => {
  const { state } = drive(spec(), [...begin, [T0 + 10, selected(100, ['p1'], 4)], [T0 + 20, (st) => ({ kind: 'refused', generation: gen(st), error: 'Cluster outbound|9080|v1|reviews: ring_hash_lb_config.minimum_ring_size: must be <= 8388608, is 10000000' })]]);
  t.is(state.phase, 'Failed');
  t.is(state.phase === 'Failed' ? state.reason : '', "meshcd refused the new revision's snapshot for the cohort: Cluster outbound|9080|v1|reviews: ring_hash_lb_config.minimum_ring_size: must be <= 8388608, is 10000000");
  t.deepEqual(configServingOf(state), { serve: 'old' });
});

test('a NACK of an older generation or before any walk changes nothing', (t) => {
  const { state } = drive(spec(), [...begin, [T0 + 10, selected(100, ['p1'], 4)]]);
  const stale = step(state, spec(), { kind: 'nack', generation: gen(state) - 1, proxy: 'p1', type: 'LDS', error: 'x' }, T0 + 20);
  t.is(stale.state, state);
  t.deepEqual(stale.actions, []);
  const idle = step(drive(spec(), [[T0, rev('c1', A)]]).state, spec(), { kind: 'nack', generation: 0, proxy: 'p1', type: 'LDS', error: 'x' }, T0);
  t.is(idle.state.phase, 'Idle');
});

test('an empty cohort (no affected proxy) goes on at once; ACKs before a selection are ignored', (t) => {
  const early = drive(spec(), [...begin, [T0 + 5, acked]]);
  t.like(early.state, { phase: 'Progressing', stepIndex: 1 });
  t.false(early.state.phase === 'Progressing' && early.state.cohort!.acked);
  const { state } = drive(spec(), [...begin, [T0 + 10, selected(-1, [], 0)]]);
  t.like(state, { phase: 'Paused', stepIndex: 1, canaryWeight: 100 });
});

test('a new commit mid-canary restarts the steps; the cohort keeps its threshold, so nobody moves back', (t) => {
  const { state, last } = drive(spec({ steps: [{ setProxies: { count: 1 } }, { pause: {} }, { setProxies: { percent: 50 } }, { pause: {} }] }), [
    ...begin,
    [T0 + 10, selected(100, ['p1'], 4)],
    [T0 + 20, acked],
    [T0 + 30, { kind: 'command', command: 'promote' }],
    [T0 + 40, selected(200, ['p1', 'p2'], 4)],
    [T0 + 50, acked],
    [T0 + 60, rev('c3', C)],
  ]);
  t.like(state, { phase: 'Progressing', stepIndex: 1 });
  if (state.phase !== 'Progressing') return;
  t.is(state.change.generation, 2);
  t.deepEqual(last.actions.find((a) => a.kind === 'SelectCohort'), { kind: 'SelectCohort', generation: 2, size: { count: 1 }, previous: 200 });
  t.deepEqual(configServingOf(state), { serve: 'canary', threshold: 200 }, 'the two proxies on the old canary get the newest one; the rest stay on the old revision');
  t.deepEqual(state.change.originFiles, A.config!.files, 'what a rollback restores is still the content before the canary');
  t.true(state.history.some((h) => /mid-canary: restarting/.test(h.message)));
});

test('git revert mid-canary: Aborted at once, every proxy on the (reverted) content, nothing written back', (t) => {
  const { state, last } = drive(spec(), [...begin, [T0 + 10, selected(100, ['p1'], 4)], [T0 + 20, acked], [T0 + 30, rev('c3', A)]]);
  t.is(state.phase, 'Aborted');
  t.deepEqual(configServingOf(state), { serve: 'new' });
  t.false(kinds(last.actions).includes('WriteBack'));
  t.true(kinds(last.actions).includes('SetOverlay'));
});

test('compare: rest gates while there is a rest; at 100% only the other metrics gate promotion', (t) => {
  const analysis: RolloutSpec['analysis'] = {
    interval: '10s',
    failureLimit: 0,
    inconclusiveLimit: 5,
    consecutiveErrorLimit: 5,
    metrics: [
      { name: 'errors-vs-rest', template: 'request-success-rate', compare: 'rest', maxDelta: 0.01 },
      { name: 'latency', template: 'request-duration-p99', thresholdRange: { max: 500 } },
    ],
  };
  const s = spec({ analysis, steps: [{ setProxies: { percent: 50 } }, { setProxies: { percent: 100 } }] });
  const m = (metric: string, verdict: Measurement['verdict']): Measurement => ({ metric, at: T0, verdict });
  const { state, results } = drive(s, [
    ...begin,
    [T0 + 10, selected(200, ['p1', 'p2'], 4)],
    [T0 + 20, acked],
    [T0 + 30, selected(ALL, ['p1', 'p2', 'p3', 'p4'], 4)],
    [T0 + 40, acked],
    [T0 + 10_000, { kind: 'tick' }],
  ]);
  const measure = results.at(-1)!.actions.find((a) => a.kind === 'Measure');
  t.deepEqual(measure && 'metrics' in measure ? measure.metrics : [], ['latency'], 'no comparison with an empty rest');
  t.is(state.phase, 'Progressing');
  const done = step(state, s, { kind: 'measurements', generation: gen(state), measurements: [m('latency', 'success')] }, T0 + 10_001);
  t.is(done.state.phase, 'Succeeded');
});

test('changedFiles: added, changed and removed files', (t) => {
  t.deepEqual(changedFiles({ a: '1', b: '2', c: '3' }, { a: '1', b: '9', d: '4' }), ['b', 'c', 'd']);
  t.deepEqual(changedFiles({}, {}), []);
});
