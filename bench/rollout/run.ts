// Rollout I/O figures — the analysis and write-back halves of a rollback:
//   1. one analysis round (request-success-rate + request-duration-p99 for
//      one canary, in parallel, as the runner measures each interval)
//      against a real Prometheus holding SERVICES services' Istio metrics;
//   2. one Git write-back (fetch, revert commit, push with a token) against
//      git http-backend, with a repo of SERVICES files.
//   3. push.ts: at 2,000 proxies (200 routing to the target), the failing
//      analysis decision → every affected proxy ACKing the old routing, and
//      a `git revert` webhook → the same, over repeated runs.
//
//   4. canary.ts: a config canary at 2,000 proxies — its extra memory and
//      push times (issue 13).
//
//   5. step.ts: the server's work for one rollout step, in process.
//
//   npm run bench:rollout                  # all five
//   PARTS=push npm run bench:rollout       # only the push figures (PARTS=io: 1 and 2; PARTS=canary: 4; PARTS=step: 5)
//   SERVICES=500 ROUNDS=100 REVERTS=20 npm run bench:rollout

import './quiet.js';
import { rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { MetricSpec, TemplateArgs } from '../../src/rollout/contracts.js';
import { PrometheusProvider } from '../../src/rollout/analysis/provider.js';
import { queryInstant, parsePrometheusAddress } from '../../src/rollout/analysis/prometheus.js';
import { GitWriteBack } from '../../src/rollout/writeback.js';
import { GitSource } from '../../src/source/git.js';
import { parseSourceFlag } from '../../src/source/spec.js';
import { startIstioMetricsBackend, type Requests } from '../../test/helpers/istio-metrics-backend.js';
import { startPrometheus } from '../../test/helpers/prometheus.js';
import { startGitServer } from '../../test/helpers/git-server.js';
import { makeRepo, tempDir } from '../../test/helpers/git-repo.js';
import { pushBench } from './push.js';
import { canaryBench } from './canary.js';
import { stepBench } from './step.js';
import { machine } from './mesh.js';

const SERVICES = Number(process.env.SERVICES ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 50);
const REVERTS = Number(process.env.REVERTS ?? 10);

function pct(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const host = (i: number) => `svc${i}.ns${i % 10}.svc.cluster.local`;

async function analysis(): Promise<void> {
  const backend = await startIstioMetricsBackend();
  const mix: Requests[] = [];
  for (let i = 0; i < SERVICES; i++) {
    mix.push({ host: host(i), version: 'v1', count: 9, durationMs: 12 }, { host: host(i), version: 'v2', count: 1, durationMs: 30 });
    if (i % 7 === 0) mix.push({ host: host(i), version: 'v2', count: 1, code: 503, durationMs: 5 });
  }
  const stop = backend.steady(mix, 200);
  const prom = await startPrometheus([backend.target]);
  try {
    const provider = new PrometheusProvider();
    const metrics: MetricSpec[] = [
      { name: 'success-rate', template: 'request-success-rate', thresholdRange: { min: 0.99 } },
      { name: 'latency', template: 'request-duration-p99', thresholdRange: { max: 500 } },
    ];
    const args = (i: number): TemplateArgs => ({ namespace: `ns${i % 10}`, service: `svc${i}`, interval: '10s', stable: { host: host(i), subset: 'v1', version: 'v1' }, canary: { host: host(i), subset: 'v2', version: 'v2' } });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const m = await provider.measure(metrics[0]!, args(0), prom.address, Date.now());
      if (m.verdict !== 'inconclusive') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const [series] = await queryInstant(parsePrometheusAddress(prom.address), 'count({__name__=~"istio_.*"})');
    const times: number[] = [];
    const verdicts = new Map<string, number>();
    for (let r = 0; r < ROUNDS; r++) {
      const i = r % SERVICES;
      const t0 = performance.now();
      const ms_ = await Promise.all(metrics.map((m) => provider.measure(m, args(i), prom.address, Date.now())));
      times.push(performance.now() - t0);
      for (const m of ms_) verdicts.set(m.verdict, (verdicts.get(m.verdict) ?? 0) + 1);
    }
    console.log(`analysis: Prometheus ${prom.address} with ${series?.value ?? '?'} istio_* series (${SERVICES} services × 2 versions, 1 s scrape)`);
    console.log(`analysis round (success rate + p99, in parallel), ${ROUNDS} rounds: p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(Math.max(...times))}; verdicts ${JSON.stringify(Object.fromEntries(verdicts))}`);
  } finally {
    stop();
    await prom.stop();
    await backend.close();
  }
}

async function writeBack(): Promise<void> {
  const root = await tempDir('meshcd-bench-wb-');
  const token = 'bench-token-2f9d';
  const server = await startGitServer({ root, auth: { token } });
  try {
    await writeFile(join(root, 'token'), token);
    const repo = await makeRepo(root, 'mesh');
    const files: Record<string, string> = {};
    for (let i = 0; i < SERVICES; i++) files[`mesh/svc${i}.yaml`] = `route: {subset: v1, weight: 100}\nservice: svc${i}\n`;
    await repo.commit(files, 'mesh');
    await repo.push();
    const spec = parseSourceFlag(`mesh=${server.url('mesh.git')}#main:mesh;token-file=${join(root, 'token')}`, 'bench');
    const stateDir = join(root, 'state');
    const source = new GitSource(spec, stateDir);
    await source.fetch();
    const wb = new GitWriteBack({ stateDir, source: () => spec });
    const times: number[] = [];
    for (let r = 0; r < REVERTS; r++) {
      const path = `mesh/svc${r % SERVICES}.yaml`;
      const good = await repo.head();
      const bad = await repo.commit({ [path]: `route: {subset: v2, weight: 100}\nservice: ${r}\n` }, `v2 for ${path}`);
      await repo.push();
      await source.fetch();
      const t0 = performance.now();
      const res = await wb.apply({ mode: 'revert', rollout: `ns/svc${r}`, source: 'mesh', badCommit: bad, goodCommit: good, paths: [path], message: `Roll back ns/svc${r}: success-rate 0.8 < min 0.99`, author: { name: 'meshcd', email: 'meshcd@example.com' }, now: Date.now() });
      times.push(performance.now() - t0);
      if (res.kind !== 'reverted') throw new Error(`write-back ${r}: ${JSON.stringify(res)}`);
      await repo.git('pull', '-q', 'origin', 'main');
    }
    console.log(`write-back (fetch + revert commit + push with a token to git http-backend, ${SERVICES}-file repo), ${REVERTS} reverts: p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}, max ${ms(Math.max(...times))}`);
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const parts = (process.env.PARTS ?? 'io,push,canary,step').split(',');
  console.log(machine());
  if (parts.includes('io')) {
    await analysis();
    await writeBack();
  }
  if (parts.includes('push')) await pushBench();
  if (parts.includes('canary')) await canaryBench();
  if (parts.includes('step')) stepBench();
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
