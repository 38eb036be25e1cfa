// Progressive rollouts that outlive their control plane and their metrics
// (test/helpers/rollout-e2e.ts: git http-backend, `meshcd serve` as a
// process, a real Prometheus, grpc-js-xds and grpc-go clients in steady
// traffic). `kill -9` of serve mid-pause and mid-step: the restarted serve
// resumes the same step and weights (the first routes it serves are the
// step's, and the clients never see 0% or 100%), and a timed pause keeps its
// deadline. Prometheus stopped mid-rollout: no promotion, each failed query
// counted, rolled back past consecutiveErrorLimit. Zero NACKs.

import test from 'ava';
import { TYPE_URL } from '../../src/api/types.js';
import { AUTHOR, REVIEWS_HOST, RolloutRig, type Sample } from '../helpers/rollout-e2e.js';
import { AdsTestClient, grpcNode, type DecodedResponse } from '../helpers/xds-client.js';

/** The split route's weights (cluster → weight) in what a proxyless client is served now. */
async function servedSplit(xds: string): Promise<Record<string, number>> {
  const c = new AdsTestClient(xds, grpcNode('sidecar~127.0.0.1~observer.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', { GENERATOR: 'grpc' }));
  try {
    const listener = `${REVIEWS_HOST}:9080`;
    c.request(TYPE_URL.listener, [listener]);
    const lds = await c.next(TYPE_URL.listener, 20_000);
    c.request(TYPE_URL.listener, [listener], lds);
    const name = (lds.values[0] as { api_listener: { api_listener: { rds: { route_config_name: string } } } }).api_listener.api_listener.rds.route_config_name;
    c.request(TYPE_URL.route, [name]);
    const rds: DecodedResponse = await c.next(TYPE_URL.route, 20_000);
    c.request(TYPE_URL.route, [name], rds);
    const rc = rds.values[0] as { virtual_hosts: { routes: { route?: { weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] }; cluster?: string } }[] }[] };
    const split = rc.virtual_hosts.flatMap((v) => v.routes).at(-1)!.route!;
    const subset = (cluster: string) => cluster.split('|')[2] ?? cluster;
    if (split.cluster) return { [subset(split.cluster)]: 100 };
    return Object.fromEntries(split.weighted_clusters!.clusters.map((x) => [subset(x.name), x.weight.value]));
  } finally {
    c.close();
  }
}

/** v2's share in consecutive chunks of `size` successful answers between from and to. */
function chunks(samples: Sample[], from: number, to: number, size: number): number[] {
  const ok = samples.filter((s) => s.at >= from && s.at < to && s.version);
  const out: number[] = [];
  for (let i = 0; i + size <= ok.length; i += size) out.push((ok.slice(i, i + size).filter((s) => s.version === 'v2').length / size) * 100);
  return out;
}

async function killAndRestart(rig: RolloutRig): Promise<{ killedAt: number; upAt: number }> {
  const exited = new Promise<void>((r) => rig.serve.child.once('exit', () => r()));
  const killedAt = Date.now();
  rig.serve.child.kill('SIGKILL');
  await exited;
  await rig.startServe();
  return { killedAt, upAt: Date.now() };
}

test.serial('kill -9 mid-pause and mid-step: the same step and weights after a restart, the pause keeps its deadline, never 0% or 100%', async (t) => {
  t.timeout(300_000);
  const rig = await RolloutRig.start({
    prometheus: false,
    rollout: `  steps:
  - setWeight: 25
  - pause: {duration: 30s}
  - setWeight: 50
  - pause: {}
  writeBack: revert
`,
  });
  t.teardown(() => rig.close());
  await rig.change(0, 100);
  const paused = await rig.waitFor('the timed pause of step 1', (s) => s.phase === 'Paused' && s.stepIndex === 1);
  t.is(paused.canaryWeight, 25);
  const deadline = paused.pause?.deadline;
  t.truthy(deadline);
  t.deepEqual(await servedSplit(rig.serve.xds), { v1: 75, v2: 25 });
  await new Promise((r) => setTimeout(r, 3000));

  // kill -9 mid-pause.
  const first = await killAndRestart(rig);
  const resumed = await rig.waitFor('serve back', () => true);
  t.like(resumed, { phase: 'Paused', stepIndex: 1, canaryWeight: 25 });
  t.is(resumed.pause?.deadline, deadline, 'the remaining pause is kept, not restarted');
  // The restarted serve's first routes are the step's: a new client is served 75/25 at once.
  t.deepEqual(await servedSplit(rig.serve.xds), { v1: 75, v2: 25 });
  await rig.traffic.after(first.upAt + 2000);
  const during = { js: chunks(rig.traffic.js, first.killedAt, Date.now(), 50), go: rig.traffic.share(first.killedAt, Date.now()) };
  t.log(`around the first restart (${first.upAt - first.killedAt} ms down): grpc-js-xds v2 share per 50 answers ${during.js.map((x) => x.toFixed(0)).join(' ')}%; grpc-go ${during.go.go.toFixed(1)}% of ${during.go.goN}`);
  t.true(during.js.length >= 2);
  t.true(during.js.every((x) => x > 0 && x < 60), 'grpc-js-xds never saw all-v1 or all-v2');
  t.true(during.go.go > 10 && during.go.go < 40, `grpc-go ${during.go.go}`);

  // The pause ends at its deadline, not 30 s after the restart.
  const step3 = await rig.waitFor('step 3 (50%)', (s) => s.phase === 'Paused' && s.stepIndex === 3, 60_000);
  t.is(step3.canaryWeight, 50);
  const ended = Date.parse(step3.history.find((h) => /pause of step 1 ended/.test(h.message))!.at);
  t.true(ended >= Date.parse(deadline!), 'not before the deadline');
  t.true(ended < first.upAt + 30_000, 'the pause was not restarted from its full length');
  t.deepEqual(await servedSplit(rig.serve.xds), { v1: 50, v2: 50 });

  // kill -9 mid-step (a manual pause at 50%).
  const second = await killAndRestart(rig);
  t.like(await rig.waitFor('serve back', () => true), { phase: 'Paused', stepIndex: 3, canaryWeight: 50 });
  t.deepEqual(await servedSplit(rig.serve.xds), { v1: 50, v2: 50 });
  await rig.traffic.after(second.upAt + 2000);
  const around = chunks(rig.traffic.js, second.killedAt, Date.now(), 50);
  const go2 = rig.traffic.share(second.killedAt, Date.now());
  t.log(`around the second restart (${second.upAt - second.killedAt} ms down): grpc-js-xds ${around.map((x) => x.toFixed(0)).join(' ')}%; grpc-go ${go2.go.toFixed(1)}% of ${go2.goN}`);
  t.true(around.every((x) => x > 15 && x < 85));
  t.true(go2.go > 30 && go2.go < 70);

  t.is((await rig.command('promote')).code, 0);
  t.like(await rig.waitFor('Succeeded', (s) => s.phase === 'Succeeded'), { canaryWeight: 100 });
  t.deepEqual(await servedSplit(rig.serve.xds), { v2: 100 });
  t.deepEqual(await rig.nacks(), []);
});

