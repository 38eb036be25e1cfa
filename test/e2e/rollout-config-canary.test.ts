// Config canaries end to end (issue 13), every part real
// (test/helpers/rollout-e2e.ts): `meshcd serve` following a config repository
// on git http-backend, a grpc-js-xds and a grpc-go client in steady traffic,
// a real Prometheus scraping the clients' own outcomes (client-side Istio
// metrics, labelled by pod). Scenarios: a revision reaching first one client
// then both; a revision that a client NACKs stopping at the first cohort,
// rolled back and reported with the NACK text; a change that raises errors
// in the cohort rolled back by the cohort-vs-rest comparison, with the revert
// commit in the repository; `meshcd serve` killed (-9) mid-canary and
// restarted on the same state dir: the cohort keeps the new revision and the
// other client the old one (from the retained copy), the dashboard's page
// (Chromium) shows both revisions and who is on which, two clients that
// connect then get the revision their rank gives them, then it is promoted;
// two config canaries changed by one commit: one walks, the other is queued.

import '../helpers/grpc-js-without-ring-hash.js';
import test from 'ava';
import { rank } from '../../src/rollout/cohort.js';
import { openBrowser, screenshot } from '../helpers/browser.js';
import { AUTHOR, cli, REVIEWS, RolloutRig, type RolloutStatusJson } from '../helpers/rollout-e2e.js';
import { callEcho, xdsClient } from '../helpers/xds-e2e.js';

const id = (pod: string) => `sidecar~127.0.0.1~${pod}.bookinfo~bookinfo.svc.cluster.local`;

/** Node ids for the two clients such that `first` has the lower rank (is the first cohort of one). */
function ids(first: 'js' | 'go'): { js: string; go: string } {
  const go = id('client-go');
  for (let i = 0; ; i++) {
    const js = id(`client-js-${i}`);
    if ((rank(js) < rank(go)) === (first === 'js')) return { js, go };
  }
}

const canaryDoc = (body: string) => (hooks: string) => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: config, namespace: bookinfo}
spec:
  strategy: proxies
  target: {kinds: [VirtualService, DestinationRule], namespaces: [bookinfo]}
${body}  webhooks:
  - {name: events, type: event, url: ${hooks}}
`;

const STEPS = `  steps:
  - setProxies: {count: 1}
  - pause: {}
  - setProxies: {percent: 100}
