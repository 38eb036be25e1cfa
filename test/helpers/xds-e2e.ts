// End-to-end helpers: echo backends (plain @grpc/grpc-js servers on
// 127.0.0.1:0 that say which version answered), mesh folders rendered from
// test/fixtures/e2e-xds templates, `meshcd serve` as a child process, and
// proxyless clients (@grpc/grpc-js-xds) with a bootstrap per channel.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FIXTURES = join(process.cwd(), 'test/fixtures/e2e-xds');

export interface EchoReply {
  version: string;
  attempt: number;
}

type EchoClient = grpc.Client & {
  Call(req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: EchoReply) => void): grpc.ClientUnaryCall;
};

let echoPkg: grpc.GrpcObject | undefined;
export function echoService(): { service: grpc.ServiceDefinition; Client: new (target: string, creds: grpc.ChannelCredentials, opts?: grpc.ChannelOptions) => EchoClient } {
  echoPkg ??= grpc.loadPackageDefinition(protoLoader.loadSync(join(FIXTURES, 'echo.proto'), { keepCase: true, defaults: true }));
  const ctor = (echoPkg.meshcd as grpc.GrpcObject).e2e as grpc.GrpcObject;
  const Echo = ctor.Echo as grpc.ServiceClientConstructor;
  return { service: Echo.service, Client: Echo as unknown as new (target: string, creds: grpc.ChannelCredentials, opts?: grpc.ChannelOptions) => EchoClient };
}

export interface Backend {
  port: number;
  version: string;
  calls: number;
  /** While true, every call answers UNAVAILABLE (a broken host, for outlier detection). */
  failing: boolean;
  close(): Promise<void>;
}

/** A plain gRPC echo server; fails the first `fail_first` attempts per key with UNAVAILABLE. */
export async function startBackend(version: string, server: grpc.Server = new grpc.Server(), bind?: (s: grpc.Server) => Promise<number>): Promise<Backend> {
  const attempts = new Map<string, number>();
  const b: Backend = { port: 0, version, calls: 0, failing: false, close: async () => void (await new Promise<void>((r) => server.tryShutdown(() => r()))) };
  server.addService(echoService().service, {
    Call(call: grpc.ServerUnaryCall<{ key: string; sleep_ms: number; fail_first: number }, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      b.calls++;
      if (b.failing) return cb({ code: grpc.status.UNAVAILABLE, details: `${version} is failing on purpose` });
      const req = call.request;
      const n = (attempts.get(req.key) ?? 0) + 1;
      attempts.set(req.key, n);
      if (req.fail_first && n <= req.fail_first) return cb({ code: grpc.status.UNAVAILABLE, details: `attempt ${n} fails on purpose` });
      setTimeout(() => cb(null, { version, attempt: n }), req.sleep_ms || 0);
    },
  });
  b.port = bind ? await bind(server) : await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return b;
}

export async function renderTemplate(name: string, vars: Record<string, string | number>): Promise<string> {
  const t = await readFile(join(FIXTURES, name), 'utf8');
  return t.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
    if (!(k in vars)) throw new Error(`template ${name}: no value for ${k}`);
    return String(vars[k]);
  });
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function grpcBootstrap(xds: string, nodeId: string, namespace: string): Record<string, unknown> {
  return {
    xds_servers: [{ server_uri: xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: namespace } },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
  };
}

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

let xdsRegistered = false;
/** grpc-js-xds's `xds:` resolver; imported lazily so env flags can be set before it loads. */
export async function xdsModule(): Promise<typeof import('@grpc/grpc-js-xds')> {
  const m = await import('@grpc/grpc-js-xds');
  if (!xdsRegistered) {
    m.register();
    xdsRegistered = true;
  }
  return m;
}

/** A proxyless client channel with its own bootstrap (grpc-js-xds's per-channel option). */
export async function xdsClient(target: string, xds: string, nodeId: string, namespace = 'bookinfo'): Promise<EchoClient> {
  await xdsModule();
  const { Client } = echoService();
  return new Client(target, grpc.credentials.createInsecure(), { [BOOTSTRAP_KEY]: JSON.stringify(grpcBootstrap(xds, nodeId, namespace)) });
}

export function callEcho(client: EchoClient, req: { key?: string; sleep_ms?: number; fail_first?: number } = {}, headers: Record<string, string> = {}, deadlineMs = 5000): Promise<EchoReply> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) => {
    client.Call({ key: req.key ?? '', sleep_ms: req.sleep_ms ?? 0, fail_first: req.fail_first ?? 0 }, md, { deadline: Date.now() + deadlineMs }, (err, r) => (err ? reject(err) : resolve(r!)));
  });
}

/** Retries a call until it succeeds (xDS config arriving) or the time runs out. */
export async function eventually<T>(fn: () => Promise<T>, ms = 10000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

export interface ServeProcess {
  xds: string;
  /** xDS + CA over TLS, when the embedded CA runs. */
  tls?: string;
  admin: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `meshcd serve` from dist/ as a child process on free ports. */
export async function startServe(source: string, extra: string[] = []): Promise<ServeProcess> {
  const bin = join(process.cwd(), 'dist/src/cli/bin.js');
  // Each server keeps its state (clones, last accepted revisions) apart from the others'.
  const state = extra.includes('--state-dir') ? undefined : await mkdtemp(join(tmpdir(), 'meshcd-serve-state-'));
  const child = spawn(process.execPath, [bin, 'serve', '--source', source, '--xds-port', '0', '--admin-port', '0', ...(state ? ['--state-dir', state] : []), ...(extra.includes('--tls-port') || extra.includes('--no-ca') ? [] : ['--tls-port', '0']), ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'warn' } });
  child.once('exit', () => void (state && rm(state, { recursive: true, force: true })));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ports = await new Promise<{ xds: string; admin: string; tls?: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A serve that did not start is not left running (its handles would keep the test worker alive).
      child.kill('SIGKILL');
      reject(new Error(`meshcd serve did not start in 60 s:\n${out}\n${err}`));
    }, 60000);
    const check = () => {
      const x = /xDS \(ADS, plaintext gRPC\): (\S+)/.exec(out);
      const a = /admin: +(http:\/\/\S+)/.exec(out);
      const tls = /xDS \+ CA \(TLS\): +(\S+)/.exec(out);
      if (x && a) {
        clearTimeout(timer);
        resolve({ xds: x[1]!, admin: a[1]!, ...(tls ? { tls: tls[1]! } : {}) });
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`meshcd serve exited with ${code}:\n${out}\n${err}`));
    });
  });
  return {
    ...ports,
    child,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function writeFileIn(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, name), text);
}
