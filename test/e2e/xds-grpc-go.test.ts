// The proxyless e2e scenarios through two independent xDS clients side by
// side: grpc-go's (test/interop/grpc-go-client, the reference implementation)
// and @grpc/grpc-js-xds, both against `meshcd serve` on loopback with the same
// mesh (test/fixtures/e2e-xds). Each scenario asserts the same outcome from
// both, and zero NACKs: none logged by grpc-go, none recorded by meshcd.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { goEventually, serverNacks, startGoClient, type GoAnswer, type GoClient } from '../helpers/go-grpc-client.js';
import { goPeer } from '../helpers/go-peers.js';
import { callEcho, eventually, grpcBootstrap, renderTemplate, startBackend, startServe, tempDir, writeFileIn, xdsClient, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const REVIEWS = 'xds:///reviews.bookinfo.svc.cluster.local:9080';
const RATINGS = 'xds:///ratings.bookinfo.svc.cluster.local:9090';
const GO_ID = 'sidecar~127.0.0.1~client-go.bookinfo~bookinfo.svc.cluster.local';
const JS_ID = 'sidecar~127.0.0.1~client-js.bookinfo~bookinfo.svc.cluster.local';
const CODE = { OK: '0', DEADLINE_EXCEEDED: '4', UNAVAILABLE: '14' } as const;

interface Ctx {
  serve: ServeProcess;
  dir: string;
  v1: Backend;
  go: GoClient;
  vars: Record<string, number>;
  cleanup: (() => Promise<unknown> | unknown)[];
}
let ctx: Ctx;

test.before(async (t) => {
  t.timeout(600_000, 'the first build of grpc-go-client on a cold machine');
  const cleanup: Ctx['cleanup'] = [];
  ctx = { cleanup } as Ctx;
  await goPeer('grpc-go-client');
  const { dir, remove } = await tempDir('meshcd-e2e-grpc-go-');
  cleanup.push(remove);
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  const ratings = await startBackend('ratings-v1');
  cleanup.push(() => v1.close(), () => v2.close(), () => ratings.close());
  // No XdsServer here (the port stays unbound): the inbound listener is still served, and must be acceptable to both clients.
  const vars = { P_V1: v1.port, P_V2: v2.port, P_RATINGS: ratings.port, P_XDS_SERVER: 1, WEIGHT_V1: 90, WEIGHT_V2: 10 };
  await writeFileIn(dir, 'reviews.yaml', await renderTemplate('mesh.yaml.tmpl', vars));
  await writeFileIn(dir, 'ratings.yaml', await renderTemplate('ratings.yaml.tmpl', vars));
  const serve = await startServe(dir);
  cleanup.push(() => serve.stop());
  const go = await startGoClient(grpcBootstrap(serve.xds, GO_ID, 'bookinfo'));
  cleanup.push(() => go.stop());
  Object.assign(ctx, { serve, dir, v1, go, vars });
});

test.after.always(async () => {
  for (const f of (ctx?.cleanup ?? []).reverse()) await f();
});

async function jsClient(t: { teardown(f: () => void): void }, target = REVIEWS) {
  const c = await xdsClient(target, ctx.serve.xds, JS_ID);
  t.teardown(() => c.close());
  return c;
}

/** The calls grpc-go made, as one line to read in a failure. */
function summary(a: GoAnswer): string {
  return `calls=${a.calls} ok=${a.ok} backends=${JSON.stringify(a.backends)} codes=${JSON.stringify(a.codes)} errors=${a.errors.join(' | ')}`;
}

async function assertNoNacks(t: { deepEqual(a: unknown, b: unknown, m?: string): void }) {
  const a = await ctx.go.run({ target: REVIEWS, n: 0 });
  t.deepEqual(a.nacks, [], 'grpc-go NACKed nothing');
  t.deepEqual(await serverNacks(ctx.serve.admin), [], 'meshcd recorded no NACK');
}

test.serial('90/10 split: grpc-go over 2,000 calls and grpc-js over 1,000 land near 10% v2', async (t) => {
  const a = await ctx.go.run({ target: REVIEWS, n: 2000, concurrency: 20, wait_ms: 15000 });
  t.is(a.ok, 2000, summary(a));
  const goShare = ((a.backends.v2 ?? 0) / 2000) * 100;
  const c = await jsClient(t);
  await eventually(() => callEcho(c, {}, {}, 2000), 15000);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1000; i += 50) for (const r of await Promise.all(Array.from({ length: 50 }, () => callEcho(c)))) counts[r.version] = (counts[r.version] ?? 0) + 1;
  const jsShare = ((counts.v2 ?? 0) / 1000) * 100;
  t.log(`grpc-go ${goShare.toFixed(1)}% v2, grpc-js ${jsShare.toFixed(1)}% v2`);
  t.true(Math.abs(goShare - 10) <= 3, `grpc-go v2 share ${goShare}%`);
  t.true(Math.abs(jsShare - 10) <= 4, `grpc-js v2 share ${jsShare}%`);
  t.deepEqual(Object.keys(a.backends).sort(), ['v1', 'v2']);
  await assertNoNacks(t);
});

