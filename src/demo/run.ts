// `meshcd demo`: the example mesh with real traffic on 127.0.0.1 (see
// README.md). Starts every part as its own process, waits for each to be
// ready, forwards serve's accepted/rejected lines and prints the live split
// once a second; stops everything on Ctrl-C (or after --duration).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { UserError } from '../cli/exit.js';
import type { DemoTick } from './client.js';

export interface DemoOptions {
  source: string;
  xdsPort: number;
  tlsPort: number;
  adminPort: number;
  /** ms; undefined runs until a signal. */
  durationMs?: number;
  rate: number;
  jasonPercent: number;
  keep: boolean;
  /** Where lines go (stdout). */
  out: (line: string) => void;
  /** Set by tests: print one JSON line per tick instead of the bars. */
  json: boolean;
  /** version → percent of reviews calls that version fails (shows an automatic rollback). */
  fail: Record<string, number>;
  /** Prometheus binary to run for rollout analysis ('' = none). */
  prometheus: string;
}

export interface Workload {
  pod: string;
  app: 'productpage' | 'details' | 'reviews' | 'ratings';
  version: string;
  ip: string;
  /** The WorkloadEntry's port for the service's 9080. */
  port: number;
  serviceAccount: string;
  /** The app a backend calls itself (reviews v2/v3 → ratings, as bookinfo). */
  upstream?: 'ratings';
}

// As in examples/mesh/bookinfo/workloads.yaml.
export const WORKLOADS: readonly Workload[] = [
  { pod: 'productpage-v1', app: 'productpage', version: 'v1', ip: '127.0.0.10', port: 9080, serviceAccount: 'bookinfo-productpage' },
  { pod: 'details-v1', app: 'details', version: 'v1', ip: '127.0.0.11', port: 9081, serviceAccount: 'bookinfo-details' },
  { pod: 'reviews-v1', app: 'reviews', version: 'v1', ip: '127.0.0.12', port: 9082, serviceAccount: 'bookinfo-reviews' },
  { pod: 'reviews-v2', app: 'reviews', version: 'v2', ip: '127.0.0.13', port: 9083, serviceAccount: 'bookinfo-reviews', upstream: 'ratings' },
  { pod: 'reviews-v3', app: 'reviews', version: 'v3', ip: '127.0.0.14', port: 9084, serviceAccount: 'bookinfo-reviews', upstream: 'ratings' },
  { pod: 'ratings-v1', app: 'ratings', version: 'v1', ip: '127.0.0.15', port: 9085, serviceAccount: 'bookinfo-ratings' },
];

const here = fileURLToPath(new URL('.', import.meta.url));
const BIN = join(here, '..', 'cli', 'bin.js');

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

export class Processes {
  readonly all: Child[] = [];
  constructor(private readonly logDir: string) {}

  /** `onStderrLine` sees each stderr line that is not a JSON log record (those go only to the log file). */
  start(name: string, args: string[], env: Record<string, string> = {}, onStderrLine?: (line: string) => void, command = process.execPath): Child & { log: WriteStream; lines: AsyncIterable<string> } {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: process.env.MESHCD_LOG_LEVEL ?? 'warn', ...env } });
    const log = createWriteStream(join(this.logDir, `${name}.log`));
    proc.stderr!.pipe(log);
    if (onStderrLine) createInterface({ input: proc.stderr! }).on('line', (l) => l.startsWith('{') || onStderrLine(l));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const child = { name, proc, exited, log, lines: createInterface({ input: proc.stdout! }) };
    this.all.push(child);
    return child;
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.all.map(async (c) => {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
        c.proc.kill('SIGTERM');
        const t = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
        await c.exited;
        clearTimeout(t);
      }),
    );
  }
}

