// Progressive rollouts end to end with every part real (test/helpers/
// rollout-e2e.ts): a config repository on git http-backend, `meshcd serve`
// following it, a real Prometheus scraping backends that export Istio's
// metrics for the calls they serve, and steady traffic from a grpc-js-xds
// and a grpc-go client. Scenarios: a healthy v2 promoted step by step (both
// clients' split follows the steps); a v2 failing 20% of its calls rolled
// back (clients back on v1, the revert commit in the repository naming the
// Rollout, the metric and the values, then meshcd quiet); a person's
// `git revert` mid-rollout (Aborted, the old routing at once). Zero NACKs.

import test from 'ava';
import { AUTHOR, RolloutRig, type RolloutStatusJson } from '../helpers/rollout-e2e.js';

const ANALYSIS = (min: number) => `  analysis:
    interval: 3s
    failureLimit: 1
    inconclusiveLimit: 20
    consecutiveErrorLimit: 10
    metrics:
    - name: success-rate
      template: request-success-rate
      thresholdRange: {min: ${min}}
`;

function at(s: RolloutStatusJson, message: RegExp): number {
  const h = s.history.find((x) => message.test(x.message));
  if (!h) throw new Error(`no history entry ${message} in ${JSON.stringify(s.history.map((x) => x.message))}`);
  return Date.parse(h.at);
}

/** v2's share seen by both clients over `ms` from now (after `settleMs` for the push to reach them). */
async function observe(rig: RolloutRig, ms = 3000, settleMs = 1000): Promise<{ js: number; go: number; jsN: number; goN: number }> {
  await new Promise((r) => setTimeout(r, settleMs));
  const from = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return rig.traffic.share(from, Date.now());
}

function within(t: { true(v: boolean, m?: string): void }, s: { js: number; go: number; jsN: number; goN: number }, lo: number, hi: number, what: string): void {
  t.true(s.jsN >= 30 && s.goN >= 30, `${what}: enough answers (js ${s.jsN}, go ${s.goN})`);
  t.true(s.js >= lo && s.js <= hi, `${what}: grpc-js-xds v2 share ${s.js.toFixed(1)}% in ${lo}..${hi}`);
  t.true(s.go >= lo && s.go <= hi, `${what}: grpc-go v2 share ${s.go.toFixed(1)}% in ${lo}..${hi}`);
}

test.serial('a healthy v2 is promoted step by step; both clients follow the steps', async (t) => {
  t.timeout(240_000);
  const rig = await RolloutRig.start({
    rollout: `  steps:
  - setWeight: 20
  - pause: {}
  - setWeight: 60
  - pause: {duration: 3s}
  - analysis: {metrics: [success-rate]}
  - pause: {}
${ANALYSIS(0.99)}  writeBack: revert
`,
  });
  t.teardown(() => rig.close());
  within(t, await observe(rig, 2000, 0), 0, 0, 'before the change');

  await rig.change(0, 100);
  const s1 = await rig.waitFor('step 1 (20%)', (s) => s.phase === 'Paused' && s.stepIndex === 1);
  t.is(s1.canaryWeight, 20);
  const at20 = await observe(rig);
  t.log(`20%: grpc-js-xds ${at20.js.toFixed(1)}% of ${at20.jsN}, grpc-go ${at20.go.toFixed(1)}% of ${at20.goN}`);
  within(t, at20, 8, 35, 'at 20%');

  const promoted = await rig.command('promote');
  t.is(promoted.code, 0, promoted.stderr);
  // A timed pause, then an analysis step that passes on real measurements, then a manual pause.
  const s5 = await rig.waitFor('step 5 (60%, after the analysis step)', (s) => s.phase === 'Paused' && s.stepIndex === 5);
  t.is(s5.canaryWeight, 60);
  t.true(s5.history.some((h) => /step 4: analysis passed/.test(h.message)));
  t.is(s5.analysis?.metrics['success-rate']?.verdict, 'success');
  t.true((s5.analysis?.metrics['success-rate']?.recent.at(-1)?.value ?? 0) >= 0.99);
  const at60 = await observe(rig);
  t.log(`60%: grpc-js-xds ${at60.js.toFixed(1)}% of ${at60.jsN}, grpc-go ${at60.go.toFixed(1)}% of ${at60.goN}`);
  within(t, at60, 45, 75, 'at 60%');

  t.is((await rig.command('promote')).code, 0);
  const done = await rig.waitFor('Succeeded', (s) => s.phase === 'Succeeded');
  t.is(done.canaryWeight, 100);
  within(t, await observe(rig), 100, 100, 'promoted');
  // Promotion writes nothing to Git: the repository already states v2.
  t.false((await rig.remoteLog()).some((c) => c.author.includes(AUTHOR.email)));
  t.true(rig.hooks.calls.filter((c) => c.type === 'event').length >= 3);
  t.true(rig.hooks.calls.every((c) => c.signed), 'every webhook carries the HMAC of --rollout-webhook-secret-file');
  t.deepEqual(await rig.nacks(), []);
});

