// One config canary at a time (docs/rollouts.md): the cache serves two
// revisions, so a second config canary whose covered content changes while
// one walks (or in the same revision) is queued behind it. Its change rides
// in the walking one (which restarts its steps for it); when that one is
// promoted the queued one takes the change as walked out; when it is rolled
// back, the queued one walks its change on its own once Git's revert is read.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigSet, ProxyInfo } from '../../../src/api/types.js';
import { rank } from '../../../src/rollout/cohort.js';
import type { CanaryEvents, CanaryPort } from '../../../src/rollout/config-canary.js';
import { RolloutRunner } from '../../../src/rollout/runner.js';
import { StateStore } from '../../../src/state/store.js';
import { loadYaml } from '../../helpers/revision.js';
import { BASE } from '../validate/analyzers/_helpers.js';
import { canary, dr, until } from './_fixtures.js';

const authz = (action: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings, namespace: shop}
spec:
  selector: {matchLabels: {app: ratings}}
  action: ${action}
  rules: [{from: [{source: {namespaces: [shop]}}]}]
`;

const proxy = (name: string): ProxyInfo => ({ id: `sidecar~10.0.0.1~${name}.shop~shop.svc.cluster.local`, kind: 'grpc', namespace: 'shop', labels: {}, ips: [] });
const [P1, P2] = [proxy('a'), proxy('b')].sort((x, y) => rank(x.id) - rank(y.id)) as [ProxyInfo, ProxyInfo];

async function config(lb: string, action: string): Promise<ConfigSet> {
  const r = await loadYaml({ 'base.yaml': BASE, 'a.yaml': canary('a-lb', 'DestinationRule'), 'b.yaml': canary('b-authz', 'AuthorizationPolicy'), 'dr.yaml': dr(lb), 'authz.yaml': authz(action) });
  if (!r.config) throw new Error('no config');
  return r.config;
}
const REVS = (commit: string) => [{ source: 'test', commit, id: `main@sha1:${commit}` }];

async function setup(t: ExecutionContext) {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshcd-one-canary-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const served: string[] = [];
  const canaries: (string | undefined)[] = [];
  let canaryId: string | undefined;
  const events: CanaryEvents[] = [];
  const port: CanaryPort = {
    set: (c) => {
      canaries.push(c?.id);
      canaryId = c?.id;
    },
    affected: async () => [{ proxy: P1 }, { proxy: P2 }],
    proxies: () => [P1, P2].map((p) => ({ proxy: p, revision: undefined, cohort: 'current' })),
    refused: () => [],
    subscribe: (e) => {
      events.push(e);
      return () => void events.splice(events.indexOf(e), 1);
    },
  };
  const runner = new RolloutRunner({ store: new StateStore(stateDir), apply: (_c, _o, id) => void served.push(id), canary: port });
  await runner.start();
  t.teardown(() => runner.stop());
  let nonce = 0;
  const answer = (p: ProxyInfo, error?: string) => {
    const n = String(++nonce);
    for (const e of events) e.responseSent?.({ proxy: p, type: 'x.Cluster', nonce: n, revision: canaryId });
    for (const e of events) (error ? e.nack?.({ proxy: p, type: 'x.Cluster', nonce: n, revision: canaryId, error }) : e.ack?.({ proxy: p, type: 'x.Cluster', nonce: n, revision: canaryId }));
  };
  return { runner, served, canaries, answer, status: (name: string) => runner.status('shop', name)! };
}


test('two canaries changed in one revision: the first by name walks it, the other is queued; promoted, the queued one takes the change as walked out', async (t) => {
  const { runner, served, canaries, answer, status } = await setup(t);
  await runner.accepted(await config('ROUND_ROBIN', 'ALLOW'), REVS('c1'));
  await runner.accepted(await config('LEAST_REQUEST', 'DENY'), REVS('c2'));
  await until(t, 'the first cohort', () => status('a-lb').cohort?.members.length === 1);
  t.is(status('a-lb').phase, 'Progressing');
  t.like(status('b-authz'), { phase: 'Idle', queuedBehind: 'shop/a-lb' });
  t.is(served.at(-1), 'main@sha1:c1', 'everyone else on the revision in force');
  t.is(canaries.at(-1), 'main@sha1:c2', 'the cohort gets the revision with both changes');
  answer(P1);
  await until(t, 'the pause', () => status('a-lb').phase === 'Paused');
  t.is((await runner.command('shop', 'a-lb', 'promote')).rejected, undefined);
  await until(t, 'the second cohort', () => status('a-lb').cohort?.members.length === 2);
  answer(P1);
  answer(P2);
  await until(t, 'Succeeded', () => status('a-lb').phase === 'Succeeded');
  await runner.idle();
  t.is(served.at(-1), 'main@sha1:c2');
  const b = status('b-authz');
  t.is(b.phase, 'Idle');
  t.is(b.queuedBehind, undefined);
  t.is(b.history.at(-1)?.message, 'the change was walked out by config canary shop/a-lb');
  // Its change is in force: a revision that changes nothing of it does not start a walk of it.
  await runner.accepted(await config('LEAST_REQUEST', 'DENY'), REVS('c3'));
  t.is(status('b-authz').phase, 'Idle');
  t.is(status('a-lb').phase, 'Succeeded', 'nor of the one that carried it');
});

test('a second canary changed while one walks: the walking one restarts its steps for it (nobody moves back); the other is queued', async (t) => {
  const { runner, canaries, answer, status } = await setup(t);
  await runner.accepted(await config('ROUND_ROBIN', 'ALLOW'), REVS('c1'));
  await runner.accepted(await config('LEAST_REQUEST', 'ALLOW'), REVS('c2'));
  await until(t, 'the first cohort', () => status('a-lb').cohort?.members.length === 1);
  answer(P1);
  await until(t, 'the pause', () => status('a-lb').phase === 'Paused');
  t.is(status('b-authz').queuedBehind, undefined);
  await runner.accepted(await config('LEAST_REQUEST', 'DENY'), REVS('c3'));
  await runner.idle();
  const a = status('a-lb');
  t.like(a, { phase: 'Progressing', stepIndex: 1 });
  t.true(a.history.some((h) => /^new revision mid-canary: restarting/.test(h.message)));
  t.like(status('b-authz'), { phase: 'Idle', queuedBehind: 'shop/a-lb' });
  t.is(canaries.at(-1), 'main@sha1:c3', 'the cohort is on the newest revision');
  // The cohort's threshold is kept: the same member, asked to ACK the newest revision.
  await until(t, 'the cohort again', () => status('a-lb').cohort?.members.length === 1 && !status('a-lb').cohort!.acked);
  t.deepEqual(status('a-lb').cohort!.members, [P1.id]);
  answer(P1);
  await until(t, 'the pause again', () => status('a-lb').phase === 'Paused');
});

test('the walking canary rolled back: the queued one waits for the revert, then walks its own change alone', async (t) => {
  const { runner, served, answer, status } = await setup(t);
  await runner.accepted(await config('ROUND_ROBIN', 'ALLOW'), REVS('c1'));
  await runner.accepted(await config('LEAST_REQUEST', 'DENY'), REVS('c2'));
  await until(t, 'the first cohort', () => status('a-lb').cohort?.members.length === 1);
  answer(P1, 'ring hash too large');
  await until(t, 'the rollback', () => status('a-lb').phase === 'Failed');
  await runner.idle();
  t.is(served.at(-1), 'main@sha1:c1', 'everyone back on the revision before the canary');
  t.is(status('b-authz').queuedBehind, 'shop/a-lb', 'still queued: the rolled-back revision had its change too');
  // The revert of a-lb's files: its content is back, b-authz's change is still in Git.
  await runner.accepted(await config('ROUND_ROBIN', 'DENY'), REVS('c4'));
  await until(t, 'b walks', () => status('b-authz').phase === 'Progressing');
  t.is(status('b-authz').queuedBehind, undefined);
  t.is(status('a-lb').phase, 'Failed');
  t.is(served.at(-1), 'main@sha1:c1', 'the rest stay on the revision in force before either canary');
  await until(t, "b's cohort", () => status('b-authz').cohort?.members.length === 1);
});
