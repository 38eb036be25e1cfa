import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigSet, RolloutOverlay } from '../../../src/api/types.js';
import type { AnalysisProvider, Measurement, MetricSpec, TemplateArgs, WriteBack, WriteBackRequest } from '../../../src/rollout/contracts.js';
import { RolloutRunner } from '../../../src/rollout/runner.js';
import { StateStore } from '../../../src/state/store.js';
import { loadYaml } from '../../helpers/revision.js';
import { BASE } from '../validate/analyzers/_helpers.js';
import { vs } from './_fixtures.js';

const rollout = (steps: string, analysis = '') => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: shop}
spec:
  target: {virtualService: reviews, route: primary}
  steps:
${steps}${analysis}`;

async function config(files: Record<string, string>): Promise<ConfigSet> {
  const r = await loadYaml({ 'base.yaml': BASE, ...files });
  if (!r.config) throw new Error('no config');
  return r.config;
}

async function until(t: { fail(m: string): void }, what: string, cond: () => boolean, max = 400): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.fail(`timed out waiting for: ${what}`);
}

interface Served {
  overlay: RolloutOverlay;
  persisted: unknown;
}

async function setup(t: ExecutionContext, extra: Partial<ConstructorParameters<typeof RolloutRunner>[0]> = {}, dir?: string) {
  const stateDir = dir ?? (await mkdtemp(join(tmpdir(), 'meshcd-rollout-')));
  if (!dir) t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const served: Served[] = [];
  const runner = new RolloutRunner({
    store: new StateStore(stateDir),
    apply: (_c, overlay) => {
      // Persist comes first: the state file already holds what is about to be served.
      let persisted: unknown;
      try {
        persisted = JSON.parse(readFileSync(join(stateDir, 'state', 'rollouts.json'), 'utf8'));
      } catch {
        persisted = undefined;
      }
      served.push({ overlay, persisted });
    },
    ...extra,
  });
  await runner.start();
  t.teardown(() => runner.stop());
  return { runner, served, stateDir };
}
const weightsOf = (o: RolloutOverlay) => o.overrides.map((x) => x.destinations.map((d) => `${d.subset}=${d.weight}`).join(' '));
const REVS = (commit: string) => [{ source: 'test', commit, id: `main@sha1:${commit}` }];

test('an accepted change is served with the overlay; state is on disk before; a restart resumes the same step and weights', async (t) => {
  const steps = '  - setWeight: 20\n  - pause: {}\n  - setWeight: 60\n';
  const { runner, served, stateDir } = await setup(t);
  await runner.accepted(await config({ 'vs.yaml': vs(100, 0), 'ro.yaml': rollout(steps) }), REVS('c1'));
  t.deepEqual(weightsOf(served.at(-1)!.overlay), []);
  await runner.accepted(await config({ 'vs.yaml': vs(0, 100), 'ro.yaml': rollout(steps) }), REVS('c2'));
  t.deepEqual(weightsOf(served.at(-1)!.overlay), ['v1=80 v2=20']);
  t.like((served.at(-1)!.persisted as { rollouts: Record<string, unknown> }).rollouts['shop/reviews'], { phase: 'Paused', canaryWeight: 20 });
  const onDisk = JSON.parse(await readFile(join(stateDir, 'state', 'rollouts.json'), 'utf8')) as { version: number; rollouts: Record<string, { phase: string; canaryWeight: number }> };
  t.like(onDisk.rollouts['shop/reviews'], { phase: 'Paused', canaryWeight: 20 });
  t.like(runner.status('shop', 'reviews'), { phase: 'Paused', stepIndex: 1, canaryWeight: 20 });
  runner.stop();

  // Restart: the first accepted revision is the same config; the overlay is the one in force, not 0% or 100%.
  const again = await setup(t, {}, stateDir);
  await again.runner.accepted(await config({ 'vs.yaml': vs(0, 100), 'ro.yaml': rollout(steps) }), REVS('c2'));
  t.deepEqual(weightsOf(again.served.at(-1)!.overlay), ['v1=80 v2=20']);
  const promoted = await again.runner.command('shop', 'reviews', 'promote');
  t.deepEqual(promoted, { found: true });
  t.is(again.runner.status('shop', 'reviews')!.phase, 'Succeeded');
  t.deepEqual(weightsOf(again.served.at(-1)!.overlay), []);
  t.deepEqual(await again.runner.command('shop', 'reviews', 'promote'), { found: true, rejected: 'nothing to promote: the rollout is Succeeded' });
  t.deepEqual(await again.runner.command('shop', 'nope', 'abort'), { found: false });
});

test('analysis through the provider: a failing metric rolls back and calls the WriteBack with the commits and file', async (t) => {
  const seen: { metric: MetricSpec; args: TemplateArgs; address: string }[] = [];
  const analysis: AnalysisProvider = {
    measure: async (metric, args, address, now): Promise<Measurement> => {
      seen.push({ metric, args, address });
      return { metric: metric.name, at: now, value: 0.5, verdict: 'failure', message: 'below 0.99' };
    },
  };
  const requests: WriteBackRequest[] = [];
  const writeBack: WriteBack = { apply: async (req) => (requests.push(req), { kind: 'reverted', commit: 'c9', branch: 'main' }) };
  const analysisYaml = '  analysis:\n    interval: 20ms\n    failureLimit: 0\n    prometheus: {address: http://127.0.0.1:9}\n    metrics:\n    - {name: success-rate, template: request-success-rate, thresholdRange: {min: 0.99}}\n';
  const steps = '  - setWeight: 50\n  - pause: {}\n';
  const { runner, served } = await setup(t, { analysis, writeBack });
  await runner.accepted(await config({ 'vs.yaml': vs(100, 0), 'ro.yaml': rollout(steps, analysisYaml) }), REVS('c1'));
  await runner.accepted(await config({ 'vs.yaml': vs(0, 100), 'ro.yaml': rollout(steps, analysisYaml) }), REVS('c2'));
  await until(t, 'write-back done', () => (runner.status('shop', 'reviews')?.writeBack as { status?: string } | undefined)?.status === 'done');
  const st = runner.status('shop', 'reviews')!;
  t.is(st.phase, 'Failed');
  t.is(st.analysis!.metrics['success-rate']!.verdict, 'failure');
  t.deepEqual(weightsOf(served.at(-1)!.overlay), ['v1=100 v2=0']);
  t.like(seen[0]!, { address: 'http://127.0.0.1:9', args: { namespace: 'shop', stable: { host: 'reviews.shop.svc.cluster.local', subset: 'v1', version: 'v1' }, canary: { subset: 'v2', version: 'v2' } } });
  t.is(requests.length, 1);
  t.like(requests[0]!, { mode: 'revert', source: 'test', badCommit: 'c2', goodCommit: 'c1', paths: ['vs.yaml'] });
  t.regex(requests[0]!.message, /roll back Rollout shop\/reviews[\s\S]*1 failed measurements \(failureLimit 0\)/);
});

test('no analysis provider or no Prometheus address: errors, never a promotion', async (t) => {
  const analysisYaml = '  analysis:\n    interval: 20ms\n    consecutiveErrorLimit: 1\n    metrics:\n    - {name: success-rate, template: request-success-rate, thresholdRange: {min: 0.99}}\n';
  const steps = '  - setWeight: 50\n';
  const { runner } = await setup(t);
  await runner.accepted(await config({ 'vs.yaml': vs(100, 0), 'ro.yaml': rollout(steps, analysisYaml) }), REVS('c1'));
  await runner.accepted(await config({ 'vs.yaml': vs(0, 100), 'ro.yaml': rollout(steps, analysisYaml) }), REVS('c2'));
  await until(t, 'rolled back, write-back given up', () => (runner.status('shop', 'reviews')?.writeBack as { status?: string } | undefined)?.status === 'done');
  const st = runner.status('shop', 'reviews')!;
  t.regex(st.reason ?? '', /measurement errors in a row/);
  t.regex(JSON.stringify(st.analysis), /no analysis provider configured/);
  t.like(st.writeBack, { status: 'done', result: { kind: 'failed' } });
});

const lbDr = (policy: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
${policy}`;
const meshDefault = `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  configCanary:
    target: {kinds: [DestinationRule]}
    steps:
    - setProxies: {count: 1}
    - pause: {}
`;

