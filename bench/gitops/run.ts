// GitOps latency benchmark: a repository of 2,000 YAML files and 5,000
// commits (made with `git fast-import`), served by `git http-backend` on
// loopback. For 50 new commits: push, send a signed GitHub webhook, and time
// until the Reconciler accepts the new revision. Compares meshcd's fetch
// (isomorphic-git) with `git fetch` for the same commits. Prints figures and
// the machine it ran on. Usage: npm run bench:gitops [-- --commits 50]

import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Reconciler, type AcceptedEvent } from '../../src/source/reconcile.js';
import { parseSourceFlag } from '../../src/source/spec.js';
import { hmacSignature } from '../../src/source/webhook.js';
import { AdminServer } from '../../src/admin/server.js';
import { startGitServer, gitCli } from '../../test/helpers/git-server.js';
import { tempDir } from '../../test/helpers/git-repo.js';
import { nextEvent } from '../../test/helpers/git-wait.js';

const FILES = 2000;
const HISTORY = 5000;
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SAMPLES = arg('commits', 50);

function serviceYaml(i: number, rev: number): string {
  const name = `svc-${String(i).padStart(4, '0')}`;
  const ns = `team-${i % 20}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    rev: "r${rev}"
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 8080
    name: http
    protocol: HTTP
  endpoints:
  - address: 10.${(i >> 8) & 255}.${i & 255}.${(rev % 250) + 1}
`;
}

const pathOf = (i: number) => `mesh/team-${i % 20}/svc-${String(i).padStart(4, '0')}.yaml`;

