// The runner's half of a config canary (src/rollout/config-canary.ts) over a
// fake CanaryPort: what it asks the cache to serve in each phase, the cohort
// it reports, the ACK gate (every member ACKed everything it was sent from
// the new revision; a response superseded by a newer one of its type no
// longer counts), a NACK or a refused snapshot reported once, and a
// restart: the revision in force restored (the cohort keeps the new one),
// a cohort still ACKing tracked again with a grace for members reconnecting,
// and, when the revision in force cannot be read, the new one to all.

import test from 'ava';
import { pino } from 'pino';
import type { ConfigSet, ProxyInfo } from '../../../src/api/types.js';
import { ConfigCanaryDriver, type CanaryEvents, type CanaryPort, type Served } from '../../../src/rollout/config-canary.js';
import type { RolloutSpec } from '../../../src/rollout/contracts.js';
import { rank } from '../../../src/rollout/cohort.js';
import { INITIAL_STATE, step, type Observation, type RolloutState } from '../../../src/rollout/controller.js';
import type { TargetRouting } from '../../../src/rollout/spec.js';

const spec: RolloutSpec = { strategy: 'proxies', target: { virtualService: '', kinds: ['DestinationRule'], namespaces: ['bookinfo'] }, steps: [{ setProxies: { count: 1 } }, { pause: {} }], writeBack: 'revert', webhooks: [] };
const content = (d: string): TargetRouting => ({ virtualService: '', config: { files: { 'dr.yaml': d } }, routes: [{ id: 'config', index: -1, destinations: [{ host: `sha256:${d}`, weight: 100 }] }] });
const proxy = (name: string): ProxyInfo => ({ id: `sidecar~10.0.0.1~${name}.bookinfo~bookinfo.svc.cluster.local`, kind: 'grpc', namespace: 'bookinfo', labels: {}, ips: [] });
const [P1, P2] = [proxy('a'), proxy('b')].sort((x, y) => rank(x.id) - rank(y.id)) as [ProxyInfo, ProxyInfo];
const config = (name: string) => ({ name }) as unknown as ConfigSet;
const OLD = config('old');
const NEW = config('new');
const served = (c: ConfigSet, id: string): Served => ({ config: c, overlay: { overrides: [] }, id });

function setup() {
  const sets: (string | undefined)[] = [];
  let predicate: (p: ProxyInfo) => boolean = () => false;
  const events: CanaryEvents[] = [];
  const refusals = new Map<string, string[]>();
  const port: CanaryPort = {
    set: (c, inCohort) => {
      sets.push(c?.id);
      predicate = inCohort;
    },
    affected: async () => [{ proxy: P1 }, { proxy: P2 }],
    proxies: () => [P1, P2].map((p) => ({ proxy: p, revision: predicate(p) ? 'r2' : 'r1', cohort: predicate(p) ? 'canary' : 'current' })),
    refused: (id) => refusals.get(id) ?? [],
    subscribe: (e) => {
      events.push(e);
      return () => events.splice(events.indexOf(e), 1);
    },
  };
  const observed: Observation[] = [];
  const lines: string[] = [];
  const driver = new ConfigCanaryDriver(port, (_key, o) => observed.push(o), pino({ level: 'info' }, { write: (s: string) => void lines.push(s) }));
  const applied: string[] = [];
  const apply = (s: Served) => applied.push(s.id);
  const emit = <K extends keyof CanaryEvents>(name: K, e: Parameters<NonNullable<CanaryEvents[K]>>[0]) => events.forEach((x) => (x[name] as (v: typeof e) => void)?.(e));
  return { driver, sets, observed, applied, apply, emit, refusals, lines, predicate: () => predicate };
}

/** The controller walking from OLD (r1) to NEW (r2). */
function walking(): RolloutState {
  let s = step(INITIAL_STATE, spec, { kind: 'revision', routing: content('a'), commit: 'c1' }, 0).state;
  s = step(s, spec, { kind: 'revision', routing: content('b'), commit: 'c2' }, 0).state;
  return s;
}