`;

/** The rig with a config canary covering VirtualServices and DestinationRules of bookinfo; `first` is the client in the first cohort. */
function canaryRig(first: 'js' | 'go', extra: { prometheus?: boolean; clientMetrics?: boolean; v2FailPercent?: number; analysis?: string } = {}): Promise<RolloutRig> {
  const { analysis = '', ...opts } = extra;
  return RolloutRig.start({ prometheus: false, ...opts, ids: ids(first), rollout: '', name: 'bookinfo/config', rolloutDoc: canaryDoc(`${STEPS}${analysis}  writeBack: revert\n`) });
}

type Status = RolloutStatusJson & { strategy?: string; cohort?: { members: string[]; eligible: number; acked: boolean; pending: string[] }; proxies?: { proxy: string; revision?: string; cohort: string }[]; revisions?: { inForce: string; canary?: string } };

/** v2's share per client kind over `ms` after `settleMs`. */
async function observe(rig: RolloutRig, ms = 2500, settleMs = 1000) {
  await new Promise((r) => setTimeout(r, settleMs));
  const from = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return rig.traffic.share(from, Date.now());
}

async function proxyStatus(rig: RolloutRig): Promise<Record<string, string>> {
  const r = await cli(['proxy-status', '--server', rig.serve.admin, '-o', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  const doc = JSON.parse(r.stdout) as { proxies: { proxy: string; revision: string }[] };
  return Object.fromEntries(doc.proxies.map((p) => [p.proxy, p.revision]));
}

test.serial('a config change reaches one client first, then both; proxy-status and rollout status show who has which revision', async (t) => {
  t.timeout(240_000);
  const rig = await canaryRig('go');
  const order = rig.ids;
  t.teardown(() => rig.close());
  const before = await observe(rig, 1500, 0);
  t.is(before.js, 0);
  t.is(before.go, 0);
  const oldRevision = (await rig.status()).revision;

  // The pull request: reviews' split route to v2. A config canary hands it to one proxy first.
  const commit = await rig.change(0, 100, 'reviews: all to v2');
  const one = (await rig.waitFor('the first cohort ACKed', (s) => s.phase === 'Paused' && s.stepIndex === 1)) as Status;
  t.is(one.strategy, 'proxies');
  t.deepEqual(one.cohort?.members, [order.go], 'the lower rank goes first');
  t.true(one.cohort?.acked);
  t.is(one.cohort?.eligible, 2);
  t.is(one.canaryWeight, 50);
  const split = await observe(rig);
  t.log(`after step 1: grpc-go ${split.go.toFixed(1)}% v2 (in the cohort), grpc-js-xds ${split.js.toFixed(1)}% v2 (not)`);
  t.is(split.go, 100);
  t.is(split.js, 0);
  const revisions = await proxyStatus(rig);
  t.regex(revisions[order.go] ?? '', new RegExp(commit), 'proxy-status: grpc-go on the new revision');
  t.is(revisions[order.js], `main@sha1:${oldRevision}`, 'proxy-status: grpc-js-xds on the one in force');
  t.like(one.proxies?.find((p) => p.proxy === order.go), { cohort: 'canary' });
  t.like(one.proxies?.find((p) => p.proxy === order.js), { cohort: 'current' });
  const text = await cli(['rollout', 'status', 'bookinfo/config', '--server', rig.serve.admin]);
  t.regex(text.stdout, /cohort: 1 of 2 affected proxies, all ACKed/);
  t.regex(text.stdout, new RegExp(`revisions: in force \\S*${oldRevision}, cohort on \\S*${commit}`));
  t.regex(text.stdout, new RegExp(`${order.go.replace(/[.~]/g, '\\$&')}\\s+new\\s+main@sha1:${commit}`));

  t.is((await rig.command('promote')).code, 0);
  const done = await rig.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  t.is(done.canaryWeight, 100);
  const both = await observe(rig);
  t.is(both.go, 100);
  t.is(both.js, 100);
  const after = await proxyStatus(rig);
  t.regex(after[order.js] ?? '', new RegExp(commit));
  t.false((await rig.remoteLog()).some((c) => c.author.includes(AUTHOR.email)));
  t.deepEqual(await rig.nacks(), []);
});

test.serial('a revision grpc-js-xds NACKs stops at the first cohort: rolled back at once, the NACK text in the status, the revert in Git', async (t) => {
  t.timeout(240_000);
  const rig = await canaryRig('js');
  const order = rig.ids;
  t.teardown(() => rig.close());
  // Consistent hashing on a header: valid for Istio, Envoy and grpc-go; this file's grpc-js-xds client has no ring hash
  // (../helpers/grpc-js-without-ring-hash.ts), as an older client would, and refuses the cluster.
  const bad = await rig.changeMesh(
    (mesh) => mesh.replace('  host: reviews.bookinfo.svc.cluster.local\n  subsets:', '  host: reviews.bookinfo.svc.cluster.local\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n  subsets:'),
    'reviews: consistent hashing on x-user',
  );
  const failed = await rig.waitFor('the rollback', (s) => s.phase === 'Failed');
  t.log(failed.reason);
  t.regex(failed.reason ?? '', new RegExp(`^proxy ${order.js.replace(/[.~]/g, '\\$&')} NACKed the new revision \\(CDS\\): .*unsupported lb_policy: RING_HASH`));
  t.is(failed.stepIndex, 1, 'stopped at the first cohort');
  t.true(failed.history.some((h) => /cohort: 1 of 2 affected proxies/.test(h.message)));
  const written = await rig.waitFor('the write-back', (s) => s.writeBack?.status === 'done');
  t.is(written.writeBack?.result?.kind, 'reverted');
  const log = await rig.remoteLog();
  t.is(log[1]!.commit, bad);
  t.is(log[0]!.author, `${AUTHOR.name} <${AUTHOR.email}>`);
  t.regex(log[0]!.body, /unsupported lb_policy: RING_HASH/);
  t.regex(log[0]!.body, /for mesh\/reviews\.yaml/);
  // Everyone back on the revision in force; the grpc-go client never saw the new one.
  await rig.waitFor('the revert read back', (s) => s.history.some((h) => /Git states the routing in force/.test(h.message)));
  const after = rig.traffic.share(Date.now() - 2000, Date.now());
  t.true(after.jsN > 10 && after.goN > 10, 'both clients still served');
  const goNacks = (await rig.go.run({ target: 'xds:///reviews.bookinfo.svc.cluster.local:9080', n: 0 })).nacks;
  t.deepEqual(goNacks, [], 'grpc-go was never given the revision');
});

test.serial('a change that raises errors in the cohort is rolled back by the cohort-vs-rest comparison, with the revert commit in Git', async (t) => {
  t.timeout(240_000);
  const rig = await canaryRig('js', {
    prometheus: true,
    clientMetrics: true,
    v2FailPercent: 50,
    analysis: `  analysis:
    interval: 3s
    failureLimit: 0
    inconclusiveLimit: 20
    consecutiveErrorLimit: 10
    metrics:
    - name: errors-vs-rest
      query: '(sum(rate(istio_requests_total{reporter="source",pod=~"{{ cohort.pods }}",grpc_response_status!="0"}[{{ interval }}])) or vector(0)) / sum(rate(istio_requests_total{reporter="source",pod=~"{{ cohort.pods }}"}[{{ interval }}]))'
      compare: rest
      maxDelta: 0.05
