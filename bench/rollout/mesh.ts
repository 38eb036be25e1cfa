// The scale rig the rollout benches share: a config repository on git
// http-backend with SERVICES services in NAMESPACES namespaces (each
// exported to its own namespace) plus one Rollout, `meshcd serve` (child
// process) following it, and PROXIES simulated sidecars spread evenly over
// the namespaces (fleet.ts), so PROXIES/NAMESPACES of them see ns0.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { hmacSignature } from '../../src/source/webhook.js';
import { startGitServer, type GitServer } from '../../test/helpers/git-server.js';
import { makeRepo, tempDir, type TestRepo } from '../../test/helpers/git-repo.js';
import { startServe, type ServeProcess } from '../../test/helpers/xds-e2e.js';
import { SidecarFleet, type Sidecar } from './fleet.js';

export const SERVICES = Number(process.env.SERVICES ?? 1000);
export const NAMESPACES = Number(process.env.NAMESPACES ?? 10);
export const PROXIES = Number(process.env.PROXIES ?? 2000);
const HOOK_SECRET = 'bench-hook-secret-7f21';
const TOKEN = 'bench-git-token-3c9e';
const ADMIN_TOKEN = 'bench-admin-token-5b1d07e2c4';

export const host = (i: number) => `svc${i}.ns${i % NAMESPACES}.svc.cluster.local`;

/** One service: ServiceEntry (two endpoints, version labels), DestinationRule (v1, v2; `policy` adds a trafficPolicy), VirtualService (one weighted route). */
export function serviceFile(i: number, v1: number, v2: number, policy = ''): string {
  const ns = `ns${i % NAMESPACES}`;
  const a = 1 + (i % 250);
  const b = 1 + (Math.floor(i / 250) % 250);
  return [
    `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  hosts: [${host(i)}]\n  exportTo: ["."]\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports: [{number: 9080, name: http, protocol: HTTP}]\n  endpoints:\n  - {address: 10.${b}.${a}.1, labels: {version: v1}}\n  - {address: 10.${b}.${a}.2, labels: {version: v2}}\n`,
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  host: ${host(i)}\n  exportTo: ["."]\n${policy}  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n`,
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc${i}, namespace: ${ns}}\nspec:\n  hosts: [${host(i)}]\n  exportTo: ["."]\n  http:\n  - name: primary\n    route:\n    - {destination: {host: ${host(i)}, subset: v1}, weight: ${v1}}\n    - {destination: {host: ${host(i)}, subset: v2}, weight: ${v2}}\n`,
  ].join('---\n');
}

export function machine(): string {
  return `machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (shared machine)`;
}

export const rssOf = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 120_000, every = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export interface BenchMesh {
  repo: TestRepo;
  serve: ServeProcess;
  fleet: SidecarFleet;
  /** Sidecars of ns0 (they see the services a change in ns0 touches) and the others. */
  affected: Sidecar[];
  unaffected: Sidecar[];
  /** Commit these files (paths under mesh/), push, and announce by the source webhook; returns when the webhook was answered. */
  change(files: Record<string, string>, message: string): Promise<number>;
  /** A person's `git revert HEAD`, pushed and announced; returns the webhook time. */
  revert(): Promise<number>;
  rollout<T>(name: string): Promise<T>;
  /** `POST /api/v1/rollouts/NAME/COMMAND` with the admin token. */
  command(name: string, command: string): Promise<void>;
  close(): Promise<void>;
}

/** The repository, serve and the fleet, with every sidecar holding a full config. */
export async function startBenchMesh(rolloutFile: string, watchedHost: string): Promise<BenchMesh> {
  const root = await tempDir('meshcd-bench-rollout-');
  const git: GitServer = await startGitServer({ root, auth: { token: TOKEN } });
  let serve: ServeProcess | undefined;
  let fleet: SidecarFleet | undefined;
  const close = async () => {
    fleet?.close();
    await serve?.stop();
    await git.close();
    await rm(root, { recursive: true, force: true });
  };
  try {
    const repo = await makeRepo(root, 'mesh');
    const files: Record<string, string> = { 'mesh/rollout.yaml': rolloutFile };
    for (let i = 0; i < SERVICES; i++) files[`mesh/svc${i}.yaml`] = serviceFile(i, 100, 0);
    await repo.commit(files, 'mesh');
    await repo.push();
    await writeFile(join(root, 'token'), TOKEN, { mode: 0o600 });
    await writeFile(join(root, 'hook'), HOOK_SECRET, { mode: 0o600 });
    await writeFile(join(root, 'admin-token'), ADMIN_TOKEN, { mode: 0o600 });
    serve = await startServe(`mesh=${git.url('mesh.git')}#main:mesh;token-file=${join(root, 'token')};webhook-secret-file=${join(root, 'hook')};poll=1h`, ['--no-ca', '--state-dir', join(root, 'state'), '--admin-token-file', join(root, 'admin-token')]);
    const s = serve;
    const announce = async () => {
      const body = JSON.stringify({ ref: 'refs/heads/main' });
      const at = Date.now();
      const r = await fetch(`${s.admin}/hooks/mesh`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(HOOK_SECRET, Buffer.from(body)) } });
      if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
      return at;
    };
    fleet = new SidecarFleet(serve.xds, watchedHost);
    const c0 = Date.now();
    for (let i = 0; i < PROXIES; i++) {
      const ns = `ns${i % NAMESPACES}`;
      fleet.connect(`sidecar~10.100.${Math.floor(i / 250)}.${i % 250}~p${i}.${ns}~${ns}.svc.cluster.local`, ns);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
    }
    const ready = await fleet.waitReady(300_000);
    const affected = fleet.sidecars.filter((p) => p.namespace === 'ns0');
    const unaffected = fleet.sidecars.filter((p) => p.namespace !== 'ns0');
    console.log(`fleet: ${ready}/${PROXIES} sidecars with CDS+EDS+LDS+RDS in ${((Date.now() - c0) / 1000).toFixed(1)} s; ${affected.length} in ns0, ${unaffected.length} elsewhere; meshcd serve RSS ${(await rssOf(serve.child.pid!)).toFixed(0)} MB`);
    return {
      repo,
      serve,
      fleet,
      affected,
      unaffected,
      async change(changed, message) {
        await repo.git('pull', '-q', 'origin', 'main');
        await repo.commit(changed, message);
        await repo.push();
        return announce();
      },
      async revert() {
        await repo.git('revert', '--no-edit', 'HEAD');
        await repo.push();
        return announce();
      },
      async rollout<T>(name: string) {
        return (await (await fetch(`${s.admin}/api/v1/rollouts/${name}`)).json()) as T;
      },
      async command(name, command) {
        const r = await fetch(`${s.admin}/api/v1/rollouts/${name}/${command}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        if (r.status !== 200) throw new Error(`${command} ${name}: HTTP ${r.status} ${await r.text()}`);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Run a bench as a script: the machine and the mesh first, the load average after, exit 1 with the message on failure. */
export function runBench(meta: string, bench: () => Promise<void>): void {
  if (meta !== `file://${process.argv[1]}`) return;
  console.log(machine());
  console.log(`mesh: ${SERVICES} services in ${NAMESPACES} namespaces (exported to their own namespace), ${PROXIES} sidecars`);
  bench().then(
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
