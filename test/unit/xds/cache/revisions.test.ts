// The cache's revisions with plain values: the current one, a config canary
// served to a cohort, cohorts re-evaluated, proxies connecting mid-canary,
// the affected set, and work done in slices (first classes pushed while the
// rest build).

import test from 'ava';
import type { ProxyInfo, ProxyResources } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import type { EncodedSnapshot } from '../../../../src/xds/cache/snapshot.js';
import { SnapshotCache, translatingBuilder, type ModelInputs, type Translator } from '../../../../src/xds/cache/index.js';
import { grpcResources, type SvcSpec } from '../../../helpers/xds-resources.js';

type World = Record<string, SvcSpec[]>;

const svc = (ns: string, port: number): SvcSpec => ({ host: `app.${ns}.svc.cluster.local`, port: 9080, backends: [{ subset: '', port, weight: 100 }] });

/** Inputs that stand for a world: the fake translator's model is the world the inputs were made for. */
function revisionsOf(): { inputs(w: World): ModelInputs; translator: Translator<World> & { calls: number } } {
  const worlds = new WeakMap<ModelInputs, World>();
  const tr = {
    calls: 0,
    model: (i: ModelInputs) => worlds.get(i)!,
    key: (p: ProxyInfo) => `${p.kind}/${p.namespace}`,
    translate(p: ProxyInfo, m: World): { resources: ProxyResources } {
      tr.calls++;
      return { resources: grpcResources(m[p.namespace] ?? []) };
    },
  };
  return {
    translator: tr,
    inputs(w) {
      const config = makeConfigSet([]);
      const i = { config, index: buildServiceIndex(config) };
      worlds.set(i, w);
      return i;
    },
  };
}

const proxy = (id: string, namespace: string): ProxyInfo => ({ id, kind: 'grpc', namespace, labels: {}, ips: [] });

function setup() {
  const r = revisionsOf();
  const cache = new SnapshotCache(translatingBuilder(r.translator));
  const pushes: { proxy: string; revision: string | undefined; version: string }[] = [];
  const watches = new Map<string, ReturnType<SnapshotCache['watch']>>();
  const connect = (id: string, ns: string) => {
    const w = cache.watch(proxy(id, ns), (s: EncodedSnapshot, revision) => pushes.push({ proxy: id, revision, version: s.version }));
    watches.set(id, w);
    return w;
  };
  const pushed = () => pushes.splice(0).map((p) => `${p.proxy}@${p.revision}`).sort();
  return { ...r, cache, connect, pushed, watches };
}

const V1: World = { a: [svc('a', 1)], b: [svc('b', 2)] };
const V2: World = { a: [svc('a', 11)], b: [svc('b', 2)] };

test('a canary revision goes to its cohort only; a new predicate moves only the proxies whose revision changes', (t) => {
  const { cache, inputs, connect, pushed } = setup();
  cache.update(inputs(V1), 'r1');
  cache.flush();
  for (const [id, ns] of [['a1', 'a'], ['a2', 'a'], ['a3', 'a'], ['b1', 'b']] as const) connect(id, ns);
  t.deepEqual(pushed(), []);
  const rows: { cohort: string[]; expectPushed: string[]; onCanary: string[] }[] = [
    // Cohort a1: it alone moves to r2.
    { cohort: ['a1'], expectPushed: ['a1@r2'], onCanary: ['a1'] },
    // Widen to a1, a2, b1: a2 moves; b1 moves too but its config is the same, so it gets no push.
    { cohort: ['a1', 'a2', 'b1'], expectPushed: ['a2@r2'], onCanary: ['a1', 'a2', 'b1'] },
    // Narrow to a2: a1 goes back to r1 (a push), b1 back without one.
    { cohort: ['a2'], expectPushed: ['a1@r1'], onCanary: ['a2'] },
  ];
  const canary = { id: 'r2', inputs: inputs(V2) };
  for (const row of rows) {
    cache.setCanary(canary, (p) => row.cohort.includes(p.id));
    cache.flush();
    t.deepEqual(pushed(), row.expectPushed, `cohort ${row.cohort}`);
    t.deepEqual(cache.proxies().filter((p) => p.cohort === 'canary').map((p) => p.proxy.id).sort(), row.onCanary);
  }
  t.is(cache.revisionOf('a2'), 'r2');
  t.is(cache.revisionOf('a3'), 'r1');
  t.is(cache.revision, 'r1');
  t.is(cache.canaryRevision, 'r2');
  cache.close();
});