`,
  });
  t.teardown(() => rig.close());
  // reviews' split route to v2, which fails half of its calls: only the cohort (grpc-js-xds) is sent there.
  const bad = await rig.change(0, 100, 'reviews: all to v2');
  const failed = await rig.waitFor('the rollback', (s) => s.phase === 'Failed', 90_000);
  t.log(failed.reason);
  t.regex(failed.reason ?? '', /1 failed measurements \(failureLimit 0\); last: errors-vs-rest=0\.\d+ \(stable 0\) failure: cohort − rest = 0\.\d+ > maxDelta 0\.05/);
  const m = failed.analysis!.metrics['errors-vs-rest']!.recent.at(-1)!;
  t.true((m.value ?? 0) > 0.2, `the cohort's error rate ${m.value}`);
  const written = await rig.waitFor('the write-back', (s) => s.writeBack?.status === 'done');
  t.is(written.writeBack?.result?.kind, 'reverted');
  const log = await rig.remoteLog();
  t.is(log[1]!.commit, bad);
  t.is(log[0]!.subject, 'meshcd: roll back Rollout bookinfo/config');
  t.regex(log[0]!.body, /errors-vs-rest=0\.\d+/);
  await rig.repo.git('fetch', '-q', 'origin');
  t.is(await rig.repo.git('show', 'origin/main:mesh/reviews.yaml'), await rig.repo.git('show', `${bad}~1:mesh/reviews.yaml`));
  // The cohort's errors stop: everyone back on v1.
  const decision = Date.parse(failed.history.find((h) => /^rolled back/.test(h.message))!.at);
  await rig.traffic.after(decision + 3000);
  const errorsAfter = rig.traffic.js.filter((s) => s.at > decision + 2000 && s.code !== undefined).length;
  t.is(errorsAfter, 0, 'no errors at grpc-js-xds after the rollback');
  t.deepEqual(await rig.nacks(), []);
});