test('no canary: the new revision to all, and the cache is not bothered', (t) => {
  const { driver, sets, applied, apply } = setup();
  driver.serve(undefined, served(NEW, 'r2'), apply);
  driver.serve(undefined, served(NEW, 'r2'), apply);
  t.deepEqual(applied, ['r2', 'r2']);
  t.deepEqual(sets, [], 'the cache starts without a canary: nothing to clear');
  driver.close();
});

test('a walk keeps the revision in force current and gives the new one to the cohort; every member ACK opens the gate', async (t) => {
  const { driver, sets, observed, applied, apply, emit, predicate } = setup();
  driver.revision({ config: OLD, id: 'r1' }, false);
  let s = walking();
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  t.deepEqual(applied, ['r1']);
  t.deepEqual(sets, ['r2']);
  t.false(predicate()(P1), 'nobody before the first cohort');
  await driver.select('bookinfo/config', spec, 1, { count: 1 }, -1, 'r2');
  const chosen = observed.at(-1)!;
  t.like(chosen, { kind: 'cohortSelected', generation: 1, members: [P1.id], eligible: 2 });
  s = step(s, spec, chosen, 1).state;
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  t.true(predicate()(P1));
  t.false(predicate()(P2));
  t.deepEqual(driver.pending(), [P1.id]);
  // The member is sent two responses from r2 and ACKs them one by one; an ACK of an older revision does not count.
  emit('responseSent', { proxy: P1, type: 'x.Cluster', nonce: '1', revision: 'r2' });
  emit('responseSent', { proxy: P1, type: 'x.Listener', nonce: '2', revision: 'r2' });
  emit('ack', { proxy: P1, type: 'x.Cluster', nonce: '1', revision: 'r2' });
  t.false(observed.some((o) => o.kind === 'cohortAcked'), 'one response still unanswered');
  emit('ack', { proxy: P2, type: 'x.Cluster', nonce: '9', revision: 'r1' });
  emit('ack', { proxy: P1, type: 'x.Listener', nonce: '2', revision: 'r2' });
  t.deepEqual(observed.filter((o) => o.kind === 'cohortAcked'), [{ kind: 'cohortAcked', generation: 1 }]);
  const pod = (p: ProxyInfo) => p.id.split('~')[2]!.split('.')[0]!;
  t.deepEqual(driver.pods([P1.id]), { cohort: [pod(P1)], rest: [pod(P2)] }, 'template arguments: the cohort and the rest of the affected');
  driver.close();
});

test('a response superseded by a newer one of its type (its late ACK is dropped by the server as stale) does not hold the gate', async (t) => {
  const { driver, observed, apply, emit } = setup();
  driver.revision({ config: OLD, id: 'r1' }, false);
  let s = walking();
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  await driver.select('bookinfo/config', spec, 1, { count: 1 }, -1, 'r2');
  s = step(s, spec, observed.at(-1)!, 1).state;
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  // Two CDS responses in a row (the subscription changed while the first was in flight): only the second is ACKed.
  emit('responseSent', { proxy: P1, type: 'x.Cluster', nonce: '1', revision: 'r2' });
  emit('responseSent', { proxy: P1, type: 'x.Cluster', nonce: '2', revision: 'r2' });
  emit('ack', { proxy: P1, type: 'x.Cluster', nonce: '2', revision: 'r2' });
  t.deepEqual(driver.pending(), []);
  t.deepEqual(observed.filter((o) => o.kind === 'cohortAcked'), [{ kind: 'cohortAcked', generation: 1 }]);
  driver.close();
});

