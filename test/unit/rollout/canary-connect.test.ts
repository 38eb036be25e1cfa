// Proxies that connect mid-canary (issue 13), with the real runner, the real
// config-canary driver and serve's real SnapshotCache over the mesh
// translator: a proxy connecting during a step is served the canary revision
// when its rank is within the step's threshold and the revision in force
// otherwise; a cohort member that reconnects keeps the canary revision; once
// the last step takes every proxy, a newcomer gets the canary revision; after
// promotion everyone is on it. A new commit mid-canary moves the cohort to
// the newest revision while everyone else stays on the one in force before.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigSet, ProxyInfo } from '../../../src/api/types.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { rank } from '../../../src/rollout/cohort.js';
import type { CanaryEvents } from '../../../src/rollout/config-canary.js';
import { RolloutRunner } from '../../../src/rollout/runner.js';
import { StateStore } from '../../../src/state/store.js';
import { SnapshotCache, translatingBuilder } from '../../../src/xds/cache/index.js';
import { meshTranslator } from '../../../src/xds/server/translator.js';
import { loadYaml } from '../../helpers/revision.js';
import { BASE } from '../validate/analyzers/_helpers.js';
import { canary, dr, until } from './_fixtures.js';


async function config(lb: string): Promise<ConfigSet> {
  const r = await loadYaml({ 'base.yaml': BASE, 'rollout.yaml': canary('config', 'DestinationRule'), 'dr.yaml': dr(lb, 'ratings.shop.svc.cluster.local') });
  if (!r.config) throw new Error('no config');
  return r.config;
}
const REVS = (commit: string) => [{ source: 'test', commit, id: `main@sha1:${commit}` }];
const [R1, R2] = ['main@sha1:c1', 'main@sha1:c2'];

const sidecar = (pod: string): ProxyInfo => ({ id: `sidecar~10.0.0.1~${pod}.shop~shop.svc.cluster.local`, kind: 'sidecar', namespace: 'shop', labels: {}, ips: ['10.0.0.1'] });
// By rank: LOW < MEMBER < MIDDLE < OTHER < LATE.
const [LOW, MEMBER, MIDDLE, OTHER, LATE] = Array.from({ length: 5 }, (_, i) => sidecar(`client-${i}`)).sort((a, b) => rank(a.id) - rank(b.id)) as [ProxyInfo, ProxyInfo, ProxyInfo, ProxyInfo, ProxyInfo];