test.serial('serve killed (-9) mid-canary: after the restart the cohort keeps the new revision and the other client the old one, then it is promoted', async (t) => {
  t.timeout(240_000);
  const rig = await canaryRig('go');
  const order = rig.ids;
  t.teardown(() => rig.close());
  const oldRevision = `main@sha1:${(await rig.status()).revision}`;
  const commit = await rig.change(0, 100, 'reviews: all to v2');
  const one = (await rig.waitFor('the first cohort ACKed', (s) => s.phase === 'Paused' && s.stepIndex === 1)) as Status;
  t.deepEqual(one.cohort?.members, [order.go]);
  t.deepEqual(one.revisions, { inForce: oldRevision, canary: `main@sha1:${commit}` });

  const exited = new Promise<void>((r) => rig.serve.child.once('exit', () => r()));
  const killedAt = Date.now();
  rig.serve.child.kill('SIGKILL');
  await exited;
  await rig.startServe();
  const upAt = Date.now();
  // Both clients reconnect on their own (same ports); each is back on its revision.
  const back = (await rig.waitFor('both clients back on their revisions', (s) => {
    const p = (s as Status).proxies ?? [];
    return p.some((x) => x.proxy === order.go && x.cohort === 'canary') && p.some((x) => x.proxy === order.js && x.cohort === 'current');
  })) as Status;
  t.like(back, { phase: 'Paused', stepIndex: 1 });
  t.deepEqual(back.revisions, { inForce: oldRevision, canary: `main@sha1:${commit}` }, 'the revision in force before the canary, loaded again');
  const revisions = await proxyStatus(rig);
  t.regex(revisions[order.go] ?? '', new RegExp(commit));
  t.is(revisions[order.js], oldRevision);
  const split = await observe(rig);
  t.log(`after the restart (${upAt - killedAt} ms down): grpc-go ${split.go.toFixed(1)}% v2 (in the cohort), grpc-js-xds ${split.js.toFixed(1)}% v2 (not)`);
  t.is(split.go, 100);
  t.is(split.js, 0);
  t.is(rig.traffic.share(killedAt, Date.now()).js, 0, 'grpc-js-xds never got the new revision, across the restart');

  // Two more grpc-js-xds clients connect now, mid-canary: one whose rank is within the step's threshold (grpc-go's), one above it.
  const newcomer = (below: boolean) => {
    for (let i = 0; ; i++) {
      const nodeId = id(`late-${i}`);
      if (rank(nodeId) < rank(order.go) === below) return nodeId;
    }
  };
  const late = { in: await xdsClient(REVIEWS, rig.serve.xds, newcomer(true)), out: await xdsClient(REVIEWS, rig.serve.xds, newcomer(false)) };
  t.teardown(() => {
    late.in.close();
    late.out.close();
  });
  const versions = async (c: typeof late.in) => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await callEcho(c, {}, {}, 30_000)).version);
    return [...seen];
  };
  t.deepEqual(await versions(late.in), ['v2'], 'connected mid-canary, rank within the threshold: the cohort\'s revision');
  t.deepEqual(await versions(late.out), ['v1'], 'connected mid-canary, rank above it: the revision in force');

  // The dashboard's page of the Rollout (Chromium): the cohort, the revision in force against the cohort's, each proxy's.
  const browser = await openBrowser();
  t.teardown(() => browser.close());
  const { page } = browser;
  await page.goto(`${rig.serve.admin}/#/rollouts/bookinfo/config`);
  await page.locator('h1 .badge:text("Paused")').waitFor({ timeout: 15_000 });
  t.regex(await page.locator('dl.kv dd').first().innerText(), /^config canary: VirtualService, DestinationRule in bookinfo$/);
  t.is(await page.locator('[data-in-force-revision]').getAttribute('title'), oldRevision);
  t.is(await page.locator('[data-canary-revision]').getAttribute('title'), `main@sha1:${commit}`);
  t.regex(await page.locator('dd[data-cohort]').innerText(), /^1 of 2 affected proxies · every member ACKed$/);
  t.is(await page.locator(`tr[data-proxy="${order.go}"]`).getAttribute('data-cohort'), 'canary');
  t.is(await page.locator(`tr[data-proxy="${order.js}"]`).getAttribute('data-cohort'), 'current');
  t.regex(await page.locator(`tr[data-proxy="${order.js}"]`).innerText(), /in force/);
  t.is(await page.locator('table[data-chart="canary weight"]').count(), 0, 'no weight chart for a config canary');
  t.regex(await page.locator('ol.steps li').first().innerText(), /new config to 1 proxy$/);
  await screenshot(page, 'rollout-config-canary', { fullPage: true });
  t.deepEqual(browser.problems(), []);

  t.is((await rig.command('promote')).code, 0);
  // Every proxy, the two that came mid-canary too, ACKs the new revision (a response superseded before its ACK does not hold the gate).
  await rig.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  const both = await observe(rig);
  t.is(both.go, 100);
  t.is(both.js, 100);
  t.deepEqual(await rig.nacks(), []);
});

