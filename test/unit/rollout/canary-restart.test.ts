// A config canary across a restart of the process (issue 13), with the real
// Reconciler on a folder source and the real runner over a fake cache port:
// the stable revision's ids are in state/rollouts.json before the canary is
// served, its saved folder copy is kept while the canary needs it (and
// pruned after), and a new Reconciler + runner on the same state dir serve
// the old revision to everyone outside the cohort and the new one to the
// cohort, at the same step. A cohort that was still ACKing when the process
// died is tracked again and its ACKs open the gate.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigSet, ProxyInfo } from '../../../src/api/types.js';
import type { AcceptedEvent } from '../../../src/source/reconcile.js';
import { Reconciler } from '../../../src/source/reconcile.js';
import { parseSourceFlag } from '../../../src/source/spec.js';
import { rank } from '../../../src/rollout/cohort.js';
import type { CanaryEvents, CanaryPort } from '../../../src/rollout/config-canary.js';
import { RolloutRunner } from '../../../src/rollout/runner.js';
import { StateStore } from '../../../src/state/store.js';
import { BASE } from '../validate/analyzers/_helpers.js';
import { canary, dr, until } from './_fixtures.js';


const proxy = (name: string): ProxyInfo => ({ id: `sidecar~10.0.0.1~${name}.shop~shop.svc.cluster.local`, kind: 'grpc', namespace: 'shop', labels: {}, ips: [] });
const [P1, P2] = [proxy('a'), proxy('b')].sort((x, y) => rank(x.id) - rank(y.id)) as [ProxyInfo, ProxyInfo];

/** serve's wiring of Reconciler and runner, with a cache that records what it is told to serve. */
async function start(t: ExecutionContext, stateDir: string, folder: string, resumeGraceMs = 30_000) {
  const served: { id: string; config: ConfigSet }[] = [];
  const canaries: (string | undefined)[] = [];
  let inCohort: (p: ProxyInfo) => boolean = () => false;
  let canaryId: string | undefined;
  const events: CanaryEvents[] = [];
  const port: CanaryPort = {
    set: (c, pred) => {
      canaries.push(c?.id);
      canaryId = c?.id;
      inCohort = pred;
    },
    affected: async () => [{ proxy: P1 }, { proxy: P2 }],
    proxies: () => [P1, P2].map((p) => ({ proxy: p, revision: inCohort(p) ? canaryId : served.at(-1)?.id, cohort: inCohort(p) ? 'canary' : 'current' })),
    refused: () => [],
    subscribe: (e) => {
      events.push(e);
      return () => void events.splice(events.indexOf(e), 1);
    },
  };
  let reconciler: Reconciler | undefined;
  const runner = new RolloutRunner({
    store: new StateStore(stateDir),
    apply: (config, _o, id) => void served.push({ id, config }),
    canary: port,
    loadConfig: (revs) => reconciler!.configAt(revs),
    resumeGraceMs,
  });
  await runner.start();
  reconciler = new Reconciler({ sources: [parseSourceFlag(`mesh=${folder}`, 'test')], stateDir, retain: () => runner.revisionsInUse() });
  const accepted: AcceptedEvent[] = [];
  reconciler.on('accepted', (e: AcceptedEvent) => {
    accepted.push(e);
    void runner.accepted(e.config, e.revisions);
  });
  await reconciler.start();
  await runner.idle();
  const stop = async () => {
    await reconciler!.stop();
    runner.stop();
    // Queued work (a rollback's state write) finishes before the state dir is removed.
    await runner.idle();
  };
  t.teardown(stop);
  /** The cohort member ACKs everything of the canary revision. */
  const ack = (p: ProxyInfo, nonce: string) => {
    for (const e of events) e.responseSent?.({ proxy: p, type: 'x.Cluster', nonce, revision: canaryId });
    for (const e of events) e.ack?.({ proxy: p, type: 'x.Cluster', nonce, revision: canaryId });
  };
  return { runner, reconciler, served, canaries, accepted, events, inCohort: () => inCohort, ack, stop };
}


async function setup(t: ExecutionContext) {
  const root = await mkdtemp(join(tmpdir(), 'meshcd-canary-restart-'));
  t.teardown(() => rm(root, { recursive: true, force: true, maxRetries: 5 }));
  const folder = join(root, 'config');
  const stateDir = join(root, 'state');
  await rm(folder, { recursive: true, force: true });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(folder);
  await writeFile(join(folder, 'base.yaml'), BASE);
  await writeFile(join(folder, 'rollout.yaml'), canary('config', 'DestinationRule'));
  await writeFile(join(folder, 'dr.yaml'), dr('ROUND_ROBIN'));
  return { folder, stateDir };
}

