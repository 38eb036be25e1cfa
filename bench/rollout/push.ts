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
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { hmacSignature } from '../../src/source/webhook.js';
import { startGitServer } from '../../test/helpers/git-server.js';
import { makeRepo, tempDir } from '../../test/helpers/git-repo.js';
import { startServe, type ServeProcess } from '../../test/helpers/xds-e2e.js';
import { ackedAt, percentile, SidecarFleet, type Sidecar } from './fleet.js';

const SERVICES = Number(process.env.SERVICES ?? 1000);
const NAMESPACES = Number(process.env.NAMESPACES ?? 10);
const PROXIES = Number(process.env.PROXIES ?? 2000);
const RUNS = Number(process.env.RUNS ?? 10);
const HOOK_SECRET = 'bench-hook-secret-7f21';
const TOKEN = 'bench-git-token-3c9e';
const TARGET = 'svc0.ns0.svc.cluster.local';

const host = (i: number) => `svc${i}.ns${i % NAMESPACES}.svc.cluster.local`;

/** One service: ServiceEntry (two endpoints, version labels), DestinationRule (v1, v2), VirtualService (one weighted route). */
export function serviceFile(i: number, v1: number, v2: number): string {
  const ns = `ns${i % NAMESPACES}`;
  const a = 1 + (i % 250);
  const b = 1 + (Math.floor(i / 250) % 250);
  return [
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  hosts: [${host(i)}]\n  exportTo: ["."]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports: [{number: 9080, name: http, protocol: HTTP}]\n  endpoints:\n  - {address: 10.${b}.${a}.1, labels: {version: v1}}\n  - {address: 10.${b}.${a}.2, labels: {version: v2}}\n`,
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  host: ${host(i)}\n  exportTo: ["."]\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n`,
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  hosts: [${host(i)}]\n  exportTo: ["."]\n  http:\n  - name: primary\n    route:\n    - {destination: {host: ${host(i)}, subset: v1}, weight: ${v1}}\n    - {destination: {host: ${host(i)}, subset: v2}, weight: ${v2}}\n`,
  ].join('---\n');
}

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

async function status(serve: ServeProcess): Promise<Status> {
  const r = await fetch(`${serve.admin}/api/v1/rollouts/ns0/svc0`);
  return (await r.json()) as Status;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 120_000, every = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** When the last of `proxies` ACKed the routing `weights` (at or after `since`). */
function allAcked(proxies: Sidecar[], weights: Record<string, number>, since: number): Promise<number[]> {
  return until(`all ${proxies.length} affected proxies to ACK ${JSON.stringify(weights)}`, () => {
    const times = proxies.map((p) => ackedAt(p, weights, since));
    return times.every((x) => x !== undefined) ? (times as number[]) : undefined;
  });
}

const rssOf = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function pushBench(): Promise<void> {
  const root = await tempDir('meshcd-bench-rollout-push-');
  const git = await startGitServer({ root, auth: { token: TOKEN } });
  const prom = await stubPrometheus();
  let serve: ServeProcess | undefined;
  let fleet: SidecarFleet | undefined;
  try {
    const repo = await makeRepo(root, 'mesh');
    const files: Record<string, string> = { 'mesh/rollout.yaml': rolloutFile(prom.address) };
    for (let i = 0; i < SERVICES; i++) files[`mesh/svc${i}.yaml`] = serviceFile(i, 100, 0);
    await repo.commit(files, 'mesh');
    await repo.push();
    await writeFile(join(root, 'token'), TOKEN, { mode: 0o600 });
    await writeFile(join(root, 'hook'), HOOK_SECRET, { mode: 0o600 });
    serve = await startServe(`mesh=${git.url('mesh.git')}#main:mesh;token-file=${join(root, 'token')};webhook-secret-file=${join(root, 'hook')};poll=1h`, ['--no-ca', '--state-dir', join(root, 'state')]);
    const s = serve;
    const announce = async () => {
      const body = JSON.stringify({ ref: 'refs/heads/main' });
      const r = await fetch(`${s.admin}/hooks/mesh`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
      if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
    };

    fleet = new SidecarFleet(serve.xds, TARGET);
    const c0 = Date.now();
    for (let i = 0; i < PROXIES; i++) {
      const ns = `ns${i % NAMESPACES}`;
      fleet.connect(`sidecar~10.100.${Math.floor(i / 250)}.${i % 250}~p${i}.${ns}~${ns}.svc.cluster.local`, ns);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
    }
    const ready = await fleet.waitReady(300_000);
    const affected = fleet.sidecars.filter((p) => p.namespace === 'ns0');
    const unaffected = fleet.sidecars.filter((p) => p.namespace !== 'ns0');
    console.log(`fleet: ${ready}/${PROXIES} sidecars with CDS+EDS+LDS+RDS in ${((Date.now() - c0) / 1000).toFixed(1)} s; ${affected.length} route to ${TARGET}, ${unaffected.length} do not; meshcd serve RSS ${(await rssOf(serve.child.pid!)).toFixed(0)} MB`);
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
      await repo.git('pull', '-q', 'origin', 'main');
      await repo.commit({ 'mesh/svc0.yaml': serviceFile(0, 0, 100) }, `svc0: v2 (run ${run})`);
      await repo.push();
      const walkAt = Date.now();
      await announce();
      await allAcked(affected, { v1: 50, v2: 50 }, walkAt);
      if (kind === 'rollback') {
        const flip = Date.now();
        prom.healthy = false;
        const failed = await until('the rollback', async () => {
          const st = await status(s);
          return st.phase === 'Failed' ? st : undefined;
        });
        const decision = Date.parse([...failed.history].reverse().find((h) => /^rolled back/.test(h.message))!.at);
        const times = (await allAcked(affected, { v1: 100 }, flip)).map((t) => t - decision);
        rollback.push(Math.max(...times));
        rollbackPerProxy.push(...times);
        // The revert commit, read back from Git: then the next run can start from a quiet state.
        await until('the write-back read back', async () => ((await status(s)).history.some((h) => Date.parse(h.at) >= decision && /Git states the routing in force/.test(h.message)) ? true : undefined), 60_000).catch(async (err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(await status(s))}`);
        });
      } else {
        await repo.git('revert', '--no-edit', 'HEAD');
        await repo.push();
        const hookAt = Date.now();
        await announce();
        const times = (await allAcked(affected, { v1: 100 }, hookAt)).map((t) => t - hookAt);
        revert.push(Math.max(...times));
        revertPerProxy.push(...times);
        await until('Aborted', async () => ((await status(s)).phase === 'Aborted' ? true : undefined));
      }
      strayPushes += unaffected.reduce((a, p) => a + p.pushes, 0);
      process.stdout.write(`  run ${run + 1}/${RUNS * 2} (${kind}): all ${affected.length} ACKed the old routing ${(kind === 'rollback' ? rollback : revert).at(-1)} ms after the ${kind === 'rollback' ? 'decision' : 'webhook'}\n`);
    }
    const f = (xs: number[]) => `p50 ${percentile(xs, 50)} ms, p99 ${percentile(xs, 99)} ms, max ${Math.max(...xs)} ms`;
    console.log(`failing analysis decision → all ${affected.length} affected proxies ACKed the old routing, ${RUNS} runs: ${f(rollback)} (goal p99 < 1 s); per proxy: ${f(rollbackPerProxy)}`);
    console.log(`git revert webhook → all ${affected.length} affected proxies ACKed the old routing, ${RUNS} runs: ${f(revert)} (fetch, validation and translation included); per proxy: ${f(revertPerProxy)}`);
    console.log(`pushes to the ${unaffected.length} unaffected proxies over ${RUNS * 2} runs: ${strayPushes} (goal 0); NACKs: ${fleet.sidecars.reduce((a, p) => a + p.nacks, 0)}; stream errors: ${fleet.streamErrors}; meshcd serve RSS ${(await rssOf(serve.child.pid!)).toFixed(0)} MB`);
  } finally {
    fleet?.close();
    await serve?.stop();
    await prom.close();
    await git.close();
    await rm(root, { recursive: true, force: true });
  }
}

export function machine(): string {
  return `machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (shared machine)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(machine());
  console.log(`mesh: ${SERVICES} services in ${NAMESPACES} namespaces (exported to their own namespace), ${PROXIES} sidecars`);
  pushBench().then(
    () => {
      console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
      process.exit(0);
    },
    (err: Error) => {
      console.error(`bench failed: ${err.message}`);
      process.exit(1);
    },
  );
}
