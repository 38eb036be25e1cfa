// xDS at mesh scale (issue 15): `meshcd serve` in its own process, simulated
// Envoy sidecars in other processes (bench/xds/clients.ts), and in the same
// run a minimal ADS server sending the bytes captured from meshcd
// (bench/xds/floor.ts) and, with --istiod, istiod's pilot-discovery built
// from the istio.io/istio module (bench/xds/istiod.ts) given the same mesh.
//
// Scenarios (bench/xds/mesh.ts): realistic (every proxy a distinct
// workload, one TLS connection per proxy with its own client certificate
// from meshcd's CA, Istio's default visibility), scoped (plus a Sidecar per
// namespace), churn (realistic plus endpoint changes at a steady rate),
// classes (the older bench's flattering mesh, labelled as such).
//
// Figures: time to full config; one route change → every affected proxy
// received and ACKed it, p50/p99, from the file write and from the moment
// serve printed "accepted"; server CPU seconds, RSS and peak RSS; bytes the
// clients received; the machine and load average with every run.
//
//   npm run bench:xds:scale -- --scenario realistic --proxies 1000 --services 1000
//   npm run bench:xds:scale -- --scenario scoped,churn --proxies 2000 --istiod
//
// Flags: --scenario LIST, --proxies N, --services N, --namespaces N,
// --workers N (client processes), --delta (the simulated sidecars speak delta
// xDS; no floor then), --no-floor, --no-check (the grpc-js-xds and
// grpc-go calls), --istiod, --churn-rate N/s, --churn-seconds S, --timeout S
// (full config), --change-timeout S (a change reaching every affected
// proxy), --stall-timeout S (passed to serve's --xds-stall-timeout),
// --max-rss GiB (a server under test above it is killed: the machine is
// shared; default 12), -o json. SERVE_NODE_ARGS (environment): extra node
// flags for serve, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadAverage, machineLine } from '../machine.js';
import type { Mark, ProxyReport } from './clients.js';
import { startIstiod } from './istiod.js';
import { churnMark, nsName, PROBE_HOST, proxiesOf, sees, svcHost, writeChurn, writeMesh, writeRouteChange, type BenchProxy, type MeshSpec, type Scenario } from './mesh.js';
import { cpuSeconds, IpcWorker, memoryOf, now, tokenFor } from './proc.js';
import { SHORT, TYPE } from './wire.js';
import { startGoClient, type GoClient } from '../../test/helpers/go-grpc-client.js';
import { callEcho, eventually, grpcBootstrap, startBackend, xdsClient } from '../../test/helpers/xds-e2e.js';

const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'realistic' },
    proxies: { type: 'string', default: '1000' },
    services: { type: 'string', default: '1000' },
    namespaces: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'no-floor': { type: 'boolean', default: false },
    delta: { type: 'boolean', default: false },
    'no-check': { type: 'boolean', default: false },
    istiod: { type: 'boolean', default: false },
    'churn-rate': { type: 'string', default: '2' },
    'churn-seconds': { type: 'string', default: '20' },
    timeout: { type: 'string', default: '300' },
    'change-timeout': { type: 'string', default: '180' },
    'stall-timeout': { type: 'string' },
    'max-rss': { type: 'string', default: '12' },
    output: { type: 'string', short: 'o', default: 'text' },
  },
});