const lbOf = (c: ConfigSet) => (c.ofKind('DestinationRule')[0]!.spec.trafficPolicy as { loadBalancer: { simple: string } }).loadBalancer.simple;

/** A first process whose canary walked its first cohort (P1, ACKed) and is paused. */
async function pausedAfterFirstCohort(t: ExecutionContext) {
  const { folder, stateDir } = await setup(t);
  const one = await start(t, stateDir, folder);
  const r1 = one.accepted[0]!.revisions[0]!;
  await writeFile(join(folder, 'dr.yaml'), dr('LEAST_REQUEST'));
  await one.reconciler.refresh('mesh');
  await until(t, 'the cohort', () => one.runner.status('shop', 'config')?.cohort?.members.length === 1);
  one.ack(P1, 'n1');
  await until(t, 'the pause', () => one.runner.status('shop', 'config')?.phase === 'Paused');
  return { folder, stateDir, one, r1 };
}

/** Promoted: the second cohort is every proxy; both ACK; the canary succeeds. */
async function promoteToTheEnd(t: ExecutionContext, x: Awaited<ReturnType<typeof start>>) {
  t.is((await x.runner.command('shop', 'config', 'promote')).rejected, undefined);
  await until(t, 'the second cohort', () => x.runner.status('shop', 'config')?.cohort?.members.length === 2);
  x.ack(P1, 'n2');
  x.ack(P2, 'n3');
  await until(t, 'Succeeded', () => x.runner.status('shop', 'config')?.phase === 'Succeeded');
  await x.runner.idle();
}

test('kill mid-canary (paused): the stable revision is persisted first, its folder copy kept; a new process serves it to all but the cohort, at the same step', async (t) => {
  const { folder, stateDir, one, r1 } = await pausedAfterFirstCohort(t);
  const r2 = one.accepted.at(-1)!.revisions[0]!;
  t.not(r2.id, r1.id);
  t.deepEqual(one.runner.status('shop', 'config')!.cohort?.members, [P1.id]);
  const doc = JSON.parse(await readFile(join(stateDir, 'state', 'rollouts.json'), 'utf8')) as { configCanary?: { stable: { id: string; revisions: { source: string; commit: string }[] } } };
  t.deepEqual(doc.configCanary?.stable, { id: r1.id, revisions: [{ source: 'mesh', commit: r1.commit, id: r1.id }] });
  t.deepEqual((await readdir(join(stateDir, 'state', 'trees'))).sort(), [`mesh@${r1.commit}`, `mesh@${r2.commit}`].sort(), 'both copies kept while the canary needs the old one');
  // What a kill leaves: the state dir as it is. (stop() writes nothing more: it only closes.)
  await one.stop();

  const two = await start(t, stateDir, folder);
  await until(t, 'the restored stable revision served', () => two.served.length > 0 && two.canaries.at(-1) === r2.id);
  t.is(two.served.at(-1)!.id, r1.id, 'everyone outside the cohort is on the revision in force before the canary');
  t.is(lbOf(two.served.at(-1)!.config), 'ROUND_ROBIN');
  t.true(two.inCohort()(P1), 'the cohort keeps the new revision');
  t.false(two.inCohort()(P2));
  t.false(two.served.some((s) => s.id === r2.id), 'the new revision was never served to everyone');
  t.like(two.runner.status('shop', 'config'), { phase: 'Paused', stepIndex: 1 });
  t.deepEqual(two.runner.status('shop', 'config')!.revisions, { inForce: r1.id, canary: r2.id });
  t.deepEqual(two.runner.status('shop', 'config')!.proxies, [
    { proxy: P1.id, revision: r2.id, cohort: 'canary' },
    { proxy: P2.id, revision: r1.id, cohort: 'current' },
  ].sort((a, b) => rank(a.proxy) - rank(b.proxy)));

  // The canary goes on: promoted, the second cohort is every proxy; then everyone is on the new revision.
  await promoteToTheEnd(t, two);
  t.is(two.served.at(-1)!.id, r2.id);
  t.is(two.canaries.at(-1), undefined);
  const after = JSON.parse(await readFile(join(stateDir, 'state', 'rollouts.json'), 'utf8')) as { configCanary?: unknown };
  t.is(after.configCanary, undefined, 'no stable revision kept once the canary is done');
  // The next accepted revision prunes the old copy.
  await writeFile(join(folder, 'dr.yaml'), dr('RANDOM'));
  await two.reconciler.refresh('mesh');
  await two.runner.idle();
  const r3 = two.accepted.at(-1)!.revisions[0]!;
  t.false((await readdir(join(stateDir, 'state', 'trees'))).includes(`mesh@${r1.commit}`));
  t.true((await readdir(join(stateDir, 'state', 'trees'))).includes(`mesh@${r3.commit}`));
});