test.serial('Prometheus stopped mid-rollout: no promotion, every failed query counted, rolled back past consecutiveErrorLimit', async (t) => {
  t.timeout(240_000);
  const rig = await RolloutRig.start({
    rollout: `  steps:
  - setWeight: 50
  - pause: {}
  analysis:
    interval: 2s
    failureLimit: 0
    inconclusiveLimit: 20
    consecutiveErrorLimit: 3
    metrics:
    - name: success-rate
      template: request-success-rate
      thresholdRange: {min: 0.99}
  writeBack: revert
`,
  });
  t.teardown(() => rig.close());
  await rig.change(0, 100);
  await rig.waitFor('a successful measurement at 50%', (s) => s.stepIndex === 1 && s.analysis?.metrics['success-rate']?.verdict === 'success');

  await rig.prometheus!.stop();
  const erring = await rig.waitFor('a failed query', (s) => (s.analysis?.consecutiveErrors ?? 0) >= 1);
  t.regex(erring.analysis!.metrics['success-rate']!.recent.at(-1)!.message ?? '', /unreachable \(ECONNREFUSED\)|HTTP 503 Service Unavailable/, 'a stopping Prometheus answers 503, a stopped one refuses the connection');
  // Every step done, but the latest measurement is an error: promotion waits for data.
  t.is((await rig.command('promote')).code, 0);
  const counts: number[] = [];
  const failed = await rig.waitFor('the rollback', (s) => {
    if (s.phase === 'Progressing') {
      t.is(s.canaryWeight, 50, 'held at 50% while there is no data');
      counts.push(s.analysis!.consecutiveErrors);
    }
    return s.phase === 'Failed' || s.phase === 'Succeeded';
  });
  t.is(failed.phase, 'Failed');
  t.false(failed.history.some((h) => h.phase === 'Succeeded'));
  t.regex(failed.reason ?? '', /4 measurement errors in a row \(consecutiveErrorLimit 3\); last: success-rate=no value error: .*unreachable/);
  t.log(`consecutive errors seen while held: ${[...new Set(counts)].join(', ')}`);
  t.true(counts.length > 0 && counts.every((c) => c <= 3), 'held while the errors in a row were within the limit');
  // Every failed query was counted: the last four measurements are the four errors in a row.
  const recent = failed.analysis!.metrics['success-rate']!.recent.slice(-4);
  t.deepEqual(recent.map((m) => m.verdict), ['error', 'error', 'error', 'error']);
  t.true(recent.every((m) => /unreachable \(ECONNREFUSED\)|HTTP 503 Service Unavailable/.test(m.message ?? '')), 'each one a failed query (a stopping Prometheus answers 503, a stopped one refuses)');
  const written = await rig.waitFor('the write-back', (s) => s.writeBack?.status === 'done');
  t.is(written.writeBack?.result?.kind, 'reverted');
  t.is((await rig.remoteLog())[0]!.author, `${AUTHOR.name} <${AUTHOR.email}>`);
  const decision = Date.parse(failed.history.find((h) => /^rolled back/.test(h.message))!.at);
  await rig.traffic.after(decision + 3000);
  const after = rig.traffic.share(decision + 2000, Date.now());
  t.is(after.js, 0);
  t.is(after.go, 0);
  t.deepEqual(await rig.nacks(), []);
});