test('a NACK of the new revision is reported once, with the short type and the text; one of the old revision is not', async (t) => {
  const { driver, observed, apply, emit } = setup();
  driver.revision({ config: OLD, id: 'r1' }, false);
  driver.serve({ key: 'bookinfo/config', spec, state: walking() }, served(NEW, 'r2'), apply);
  await driver.select('bookinfo/config', spec, 1, { count: 1 }, -1, 'r2');
  emit('nack', { proxy: P2, type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nonce: '3', revision: 'r1', error: 'old' });
  emit('nack', { proxy: P1, type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', nonce: '4', revision: 'r2', error: 'outlier_detection.interval out of range' });
  emit('nack', { proxy: P1, type: 'type.googleapis.com/envoy.config.listener.v3.Listener', nonce: '5', revision: 'r2', error: 'again' });
  t.deepEqual(observed.filter((o) => o.kind === 'nack'), [{ kind: 'nack', generation: 1, proxy: P1.id, type: 'CDS', error: 'outlier_detection.interval out of range' }]);
  driver.close();
});

test('a snapshot the cache refuses for the new revision is reported as refused', async (t) => {
  const { driver, observed, apply, refusals } = setup();
  driver.revision({ config: OLD, id: 'r1' }, false);
  driver.serve({ key: 'bookinfo/config', spec, state: walking() }, served(NEW, 'r2'), apply);
  await driver.select('bookinfo/config', spec, 1, { count: 1 }, -1, 'r2');
  refusals.set('r2', ['Cluster c: ring_hash_lb_config.minimum_ring_size: must be <= 8388608, is 10000000']);
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual(observed.filter((o) => o.kind === 'refused'), [{ kind: 'refused', generation: 1, error: 'Cluster c: ring_hash_lb_config.minimum_ring_size: must be <= 8388608, is 10000000' }]);
  driver.close();
});

test('after a restart mid-canary whose revision in force cannot be read: the new revision to all, said once in the log', (t) => {
  const { driver, applied, sets, apply, lines } = setup();
  const s = walking();
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  t.deepEqual(applied, ['r2', 'r2']);
  t.deepEqual(sets, []);
  t.is(lines.filter((l) => l.includes('could not be read after a restart')).length, 1);
  driver.close();
});

test('after a restart mid-canary: the restored revision in force is current again, the cohort keeps the new one', (t) => {
  const { driver, applied, sets, apply, predicate } = setup();
  let s = walking();
  s = step(s, spec, { kind: 'cohortSelected', generation: 1, threshold: rank(P1.id), members: [P1.id], eligible: 2 }, 1).state;
  t.false(driver.hasStable());
  driver.restoreStable({ config: OLD, id: 'r1', revisions: [{ source: 'mesh', commit: 'c1', id: 'r1' }] });
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  t.deepEqual(applied, ['r1'], 'everyone outside the cohort: the revision in force before the canary');
  t.deepEqual(sets, ['r2']);
  t.true(predicate()(P1));
  t.false(predicate()(P2));
  t.deepEqual(driver.stableRevisions(), { id: 'r1', revisions: [{ source: 'mesh', commit: 'c1', id: 'r1' }] });
  driver.close();
});

test('after a restart, a cohort still ACKing is tracked again: members not back yet are waited on for the grace, then the ACKs of those back open the gate', async (t) => {
  const { driver, observed, apply, emit } = setup();
  driver.restoreStable({ config: OLD, id: 'r1', revisions: [{ source: 'mesh', commit: 'c1', id: 'r1' }] });
  let s = walking();
  s = step(s, spec, { kind: 'cohortSelected', generation: 1, threshold: rank(P2.id), members: [P1.id, P2.id], eligible: 2 }, 1).state;
  driver.serve({ key: 'bookinfo/config', spec, state: s }, served(NEW, 'r2'), apply);
  const ghost = 'sidecar~10.0.0.9~gone.bookinfo~bookinfo.svc.cluster.local';
  t.false(driver.tracks('bookinfo/config', 1));
  driver.resume('bookinfo/config', 1, [P1.id, P2.id, ghost], 'r2', 300);
  t.true(driver.tracks('bookinfo/config', 1));
  t.deepEqual(driver.pending(), [P1.id, P2.id, ghost], 'within the grace a member that has not reconnected is waited on');
  for (const [p, n] of [[P1, '1'], [P2, '2']] as const) {
    emit('responseSent', { proxy: p, type: 'x.Cluster', nonce: n, revision: 'r2' });
    emit('ack', { proxy: p, type: 'x.Cluster', nonce: n, revision: 'r2' });
  }
  t.false(observed.some((o) => o.kind === 'cohortAcked'), 'the absent member holds the gate during the grace');
  await new Promise((r) => setTimeout(r, 450));
  t.deepEqual(driver.pending(), []);
  t.deepEqual(observed.filter((o) => o.kind === 'cohortAcked'), [{ kind: 'cohortAcked', generation: 1 }], 'after the grace only connected members count');
  driver.close();
});