test("MeshConfig's configCanary walks a change no Rollout covers as a config canary; one a Rollout covers is left to it", async (t) => {
  const { runner } = await setup(t);
  const files = (policy: string, extra: Record<string, string> = {}) => config({ 'mesh.yaml': meshDefault, 'dr.yaml': lbDr(policy), ...extra });
  await runner.accepted(await files(''), REVS('c1'));
  t.like(runner.status('istio-system', 'meshconfig-default'), { phase: 'Idle', strategy: 'proxies', target: { kinds: ['DestinationRule'], namespaces: ['*'] } });
  await runner.accepted(await files('  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}\n'), REVS('c2'));
  // Outside serve there is no cache to select from: an empty cohort, and the walk goes on to the pause.
  await until(t, 'the pause', () => runner.status('istio-system', 'meshconfig-default')?.phase === 'Paused');
  t.like(runner.status('istio-system', 'meshconfig-default'), { phase: 'Paused', stepIndex: 1 });
  t.is(runner.status('istio-system', 'meshconfig-default')!.history[0]!.message, 'new revision: walking out the change');

  // A Rollout of its own covers DestinationRules in shop: the default leaves them to it.
  const own = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: drs, namespace: shop}
spec:
  strategy: proxies
  target: {kinds: [DestinationRule]}
  steps:
  - setProxies: {percent: 50}
  - pause: {}
`;
  const second = await setup(t);
  await second.runner.accepted(await files('', { 'own.yaml': own }), REVS('c1'));
  await second.runner.accepted(await files('  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}\n', { 'own.yaml': own }), REVS('c2'));
  await until(t, 'the pause', () => second.runner.status('shop', 'drs')?.phase === 'Paused');
  t.like(second.runner.status('shop', 'drs'), { phase: 'Paused', stepIndex: 1 });
  t.like(second.runner.status('istio-system', 'meshconfig-default'), { phase: 'Idle' });
});
