// The rig for progressive-rollout end-to-end tests, every part real and on
// loopback: a config repository on git http-backend (token auth, push), echo
// backends that export Istio's standard metrics for the calls they really
// serve (and fail a chosen share of them), a real Prometheus scraping them,
// a webhook receiver that checks the HMAC signature, `meshcd serve` as a
// process (fixed ports, so a restart comes back where clients expect it),
// and steady traffic from @grpc/grpc-js-xds and grpc-go clients with every
// answer time-stamped.

import * as grpc from '@grpc/grpc-js';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { hmacSignature } from '../../src/source/webhook.js';
import { startGitServer, type GitServer } from './git-server.js';
import { makeRepo, type TestRepo } from './git-repo.js';
import { serverNacks, startGoClient, type GoAnswer, type GoClient } from './go-grpc-client.js';
import { startIstioMetricsBackend, type IstioMetricsBackend } from './istio-metrics-backend.js';
import { freePort, startPrometheus, type TestPrometheus } from './prometheus.js';
import { Counter, Registry } from 'prom-client';
import { callEcho, echoService, grpcBootstrap, renderTemplate, startServe, tempDir, xdsClient, type EchoReply, type ServeProcess } from './xds-e2e.js';

export const REVIEWS_HOST = 'reviews.bookinfo.svc.cluster.local';
export const REVIEWS = `xds:///${REVIEWS_HOST}:9080`;
const BIN = join(process.cwd(), 'dist/src/cli/bin.js');
const GIT_TOKEN = 'git-token-5e1f0a9c33d7';
const SOURCE_HOOK_SECRET = 'source-hook-2c7b9e41a0f6';
export const ROLLOUT_HOOK_SECRET = 'rollout-hook-7d3e5f1b9a24c680';
export const AUTHOR = { name: 'Rollout Bot', email: 'rollout-bot@example.com' };

export interface MeteredBackend {
  port: number;
  version: string;
  /** Share of calls (0–100) answered UNAVAILABLE; may change while running. */
  failPercent: number;
  calls: number;
  close(): Promise<void>;
}

/** An echo backend that records each call it serves in Istio's metrics (reporter=destination), failing `failPercent` of them. */
export async function startMeteredBackend(version: string, metrics: IstioMetricsBackend, failPercent = 0): Promise<MeteredBackend> {
  const server = new grpc.Server();
  const b: MeteredBackend = { port: 0, version, failPercent, calls: 0, close: async () => server.forceShutdown() };
  server.addService(echoService().service, {
    Call(_call: grpc.ServerUnaryCall<unknown, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      const n = ++b.calls;
      const started = performance.now();
      // A deterministic share, so a short window shows the configured rate.
      const fail = b.failPercent > 0 && (n * 37) % 100 < b.failPercent;
      metrics.record({ host: REVIEWS_HOST, version, count: 1, grpcStatus: fail ? grpc.status.UNAVAILABLE : grpc.status.OK, code: fail ? 503 : 200, durationMs: Math.max(1, performance.now() - started) });
      if (fail) cb({ code: grpc.status.UNAVAILABLE, details: `${version} fails ${b.failPercent}% of calls on purpose` });
      else cb(null, { version, attempt: 1 });
    },
  });
  b.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return b;
}

export interface HookCall {
  at: number;
  type: string;
  body: Record<string, unknown>;
  signed: boolean;
}

/** Receives Rollout webhooks; `signed` is whether X-Meshcd-Signature matches ROLLOUT_HOOK_SECRET. */
async function startHookReceiver(): Promise<{ url: string; calls: HookCall[]; close(): Promise<void> }> {
  const calls: HookCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        /* recorded as an empty body */
      }
      const expected = `sha256=${createHmac('sha256', ROLLOUT_HOOK_SECRET).update(raw).digest('hex')}`;
      calls.push({ at: Date.now(), type: String(body.type ?? ''), body, signed: req.headers['x-meshcd-signature'] === expected });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One answer a client saw: when, and which version (undefined = an error). */