/** Streams 5,000 commits into a bare repo with git fast-import. */
async function buildHistory(bare: string): Promise<void> {
  const child = spawn('git', ['fast-import', '--quiet'], { cwd: bare, stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`)))));
  child.stdin.on('error', () => undefined); // the exit code reports the failure
  const out: string[] = [];
  const flush = async () => {
    const chunk = out.join('');
    out.length = 0;
    if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
  };
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const t0 = 1767225600;
  for (let c = 0; c < HISTORY; c++) {
    const msg = c === 0 ? 'initial config' : `change ${c}`;
    out.push(`commit refs/heads/main\ncommitter Bench <bench@example.com> ${t0 + c} +0000\n${data(msg)}`);
    if (c === 0) for (let i = 0; i < FILES; i++) out.push(`M 100644 inline ${pathOf(i)}\n${data(serviceYaml(i, 0))}`);
    else {
      const i = (c * 7919) % FILES;
      out.push(`M 100644 inline ${pathOf(i)}\n${data(serviceYaml(i, c))}`);
    }
    out.push('\n');
    if (out.length > 2000) await flush();
  }
  await flush();
  child.stdin.end();
  await done;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  // The figures are the output; per-revision info logs would drown them.
  process.env.MESHCD_LOG_LEVEL ??= 'warn';
  const root = await tempDir('meshcd-bench-');
  const server = await startGitServer({ root });
  const admin = new AdminServer();
  let rec: Reconciler | undefined;
  try {
    const bare = join(root, 'mesh.git');
    await gitCli(root, ['init', '--bare', '-q', bare]);
    let t = performance.now();
    await buildHistory(bare);
    await gitCli(bare, ['repack', '-adq']);
    console.log(`repository: ${FILES} YAML files, ${HISTORY} commits, built in ${fmt(performance.now() - t)}`);

    const work = join(root, 'work');
    await gitCli(root, ['clone', '-q', bare, work]);
    const cliMirror = join(root, 'cli.git');
    t = performance.now();
    await gitCli(root, ['clone', '-q', '--bare', '--single-branch', '--branch', 'main', server.url('mesh.git'), cliMirror]);
    const cliClone = performance.now() - t;
    t = performance.now();
    await gitCli(root, ['clone', '-q', '--bare', '--depth', '1', '--single-branch', '--branch', 'main', server.url('mesh.git'), join(root, 'cli-shallow.git')]);
    const cliShallow = performance.now() - t;

    const secret = 'bench-webhook-secret';
    await writeFile(join(root, 'hook'), secret);
    const spec = parseSourceFlag(`mesh=${server.url('mesh.git')}#main:mesh;poll=1h;webhook-secret-file=${join(root, 'hook')}`, 'bench');
    rec = new Reconciler({ sources: [spec], stateDir: join(root, 'state') });
    rec.registerAdmin(admin);
    const port = await admin.listen(0);
    t = performance.now();
    await rec.start();
    const initial = performance.now() - t;
    if (!rec.hasAccepted()) throw new Error(`initial revision not accepted: ${JSON.stringify(rec.status()[0]?.lastRejected?.diagnostics.slice(0, 3))}`);
    const initialFetch = rec.status()[0]!.lastFetchDurationMs ?? NaN;
    console.log(`initial sync (clone + load + validate ${FILES} files): ${fmt(initial)}, of which shallow clone ${fmt(initialFetch)}; git CLI: shallow clone ${fmt(cliShallow)}, full clone ${fmt(cliClone)}`);

    const latency: number[] = [];
    const meshcdFetch: number[] = [];
    const cliFetch: number[] = [];
    const loadMs: number[] = [];
    const validateMs: number[] = [];
    for (let n = 0; n < SAMPLES; n++) {
      const i = (n * 131) % FILES;
      await writeFile(join(work, pathOf(i)), serviceYaml(i, HISTORY + n));
      await gitCli(work, ['commit', '-qam', `bench ${n}`]);
      const commit = await gitCli(work, ['rev-parse', 'HEAD']);
      await gitCli(work, ['push', '-q', 'origin', 'HEAD:refs/heads/main']);
      const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: commit }));
      const accepted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === commit, 60_000);
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/hooks/mesh`, { method: 'POST', body, headers: { 'x-hub-signature-256': hmacSignature(secret, body), 'content-type': 'application/json' } });
      if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
      await accepted;
      latency.push(performance.now() - t0);
      const st = rec.status()[0]!;
      meshcdFetch.push(st.lastFetchDurationMs ?? NaN);
      loadMs.push(st.lastEvaluation?.loadMs ?? NaN);
      validateMs.push(st.lastEvaluation?.validateMs ?? NaN);
      const t1 = performance.now();
      await gitCli(cliMirror, ['fetch', '-q', 'origin', 'main:main']);
      cliFetch.push(performance.now() - t1);
    }
    const s = (a: number[]) => a.slice().sort((x, y) => x - y);
    const L = s(latency), F = s(meshcdFetch), C = s(cliFetch);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log('');
    console.log(`webhook → revision accepted, ${SAMPLES} commits: p50 ${fmt(pct(L, 50))}, p99 ${fmt(pct(L, 99))}, max ${fmt(L[L.length - 1]!)} (goal: p99 < 500 ms)`);
    console.log(`  of which fetch (isomorphic-git):      p50 ${fmt(pct(F, 50))}, p99 ${fmt(pct(F, 99))}`);
    console.log(`  of which load (config/load, cached parse): p50 ${fmt(pct(s(loadMs), 50))}, p99 ${fmt(pct(s(loadMs), 99))}`);
    console.log(`  of which validate (validate/):        p50 ${fmt(pct(s(validateMs), 50))}, p99 ${fmt(pct(s(validateMs), 99))}`);
    console.log(`  same fetch with git CLI (git fetch):  p50 ${fmt(pct(C, 50))}, p99 ${fmt(pct(C, 99))}; ratio meshcd/git p50 ${(pct(F, 50) / pct(C, 50)).toFixed(2)}x`);
    console.log(`peak RSS: ${rssMb.toFixed(0)} MB`);
    console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`);
  } finally {
    await rec?.stop();
    await admin.close();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
