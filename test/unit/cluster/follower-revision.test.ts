// Replicas share one rollout state (the cluster's ConfigMap, here a map);
// each accepts Git's revisions on its own schedule. A replica that has not
// accepted the revision the leader stepped the state with must not step the
// state with its older revision: that reads as "Git reverted the change
// mid-rollout" and aborts the rollout (weight 0) — the kube-leader flake,
// where a new leader's folder watcher had not yet seen the change.

import test from 'ava';
import type { ConfigSet, RolloutOverlay } from '../../../src/api/types.js';
import { RolloutRunner, type RolloutStore } from '../../../src/rollout/runner.js';
import { loadYaml } from '../../helpers/revision.js';
import { BASE } from '../validate/analyzers/_helpers.js';
import { vs } from '../rollout/_fixtures.js';

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: shop}
spec:
  target: {virtualService: reviews, route: primary}
  steps:
  - setWeight: 20
  - pause: {}
  - setWeight: 60
`;

async function config(v1: number, v2: number): Promise<ConfigSet> {
  const r = await loadYaml({ 'base.yaml': BASE, 'vs.yaml': vs(v1, v2), 'ro.yaml': ROLLOUT });
  if (!r.config) throw new Error('no config');
  return r.config;
}
const REVS = (commit: string) => [{ source: 'git', commit, id: `main@sha1:${commit}` }];
const weights = (o: RolloutOverlay | undefined) => (o?.overrides ?? []).map((x) => x.destinations.map((d) => `${d.subset}=${d.weight}`).join(' '));

class MemoryStore implements RolloutStore {
  docs = new Map<string, string>();
  writes = 0;
  async read<T>(doc: string): Promise<T | undefined> {
    const v = this.docs.get(doc);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async write(doc: string, value: unknown): Promise<void> {
    this.writes++;
    this.docs.set(doc, JSON.stringify(value));
  }
}

function replica(store: MemoryStore, leader: { is: boolean }, extra: { catchUpMs?: number } = {}) {
  const served: RolloutOverlay[] = [];
  const refreshed: string[] = [];
  const runner = new RolloutRunner({ store, isLeader: () => leader.is, apply: (_c, overlay) => served.push(overlay), refreshSource: (s) => refreshed.push(s), ...extra });
  return { runner, served, refreshed, leader };
}

/** A leader `a` and a follower `b` sharing one store, both on c1. */
async function pair(t: { teardown(fn: () => void): void }, extra: { catchUpMs?: number } = {}) {
  const store = new MemoryStore();
  const a = replica(store, { is: true });
  const b = replica(store, { is: false }, extra);
  t.teardown(() => (a.runner.stop(), b.runner.stop()));
  const c1 = await config(100, 0);
  for (const r of [a, b]) {
    await r.runner.start();
    await r.runner.accepted(c1, REVS('c1'));
  }
  return { store, a, b };
}

const persistedPhase = (store: MemoryStore) => (JSON.parse(store.docs.get('rollouts') ?? '{}') as { rollouts?: Record<string, { phase: string; canaryWeight?: number }> }).rollouts?.['shop/reviews'];

test('a follower and then a new leader that have not accepted the leader\'s revision serve its state as is and never abort it', async (t) => {
  const { store, a, b } = await pair(t);
  const c2 = await config(0, 100);
  // The leader accepts c2 and walks to 20 %; the follower is still on c1.
  await a.runner.accepted(c2, REVS('c2'));
  t.like(persistedPhase(store), { phase: 'Paused' });
  await b.runner.reload();
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 }, 'the follower on c1 serves the leader\'s step');
  t.deepEqual(weights(b.served.at(-1)), ['v1=80 v2=20']);

  // The leader dies; the follower leads before its own source saw c2.
  a.runner.stop();
  b.leader.is = true;
  const writes = store.writes;
  await b.runner.reload();
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  t.deepEqual(weights(b.served.at(-1)), ['v1=80 v2=20']);
  t.like(persistedPhase(store), { phase: 'Paused' }, 'nothing aborted in the store');
  t.true(store.writes <= writes + 1, 'at most the unchanged state written again');
  t.deepEqual(b.refreshed, ['git'], 'it asks for the source now');

  // Its source catches up: the rollout goes on from where it was.
  await b.runner.accepted(c2, REVS('c2'));
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  t.deepEqual(await b.runner.command('shop', 'reviews', 'resume'), { found: true });
  await b.runner.idle();
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Succeeded', canaryWeight: 100 }, 'setWeight 60 was the last step');
  t.like(persistedPhase(store), { phase: 'Succeeded' });
});

test('a follower ahead of the leader takes the same first step for its newer revision', async (t) => {
  const { b } = await pair(t);
  await b.runner.accepted(await config(0, 100), REVS('c2'));
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  t.deepEqual(weights(b.served.at(-1)), ['v1=80 v2=20']);
  t.deepEqual(b.refreshed, []);
});

test('a new leader whose source never brings the revision steps with its own after catchUpMs', async (t) => {
  const { store, a, b } = await pair(t, { catchUpMs: 50 });
  await a.runner.accepted(await config(0, 100), REVS('c2'));
  a.runner.stop();
  b.leader.is = true;
  await b.runner.reload();
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  for (let i = 0; i < 100 && b.runner.status('shop', 'reviews')!.phase === 'Paused'; i++) await new Promise((r) => setTimeout(r, 10));
  // Git (as this replica sees it) states the routing before the change: that is a revert.
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Aborted', canaryWeight: 0 });
  t.like(persistedPhase(store), { phase: 'Aborted' });
});

test('a reload racing an accepted revision never puts the older config back (the race behind the kube-leader flake)', async (t) => {
  const { a, b } = await pair(t);
  const c2 = await config(0, 100);
  await a.runner.accepted(c2, REVS('c2'));
  // The follower is told the store changed and, at the same moment, its source brings c2.
  await Promise.all([b.runner.reload(), b.runner.accepted(c2, REVS('c2'))]);
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  // It leads next: it must resume, not read its config as a revert.
  a.runner.stop();
  b.leader.is = true;
  await b.runner.reload();
  t.like(b.runner.status('shop', 'reviews'), { phase: 'Paused', canaryWeight: 20 });
  t.deepEqual(b.refreshed, [], 'it has the revision: nothing to wait for');
});