const num = (name: keyof typeof flags) => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(flags[name])}`);
  return n;
};

const CLIENTS = join(import.meta.dirname, 'clients.js');
const FLOOR = join(import.meta.dirname, 'floor.js');
const BIN = resolve('dist/src/cli/bin.js');

/**
 * The config is usable by real clients: a grpc-js-xds and a grpc-go xDS
 * client (proxyless, on the plaintext port: grpc-js-xds 1.14 cannot do TLS
 * to its xDS server) in namespace ns0 call the probe service's echo server
 * through the config, while the simulated proxies are connected.
 */
async function proxylessCheck(xds: string, port: number, label: string): Promise<string> {
  const target = `xds:///${PROBE_HOST}:${port}`;
  const out: string[] = [];
  try {
    const client = await xdsClient(target, xds, `sidecar~127.0.0.1~grpc-js-probe.ns0~ns0.svc.cluster.local`, 'ns0');
    const t0 = now();
    const r = await eventually(() => callEcho(client, { key: 'probe' }), 60_000, 250);
    let ok = 1;
    for (let i = 0; i < 9; i++) if ((await callEcho(client, { key: `probe-${i}` }).catch(() => undefined))?.version === 'probe') ok++;
    client.close();
    out.push(`grpc-js-xds ${ok}/10 calls answered by ${r.version} (first after ${ms(now() - t0)})`);
  } catch (err) {
    out.push(`grpc-js-xds FAILED: ${(err as Error).message.split('\n')[0]}`);
  }
  let go: GoClient | undefined;
  try {
    go = await startGoClient(grpcBootstrap(xds, 'sidecar~127.0.0.1~grpc-go-probe.ns0~ns0.svc.cluster.local', 'ns0'));
    const a = await go.run({ target, n: 10, wait_ms: 60_000 });
    out.push(`grpc-go ${a.ok}/${a.calls} calls answered${a.nacks.length ? `, NACKs: ${a.nacks.slice(0, 2).join('; ')}` : ', 0 NACKs'}${a.errors.length ? `, errors: ${a.errors.slice(0, 2).join('; ')}` : ''}`);
  } catch (err) {
    out.push(`grpc-go FAILED: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await go?.stop();
  }
  const line = `  [${label}] real clients (proxyless, plaintext port): ${out.join('; ')}`;
  console.log(line);
  return line;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const s1 = (x: number) => `${(x / 1000).toFixed(2)} s`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** A server the clients connect to. */
export interface Server {
  name: string;
  pid: number;
  target: string;
  tls?: { rootsPem: string; serverName: string };
  /** Arrival times of serve's "accepted" lines (meshcd only). */
  accepted?: number[];
  stop(): Promise<void>;
}

interface Meshcd extends Server {
  admin: string;
  tlsTarget: string;
  plainTarget: string;
  rootsPem: string;
  stateDir: string;
}

async function startMeshcd(meshDir: string, work: string, tokensFile: string): Promise<Meshcd> {
  const stateDir = join(work, 'state');
  const extra = flags['stall-timeout'] ? ['--xds-stall-timeout', flags['stall-timeout']] : [];
  const child: ChildProcess = spawn(process.execPath, [...(process.env.SERVE_NODE_ARGS?.split(' ').filter(Boolean) ?? []), BIN, 'serve', '--source', meshDir, '--xds-port', '0', '--tls-port', '0', '--admin-port', '0', '--state-dir', stateDir, '--ca-token-file', tokensFile, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' },
  });
  const accepted: number[] = [];
  let out = '';
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const t = now();
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.startsWith('accepted ')) accepted.push(t);
    if (out.length < 64_000) out += d;
  });
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stopped = false;
  const m = await new Promise<{ tls: string; plain: string; admin: string }>((res, rej) => {
    const deadline = Date.now() + 300_000;
    const iv = setInterval(() => {
      const tls = /xDS \+ CA \(TLS\): +(\S+)/.exec(out);
      const plain = /xDS \(ADS, plaintext gRPC\): (\S+)/.exec(out);
      const admin = /admin: +(http:\/\/\S+)/.exec(out);
      if (tls && plain && admin && accepted.length) {
        clearInterval(iv);
        res({ tls: tls[1]!, plain: plain[1]!, admin: admin[1]! });
      } else if (child.exitCode !== null || Date.now() > deadline) {
        clearInterval(iv);
        rej(new Error(`meshcd serve did not start: ${err.slice(-2000)}${out.slice(-2000)}`));
      }
    }, 50);
  });
  const rootsPem = await (await fetch(`${m.admin}/ca/trust-bundle.pem`)).text();
  return {
    name: 'meshcd',
    pid: child.pid!,
    target: m.tls,
    tlsTarget: m.tls,
    plainTarget: m.plain,
    admin: m.admin,
    rootsPem,
    stateDir,
    tls: { rootsPem, serverName: 'localhost' },
    accepted,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      const errors = err.split('\n').filter((l) => /"level":(50|60)/.test(l));
      if (errors.length) process.stdout.write(`  meshcd serve logged ${errors.length} error line(s) in its last 8 KB of stderr; the first: ${errors[0]!.slice(0, 400)}\n`);
    },
  };
}

/**
 * Kills a server under test whose RSS passes --max-rss, or when the machine
 * runs low on memory (the 24 GiB machine is shared; the OOM killer would
 * pick someone else's process). Tells whether it fired, and at what RSS.
 */
function rssGuard(server: Server): { stop(): void; fired(): string | undefined } {
  const limit = num('max-rss') * 2 ** 30;
  let fired: string | undefined;
  const iv = setInterval(() => {
    // Reading CPU here too keeps its last value for after a kill.
    void Promise.all([memoryOf(server.pid), memAvailable(), cpuSeconds(server.pid)]).then(
      ([m, avail]) => {
        if (fired || !alive(server.pid)) return;
        if (m.rss > limit) fired = `killed by the bench at RSS ${mib(m.rss)} (--max-rss ${flags['max-rss']} GiB)`;
        else if (avail < MIN_AVAILABLE) fired = `killed by the bench at RSS ${mib(m.rss)}: the machine had only ${mib(avail)} available (other work shares it)`;
        else return;
        console.log(`  [${server.name}] ${fired}`);
        process.kill(server.pid, 'SIGKILL');
      },
      () => undefined,
    );
  }, 1000);
  return { stop: () => clearInterval(iv), fired: () => fired };
}

/** Below this much available memory on the machine, the server under test is killed. */
const MIN_AVAILABLE = 1.5 * 2 ** 30;

async function memAvailable(): Promise<number> {
  const m = /MemAvailable:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Infinity;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Cleanups to run when the bench is interrupted (servers, Kubernetes). */
const cleanups = new Set<() => Promise<void>>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  });
}

/** The clients: `workers` processes, the proxies dealt out round-robin. */
class Fleet {
  readonly workers: IpcWorker[];
  constructor(readonly proxies: BenchProxy[], n: number) {
    this.workers = Array.from({ length: n }, () => new IpcWorker(CLIENTS));
  }
  part(i: number): BenchProxy[] {
    return this.proxies.filter((_, j) => j % this.workers.length === i);
  }
  all<T>(command: object | ((i: number) => object)): Promise<T[]> {
    return Promise.all(this.workers.map((w, i) => w.call<T>(typeof command === 'function' ? command(i) : command)));
  }
  async reports(): Promise<ProxyReport[]> {
    return (await this.all<ProxyReport[]>({ cmd: 'report' })).flat();
  }
  async marks(): Promise<{ id: string; namespace: string; service?: number; seen: Record<string, number>; since: Record<string, number> }[]> {
    return (await this.all<Awaited<ReturnType<Fleet['marks']>>>({ cmd: 'marks' })).flat();
  }
  stop(): void {
    for (const w of this.workers) w.stop();
  }
}

interface FullConfig {
  server: string;
  complete: number;
  proxies: number;
  seconds: number;
  perProxyP50: number;
  perProxyP99: number;
  cpu: number;
  rss: number;
  peak: number;
  /** meshcd only: V8 heap in use and memory outside it (Buffers), from its /metrics. */
  heap?: { used: number; total: number; external: number };
  bytes: number;
  errors: number;
  firstError?: string;
  /** Connection attempts retried (no connection established). */
  retries: number;
  load: string;
  completedIds: Set<string>;
}

/** V8 heap used and external memory (Buffers outside the heap) from serve's Prometheus metrics. */
async function heapOf(admin: string): Promise<{ used: number; total: number; external: number } | undefined> {
  try {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const val = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
    const used = val('meshcd_process_nodejs_heap_size_used_bytes');
    const total = val('meshcd_process_nodejs_heap_size_total_bytes');
    const external = val('meshcd_process_nodejs_external_memory_bytes');
    return Number.isFinite(used) && Number.isFinite(total) && Number.isFinite(external) ? { used, total, external } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Connects every client and waits until each has its full config (or its
 * stream failed). `only`: the proxies to wait for and count (the minimal
 * server has bytes only for those that got a full config from meshcd).
 */
async function fullConfig(server: Server, fleet: Fleet, o: { streamsPerChannel: number; keep: boolean; timeoutMs: number; only?: Set<string> }): Promise<FullConfig> {
  const cpu0 = await cpuSeconds(server.pid);
  const t0 = now();
  await fleet.all({ cmd: 'connect', target: server.target, ...(server.tls ? { tls: server.tls } : {}), streamsPerChannel: o.streamsPerChannel, spacingMs: 0, keep: o.keep, delta: flags.delta });
  const deadline = t0 + o.timeoutMs;
  const counted = (r: ProxyReport) => !o.only || o.only.has(r.id);
  const total = o.only?.size ?? fleet.proxies.length;
  for (;;) {
    const rs = await fleet.reports();
    if (rs.filter((r) => counted(r) && (r.completeAt >= 0 || r.error)).length >= total || now() > deadline || !alive(server.pid)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const cpu1 = await cpuSeconds(server.pid);
  const reports = (await fleet.reports()).filter(counted);
  const complete = reports.filter((r) => r.completeAt >= 0);
  const last = Math.max(...complete.map((r) => r.completeAt));
  await new Promise((r) => setTimeout(r, 1000));
  const mem = await memoryOf(server.pid);
  const heap = 'admin' in server ? await heapOf((server as Meshcd).admin) : undefined;
  return {
    server: server.name,
    ...(heap ? { heap } : {}),
    complete: complete.length,
    proxies: total,
    seconds: complete.length ? (last - t0) / 1000 : NaN,
    perProxyP50: pct(complete.map((r) => r.completeAt - r.connectAt), 50),
    perProxyP99: pct(complete.map((r) => r.completeAt - r.connectAt), 99),
    cpu: cpu1 - cpu0,
    rss: mem.rss,
    peak: mem.peak,
    bytes: reports.reduce((a, r) => a + r.bytes, 0),
    errors: reports.filter((r) => r.error).length,
    retries: reports.reduce((a, r) => a + r.retries, 0),
    ...(reports.find((r) => r.error) ? { firstError: reports.find((r) => r.error)!.error } : {}),
    load: loadAverage(),
    completedIds: new Set(complete.map((r) => r.id)),
  };
}

interface ChangeResult {
  server: string;
  what: string;
  affected: number;
  reached: number;
  /** Proxies whose streams the server had reset before the change. */
  disconnected: number;
  seenIds: Set<string>;
  fromWrite: { p50: number; p99: number; max: number };
  fromAccepted?: { p50: number; p99: number; max: number };
  unaffectedPushes: number;
  unaffected: number;
  cpu: number;
  bytes: number;
  responses: Record<string, number>;
  load: string;
}

const stats = (xs: number[]) => ({ p50: pct(xs, 50), p99: pct(xs, 99), max: xs.length ? Math.max(...xs) : NaN });

/** Sets a mark, runs `trigger` (returns the moment of the write or push), waits until every affected proxy has seen the mark. */
async function change(server: Server, fleet: Fleet, mark: Mark, affected: (p: BenchProxy) => boolean, what: string, trigger: () => Promise<number>, only?: Set<string>): Promise<ChangeResult> {
  const timeoutMs = num('change-timeout') * 1000;
  await fleet.all({ cmd: 'watch', mark });
  const before = await fleet.reports();
  const bytes0 = before.reduce((a, r) => a + r.bytes, 0);
  const cpu0 = await cpuSeconds(server.pid);
  const acceptedBefore = server.accepted?.length ?? 0;
  // Streams the server already reset cannot hear the change; they are counted apart.
  const dead = new Set((await fleet.reports()).filter((r) => r.error).map((r) => r.id));
  const at = await trigger();
  const want = new Set(fleet.proxies.filter((p) => affected(p) && !dead.has(p.id) && (!only || only.has(p.id))).map((p) => p.id));
  const deadline = now() + timeoutMs;
  let rows = await fleet.marks();
  while (rows.filter((r) => want.has(r.id) && r.seen[mark.id] !== undefined).length < want.size && now() < deadline && alive(server.pid)) {
    await new Promise((r) => setTimeout(r, 100));
    rows = await fleet.marks();
  }
  await new Promise((r) => setTimeout(r, 1500)); // late or stray pushes
  rows = await fleet.marks();
  const cpu1 = await cpuSeconds(server.pid);
  const after = await fleet.reports();
  const bytes1 = after.reduce((a, r) => a + r.bytes, 0);
  const seenRows = rows.filter((r) => want.has(r.id) && r.seen[mark.id] !== undefined);
  const seen = seenRows.map((r) => r.seen[mark.id]!);
  const acceptedAt = server.accepted?.slice(acceptedBefore).find((t) => t >= at);
  const byId = new Map(fleet.proxies.map((p) => [p.id, p]));
  const unaffected = rows.filter((r) => !dead.has(r.id) && !affected(byId.get(r.id)!));
  return {
    server: server.name,
    what,
    affected: want.size,
    reached: seen.length,
    disconnected: dead.size,
    seenIds: new Set(seenRows.map((r) => r.id)),
    fromWrite: stats(seen.map((t) => t - at)),
    ...(acceptedAt !== undefined ? { fromAccepted: stats(seen.map((t) => t - acceptedAt)) } : {}),
    unaffectedPushes: unaffected.reduce((a, r) => a + (r.since[mark.id] ?? 0), 0),
    unaffected: unaffected.length,
    cpu: cpu1 - cpu0,
    bytes: bytes1 - bytes0,
    responses: responsesByType(before, after),
    load: loadAverage(),
  };
}

/** Responses the clients received between two reports, by type (CDS 2000, RDS 2000…). */
function responsesByType(before: ProxyReport[], after: ProxyReport[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (rs: ProxyReport[], sign: number) => {
    for (const r of rs) for (const [t, n] of Object.entries(r.counts)) out[SHORT[t] ?? t] = (out[SHORT[t] ?? t] ?? 0) + sign * n;
  };
  add(after, 1);
  add(before, -1);
  return Object.fromEntries(Object.entries(out).filter(([, n]) => n !== 0));
}

interface ChurnResult {
  server: string;
  changes: number;
  rate: number;
  perProxy: { p50: number; p99: number };
  perChangeAll: { p50: number; p99: number; max: number };
  fromAccepted?: { p50: number; p99: number };
  missed: number;
  disconnected: number;
  cpu: number;
  cpuPerSecond: number;
  bytes: number;
  responses: Record<string, number>;
  load: string;
}

async function churn(server: Server, fleet: Fleet, m: MeshSpec, meshDir: string, rate: number, seconds: number): Promise<ChurnResult> {
  const n = Math.max(1, Math.round(rate * seconds));
  // Added endpoints stay for the whole phase: a server that takes longer than
  // the churn period to publish would otherwise fold an add and its removal
  // into one revision, and the mark would never be served at all.
  const window = n + 1;
  const dead = new Set((await fleet.reports()).filter((r) => r.error).map((r) => r.id));
  const cpu0 = await cpuSeconds(server.pid);
  const before = await fleet.reports();
  const bytes0 = before.reduce((a, r) => a + r.bytes, 0);
  const writes: { id: string; at: number; service: number }[] = [];
  const acceptedBefore = server.accepted?.length ?? 0;
  const t0 = now();
  for (let k = 1; k <= n; k++) {
    const due = t0 + ((k - 1) * 1000) / rate;
    if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
    const id = `churn-${k}`;
    // The mark is the new endpoint's address; the clients look for it in EDS responses.
    await fleet.all({ cmd: 'watch', mark: { id, type: TYPE.E, text: churnMark(k) } });
    const at = now();
    const w = await writeChurn(m, meshDir, k, window);
    writes.push({ id, at, service: w.service });
  }
  const end = now() + num('change-timeout') * 1000;
  let rows = await fleet.marks();
  const expected = (w: { service: number }) => fleet.proxies.filter((p) => !dead.has(p.id) && sees(m, p.namespace, w.service)).length;
  const total = writes.reduce((a, w) => a + expected(w), 0);
  while (now() < end && alive(server.pid) && rows.reduce((a, r) => a + writes.filter((w) => r.seen[w.id] !== undefined).length, 0) < total) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await fleet.marks();
  }
  const cpu1 = await cpuSeconds(server.pid);
  const elapsed = (now() - t0) / 1000;
  const after = await fleet.reports();
  const bytes1 = after.reduce((a, r) => a + r.bytes, 0);
  const perProxy: number[] = [];
  const perChange: number[] = [];
  const fromAccepted: number[] = [];
  const accepted = server.accepted?.slice(acceptedBefore) ?? [];
  let missed = 0;
  for (const w of writes) {
    const lat: number[] = [];
    const acc = accepted.find((t) => t >= w.at);
    for (const r of rows) {
      if (dead.has(r.id) || !sees(m, r.namespace, w.service)) continue;
      const t = r.seen[w.id];
      if (t === undefined) {
        missed++;
        continue;
      }
      lat.push(t - w.at);
      if (acc !== undefined) fromAccepted.push(t - acc);
    }
    perProxy.push(...lat);
    if (lat.length) perChange.push(Math.max(...lat));
  }
  return {
    server: server.name,
    changes: n,
    rate,
    perProxy: { p50: pct(perProxy, 50), p99: pct(perProxy, 99) },
    perChangeAll: stats(perChange),
    ...(server.accepted ? { fromAccepted: { p50: pct(fromAccepted, 50), p99: pct(fromAccepted, 99) } } : {}),
    missed,
    disconnected: dead.size,
    cpu: cpu1 - cpu0,
    cpuPerSecond: (cpu1 - cpu0) / elapsed,
    bytes: bytes1 - bytes0,
    responses: responsesByType(before, after),
    load: loadAverage(),
  };
}

/** A self-signed certificate for `localhost` (openssl), for the minimal server's TLS port. */
async function localhostCert(work: string): Promise<{ certPem: string; keyPem: string }> {
  const key = join(work, 'floor-key.pem');
  const cert = join(work, 'floor-cert.pem');
  await new Promise<void>((res, rej) => {
    const c = spawn('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`openssl req failed: ${err}`))));
  });
  return { certPem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8') };
}

function printFull(f: FullConfig): void {
  console.log(`  [${f.server}] full config: ${f.complete}/${f.proxies} proxies in ${s1(f.seconds * 1000)} (connect → all four types ACKed; per proxy p50 ${ms(f.perProxyP50)}, p99 ${ms(f.perProxyP99)}); server CPU ${f.cpu.toFixed(1)} s, RSS ${mib(f.rss)} (peak ${mib(f.peak)}${f.heap ? `; V8 heap ${mib(f.heap.used)} used of ${mib(f.heap.total)}, Buffers and other memory outside it ${mib(f.heap.external)}` : ''}); ${mib(f.bytes)} received by the clients; stream errors ${f.errors}${f.firstError ? ` (${f.firstError})` : ''}${f.retries ? `; ${f.retries} streams refused before any response and retried` : ''}; load ${f.load}`);
}

function printChange(c: ChangeResult): void {
  const acc = c.fromAccepted ? `; from "accepted" p50 ${ms(c.fromAccepted.p50)}, p99 ${ms(c.fromAccepted.p99)}` : '';
  console.log(`  [${c.server}] ${c.what}: ${c.reached}/${c.affected} affected proxies received and ACKed it${c.disconnected ? ` (${c.disconnected} proxies whose streams were reset before are not counted)` : ''}; from the ${c.server === 'floor' ? 'push' : 'file write'} p50 ${ms(c.fromWrite.p50)}, p99 ${ms(c.fromWrite.p99)}, last ${ms(c.fromWrite.max)}${acc}; ${c.unaffectedPushes} responses to the ${c.unaffected} unaffected proxies; server CPU ${c.cpu.toFixed(2)} s; ${mib(c.bytes)} sent in ${Object.entries(c.responses).map(([t, n]) => `${n} ${t}`).join(', ') || 'no'} responses; load ${c.load}`);
}

function printChurn(c: ChurnResult): void {
  const acc = c.fromAccepted ? `; from "accepted" p50 ${ms(c.fromAccepted.p50)}, p99 ${ms(c.fromAccepted.p99)}` : '';
  const dead = c.disconnected ? ` (${c.disconnected} proxies reset before the churn not counted)` : '';
  console.log(`  [${c.server}] churn: ${c.changes} endpoint changes at ${c.rate}/s (each adds one WorkloadEntry to a service): write → proxy received p50 ${ms(c.perProxy.p50)}, p99 ${ms(c.perProxy.p99)}; per change, write → all affected p50 ${ms(c.perChangeAll.p50)}, p99 ${ms(c.perChangeAll.p99)}, max ${ms(c.perChangeAll.max)}${acc}; ${c.missed} (proxy, change) pairs not reached within --change-timeout${dead}; server CPU ${c.cpu.toFixed(1)} s (${(c.cpuPerSecond * 100).toFixed(0)}% of a core); ${mib(c.bytes)} sent in ${Object.entries(c.responses).map(([t, n]) => `${n} ${t}`).join(', ') || 'no'} responses; load ${c.load}`);
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

async function runScenario(scenario: Scenario): Promise<Record<string, unknown>> {
  const classes = scenario === 'classes';
  const check = !flags['no-check'] && !classes;
  const probe = check ? await startBackend('probe') : undefined;
  const m: MeshSpec = { scenario, services: num('services'), proxies: num('proxies'), namespaces: num('namespaces'), ...(probe ? { probePort: probe.port } : {}) };
  const work = await mkdtemp(join(tmpdir(), 'meshcd-bench-scale-'));
  const meshDir = join(work, 'mesh');
  const pristine = join(work, 'mesh-initial');
  await writeMesh(m, meshDir);
  await cp(meshDir, pristine, { recursive: true });
  const proxies = proxiesOf(m);
  const seed = randomBytes(16).toString('hex');
  const tokensFile = join(work, 'tokens.json');
  await writeFile(tokensFile, JSON.stringify({ tokens: proxies.map((p) => ({ name: p.workload, token: tokenFor(seed, p.index), namespace: p.namespace, serviceAccount: p.serviceAccount })) }), { mode: 0o600 });
  const result: Record<string, unknown> = { scenario, mesh: m };

  console.log(`\nscenario ${scenario}${flags.delta ? ' (delta xDS)' : ''}${classes ? ' ("classes": exportTo ".", inline endpoints, 100 streams per plaintext connection — flatters meshcd, kept for comparison with the older figures)' : ''}: ${m.proxies} proxies, ${m.services} services in ${m.namespaces} namespaces${scenario === 'scoped' ? ', a Sidecar per namespace (own + next namespace)' : classes ? '' : ", Istio's default visibility"}`);
  console.log(`  ${machineLine()}`);
  const t0 = now();
  const meshcd = await startMeshcd(meshDir, work, tokensFile);
  console.log(`  meshcd serve (pid ${meshcd.pid}) accepted the first revision ${s1(now() - t0)} after start; RSS ${mib((await memoryOf(meshcd.pid)).rss)} with no proxies`);
  const meshcdGuard = rssGuard(meshcd);
  cleanups.add(meshcd.stop);
  const fleet = new Fleet(proxies, num('workers'));
  try {
    if (!classes) {
      const c0 = now();
      const issued = await fleet.all<number>((i) => ({ cmd: 'certs', caAddress: meshcd.tlsTarget, rootsPem: meshcd.rootsPem, trustDomain: 'cluster.local', tokenSeed: seed, proxies: fleet.part(i) }));
      console.log(`  ${issued.reduce((a, b) => a + b, 0)} client certificates from meshcd's CA (CreateCertificate, one per proxy and service account) in ${s1(now() - c0)}`);
    } else {
      await fleet.all((i) => ({ cmd: 'proxies', proxies: fleet.part(i) }));
    }
    const server: Server = classes ? { ...meshcd, target: meshcd.plainTarget, tls: undefined } : meshcd;
    const spc = classes ? 100 : 1;
    const timeoutMs = num('timeout') * 1000;
    // The minimal server replays state-of-the-world responses only.
    const floorOn = !flags['no-floor'] && !classes && !flags.delta;
    const capture = join(work, 'capture');

    const full = await fullConfig(server, fleet, { streamsPerChannel: spc, keep: floorOn, timeoutMs });
    printFull(full);
    result.meshcd = { full };
    if (meshcdGuard.fired()) {
      result.meshcd = { full, killed: meshcdGuard.fired() };
      return result;
    }
    if (floorOn) await fleet.all({ cmd: 'capture', dir: capture, tag: 'before' });
    if (probe) (result.meshcd as Record<string, unknown>).check = await proxylessCheck(meshcd.plainTarget, probe.port, 'meshcd');

    const routeMark: Mark = { id: 'route-1', type: TYPE.R, text: 'bench-change-1' };
    const routeAffected = (p: BenchProxy) => sees(m, p.namespace, 0);
    const what = `one VirtualService change (${svcHost(0, m.namespaces)})`;
    const ch = await change(server, fleet, routeMark, routeAffected, what, async () => {
      const at = now();
      await writeRouteChange(m, meshDir, 0, routeMark.text);
      return at;
    });
    printChange(ch);
    (result.meshcd as Record<string, unknown>).change = ch;
    if (floorOn) await fleet.all({ cmd: 'capture', dir: capture, tag: 'after' });

    if (scenario === 'churn') {
      const c = await churn(server, fleet, m, meshDir, num('churn-rate'), num('churn-seconds'));
      printChurn(c);
      (result.meshcd as Record<string, unknown>).churn = c;
    }
    await fleet.all({ cmd: 'close' });
    const memEnd = await memoryOf(meshcd.pid);
    (result.meshcd as Record<string, unknown>).peak = memEnd.peak;
    meshcdGuard.stop();
    await meshcd.stop();

    if (floorOn) {
      const floor = new IpcWorker(FLOOR);
      const cert = await localhostCert(work);
      const port = await floor.call<number>({ cmd: 'start', dir: capture, tls: { ...cert, clientRootsPem: meshcd.rootsPem } });
      const fs: Server = { name: 'floor', pid: floor.child.pid!, target: `127.0.0.1:${port}`, tls: { rootsPem: `${meshcd.rootsPem}\n${cert.certPem}`, serverName: 'localhost' }, stop: async () => floor.stop() };
      const floorGuard = rssGuard(fs);
      const ff = await fullConfig(fs, fleet, { streamsPerChannel: spc, keep: false, timeoutMs, only: full.completedIds });
      printFull(ff);
      const fc = await change(fs, fleet, routeMark, routeAffected, `the same route change (captured bytes)`, async () => (await floor.call<{ at: number }>({ cmd: 'push', tag: 'after' })).at, ch.seenIds);
      printChange(fc);
      await fleet.all({ cmd: 'close' });
      await floor.call({ cmd: 'stop' }).catch(() => undefined);
      floor.stop();
      floorGuard.stop();
      result.floor = { full: ff, change: fc };
      const meshcdFrom = ch.fromAccepted ?? ch.fromWrite;
      console.log(`  meshcd / minimal server: full config time ${ratio(full.seconds, ff.seconds)}, server CPU for full config ${ratio(full.cpu, ff.cpu)}, RSS ${ratio(full.rss, ff.rss)}; route change p99 ${ratio(meshcdFrom.p99, fc.fromWrite.p99)} (meshcd from "accepted", the floor from its push), CPU for the change ${ratio(ch.cpu, fc.cpu)}`);
    }

    if (flags.istiod && !classes) {
      const istiodDir = join(work, 'istiod-mesh');
      await cp(pristine, istiodDir, { recursive: true });
      const t1 = now();
      let istiod: Awaited<ReturnType<typeof startIstiod>>;
      try {
        istiod = await startIstiod({ meshDir: istiodDir, work, caDir: join(meshcd.stateDir, 'ca'), namespaces: Array.from({ length: m.namespaces }, (_, k) => nsName(k)) });
      } catch (err) {
        console.log(`  [istiod] not run: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
        result.istiod = { error: (err as Error).message.split('\n')[0] };
        return result;
      }
      console.log(`  istiod (pilot-discovery ${istiod.version}${istiod.builtSeconds !== undefined ? `, built in ${istiod.builtSeconds.toFixed(0)} s` : ''}, pid ${istiod.pid}${istiod.kubernetes ? `; Kubernetes: ${istiod.kubernetes}` : ''}) ready ${s1(now() - t1)} after start; RSS ${mib((await memoryOf(istiod.pid)).rss)} with no proxies`);
      const istiodGuard = rssGuard(istiod);
      cleanups.add(istiod.stop);
      try {
        const fi = await fullConfig(istiod, fleet, { streamsPerChannel: spc, keep: false, timeoutMs });
        printFull(fi);
        if (istiodGuard.fired()) {
          result.istiod = { full: fi, killed: istiodGuard.fired() };
          return result;
        }
        const checked = probe ? await proxylessCheck(istiod.plainTarget, probe.port, 'istiod') : undefined;
        const ci = await change(istiod, fleet, routeMark, routeAffected, what, async () => {
          const at = now();
          await writeRouteChange(m, istiodDir, 0, routeMark.text);
          return at;
        });
        printChange(ci);
        result.istiod = { full: fi, change: ci, ...(checked ? { check: checked } : {}) };
        if (scenario === 'churn') {
          const c = await churn(istiod, fleet, m, istiodDir, num('churn-rate'), num('churn-seconds'));
          printChurn(c);
          (result.istiod as Record<string, unknown>).churn = c;
        }
        await fleet.all({ cmd: 'close' });
        console.log(`  meshcd / istiod: full config time ${ratio(full.seconds, fi.seconds)}, route change p99 from the file write ${ratio(ch.fromWrite.p99, ci.fromWrite.p99)}, server CPU for full config ${ratio(full.cpu, fi.cpu)}, RSS with all proxies ${ratio(full.rss, fi.rss)}, bytes sent ${ratio(full.bytes, fi.bytes)}`);
      } finally {
        istiodGuard.stop();
        await istiod.stop();
        cleanups.delete(istiod.stop);
      }
    }
  } finally {
    meshcdGuard.stop();
    fleet.stop();
    await probe?.close();
    await meshcd.stop().catch(() => undefined);
    cleanups.delete(meshcd.stop);
    await rm(work, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const scenarios = flags.scenario!.split(',').map((s) => s.trim()) as Scenario[];
  for (const s of scenarios) if (!['realistic', 'scoped', 'churn', 'classes'].includes(s)) throw new Error(`--scenario: unknown scenario ${JSON.stringify(s)} (realistic, scoped, churn, classes)`);
  console.log(machineLine());
  const results = [];
  for (const s of scenarios) results.push(await runScenario(s));
  if (flags.output === 'json') console.log(JSON.stringify({ machine: machineLine(), results }, (_k, v: unknown) => (v instanceof Set ? v.size : v), 2));
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