export interface Sample {
  at: number;
  version?: string;
  code?: number;
}

/** Where the clients' own outcomes go (client-side Istio metrics): gRPC status → calls. */
export type ClientReport = (client: 'js' | 'go', codes: Record<string, number>) => void;

/**
 * Client-side Istio metrics (reporter="source") for the two test clients,
 * labelled with their pod names as Prometheus's Kubernetes discovery would
 * label a sidecar's: what a config canary compares between cohort and rest.
 */
async function startClientMetrics(pods: { js: string; go: string }): Promise<{ target: string; report: ClientReport; close(): Promise<void> }> {
  const registry = new Registry();
  const requests = new Counter({ name: 'istio_requests_total', help: 'Requests sent (Istio standard metric, client side)', labelNames: ['reporter', 'pod', 'source_workload', 'destination_service', 'response_code', 'grpc_response_status'], registers: [registry] });
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    void registry.metrics().then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    report(client, codes) {
      for (const [code, n] of Object.entries(codes)) {
        if (n > 0) requests.inc({ reporter: 'source', pod: pods[client], source_workload: pods[client], destination_service: REVIEWS_HOST, response_code: code === '0' ? '200' : '503', grpc_response_status: code }, n);
      }
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Steady traffic: a grpc-js-xds client calling every `everyMs`, and a grpc-go client running small batches; all answers time-stamped. */
export class Traffic {
  readonly js: Sample[] = [];
  /** grpc-go batches: [start, end] and what they saw. */
  readonly go: { from: number; to: number; answer: GoAnswer }[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly jsClient: Awaited<ReturnType<typeof xdsClient>>,
    private readonly goClient: GoClient,
    everyMs = 20,
    private readonly report?: ClientReport,
  ) {
    this.loops.push(this.jsLoop(everyMs), this.goLoop());
  }

  private async jsLoop(everyMs: number): Promise<void> {
    while (this.running) {
      const at0 = Date.now();
      try {
        const r = await callEcho(this.jsClient, {}, {}, 2000);
        this.js.push({ at: Date.now(), version: r.version });
        this.report?.('js', { '0': 1 });
      } catch (err) {
        this.js.push({ at: Date.now(), code: (err as grpc.ServiceError).code });
        this.report?.('js', { [String((err as grpc.ServiceError).code)]: 1 });
      }
      if (this.js.length > 200_000) this.js.splice(0, 100_000);
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - at0))));
    }
  }

  private async goLoop(): Promise<void> {
    while (this.running) {
      const from = Date.now();
      try {
        const answer = await this.goClient.run({ target: REVIEWS, n: 20, concurrency: 2, deadline_ms: 2000 });
        this.go.push({ from, to: Date.now(), answer });
        this.report?.('go', answer.codes);
      } catch {
        if (!this.running) return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** v2's share (percent) of successful answers in [from, to), per client kind, and the number of answers. */
  share(from: number, to: number, version = 'v2'): { js: number; go: number; jsN: number; goN: number } {
    const js = this.js.filter((s) => s.at >= from && s.at < to && s.version);
    const go = this.go.filter((b) => b.from >= from && b.to < to);
    const goOk = go.reduce((a, b) => a + b.answer.ok, 0);
    const goV = go.reduce((a, b) => a + (b.answer.backends[version] ?? 0), 0);
    return { js: js.length ? (js.filter((s) => s.version === version).length / js.length) * 100 : NaN, go: goOk ? (goV / goOk) * 100 : NaN, jsN: js.length, goN: goOk };
  }

  /** The last time each client kind got an answer from `version` (or an error, which only a failing version gives here). */
  lastSeen(version: string): { js?: number; go?: number } {
    const js = this.js.filter((s) => s.version === version || s.code !== undefined).at(-1)?.at;
    const go = this.go.filter((b) => (b.answer.backends[version] ?? 0) > 0 || b.answer.ok < b.answer.calls).at(-1)?.to;
    return { ...(js !== undefined ? { js } : {}), ...(go !== undefined ? { go } : {}) };
  }

  /** Waits until each client kind has answers after `t`. */
  async after(t: number, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.js.some((s) => s.at > t && s.version) && this.go.some((b) => b.from > t && b.answer.ok > 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no answers from both clients after ${new Date(t).toISOString()}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export interface RolloutStatusJson {
  phase: string;
  stepIndex: number;
  canaryWeight: number;
  reason?: string;
  revision?: string;
  pause?: { reason: string; deadline?: string; remainingMs?: number };
  analysis?: { failures: number; inconclusives: number; consecutiveErrors: number; metrics: Record<string, { verdict?: string; recent: { value?: number; verdict: string; message?: string }[] }> };
  writeBack?: { status: string; result?: { kind: string; commit?: string; branch?: string; error?: string } };
  drift: boolean;
  history: { at: string; phase: string; stepIndex: number; canaryWeight: number; message: string }[];
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_TOKEN_FILE: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RigOptions {
  /** The Rollout's spec body under `spec:` after target (steps, analysis, writeBack…), indented two spaces. */
  rollout: string;
  /** A whole Rollout document instead (given the webhook receiver's URL). */
  rolloutDoc?: (hooksUrl: string) => string;
  /** Node ids of the two clients (default client-js / client-go in bookinfo). */
  ids?: { js: string; go: string };
  /** Export the clients' outcomes as client-side Istio metrics, scraped by the Prometheus. */
  clientMetrics?: boolean;
  /** The Rollout's namespace/name (default bookinfo/reviews). */
  name?: string;
  /** v2's failure share. */
  v2FailPercent?: number;
  /** Start a Prometheus (default true). */
  prometheus?: boolean;
}

/**
 * The whole rig. `mesh(w1, w2)` is the config with the `split` route at
 * v1 w1 / v2 w2; `change()` commits and pushes it and announces it by the
 * source webhook, as a Git host would.
 */
export class RolloutRig {
  readonly cleanup: (() => Promise<unknown> | unknown)[] = [];
  root!: string;
  git!: GitServer;
  repo!: TestRepo;
  metrics!: IstioMetricsBackend;
  v1!: MeteredBackend;
  v2!: MeteredBackend;
  prometheus?: TestPrometheus;
  hooks!: Awaited<ReturnType<typeof startHookReceiver>>;
  serve!: ServeProcess;
  ports!: { xds: number; admin: number };
  tokenFile!: string;
  go!: GoClient;
  jsClient!: Awaited<ReturnType<typeof xdsClient>>;
  traffic!: Traffic;
  ids!: { js: string; go: string };
  name = 'bookinfo/reviews';

  static async start(opts: RigOptions): Promise<RolloutRig> {
    const rig = new RolloutRig();
    try {
      await rig.init(opts);
    } catch (err) {
      await rig.close();
      throw err;
    }
    return rig;
  }

  private async init(opts: RigOptions): Promise<void> {
    const { dir, remove } = await tempDir('meshcd-e2e-rollout-git-');
    this.root = dir;
    this.cleanup.push(remove);
    this.git = await startGitServer({ root: dir, auth: { token: GIT_TOKEN } });
    this.cleanup.push(() => this.git.close());
    this.metrics = await startIstioMetricsBackend();
    this.cleanup.push(() => this.metrics.close());
    this.v1 = await startMeteredBackend('v1', this.metrics);
    this.v2 = await startMeteredBackend('v2', this.metrics, opts.v2FailPercent ?? 0);
    this.cleanup.push(() => this.v1.close(), () => this.v2.close());
    if (opts.name) this.name = opts.name;
    this.ids = opts.ids ?? { js: 'sidecar~127.0.0.1~client-js.bookinfo~bookinfo.svc.cluster.local', go: 'sidecar~127.0.0.1~client-go.bookinfo~bookinfo.svc.cluster.local' };
    const pod = (id: string) => id.split('~')[2]!.split('.')[0]!;
    const clientMetrics = opts.clientMetrics ? await startClientMetrics({ js: pod(this.ids.js), go: pod(this.ids.go) }) : undefined;
    if (clientMetrics) this.cleanup.push(() => clientMetrics.close());
    if (opts.prometheus !== false) {
      this.prometheus = await startPrometheus([this.metrics.target, ...(clientMetrics ? [clientMetrics.target] : [])]);
      this.cleanup.push(() => this.prometheus?.stop());
    }
    this.hooks = await startHookReceiver();
    this.cleanup.push(() => this.hooks.close());
    this.repo = await makeRepo(dir, 'mesh');
    // The config lives in a folder of the repository (source `#main:mesh`), as in most config repos.
    await this.repo.commit({ 'README.md': 'platform config\n', 'mesh/reviews.yaml': await this.mesh(100, 0), 'mesh/rollout.yaml': opts.rolloutDoc ? opts.rolloutDoc(this.hooks.url) : this.rolloutYaml(opts.rollout) }, 'reviews on v1');
    await this.repo.push();

    const secrets = join(dir, 'secrets');
    await mkdir(secrets, { mode: 0o700 });
    const write = async (name: string, value: string) => {
      await writeFile(join(secrets, name), `${value}\n`);
      await chmod(join(secrets, name), 0o600);
      return join(secrets, name);
    };
    this.tokenFile = await write('admin-token', 'e2e-rollout-admin-token-0123456789');
    this.sourceSpec = `mesh=${this.git.url('mesh.git')}#main:mesh;token-file=${await write('git-token', GIT_TOKEN)};webhook-secret-file=${await write('source-hook', SOURCE_HOOK_SECRET)};poll=1h`;
    this.hookSecretFile = await write('rollout-hook', ROLLOUT_HOOK_SECRET);
    this.stateDir = join(dir, 'state');
    this.ports = { xds: await freePort(), admin: await freePort() };
    await this.startServe();

    this.go = await startGoClient(grpcBootstrap(this.serve.xds, this.ids.go, 'bookinfo'));
    this.cleanup.push(() => this.go.stop());
    this.jsClient = await xdsClient(REVIEWS, this.serve.xds, this.ids.js);
    this.cleanup.push(() => this.jsClient.close());
    const first = await this.go.run({ target: REVIEWS, n: 1, wait_ms: 30_000 });
    if (first.ok !== 1) throw new Error(`grpc-go never reached reviews: ${first.errors.join(' | ')}`);
    this.traffic = new Traffic(this.jsClient, this.go, 20, clientMetrics?.report);
    this.cleanup.push(() => this.traffic.stop());
    await this.traffic.after(Date.now());
  }

  private sourceSpec = '';
  private hookSecretFile = '';
  stateDir = '';

  /** (Re)starts `meshcd serve` on the same ports and state directory. */
  async startServe(): Promise<ServeProcess> {
    const extra = ['--no-ca', '--state-dir', this.stateDir, '--xds-port', String(this.ports.xds), '--admin-port', String(this.ports.admin), '--admin-token-file', this.tokenFile, '--rollout-webhook-secret-file', this.hookSecretFile, '--write-back-author', `${AUTHOR.name} <${AUTHOR.email}>`];
    if (this.prometheus) extra.push('--prometheus', this.prometheus.address);
    this.serve = await startServe(this.sourceSpec, extra);
    const serve = this.serve;
    this.cleanup.push(() => serve.stop());
    return serve;
  }

  mesh(w1: number, w2: number): Promise<string> {
    return renderTemplate('mesh.yaml.tmpl', { P_V1: this.v1.port, P_V2: this.v2.port, WEIGHT_V1: w1, WEIGHT_V2: w2 });
  }

  rolloutYaml(body: string): string {
    return `apiVersion: meshcd.io/v1alpha1\nkind: Rollout\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n  target: {virtualService: reviews, route: split}\n${body}  webhooks:\n  - {name: events, type: event, url: ${this.hooks.url}}\n  - {name: rollback, type: rollback, url: ${this.hooks.url}}\n`;
  }

  /** Tells serve the branch moved, as a Git host's push webhook does. */
  async announce(): Promise<void> {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const r = await fetch(`${this.serve.admin}/hooks/mesh`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(SOURCE_HOOK_SECRET, Buffer.from(body)) } });
    if (r.status !== 202) throw new Error(`source webhook answered ${r.status}`);
  }

  /** A person's pull request merged: the mesh file as `edit` makes it (from the v1 100 / v2 0 mesh). Returns the commit. */
  async changeMesh(edit: (mesh: string) => string, message: string): Promise<string> {
    await this.repo.git('pull', '-q', '--rebase', 'origin', 'main');
    const commit = await this.repo.commit({ 'mesh/reviews.yaml': edit(await this.mesh(100, 0)) }, message);
    await this.repo.push();
    await this.announce();
    return commit;
  }

  /** A person's pull request merged: the split route at v1 w1 / v2 w2. Returns the commit. */
  async change(w1: number, w2: number, message = `reviews: v1 ${w1} / v2 ${w2}`): Promise<string> {
    const mesh = await this.mesh(w1, w2);
    return this.changeMesh(() => mesh, message);
  }

  async status(): Promise<RolloutStatusJson> {
    const r = await cli(['rollout', 'status', this.name, '--server', this.serve.admin, '-o', 'json']);
    if (r.code !== 0) throw new Error(`rollout status exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as RolloutStatusJson;
  }

  /** Polls status until `ok` holds. */
  async waitFor(what: string, ok: (s: RolloutStatusJson) => boolean, ms = 60_000): Promise<RolloutStatusJson> {
    const end = Date.now() + ms;
    let last: RolloutStatusJson | undefined;
    while (Date.now() < end) {
      try {
        last = await this.status();
        if (ok(last)) return last;
      } catch {
        // serve restarting
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last && { phase: last.phase, stepIndex: last.stepIndex, canaryWeight: last.canaryWeight, reason: last.reason, analysis: last.analysis, history: last.history.slice(-5) })}`);
  }

  async command(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return cli(['rollout', command, this.name, '--server', this.serve.admin, '--token-file', this.tokenFile, '-o', 'json']);
  }

  /** Commits on the remote branch, newest first: `sha author|subject|body`. */
  async remoteLog(): Promise<{ commit: string; author: string; subject: string; body: string }[]> {
    const { gitCli } = await import('./git-server.js');
    const out = await gitCli(this.root, ['--git-dir', this.repo.bare, 'log', '--format=%H%x1f%an <%ae>%x1f%s%x1f%b%x1e', 'main']);
    return out.split('\x1e').map((l) => l.trim()).filter(Boolean).map((l) => {
      const [commit, author, subject, body] = l.split('\x1f') as [string, string, string, string];
      return { commit, author, subject, body: body.trim() };
    });
  }

  /** NACKs from every side: grpc-go's own log and meshcd's record. */
  async nacks(): Promise<unknown[]> {
    const a = await this.go.run({ target: REVIEWS, n: 0 });
    return [...a.nacks.map((n) => ({ grpcGo: n })), ...(await serverNacks(this.serve.admin))];
  }

  async close(): Promise<void> {
    // Clients first, while serve still answers: grpc-js-xds keeps the process alive when its ADS stream
    // has to restart against a server that is gone (a waitForReady call queued forever).
    await this.traffic?.stop();
    this.jsClient?.close();
    await new Promise((r) => setTimeout(r, 200));
    for (const f of this.cleanup.splice(0).reverse()) {
      try {
        await f();
      } catch {
        // best effort: the rest still gets cleaned up
      }
    }
  }
}
