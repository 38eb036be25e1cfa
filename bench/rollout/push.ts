// Rollback push figures at scale: `meshcd serve` (child process) following a
// Git repository on git http-backend, SERVICES services in NAMESPACES
// namespaces (each exported to its own namespace), PROXIES simulated
// sidecars spread evenly over the namespaces, and a Rollout on svc0 in ns0,
// so PROXIES/NAMESPACES proxies route to the target. Each run walks a change
// (v1 100 → v2 100) to its 50% step and then:
//   - rollback run: the analysis answer (a stub Prometheus API: the figure
//     is about meshcd, not Prometheus) turns bad; measured from the decision
//     (the rollout history's "rolled back" time) to the last affected proxy
//     ACKing the old routing;
//   - revert run: a person's `git revert` is pushed and announced by the
//     source webhook; measured from the webhook to the last affected proxy
//     ACKing the old routing.
// Also counted: pushes to the unaffected proxies during the runs (goal 0).
//
//   npm run build && node dist/bench/rollout/push.js
//   PROXIES=500 SERVICES=200 RUNS=5 node dist/bench/rollout/push.js

import './quiet.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ackedAt, percentile, type Sidecar } from './fleet.js';
import { NAMESPACES, rssOf, runBench, SERVICES, serviceFile, startBenchMesh, until } from './mesh.js';

const RUNS = Number(process.env.RUNS ?? 10);
const TARGET = 'svc0.ns0.svc.cluster.local';

/** A Prometheus query API that answers every query with one sample: 1 while healthy, 0.5 after. */
async function stubPrometheus(): Promise<{ address: string; healthy: boolean; queries: number; close(): Promise<void> }> {
  const state = { address: '', healthy: true, queries: 0, close: async () => undefined as void };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.queries++;
      const value = state.healthy ? '1' : '0.5';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, value] }] } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

export function rolloutFile(prometheus: string): string {
  return `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: svc0, namespace: ns0}
spec:
  target: {virtualService: svc0, route: primary}
  steps:
  - setWeight: 50
  - pause: {}
  analysis:
    interval: 1s
    failureLimit: 0
    inconclusiveLimit: 5
    consecutiveErrorLimit: 5
    prometheus: {address: ${prometheus}}
    metrics:
    - {name: success-rate, template: request-success-rate, thresholdRange: {min: 0.99}}
  writeBack: revert
`;
}

interface Status {
  phase: string;
  canaryWeight: number;
  writeBack?: { status: string };
  history: { at: string; message: string }[];
}

/** When the last of `proxies` ACKed the routing `weights` (at or after `since`). */
function allAcked(proxies: Sidecar[], weights: Record<string, number>, since: number): Promise<number[]> {
  return until(`all ${proxies.length} affected proxies to ACK ${JSON.stringify(weights)}`, () => {
    const times = proxies.map((p) => ackedAt(p, weights, since));
    return times.every((x) => x !== undefined) ? (times as number[]) : undefined;
  });
}

export async function pushBench(): Promise<void> {
  const prom = await stubPrometheus();
  const mesh = await startBenchMesh(rolloutFile(prom.address), TARGET).catch(async (err: Error) => {
    await prom.close();
    throw err;
  });
  const { affected, unaffected, fleet, serve } = mesh;
  const status = () => mesh.rollout<Status>('ns0/svc0');
  try {
    if (!affected.every((p) => ackedAt(p, { v1: 100 }, 0) !== undefined)) throw new Error('not every affected proxy has the starting routing');

    const rollback: number[] = [];
    const rollbackPerProxy: number[] = [];
    const revert: number[] = [];
    const revertPerProxy: number[] = [];
    let strayPushes = 0;
    for (let run = 0; run < RUNS * 2; run++) {
      const kind = run % 2 === 0 ? 'rollback' : 'revert';
      fleet.mark();
      prom.healthy = true;
      const walkAt = await mesh.change({ 'mesh/svc0.yaml': serviceFile(0, 0, 100) }, `svc0: v2 (run ${run})`);
      await allAcked(affected, { v1: 50, v2: 50 }, walkAt);
      if (kind === 'rollback') {
        const flip = Date.now();
        prom.healthy = false;
        const failed = await until('the rollback', async () => {
          const st = await status();
          return st.phase === 'Failed' ? st : undefined;
        });
        const decision = Date.parse([...failed.history].reverse().find((h) => /^rolled back/.test(h.message))!.at);
        const times = (await allAcked(affected, { v1: 100 }, flip)).map((t) => t - decision);
        rollback.push(Math.max(...times));
        rollbackPerProxy.push(...times);
        // The revert commit, read back from Git: then the next run can start from a quiet state.
        await until('the write-back read back', async () => ((await status()).history.some((h) => Date.parse(h.at) >= decision && /Git states the routing in force/.test(h.message)) ? true : undefined), 60_000).catch(async (err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(await status())}`);
        });
      } else {
        const hookAt = await mesh.revert();
        const times = (await allAcked(affected, { v1: 100 }, hookAt)).map((t) => t - hookAt);
        revert.push(Math.max(...times));
        revertPerProxy.push(...times);
        await until('Aborted', async () => ((await status()).phase === 'Aborted' ? true : undefined));
      }
      strayPushes += unaffected.reduce((a, p) => a + p.pushes, 0);
      process.stdout.write(`  run ${run + 1}/${RUNS * 2} (${kind}): all ${affected.length} ACKed the old routing ${(kind === 'rollback' ? rollback : revert).at(-1)} ms after the ${kind === 'rollback' ? 'decision' : 'webhook'}\n`);
    }
    const f = (xs: number[]) => `p50 ${percentile(xs, 50)} ms, p99 ${percentile(xs, 99)} ms, max ${Math.max(...xs)} ms`;
    console.log(`failing analysis decision → all ${affected.length} affected proxies ACKed the old routing, ${RUNS} runs: ${f(rollback)} (goal p99 < 1 s); per proxy: ${f(rollbackPerProxy)}`);
    console.log(`git revert webhook → all ${affected.length} affected proxies ACKed the old routing, ${RUNS} runs: ${f(revert)} (fetch, validation and translation included); per proxy: ${f(revertPerProxy)}`);
    console.log(`pushes to the ${unaffected.length} unaffected proxies over ${RUNS * 2} runs: ${strayPushes} (goal 0); NACKs: ${fleet.sidecars.reduce((a, p) => a + p.nacks, 0)}; stream errors: ${fleet.streamErrors}; meshcd serve RSS ${(await rssOf(serve.child.pid!)).toFixed(0)} MB`);
  } finally {
    await mesh.close();
    await prom.close();
  }
}

runBench(import.meta.url, pushBench);