async function setup(t: ExecutionContext) {
  const stateDir = await mkdtemp(join(tmpdir(), 'meshcd-canary-connect-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const cache = new SnapshotCache(translatingBuilder(meshTranslator()));
  t.teardown(() => cache.close());
  const events: CanaryEvents[] = [];
  let canaryId: string | undefined;
  const runner = new RolloutRunner({
    store: new StateStore(stateDir),
    apply: (config, overlay, id) => cache.update({ config, index: buildServiceIndex(config), overlay }, id),
    canary: {
      set: (c, inCohort) => {
        canaryId = c?.id;
        cache.setCanary(c && { id: c.id, inputs: { config: c.config, index: buildServiceIndex(c.config), overlay: c.overlay } }, inCohort);
      },
      affected: () => cache.affected(),
      proxies: () => cache.proxies(),
      refused: () => [],
      subscribe: (e) => {
        events.push(e);
        return () => void events.splice(events.indexOf(e), 1);
      },
    },
  });
  await runner.start();
  t.teardown(() => runner.stop());
  const watches = new Map<string, ReturnType<SnapshotCache['watch']>>();
  const connect = (p: ProxyInfo) => {
    watches.get(p.id)?.cancel();
    watches.set(p.id, cache.watch(p, () => undefined));
  };
  const revisionOf = (p: ProxyInfo) => {
    cache.flush();
    return watches.get(p.id)?.revision;
  };
  let nonce = 0;
  const ack = (p: ProxyInfo) => {
    const n = String(++nonce);
    for (const e of events) e.responseSent?.({ proxy: p, type: 'x.Cluster', nonce: n, revision: canaryId });
    for (const e of events) e.ack?.({ proxy: p, type: 'x.Cluster', nonce: n, revision: canaryId });
  };
  return { runner, cache, connect, revisionOf, ack, status: () => runner.status('shop', 'config')! };
}


test('a proxy connecting mid-canary gets the revision its rank gives it; a reconnecting member keeps the canary; the last step takes newcomers too', async (t) => {
  const { runner, connect, revisionOf, ack, status } = await setup(t);
  await runner.accepted(await config('ROUND_ROBIN'), REVS('c1'));
  connect(MEMBER);
  connect(OTHER);
  t.is(revisionOf(MEMBER), R1);
  await runner.accepted(await config('LEAST_REQUEST'), REVS('c2'));
  await until(t, 'the first cohort', () => status().cohort?.members.length === 1);
  t.deepEqual(status().cohort!.members, [MEMBER.id], 'count 1: the lowest rank among the affected proxies connected');
  await until(t, 'the cohort served', () => revisionOf(MEMBER) === R2);
  t.is(revisionOf(OTHER), R1);

  // Mid-step: one connects with a rank within the step's threshold, one above it.
  connect(LOW);
  connect(MIDDLE);
  t.is(revisionOf(LOW), R2, 'rank within the threshold: the cohort\'s revision');
  t.is(revisionOf(MIDDLE), R1, 'rank above the threshold: the revision in force');
  // A member that reconnects keeps its cohort.
  connect(MEMBER);
  t.is(revisionOf(MEMBER), R2);
  const byProxy = Object.fromEntries(status().proxies!.map((p) => [p.proxy, p.revision]));
  t.deepEqual(byProxy, { [LOW.id]: R2, [MEMBER.id]: R2, [MIDDLE.id]: R1, [OTHER.id]: R1 });
  t.deepEqual(status().revisions, { inForce: R1, canary: R2 }, 'status: the revision in force and the cohort\'s');

  ack(MEMBER);
  await until(t, 'the pause', () => status().phase === 'Paused');
  t.is((await runner.command('shop', 'config', 'promote')).rejected, undefined);
  await until(t, 'the last cohort', () => status().cohort?.members.length === 4);
  // The cohort is reported before the cache is given its threshold: wait for a member above the old one to move.
  await until(t, 'the last cohort served', () => revisionOf(OTHER) === R2);
  connect(LATE);
  t.is(revisionOf(LATE), R2, 'percent 100: a proxy connecting now is in the cohort');
  for (const p of [LOW, MEMBER, MIDDLE, OTHER, LATE]) ack(p);
  await until(t, 'Succeeded', () => status().phase === 'Succeeded');
  await runner.idle();
  for (const p of [LOW, MEMBER, MIDDLE, OTHER, LATE]) t.is(revisionOf(p), R2, p.id);
  t.is(status().revisions, undefined, 'no canary drives any more');
});

test('a new commit mid-canary: the cohort moves to the newest revision, everyone else stays on the one in force before the canary (never the intermediate one)', async (t) => {
  const { runner, connect, revisionOf, ack, status } = await setup(t);
  await runner.accepted(await config('ROUND_ROBIN'), REVS('c1'));
  connect(MEMBER);
  connect(OTHER);
  await runner.accepted(await config('LEAST_REQUEST'), REVS('c2'));
  await until(t, 'the cohort served', () => revisionOf(MEMBER) === R2);
  ack(MEMBER);
  await until(t, 'the pause', () => status().phase === 'Paused');
  const R3 = 'main@sha1:c3';
  await runner.accepted(await config('RANDOM'), REVS('c3'));
  await until(t, 'the cohort on the newest revision', () => revisionOf(MEMBER) === R3);
  t.like(status(), { phase: 'Progressing', stepIndex: 1 }, 'the steps restart');
  t.is(revisionOf(OTHER), R1, 'outside the cohort: still the revision in force before the canary');
  t.deepEqual(status().revisions, { inForce: R1, canary: R3 });
  connect(LOW);
  t.is(revisionOf(LOW), R3, 'a newcomer within the kept threshold: the newest revision');
});