test.serial('one config canary at a time: a commit changing what two of them cover walks out through the first, the other queued behind it and then taking the change as walked out', async (t) => {
  t.timeout(240_000);
  const two = (hooks: string) => ['a-dr', 'b-vs'].map((name) => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: ${name}, namespace: bookinfo}
spec:
  strategy: proxies
  target: {kinds: [${name === 'a-dr' ? 'DestinationRule' : 'VirtualService'}], namespaces: [bookinfo]}
${STEPS}  webhooks:
  - {name: events, type: event, url: ${hooks}}
`).join('---\n');
  const rig = await RolloutRig.start({ prometheus: false, ids: ids('go'), rollout: '', name: 'bookinfo/a-dr', rolloutDoc: two });
  const order = rig.ids;
  t.teardown(() => rig.close());
  const statusOf = async (name: string) => JSON.parse((await cli(['rollout', 'status', `bookinfo/${name}`, '--server', rig.serve.admin, '-o', 'json'])).stdout) as Status & { queuedBehind?: string };
  // One commit: reviews' split to v2 (b-vs covers it) and outlier detection on reviews (a-dr covers it).
  const split = await rig.mesh(0, 100);
  await rig.changeMesh(() => split.replace('  host: reviews.bookinfo.svc.cluster.local\n  subsets:', '  host: reviews.bookinfo.svc.cluster.local\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 7, interval: 10s}\n  subsets:'), 'reviews: all to v2, with outlier detection');
  const a = (await rig.waitFor('a-dr paused after its first cohort', (s) => s.phase === 'Paused' && s.stepIndex === 1)) as Status;
  t.deepEqual(a.cohort?.members, [order.go]);
  const b = await statusOf('b-vs');
  t.is(b.phase, 'Idle');
  t.is(b.queuedBehind, 'bookinfo/a-dr', 'the other canary is queued behind the one walking');
  const during = await observe(rig);
  t.log(`a-dr's first cohort: grpc-go ${during.go.toFixed(1)}% v2, grpc-js-xds ${during.js.toFixed(1)}% v2`);
  t.is(during.go, 100, 'the queued change (the split) rides in the cohort');
  t.is(during.js, 0);

  t.is((await rig.command('promote')).code, 0);
  await rig.waitFor('a-dr Succeeded', (s) => s.phase === 'Succeeded');
  const after = await statusOf('b-vs');
  t.is(after.phase, 'Idle');
  t.is(after.queuedBehind, undefined);
  t.is(after.history.at(-1)?.message, 'the change was walked out by config canary bookinfo/a-dr');
  const both = await observe(rig);
  t.is(both.go, 100);
  t.is(both.js, 100);
  t.deepEqual(await rig.nacks(), []);
});