test.serial('a v2 failing 20% of its calls is rolled back: clients back on v1, the revert commit in Git, then meshcd is quiet', async (t) => {
  t.timeout(240_000);
  const rig = await RolloutRig.start({
    v2FailPercent: 20,
    rollout: `  steps:
  - setWeight: 30
  - pause: {}
${ANALYSIS(0.95)}  writeBack: revert
`,
  });
  t.teardown(() => rig.close());
  const bad = await rig.change(0, 100, 'reviews: all traffic to v2');
  await rig.waitFor('step 1 (30%)', (s) => s.phase === 'Paused' && s.stepIndex === 1);
  const failed = await rig.waitFor('the rollback', (s) => s.phase === 'Failed');
  const decision = at(failed, /^rolled back/);
  t.regex(failed.reason ?? '', /2 failed measurements \(failureLimit 1\); last: success-rate=0\.[5-9]\d* failure/);
  t.is(failed.canaryWeight, 0);

  // Back on v1: nothing from v2 (answers or its failures) in either client after the push.
  await rig.traffic.after(decision + 3000);
  const last = rig.traffic.lastSeen('v2');
  t.log(`decision → last v2 answer: grpc-js-xds ${last.js !== undefined ? last.js - decision : '-'} ms, grpc-go ${last.go !== undefined ? last.go - decision : '-'} ms (bench/rollout measures the push → ACK figure)`);
  const after = rig.traffic.share(decision + 2000, Date.now());
  t.true(after.jsN > 20 && after.goN > 20);
  t.is(after.js, 0);
  t.is(after.go, 0);
  t.true((last.js ?? 0) < decision + 2000 && (last.go ?? 0) < decision + 2000, 'no v2 answer or error later than 2 s after the decision');

  // Git states what runs: one revert commit on main, by the configured author, naming the Rollout, the metric and the values.
  const written = await rig.waitFor('the write-back', (s) => s.writeBack?.status === 'done');
  t.is(written.writeBack?.result?.kind, 'reverted');
  const log = await rig.remoteLog();
  t.is(log[0]!.commit, written.writeBack?.result?.commit ?? 'no commit');
  t.is(log[1]!.commit, bad);
  t.is(log[0]!.author, `${AUTHOR.name} <${AUTHOR.email}>`);
  t.is(log[0]!.subject, 'meshcd: roll back Rollout bookinfo/reviews');
  t.regex(log[0]!.body, /success-rate=0\.[5-9]\d* failure/);
  t.regex(log[0]!.body, /failureLimit 1/);
  await rig.repo.git('fetch', '-q', 'origin');
  t.is(await rig.repo.git('show', 'origin/main:mesh/reviews.yaml'), await rig.repo.git('show', `${bad}~1:mesh/reviews.yaml`));
  const rollbackHook = rig.hooks.calls.find((c) => c.type === 'rollback');
  t.truthy(rollbackHook);
  t.true(rollbackHook!.signed);

  // meshcd reads its own revert back and stays quiet: no new rollout, no second write-back.
  const settled = await rig.waitFor('the revert read back from Git', (s) => s.history.some((h) => /Git states the routing in force/.test(h.message)));
  t.is(settled.revision, written.writeBack?.result?.commit);
  await new Promise((r) => setTimeout(r, 8000));
  const quiet = await rig.status();
  t.is(quiet.phase, 'Failed');
  t.deepEqual(quiet.history.slice(quiet.history.findIndex((h) => /^rolled back/.test(h.message)) + 1).map((h) => h.message).filter((m) => !/^write-back: reverted in /.test(m) && !/Git states the routing in force/.test(m)), []);
  t.is((await rig.remoteLog()).filter((c) => c.author.includes(AUTHOR.email)).length, 1);
  const end = rig.traffic.share(Date.now() - 6000, Date.now());
  t.is(end.js, 0);
  t.is(end.go, 0);
  t.deepEqual(await rig.nacks(), []);
});

test.serial("a person's git revert mid-rollout aborts it: the old routing at once, nothing written back", async (t) => {
  t.timeout(240_000);
  const rig = await RolloutRig.start({
    prometheus: false,
    rollout: `  steps:
  - setWeight: 40
  - pause: {}
  writeBack: revert
`,
  });
  t.teardown(() => rig.close());
  await rig.change(0, 100);
  await rig.waitFor('step 1 (40%)', (s) => s.phase === 'Paused' && s.stepIndex === 1);
  within(t, await observe(rig), 25, 55, 'at 40%');

  await rig.repo.git('revert', '--no-edit', 'HEAD');
  await rig.repo.push();
  const hookAt = Date.now();
  await rig.announce();
  const aborted = await rig.waitFor('Aborted', (s) => s.phase === 'Aborted');
  t.is(aborted.reason, 'reverted in Git');
  t.is(aborted.canaryWeight, 0);
  t.false(aborted.drift, 'Git states what runs');
  const abortAt = at(aborted, /^reverted in Git/);
  // No steps back down: the first status after the revert is Aborted at 0%.
  t.false(aborted.history.slice(aborted.history.findIndex((h) => /^reverted in Git/.test(h.message))).some((h) => /weight/.test(h.message)));
  await rig.traffic.after(abortAt + 3000);
  const last = rig.traffic.lastSeen('v2');
  t.log(`revert webhook → abort ${abortAt - hookAt} ms; → last v2 answer: grpc-js-xds ${(last.js ?? 0) - hookAt} ms, grpc-go ${(last.go ?? 0) - hookAt} ms`);
  const after = rig.traffic.share(abortAt + 2000, Date.now());
  t.is(after.js, 0);
  t.is(after.go, 0);
  t.false((await rig.remoteLog()).some((c) => c.author.includes(AUTHOR.email)), 'nothing to write back: Git already states the old routing');
  t.deepEqual(await rig.nacks(), []);
});