function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  return (async () => {
    for (;;) {
      const v = await fn().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new UserError(`demo: ${what} not ready after ${Math.round(ms / 1000)} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}

/** Prometheus on a free loopback port, scraping the targets written to a file_sd file (re-read by Prometheus on change). */
async function startPrometheus(binary: string, dir: string, procs: Processes): Promise<{ url: string; setTargets(t: string[]): Promise<void> } | undefined> {
  const promDir = join(dir, 'prometheus');
  await mkdir(promDir);
  const targetsFile = join(promDir, 'targets.json');
  await writeFile(targetsFile, '[]');
  await writeFile(join(promDir, 'prometheus.yml'), `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n- job_name: bookinfo\n  file_sd_configs: [{files: ['${targetsFile}'], refresh_interval: 1s}]\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = procs.start('prometheus', ['--config.file', join(promDir, 'prometheus.yml'), `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${join(promDir, 'data')}`, '--log.level=warn'], {}, undefined, binary);
  try {
    await until('Prometheus', 20000, async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined));
  } catch {
    p.proc.kill('SIGKILL');
    return undefined;
  }
  // Backends announce their metrics ports at nearly the same moment: the
  // writes are chained so two never share the temporary file (a second
  // rename of one .tmp failed with ENOENT and took the demo down).
  let writes: Promise<void> = Promise.resolve();
  const write = async (t: string[]) => {
    await writeFile(`${targetsFile}.tmp`, JSON.stringify([{ targets: t }]));
    await rename(`${targetsFile}.tmp`, targetsFile);
  };
  return {
    url,
    setTargets: (t) => (writes = writes.then(() => write([...t])).catch((err: NodeJS.ErrnoException) => {
      process.stderr.write(`demo: cannot update Prometheus targets in ${targetsFile} (${err.code ?? err.message})\n`);
    })),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

/**
 * The example's WorkloadEntries use fixed ports, and grpc-js-xds's XdsServer
 * binds its port on every address: a port another process holds (a second
 * demo, say) would leave that process answering with other certificates.
 * Returns the ports that cannot be bound.
 */
export async function takenPorts(ports: number[]): Promise<number[]> {
  const taken: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolveFree) => {
      const s = createNetServer();
      s.once('error', () => resolveFree(false));
      s.listen({ port, host: '::', ipv6Only: false }, () => s.close(() => resolveFree(true)));
    });
    if (!free) taken.push(port);
  }
  return taken;
}

/** The Prometheus binary on PATH (the Debian package installs /usr/bin/prometheus), or ''. */
export function findPrometheus(): string {
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(join(d, 'prometheus'))) return join(d, 'prometheus');
  return '';
}

/** `app version share%` bars for one second of calls. */
export function renderTick(tick: DemoTick): string {
  const parts: string[] = [];
  for (const app of ['reviews', 'details']) {
    const per = tick.answered[app] ?? {};
    const total = Object.values(per).reduce((a, b) => a + b, 0);
    const byVersion = Object.entries(per).sort(([a], [b]) => a.localeCompare(b));
    const cells = byVersion.map(([v, n]) => `${v} ${String(Math.round((100 * n) / total)).padStart(3)}%`);
    parts.push(`${app}: ${total ? cells.join('  ') : '-'}`);
  }
  const errors = Object.entries(tick.errors);
  parts.push(errors.length ? `errors: ${errors.map(([c, n]) => `${c}×${n}`).join(' ')}${tick.lastError ? ` (${tick.lastError})` : ''}` : 'errors: 0');
  return `${new Date(tick.at).toISOString().slice(11, 19)}  ${parts.join('  │  ')}`;
}

const xdsEnv = (bootstrap: string) => ({ GRPC_XDS_BOOTSTRAP: bootstrap, GRPC_XDS_EXPERIMENTAL_RBAC: 'true' });

/**
 * One `meshcd agent` per workload (its own key, a certificate for its service
 * account from serve's CA at `tls`, a gRPC bootstrap for the plaintext xDS
 * port `xds`); resolves with pod → bootstrap path once every certificate is written.
 */
export async function startAgents(procs: Processes, workloads: readonly Workload[], o: { dir: string; tls: string; xds: string; bundle: string; tokenFile(serviceAccount: string): string }): Promise<Map<string, string>> {
  const bootstraps = new Map<string, string>();
  for (const w of workloads) {
    const certDir = join(o.dir, 'agents', w.pod);
    const bootstrap = join(o.dir, 'agents', `${w.pod}.bootstrap.json`);
    bootstraps.set(w.pod, bootstrap);
    procs.start(`agent-${w.pod}`, [BIN, 'agent', '--ca-address', o.tls, '--ca-root-cert', o.bundle, '--token-file', o.tokenFile(w.serviceAccount), '--namespace', 'bookinfo', '--service-account', w.serviceAccount, '--output-dir', certDir, '--xds-address', o.xds, '--bootstrap-out', bootstrap, '--proxy-kind', 'grpc', '--ip', w.ip, '--pod-name', w.pod, '--labels', `app=${w.app},version=${w.version}`, '--cert-refresh-interval', '5s']);
  }
  await until('the workload agents (certificates)', 30000, async () => (workloads.every((w) => existsSync(join(o.dir, 'agents', w.pod, 'cert-chain.pem')) && existsSync(bootstraps.get(w.pod)!)) ? true : undefined));
  return bootstraps;
}

