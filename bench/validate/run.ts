// bench/validate: generate a config repo of 10,000 resources in a temp dir
// (services as ServiceEntry + WorkloadEntries, VirtualServices,
// DestinationRules, AuthorizationPolicies, over 20 namespaces), run the built
// CLI `meshcd validate <dir> --output json` in a child process, and print
// wall time and peak RSS with the machine it ran on.
// Goal on the 2-core CI machine: under 2 s and under 300 MB.
//
//   npm run bench:validate [-- --resources 10000 --runs 3 --keep-dir DIR --cli-arg --no-translation]

import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/src/cli/bin.js');
const HOOK = pathToFileURL(fileURLToPath(new URL('./rss-hook.js', import.meta.url))).href;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const NAMESPACES = 20;

function serviceFile(ns: string, name: string, ip: (i: number) => string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 8080, name: http, protocol: HTTP}
  workloadSelector:
    labels: {app: ${name}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-v1, namespace: ${ns}}
spec: {address: ${ip(1)}, labels: {app: ${name}, version: v1}, serviceAccount: ${name}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-v2, namespace: ${ns}}
spec: {address: ${ip(2)}, labels: {app: ${name}, version: v2}, serviceAccount: ${name}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    connectionPool: {http: {http2MaxRequests: 1000}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}]
  http:
  - name: canary
    match:
    - headers: {x-canary: {exact: "1"}}
    route:
    - destination: {host: ${name}, subset: v2}
    timeout: 2s
  - name: primary
    route:
    - {destination: {host: ${name}, subset: v1}, weight: 90}
    - {destination: {host: ${name}, subset: v2}, weight: 10}
    timeout: 2s
    retries: {attempts: 2, perTryTimeout: 1s, retryOn: 5xx}
`;
}

function authzFile(ns: string, name: string, caller: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}-from-${caller}, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: ${name}}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/${ns}/sa/${caller}]}
    to:
    - operation: {methods: [GET, POST], paths: [/api/*]}
`;
}

async function generate(dir: string, target: number): Promise<{ files: number; resources: number }> {
  const perService = 5;
  const authz = Math.floor(target * 0.05);
  const services = Math.floor((target - authz - 1 - NAMESPACES) / perService);
  let files = 0;
  let resources = 0;
  const nsLabels = Array.from({ length: NAMESPACES }, (_, i) => `    team-${i}: {labels: {env: ${i % 2 ? 'production' : 'dev'}}}`).join('\n');
  await writeFile(join(dir, 'mesh.yaml'), `apiVersion: meshcd.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec:\n  namespaces:\n${nsLabels}\n`);
  files++;
  resources++;
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `team-${n}`;
    await mkdir(join(dir, ns));
    await writeFile(join(dir, ns, 'peer-authentication.yaml'), `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: ${ns}}\nspec: {mtls: {mode: STRICT}}\n`);
    files++;
    resources++;
  }
  for (let s = 0; s < services; s++) {
    const ns = `team-${s % NAMESPACES}`;
    const name = `svc-${s}`;
    const ip = (k: number) => `10.${(s >> 8) & 255}.${s & 255}.${k}`;
    await writeFile(join(dir, ns, `${name}.yaml`), serviceFile(ns, name, ip));
    files++;
    resources += perService;
  }
  for (let a = 0; a < authz && resources < target; a++) {
    const s = a % services;
    const ns = `team-${s % NAMESPACES}`;
    // The caller is the next service in the same namespace.
    const caller = `svc-${(s + NAMESPACES) % services}`;
    await writeFile(join(dir, ns, `authz-${a}.yaml`), authzFile(ns, `svc-${s}`, caller));
    files++;
    resources++;
  }
  return { files, resources };
}

interface Run {
  wallMs: number;
  maxRssKiB: number;
  userMs: number;
  systemMs: number;
  /** CPU time of the main thread and of the translation worker (Linux; see rss-hook.ts). */
  mainThreadMs?: number;
  workerMs?: number;
  exit: number | null;
  summary: Record<string, number>;
}

/** `--cli-arg X` (repeatable) is passed to `meshcd validate`, e.g. `--cli-arg --no-translation`. */
function cliArgs(): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => a === '--cli-arg' && process.argv[i + 1] !== undefined && out.push(process.argv[i + 1]!));
  return out;
}

function runOnce(dir: string): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', HOOK, BIN, 'validate', dir, '--output', 'json', ...cliArgs()], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const m = /MESHCD_BENCH (\{.*\})/.exec(r.stderr);
  if (!m) throw new Error(`child reported no usage (exit ${r.status}): ${r.stderr.slice(0, 2000)}`);
  const usage = JSON.parse(m[1]!) as { maxRssKiB: number; userMs: number; systemMs: number; mainThreadMs?: number };
  const worker = /MESHCD_BENCH_WORKER (\{.*\})/.exec(r.stderr);
  const workerMs = worker ? (JSON.parse(worker[1]!) as { cpuMs?: number }).cpuMs : undefined;
  const out = JSON.parse(r.stdout) as { summary: Record<string, number> };
  return { wallMs, ...usage, ...(workerMs !== undefined ? { workerMs } : {}), exit: r.status, summary: out.summary };
}

async function main(): Promise<void> {
  const target = arg('resources', 10_000);
  const runs = arg('runs', 3);
  // --keep-dir DIR: generate into DIR and leave it there (to profile one run: node --cpu-prof dist/src/cli/bin.js validate DIR).
  const keepAt = process.argv.indexOf('--keep-dir');
  const keep = keepAt >= 0 ? process.argv[keepAt + 1] : undefined;
  const dir = keep ?? (await mkdtemp(join(tmpdir(), 'meshcd-bench-validate-')));
  if (keep) await mkdir(keep, { recursive: true });
  try {
    const gen = await generate(dir, target);
    console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`repo: ${gen.resources} resources in ${gen.files} files (${NAMESPACES} namespaces)`);
    const results: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const r = runOnce(dir);
      results.push(r);
      const threads = r.mainThreadMs !== undefined ? ` (main thread ${r.mainThreadMs} ms${r.workerMs !== undefined ? `, worker ${r.workerMs} ms` : ''})` : '';
      console.log(`run ${i + 1}: wall ${r.wallMs.toFixed(0)} ms, cpu ${r.userMs + r.systemMs} ms${threads}, peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB, exit ${r.exit}, ${JSON.stringify(r.summary)}`);
    }
    const wall = results.map((r) => r.wallMs).sort((a, b) => a - b);
    const rss = Math.max(...results.map((r) => r.maxRssKiB)) / 1024;
    const median = wall[Math.floor(wall.length / 2)]!;
    const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const cpu = mid(results.map((r) => r.userMs + r.systemMs));
    const main = results.every((r) => r.mainThreadMs !== undefined) ? mid(results.map((r) => r.mainThreadMs!)) : undefined;
    const worker = results.every((r) => r.workerMs !== undefined) ? mid(results.map((r) => r.workerMs!)) : undefined;
    // CPU time is printed too: on a shared machine wall time mostly measures the neighbours.
    // The busiest thread's CPU time is what the wall time would be on two idle cores (plus start-up and waits).
    const threads = main !== undefined ? `, median main thread ${main} ms${worker !== undefined ? `, worker ${worker} ms` : ''}` : '';
    console.log(`meshcd validate ${cliArgs().join(' ')}, ${gen.resources} resources: median wall ${median.toFixed(0)} ms (goal < 2000), median CPU ${cpu} ms${threads}, peak RSS ${rss.toFixed(0)} MiB (goal < 300), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exitCode = 1;
});