test('a proxy connecting mid-canary gets its cohort\'s revision; ending the canary puts everyone on current', (t) => {
  const { cache, inputs, connect, pushed, watches } = setup();
  cache.update(inputs(V1), 'r1');
  cache.setCanary({ id: 'r2', inputs: inputs(V2) }, (p) => p.id.endsWith('-canary'));
  cache.flush();
  const inCohort = connect('a-canary', 'a');
  const outside = connect('a-stable', 'a');
  t.is(inCohort.revision, 'r2');
  t.is(outside.revision, 'r1');
  t.not(inCohort.current!.version, outside.current!.version);
  t.deepEqual(pushed(), []);
  cache.setCanary(undefined, () => false);
  cache.flush();
  t.deepEqual(pushed(), ['a-canary@r1']);
  t.is(watches.get('a-canary')!.revision, 'r1');
  t.is(cache.canaryRevision, undefined);
  t.deepEqual(cache.status().map((s) => s.cohort), ['current']);
  cache.close();
});

test('the current revision moves on during a canary: the cohort stays on the canary', (t) => {
  const { cache, inputs, connect, pushed } = setup();
  cache.update(inputs(V1), 'r1');
  cache.setCanary({ id: 'r2', inputs: inputs(V2) }, (p) => p.id === 'a1');
  cache.flush();
  connect('a1', 'a');
  connect('a2', 'a');
  connect('b1', 'b');
  cache.update(inputs({ a: [svc('a', 1)], b: [svc('b', 3)] }), 'r3');
  cache.flush();
  t.deepEqual(pushed(), ['b1@r3']);
  t.deepEqual(cache.proxies().map((p) => `${p.proxy.id}@${p.revision}`).sort(), ['a1@r2', 'a2@r3', 'b1@r3']);
  cache.close();
});

test('affected(): the connected proxies whose config differs between current and canary, and the revision each is on', async (t) => {
  const { cache, inputs, connect, translator } = setup();
  cache.update(inputs(V1), 'r1');
  cache.flush();
  for (const [id, ns] of [['a1', 'a'], ['a2', 'a'], ['b1', 'b']] as const) connect(id, ns);
  t.deepEqual(await cache.affected(), [], 'no canary, nothing affected');
  cache.setCanary({ id: 'r2', inputs: inputs(V2) }, (p) => p.id === 'a1');
  const calls = translator.calls;
  const pending = cache.affected();
  t.is(translator.calls, calls, 'affected() does not build the canary there and then: it waits for the rebuild in slices');
  const affected = await pending;
  t.deepEqual(affected.map((a) => `${a.proxy.id}@${a.revision}:${a.cohort}`).sort(), ['a1@r2:canary', 'a2@r1:current']);
  cache.close();
});

test('a rebuild runs in slices: the first classes are pushed before the last is built', async (t) => {
  const r = revisionsOf();
  const cache = new SnapshotCache(translatingBuilder(r.translator), { sliceMs: 0 });
  const world = (port: number): World => Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`ns${i}`, [svc(`ns${i}`, port + i)]]));
  cache.update(r.inputs(world(100)), 'r1');
  cache.flush();
  const order: string[] = [];
  for (let i = 0; i < 6; i++) cache.watch(proxy(`p${i}`, `ns${i}`), () => order.push(`p${i}`));
  const before = r.translator.calls;
  cache.update(r.inputs(world(200)), 'r2');
  t.is(r.translator.calls, before, 'update() returns before any work');
  await new Promise((res) => setImmediate(res));
  t.true(order.length >= 1 && order.length < 6, `after one turn of the event loop: ${order.length} of 6 pushed`);
  cache.flush();
  t.is(order.length, 6);
  t.is(r.translator.calls - before, 6, 'one translation per class');
  cache.close();
});

test('updates that arrive during a rebuild coalesce: the newest revision wins', async (t) => {
  const r = revisionsOf();
  const cache = new SnapshotCache(translatingBuilder(r.translator), { sliceMs: 0 });
  const world = (port: number): World => Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`ns${i}`, [svc(`ns${i}`, port + i)]]));
  cache.update(r.inputs(world(100)), 'r1');
  cache.flush();
  for (let i = 0; i < 4; i++) cache.watch(proxy(`p${i}`, `ns${i}`), () => undefined);
  cache.update(r.inputs(world(200)), 'r2');
  await new Promise((res) => setImmediate(res));
  cache.update(r.inputs(world(300)), 'r3');
  cache.update(r.inputs(world(400)), 'r4');
  await new Promise((res) => setTimeout(res, 50));
  t.deepEqual(cache.proxies().map((p) => p.revision), ['r4', 'r4', 'r4', 'r4']);
  t.is(cache.rebuilds, 3, 'r1, r2 and r4 prepared; r3 never');
  cache.close();
});
