// The proxyless e2e scenarios through two independent xDS clients side by
// side: grpc-go's (test/interop/grpc-go-client, the reference implementation)
// and @grpc/grpc-js-xds, both against `meshcd serve` on loopback with the same
// mesh (test/fixtures/e2e-xds). grpc-go runs as a workload does: a `meshcd
// agent` gets its certificate from serve's CA and writes its bootstrap, and
// grpc-go fetches its config over TLS (port 15012) with that certificate;
// grpc-js-xds 1.14 cannot do TLS to its xDS server and uses the plaintext port. Each scenario asserts the same outcome from
// both, and zero NACKs: none logged by grpc-go, none recorded by meshcd.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { goEventually, serverNacks, startGoClient, type GoAnswer, type GoClient } from '../helpers/go-grpc-client.js';
import { goPeer } from '../helpers/go-peers.js';
import { startIdentity, startServeWithCa } from '../helpers/go-mesh-identities.js';
import { callEcho, eventually, renderTemplate, startBackend, tempDir, writeFileIn, xdsClient, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const REVIEWS = 'xds:///reviews.bookinfo.svc.cluster.local:9080';
const RATINGS = 'xds:///ratings.bookinfo.svc.cluster.local:9090';
const GO_TOKEN = 'e2e-grpc-go-token-0123456789';
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
  const { dir: work, remove } = await tempDir('meshcd-e2e-grpc-go-');
  cleanup.push(remove);
  const dir = join(work, 'mesh');
  await mkdir(dir);
  const v1 = await startBackend('v1');
  const v2 = await startBackend('v2');
  const ratings = await startBackend('ratings-v1');
  cleanup.push(() => v1.close(), () => v2.close(), () => ratings.close());
  // No XdsServer here (the port stays unbound): the inbound listener is still served, and must be acceptable to both clients.
  const vars = { P_V1: v1.port, P_V2: v2.port, P_RATINGS: ratings.port, P_XDS_SERVER: 1, WEIGHT_V1: 90, WEIGHT_V2: 10 };
  await writeFileIn(dir, 'reviews.yaml', await renderTemplate('mesh.yaml.tmpl', vars));
  await writeFileIn(dir, 'ratings.yaml', await renderTemplate('ratings.yaml.tmpl', vars));
  // grpc-go fetches its config over TLS from serve's 15012 with the certificate its agent got there (grpc-js-xds 1.14 cannot: plaintext).
  const { serve, ca } = await startServeWithCa(work, dir, 'bookinfo', { 'client-go': GO_TOKEN });
  cleanup.push(() => serve.stop());
  const goId = await startIdentity(work, ca, ca.address, 'client-go', { pod: 'client-go', ttl: '1h' });
  cleanup.push(() => goId.agent.stop());
  const go = await startGoClient(goId.bootstrap);
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
  const syncz = (await (await fetch(`${ctx.serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; access: string; identity?: string }[] };
  const go = syncz.proxies.filter((p) => p.proxy.includes('~client-go.bookinfo~'));
  t.true(go.length > 0 && go.every((p) => p.access === 'tls' && p.identity === 'spiffe://cluster.local/ns/bookinfo/sa/client-go'), `grpc-go's streams are on the TLS port as its certificate's identity: ${JSON.stringify(go)}`);
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
  await writeFileIn(ctx.dir, 'broken.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: bookinfo}\nspec:\n  hosts: []\n  http: [{route: [{destination: {host: reviews.bookinfo.svc.cluster.local}, weight: -5}]}]\n');
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

test.serial('outlier detection ejects a failing host: both clients stop reaching it after a 1 s sweep and stay off it for five more intervals', async (t) => {
  t.timeout(120_000);
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.teardown(() => Promise.all([a.close(), b.close()]));
  b.failing = true;
  const target = 'xds:///details.bookinfo.svc.cluster.local:9070';
  // consecutive5xxErrors: 5, interval 1s, baseEjectionTime 30s, maxEjectionPercent 50 (proxyless: failure-percentage ejection, MCD4102).
  await writeFileIn(ctx.dir, 'details.yaml', await renderTemplate('outlier.yaml.tmpl', { P_A: a.port, P_B: b.port }));
  t.teardown(() => rm(join(ctx.dir, 'details.yaml')));
  const js = await jsClient(t, target);
  await eventually(() => callEcho(js, {}, {}, 2000), 20000);
  await ctx.go.run({ target, n: 0, wait_ms: 20000 });

  // Three intervals of traffic: round robin sends half the calls to b, which fails them, until a sweep ejects it.
  const jsCalls = async (ms: number) => {
    const seen: Record<string, number> = {};
    const end = Date.now() + ms;
    while (Date.now() < end) {
      for (const r of await Promise.allSettled(Array.from({ length: 10 }, () => callEcho(js, {}, {}, 2000)))) {
        const k = r.status === 'fulfilled' ? r.value.version : `code ${(r.reason as grpc.ServiceError).code}`;
        seen[k] = (seen[k] ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return seen;
  };
  const [goBefore, jsBefore] = await Promise.all([ctx.go.run({ target, duration_ms: 3000, concurrency: 4, deadline_ms: 2000 }), jsCalls(3000)]);
  t.log(`first 3 s: grpc-go ${summary(goBefore)}; grpc-js ${JSON.stringify(jsBefore)}`);
  t.true((goBefore.codes[CODE.UNAVAILABLE] ?? 0) > 0 && (goBefore.backends.a ?? 0) > 0, `grpc-go reached the failing host before the sweep: ${summary(goBefore)}`);
  t.true((jsBefore[`code ${grpc.status.UNAVAILABLE}`] ?? 0) > 0 && (jsBefore.a ?? 0) > 0, `grpc-js reached the failing host before the sweep: ${JSON.stringify(jsBefore)}`);

  // Ejected: five more intervals with every call on a, none failed, although b is still in the endpoints.
  const callsOnB = b.calls;
  const [goAfter, jsAfter] = await Promise.all([ctx.go.run({ target, duration_ms: 5000, concurrency: 4, deadline_ms: 2000 }), jsCalls(5000)]);
  t.log(`next 5 s: grpc-go ${summary(goAfter)}; grpc-js ${JSON.stringify(jsAfter)}`);
  t.true(goAfter.calls > 50, summary(goAfter));
  t.deepEqual(goAfter.codes, { [CODE.OK]: goAfter.calls }, summary(goAfter));
  t.deepEqual(Object.keys(goAfter.backends), ['a']);
  t.deepEqual(Object.keys(jsAfter), ['a'], JSON.stringify(jsAfter));
  t.is(b.calls, callsOnB, 'no call reached the ejected host');
  const cds = (await (await fetch(`${ctx.serve.admin}/debug/config_dump?proxy=${encodeURIComponent(JS_ID)}`)).text());
  for (const p of [a.port, b.port]) t.regex(cds, new RegExp(`"portValue":\\s*${p}\\b`), `endpoint :${p} is still served: ejection is the clients' own doing`);
  await assertNoNacks(t);
});