/** One backend process per workload on its WorkloadEntry's address; `onMetrics(host:port)` for each metrics endpoint a backend announces. */
export function startBackends(procs: Processes, workloads: readonly Workload[], bootstraps: Map<string, string>, fail: Record<string, number>, onMetrics: (target: string) => void, onExit?: (pod: string, code: number | null) => void): void {
  for (const w of workloads) {
    const percent = w.app === 'reviews' ? fail[w.version] ?? 0 : 0;
    const b = procs.start(`backend-${w.pod}`, [join(here, 'backend.js'), w.app, w.version, w.pod, `${w.ip}:${w.port}`, ...(w.upstream ? [w.upstream] : [])], { ...xdsEnv(bootstraps.get(w.pod)!), DEMO_FAIL_PERCENT: String(percent) });
    void (async () => {
      for await (const line of b.lines) {
        const m = /^metrics http:\/\/(\S+)\/metrics/.exec(line);
        if (m) onMetrics(m[1]!);
      }
    })();
    if (onExit) void b.exited.then((code) => onExit(w.pod, code));
  }
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const source = resolve(o.source);
  if (!existsSync(source)) throw new UserError(`--source: ${o.source}: no such folder`);
  const taken = await takenPorts(WORKLOADS.filter((w) => w.app !== 'productpage').map((w) => w.port));
  if (taken.length) throw new UserError(`demo: port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} in use (another meshcd demo or npm start?); the example's WorkloadEntries need 9081–9085 on 127.0.0.11–127.0.0.15`);
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-demo-'));
  const logDir = join(dir, 'logs');
  await mkdir(logDir);
  const procs = new Processes(logDir);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await procs.stopAll();
    if (!o.keep) await rm(dir, { recursive: true, force: true });
  };
  try {
    // Bootstrap tokens: one per service account, known only to this run.
    const tokens = new Map([...new Set(WORKLOADS.map((w) => w.serviceAccount))].map((sa) => [sa, randomBytes(24).toString('base64url')]));
    const tokenFile = join(dir, 'tokens.yaml');
    await writeFile(tokenFile, `tokens:\n${[...tokens].map(([sa, t]) => `  - name: ${sa}\n    token: ${t}\n    namespace: bookinfo\n    serviceAccount: ${sa}\n`).join('')}`, { mode: 0o600 });
    for (const [sa, t] of tokens) await writeFile(join(dir, `${sa}.token`), t, { mode: 0o600 });
    // The admin token `meshcd rollout promote|abort|…` needs (read from a file, never a flag value).
    const adminTokenFile = join(dir, 'admin.token');
    await writeFile(adminTokenFile, randomBytes(24).toString('base64url'), { mode: 0o600 });

    o.out(`meshcd demo: serving ${source} (watched: edit a file there and watch the split below change)`);
    const prom = o.prometheus ? await startPrometheus(o.prometheus, dir, procs) : undefined;
    if (prom) o.out(`  Prometheus ${prom.url} scrapes every backend's Istio metrics each second (rollout analysis)`);
    else o.out('  no Prometheus found: a Rollout\'s analysis has no data, so it never promotes (install the Debian package prometheus)');
    const serve = procs.start('serve', [BIN, 'serve', '--source', source, '--state-dir', join(dir, 'state'), '--xds-port', String(o.xdsPort), '--tls-port', String(o.tlsPort), '--admin-port', String(o.adminPort), '--ca-token-file', tokenFile, '--admin-token-file', adminTokenFile, ...(prom ? ['--prometheus', prom.url] : [])], {}, (line) => o.out(`serve │ ${line}`));
    const ports: { xds?: string; tls?: string; admin?: string } = {};
    const serveReady = new Promise<void>((resolveReady, reject) => {
      void serve.exited.then((code) => reject(new UserError(`demo: meshcd serve exited with ${code} (log: ${join(logDir, 'serve.log')}${o.keep ? '' : '; run with --keep to keep it'})`)));
      void (async () => {
        for await (const line of serve.lines) {
          ports.xds ??= /xDS \(ADS, plaintext[^)]*\): +(\S+)/.exec(line)?.[1];
          ports.tls ??= /xDS \+ CA \(TLS\): +(\S+)/.exec(line)?.[1];
          ports.admin ??= /admin: +(http:\/\/\S+)/.exec(line)?.[1];
          // serve's event lines, and the file:line findings indented under a rejection.
          if (/^(accepted|rejected|recovered|fetch failed|notice|source ) ?/.test(line) || (/^ {2}\S+:\d+ {2}/.test(line) && ports.admin)) o.out(`serve │ ${line}`);
          if (ports.xds && ports.tls && ports.admin) resolveReady();
        }
      })();
    });
    await Promise.race([serveReady, new Promise((_, rej) => setTimeout(() => rej(new UserError('demo: meshcd serve did not print its ports within 30 s')), 30000))]);
    const admin = ports.admin!;
    await until('meshcd serve (/ready)', 30000, async () => ((await fetch(`${admin}/ready`)).ok ? true : undefined));
    const bundle = join(dir, 'trust-bundle.pem');
    await writeFile(bundle, await (await fetch(`${admin}/ca/trust-bundle.pem`)).text());
    o.out(`  xDS ${ports.xds}  ·  xDS + CA (TLS) ${ports.tls}  ·  admin ${admin}  (try ${admin}/debug/syncz)`);

    // One agent per workload: its own key, a certificate for its service account, a bootstrap.
    const clientWorkload = WORKLOADS[0]!;
    const bootstraps = await startAgents(procs, WORKLOADS, { dir, tls: ports.tls!, xds: ports.xds!, bundle, tokenFile: (sa) => join(dir, `${sa}.token`) });
    o.out(`  ${WORKLOADS.length} agents: a SPIFFE certificate each (spiffe://cluster.local/ns/bookinfo/sa/…)`);
    const scrapeTargets: string[] = [];
    let failure: string | undefined;
    let finishEarly: (() => void) | undefined;
    startBackends(procs, WORKLOADS.filter((w) => w !== clientWorkload), bootstraps, o.fail, (target) => {
      if (!prom) return;
      scrapeTargets.push(target);
      void prom.setTargets(scrapeTargets);
    }, (pod, code) => {
      if (stopping || failure) return;
      // The log goes with the temporary folder: say what it said.
      const tail = (() => {
        try {
          return readFileSync(join(logDir, `backend-${pod}.log`), 'utf8').trim().split('\n').slice(-3).join(' | ');
        } catch {
          return '';
        }
      })();
      failure = `demo: backend ${pod} exited with ${code}${tail ? `: ${tail.slice(0, 400)}` : ''}`;
      finishEarly?.();
    });
    const client = procs.start('client', [join(here, 'client.js'), String(o.rate), String(o.jasonPercent)], xdsEnv(bootstraps.get(clientWorkload.pod)!));
    o.out(`  ${WORKLOADS.length - 1} backends (grpc-js-xds XdsServers: listener, mTLS and RBAC from meshcd) and a client calling as productpage, ${o.jasonPercent}% of reviews calls as end-user: jason`);
    // Under `npm start` (a fresh clone) meshcd is not on PATH; `npx meshcd` runs it from the clone.
    const meshcd = process.env.npm_lifecycle_event ? 'npx meshcd' : 'meshcd';
    o.out(`  rollouts: ${meshcd} rollout status bookinfo/reviews --server ${admin}   (promote: MESHCD_TOKEN_FILE=${adminTokenFile} ${meshcd} rollout promote bookinfo/reviews --server ${admin})`);
    o.out(`  your own client: GRPC_XDS_BOOTSTRAP=${bootstraps.get(clientWorkload.pod)!}  (productpage's agent wrote it; dial xds:///reviews.bookinfo.svc.cluster.local:9080)`);
    o.out(`  logs: ${logDir}${o.keep ? '' : ' (removed on exit; --keep keeps them)'}`);
    o.out('');

    const ended = new Promise<void>((done) => {
      const finish = () => done();
      finishEarly = finish;
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      if (o.durationMs !== undefined) setTimeout(finish, o.durationMs).unref();
      void client.exited.then((code) => {
        if (!stopping) o.out(`client exited with ${code} (log: ${join(logDir, 'client.log')})`);
        finish();
      });
    });
    void (async () => {
      for await (const line of client.lines) {
        try {
          const tick = JSON.parse(line) as DemoTick;
          o.out(o.json ? JSON.stringify(tick) : renderTick(tick));
        } catch {
          /* not a tick */
        }
      }
    })();
    await ended;
    if (failure) throw new UserError(failure);
  } finally {
    await stop();
  }
}