test.serial('header routing and subsets: x-route: canary reaches v2 only, x-retry: yes reaches v1 only', async (t) => {
  const canary = await ctx.go.run({ target: REVIEWS, n: 40, concurrency: 8, metadata: { 'x-route': 'canary' }, wait_ms: 15000 });
  t.deepEqual(canary.backends, { v2: 40 }, summary(canary));
  const v1 = await ctx.go.run({ target: REVIEWS, n: 20, concurrency: 4, metadata: { 'x-retry': 'yes' } });
  t.deepEqual(v1.backends, { v1: 20 }, summary(v1));
  const c = await jsClient(t);
  await eventually(() => callEcho(c, {}, {}, 2000), 15000);
  t.deepEqual([...new Set((await Promise.all(Array.from({ length: 20 }, () => callEcho(c, {}, { 'x-route': 'canary' })))).map((r) => r.version))], ['v2']);
  await assertNoNacks(t);
});

test.serial('fault abort gives UNAVAILABLE without reaching the backend; a fault delay holds the call past a short deadline', async (t) => {
  await ctx.go.run({ target: REVIEWS, n: 0, wait_ms: 15000 });
  const before = ctx.v1.calls;
  const abort = await ctx.go.run({ target: REVIEWS, n: 10, metadata: { 'x-fault': 'abort' } });
  t.deepEqual(abort.codes, { [CODE.UNAVAILABLE]: 10 }, summary(abort));
  t.is(ctx.v1.calls, before, 'aborted calls never reach the backend');
  const slow = await ctx.go.run({ target: REVIEWS, n: 3, metadata: { 'x-fault': 'delay' }, deadline_ms: 150 });
  t.deepEqual(slow.codes, { [CODE.DEADLINE_EXCEEDED]: 3 }, summary(slow));
  const held = await ctx.go.run({ target: REVIEWS, n: 3, metadata: { 'x-fault': 'delay' }, deadline_ms: 5000 });
  t.deepEqual(held.backends, { v1: 3 }, summary(held));
  const c = await jsClient(t);
  await eventually(() => callEcho(c, {}, {}, 2000), 15000);
  const err = await t.throwsAsync(callEcho(c, {}, { 'x-fault': 'abort' }));
  t.is((err as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
  await assertNoNacks(t);
});

test.serial('route timeout cuts a slow call; retries recover from UNAVAILABLE only where the route says so', async (t) => {
  await ctx.go.run({ target: REVIEWS, n: 0, wait_ms: 15000 });
  const timedOut = await ctx.go.run({ target: REVIEWS, n: 2, sleep_ms: 2000, metadata: { 'x-timeout': 'short' }, deadline_ms: 10000 });
  t.deepEqual(timedOut.codes, { [CODE.DEADLINE_EXCEEDED]: 2 }, summary(timedOut));
  const retried = await ctx.go.run({ target: REVIEWS, n: 1, key: `go-retry-${Date.now()}`, fail_first: 2, metadata: { 'x-retry': 'yes' } });
  t.deepEqual(retried.attempts, { 3: 1 }, `two failures retried, the third attempt answered: ${summary(retried)}`);
  const once = await ctx.go.run({ target: REVIEWS, n: 1, key: `go-once-${Date.now()}`, fail_first: 1, metadata: { 'x-route': 'canary' } });
  t.deepEqual(once.codes, { [CODE.UNAVAILABLE]: 1 }, `routes without a retry policy do not retry: ${summary(once)}`);
  const c = await jsClient(t);
  await eventually(() => callEcho(c, {}, {}, 2000), 15000);
  t.is((await callEcho(c, { key: `js-retry-${Date.now()}`, fail_first: 2 }, { 'x-retry': 'yes' })).attempt, 3);
  await assertNoNacks(t);
});

test.serial('a config change is followed by both clients; a broken revision is rejected and the split kept', async (t) => {
  const c = await jsClient(t);
  await eventually(() => callEcho(c, {}, {}, 2000), 15000);
  await writeFileIn(ctx.dir, 'reviews.yaml', await renderTemplate('mesh.yaml.tmpl', { ...ctx.vars, WEIGHT_V1: 0, WEIGHT_V2: 100 }));
  const moved = await goEventually(ctx.go, { target: REVIEWS, n: 30, concurrency: 6 }, (a) => a.backends.v2 === 30);
  t.deepEqual(moved.backends, { v2: 30 }, summary(moved));
  await eventually(async () => {
    const rs = await Promise.all(Array.from({ length: 30 }, () => callEcho(c)));
    if (rs.some((r) => r.version !== 'v2')) throw new Error('grpc-js still splitting');
  }, 15000, 200);
  await writeFileIn(ctx.dir, 'broken.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: bookinfo}\nspec:\n  hosts: []\n  http: [{route: [{destination: {host: reviews.bookinfo.svc.cluster.local}, weight: 250}]}]\n');
  await eventually(async () => {
    if (!/rejected dir@sha256:/.test(ctx.serve.stdout())) throw new Error('not rejected yet');
  }, 10000, 100);
  const kept = await ctx.go.run({ target: REVIEWS, n: 20, concurrency: 4 });
  t.deepEqual(kept.backends, { v2: 20 }, summary(kept));
  await rm(join(ctx.dir, 'broken.yaml'));
  await writeFileIn(ctx.dir, 'reviews.yaml', await renderTemplate('mesh.yaml.tmpl', ctx.vars));
  const back = await goEventually(ctx.go, { target: REVIEWS, n: 200, concurrency: 10 }, (a) => (a.backends.v1 ?? 0) > 150);
  t.true((back.backends.v1 ?? 0) > 150, summary(back));
  await assertNoNacks(t);
});

test.serial('a removed service gives UNAVAILABLE to both clients', async (t) => {
  const up = await ctx.go.run({ target: RATINGS, n: 5, wait_ms: 20000 });
  t.deepEqual(up.backends, { 'ratings-v1': 5 }, summary(up));
  const c = await jsClient(t, RATINGS);
  t.is((await eventually(() => callEcho(c, {}, {}, 2000), 20000)).version, 'ratings-v1');
  await rm(join(ctx.dir, 'ratings.yaml'));
  const gone = await goEventually(ctx.go, { target: RATINGS, n: 3, deadline_ms: 2000 }, (a) => a.ok === 0);
  t.deepEqual(gone.codes, { [CODE.UNAVAILABLE]: 3 }, summary(gone));
  const err = await eventually(async () => {
    try {
      await callEcho(c, {}, {}, 2000);
    } catch (e) {
      return e as grpc.ServiceError;
    }
    throw new Error('ratings still answers grpc-js');
  }, 15000, 200);
  t.is(err.code, grpc.status.UNAVAILABLE);
  await assertNoNacks(t);
});

test.serial('ring hash on a header: each x-user sticks to one endpoint in grpc-go, and the users spread over several', async (t) => {
  await writeFileIn(ctx.dir, 'hashed.yaml', await renderTemplate('../../interop/fixtures/ring-hash.yaml.tmpl', ctx.vars));
  const target = 'xds:///hashed.bookinfo.svc.cluster.local:9085';
  await ctx.go.run({ target, n: 0, wait_ms: 20000 });
  const home: Record<string, string> = {};
  for (let u = 0; u < 12; u++) {
    const a = await ctx.go.run({ target, n: 15, concurrency: 5, metadata: { 'x-user': `user-${u}` } });
    t.is(Object.keys(a.backends).length, 1, `user-${u}: ${summary(a)}`);
    home[`user-${u}`] = Object.keys(a.backends)[0]!;
  }
  t.log(JSON.stringify(home));
  t.true(new Set(Object.values(home)).size > 1, 'twelve users do not all hash to one endpoint');
  await rm(join(ctx.dir, 'hashed.yaml'));
  await assertNoNacks(t);
});