test('kill while the cohort was ACKing: the new process tracks the same members again; their ACKs open the gate', async (t) => {
  const { folder, stateDir } = await setup(t);
  const one = await start(t, stateDir, folder);
  await writeFile(join(folder, 'dr.yaml'), dr('LEAST_REQUEST'));
  await one.reconciler.refresh('mesh');
  await until(t, 'the cohort', () => one.runner.status('shop', 'config')?.cohort?.members.length === 1);
  t.false(one.runner.status('shop', 'config')!.cohort!.acked);
  await one.stop();

  const two = await start(t, stateDir, folder, 200);
  await until(t, 'tracking again', () => (two.runner.status('shop', 'config')?.cohort?.pending ?? []).length === 1);
  t.deepEqual(two.runner.status('shop', 'config')!.cohort!.pending, [P1.id]);
  await new Promise((r) => setTimeout(r, 300));
  t.like(two.runner.status('shop', 'config'), { phase: 'Progressing', stepIndex: 1 }, 'a connected member that has not ACKed still holds the gate after the grace');
  two.ack(P1, 'n1');
  await until(t, 'the pause', () => two.runner.status('shop', 'config')?.phase === 'Paused');
  t.true(two.runner.status('shop', 'config')!.history.some((h) => h.message === 'every cohort proxy ACKed the new revision'));
});

test('kill mid-canary, then a NACK from the cohort after the restart: rolled back at once, everyone on the revision in force before the canary', async (t) => {
  const { folder, stateDir, one, r1 } = await pausedAfterFirstCohort(t);
  await one.stop();

  const two = await start(t, stateDir, folder);
  const r2 = two.accepted.at(-1)!.revisions[0]!;
  await until(t, 'the restored stable revision served', () => two.canaries.at(-1) === r2.id && two.served.at(-1)?.id === r1.id);
  // The reconnected cohort member is sent the new revision again and refuses it.
  for (const e of two.events) e.responseSent?.({ proxy: P1, type: 'x.Cluster', nonce: 'n9', revision: r2.id });
  for (const e of two.events) e.nack?.({ proxy: P1, type: 'x.Cluster', nonce: 'n9', revision: r2.id, error: 'outlier_detection.interval out of range' });
  await until(t, 'the rollback', () => two.runner.status('shop', 'config')?.phase === 'Failed');
  await two.runner.idle();
  t.regex(two.runner.status('shop', 'config')!.reason ?? '', /NACKed the new revision \(CDS\): outlier_detection\.interval out of range/);
  t.is(two.canaries.at(-1), undefined, 'no cohort any more');
  t.is(two.served.at(-1)!.id, r1.id, 'everyone, the cohort too, on the revision in force before the canary');
  t.is(lbOf(two.served.at(-1)!.config), 'ROUND_ROBIN');
});

// What a replica does when it becomes the leader (or, as a follower, when the leader persists a step):
// reload() re-reads the persisted states and applies the config in force again. The entries are cleared
// first, so the runner must not take that same config for the revision in force before the canary.
test('reload mid-canary (a new leader, a follower re-reading the states): the cohort keeps the new revision, everyone else the one in force before it', async (t) => {
  const { one, r1 } = await pausedAfterFirstCohort(t);
  const r2 = one.accepted.at(-1)!.revisions[0]!;
  t.is(one.served.at(-1)!.id, r1.id);
  const before = one.served.length;
  await one.runner.reload();
  await one.runner.reload();
  await one.runner.idle();
  t.true(one.served.length > before, 'the config was applied again');
  t.deepEqual(one.served.slice(before).map((s) => s.id), one.served.slice(before).map(() => r1.id), 'everyone outside the cohort stays on the revision in force before the canary');
  t.is(lbOf(one.served.at(-1)!.config), 'ROUND_ROBIN');
  t.is(one.canaries.at(-1), r2.id);
  t.true(one.inCohort()(P1));
  t.false(one.inCohort()(P2));
  t.like(one.runner.status('shop', 'config'), { phase: 'Paused', stepIndex: 1 });
  t.deepEqual(one.runner.status('shop', 'config')!.revisions, { inForce: r1.id, canary: r2.id });
  // The new leader goes on from there: promoted, everyone on the new revision.
  await promoteToTheEnd(t, one);
  t.is(one.served.at(-1)!.id, r2.id);
});
