// Mesh mTLS end to end on loopback, every part a real process or server:
// `meshcd ca serve` (the CA), three `meshcd agent`s (identities client,
// server, intruder) writing cert files + gRPC bootstraps, `meshcd serve`
// (xDS) with ISTIO_MUTUAL / STRICT / AuthorizationPolicy config, a
// @grpc/grpc-js-xds client using the agent's bootstrap and XdsChannelCredentials.
//
// Two servers: a plain grpc-js TLS server that reads the server agent's files
// with gRPC's file watcher and requires client certificates (the client side
// alone), and a grpc-js-xds XdsServer whose listener, mTLS and RBAC come from
// meshcd (STRICT + AuthorizationPolicy). Rotation runs traffic to both.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { callEcho, echoService, eventually, startBackend, startServe, tempDir, writeFileIn, xdsModule, type ServeProcess } from '../helpers/xds-e2e.js';

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
// grpc-js-xds registers its RBAC HTTP filter only with this set (read when the module loads, lazily in xdsModule()).
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
const BIN = join(process.cwd(), 'dist/src/cli/bin.js');
const TOKENS = { client: 'e2e-token-client-0123456789', server: 'e2e-token-server-0123456789', intruder: 'e2e-token-intruder-012345678' };

interface Proc {
  child: ChildProcess;
  out(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
// If the worker ends without running the after hook (a timeout), the children still go.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function spawnMeshcd(args: string[], ready: RegExp): Promise<Proc & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'info' } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`meshcd ${args[0]} not ready in 45 s:\n${out}`)), 45000);
    const check = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, out: () => out, stop, match: m });
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`meshcd ${args[0]} exited with ${child.exitCode}:\n${out}`));
    });
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

interface Agent extends Proc {
  dir: string;
  bootstrap: string;
}

interface Ctx {
  dir: string;
  state: string;
  caPort: number;
  serve: ServeProcess;
  agents: Record<'client' | 'server' | 'intruder', Agent>;
  plainPort: number;
  xdsPort: number;
  cleanup: (() => Promise<unknown> | unknown)[];
}
let ctx: Ctx;

async function startAgent(dir: string, state: string, caPort: number, xds: string, sa: keyof typeof TOKENS): Promise<Agent> {
  const out = join(dir, `agent-${sa}`);
  writeFileSync(join(dir, `${sa}.token`), TOKENS[sa], { mode: 0o600 });
  const bootstrap = join(dir, `${sa}-bootstrap.json`);
  const p = await spawnMeshcd([
    'agent', '--ca-address', `127.0.0.1:${caPort}`, '--ca-root-cert', join(state, 'ca', 'trust-bundle.pem'),
    '--token-file', join(dir, `${sa}.token`), '--namespace', 'shop', '--service-account', sa, '--output-dir', out,
    '--xds-address', xds, '--bootstrap-out', bootstrap, '--proxy-kind', 'grpc', '--ip', '127.0.0.1', '--pod-name', `${sa}-0`,
    '--labels', `app=${sa}`, '--ttl', '4s', '--cert-refresh-interval', '1s',
  ], /workload certificate renewed/);
  return { ...p, dir: out, bootstrap };
}

test.before(async () => {
  const cleanup: Ctx['cleanup'] = [];
  // Registered first so that a failing setup still stops what it started.
  ctx = { cleanup } as Ctx;
  const { dir, remove } = await tempDir('meshcd-e2e-mtls-');
  cleanup.push(remove);
  const state = join(dir, 'state');
  writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n${Object.entries(TOKENS).map(([sa, tok]) => `  - name: ${sa}\n    token: ${tok}\n    namespace: shop\n    serviceAccount: ${sa}\n`).join('')}`);
  const ca = await spawnMeshcd(['ca', 'serve', '--state-dir', state, '--port', '0', '--token-file', join(dir, 'tokens.yaml'), '--min-ttl', '1s'], /listening on 127\.0\.0\.1:(\d+)/);
  cleanup.push(() => ca.stop());
  const caPort = Number(ca.match[1]);
  const plainPort = await freePort();
  const xdsPort = await freePort();
  const mesh = readFileSync(join(process.cwd(), 'test/fixtures/ca/mtls-mesh.yaml.tmpl'), 'utf8').replaceAll('{{P_SERVER}}', String(plainPort)).replaceAll('{{P_XDS_SERVER}}', String(xdsPort));
  const meshDir = join(dir, 'mesh');
  mkdirSync(meshDir);
  await writeFileIn(meshDir, 'mesh.yaml', mesh);
  const serve = await startServe(meshDir);
  cleanup.push(() => serve.stop());
  const agents = {} as Ctx['agents'];
  await Promise.all((['client', 'server', 'intruder'] as const).map(async (sa) => {
    agents[sa] = await startAgent(dir, state, caPort, serve.xds, sa);
    cleanup.push(() => agents[sa].stop());
  }));
  Object.assign(ctx, { dir, state, caPort, serve, agents, plainPort, xdsPort });
});

test.after.always(async () => {
  for (const f of (ctx?.cleanup ?? []).reverse()) await f();
});

/** A grpc-js TLS server on the server agent's files (re-read every 500 ms), client certificates required. */
async function startPlainMtlsServer(t: { teardown(fn: () => unknown): void }) {
  const a = ctx.agents.server;
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: join(a.dir, 'cert-chain.pem'), privateKeyFile: join(a.dir, 'key.pem'), caCertificateFile: join(a.dir, 'root-cert.pem'), refreshIntervalMs: 500,
  });
  const server = new grpc.Server();
  const backend = await startBackend('plain-mtls', server, (s) => new Promise((resolve, reject) => s.bindAsync(`127.0.0.1:${ctx.plainPort}`, grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true), (e, p) => (e ? reject(e) : resolve(p)))));
  t.teardown(() => server.forceShutdown());
  return backend;
}

let xdsServerStarted: Promise<void> | undefined;
/** The grpc-js-xds XdsServer on the server agent's bootstrap (listener, mTLS and RBAC from meshcd); started once. */
function ensureXdsServer(): Promise<void> {
  xdsServerStarted ??= (async () => {
    const { XdsServer, XdsServerCredentials } = await xdsModule();
    const server = new XdsServer({ [BOOTSTRAP_KEY]: readFileSync(ctx.agents.server.bootstrap, 'utf8') } as grpc.ServerOptions);
    ctx.cleanup.push(() => server.forceShutdown());
    // XdsServer binds only once meshcd sent its listener; bounded so a missing listener fails instead of hanging.
    await startBackend('xds-mtls', server, (s) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`XdsServer did not get its listener xds.istio.io/grpc/lds/inbound/127.0.0.1:${ctx.xdsPort} within 15 s`)), 15000);
      s.bindAsync(`127.0.0.1:${ctx.xdsPort}`, new XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (e, p) => {
        clearTimeout(timer);
        if (e) reject(e);
        else resolve(p);
      });
    }));
  })();
  return xdsServerStarted;
}

async function meshClient(identity: 'client' | 'intruder', target: string) {
  const { XdsChannelCredentials } = await xdsModule();
  const { Client } = echoService();
  const bootstrap = readFileSync(ctx.agents[identity].bootstrap, 'utf8');
  return new Client(target, new XdsChannelCredentials(grpc.credentials.createInsecure()), { [BOOTSTRAP_KEY]: bootstrap });
}

async function nacks(): Promise<unknown[]> {
  const syncz = (await (await fetch(`${ctx.serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[]; refused: unknown[] };
  return [...syncz.proxies.filter((p) => p.lastNack).map((p) => ({ proxy: p.proxy, nack: p.lastNack })), ...syncz.refused];
}

test.serial('agents: files with a 0600 key, SPIFFE identities, bootstraps carrying the file-watcher provider', (t) => {
  for (const [sa, a] of Object.entries(ctx.agents)) {
    t.true(existsSync(join(a.dir, 'cert-chain.pem')), sa);
    const b = JSON.parse(readFileSync(a.bootstrap, 'utf8')) as { node: { id: string; metadata: Record<string, unknown> }; certificate_providers: { default: { plugin_name: string } } };
    t.is(b.node.id, `sidecar~127.0.0.1~${sa}-0.shop~shop.svc.cluster.local`);
    t.is(b.node.metadata.GENERATOR, 'grpc');
    t.is(b.certificate_providers.default.plugin_name, 'file_watcher');
    t.false(a.out().includes(TOKENS[sa as keyof typeof TOKENS]), 'token never in the agent log');
  }
});

test.serial('ISTIO_MUTUAL from meshcd: the proxyless client calls over mTLS; plaintext and certificate-less clients are refused', async (t) => {
  const backend = await startPlainMtlsServer(t);
  const c = await meshClient('client', 'xds:///echo.shop.svc.cluster.local:9443');
  t.teardown(() => c.close());
  const r = await eventually(() => callEcho(c, {}, {}, 2000), 20000, 200);
  t.is(r.version, 'plain-mtls');
  t.true(backend.calls > 0);

  const { Client } = echoService();
  const plain = new Client(`127.0.0.1:${ctx.plainPort}`, grpc.credentials.createInsecure());
  t.teardown(() => plain.close());
  const e1 = await t.throwsAsync(callEcho(plain, {}, {}, 2000));
  t.is((e1 as grpc.ServiceError).code, grpc.status.UNAVAILABLE, 'plaintext refused');
  const roots = readFileSync(join(ctx.agents.client.dir, 'root-cert.pem'));
  const noCert = new Client(`127.0.0.1:${ctx.plainPort}`, grpc.credentials.createSsl(roots), { 'grpc.ssl_target_name_override': 'localhost' });
  t.teardown(() => noCert.close());
  const e2 = await t.throwsAsync(callEcho(noCert, {}, {}, 2000));
  t.is((e2 as grpc.ServiceError).code, grpc.status.UNAVAILABLE, 'TLS without a mesh certificate refused');
  t.deepEqual(await nacks(), []);
});

test.serial('certificates rotate (4 s TTL) and the root rotates under continuous traffic with zero failed calls', async (t) => {
  await startPlainMtlsServer(t);
  await ensureXdsServer();
  const serialOf = (sa: 'client' | 'server') => readFileSync(join(ctx.agents[sa].dir, 'cert-chain.pem'), 'utf8');
  const before = { client: serialOf('client'), server: serialOf('server') };
  const rootBefore = readFileSync(join(ctx.state, 'ca', 'root-cert.pem'), 'utf8');
  let ok = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 16000;
  let rotated = false;
  // A fresh channel every round forces new TLS handshakes with whatever certificates are current.
  while (Date.now() < deadline) {
    // Both servers: the plain TLS one (file watcher) and the XdsServer (STRICT + RBAC from meshcd).
    const clients = [await meshClient('client', 'xds:///echo.shop.svc.cluster.local:9443'), await meshClient('client', 'xds:///echo-xds.shop.svc.cluster.local:9444')];
    try {
      for (const c of clients) await eventually(() => callEcho(c, {}, {}, 3000), 10000, 100).catch((e: Error) => failures.push(`connect: ${e.message}`));
      const rs = await Promise.allSettled(clients.flatMap((c) => Array.from({ length: 10 }, () => callEcho(c, {}, {}, 3000))));
      for (const r of rs) {
        if (r.status === 'fulfilled') ok++;
        else failures.push((r.reason as Error).message);
      }
    } finally {
      for (const c of clients) c.close();
    }
    if (!rotated && Date.now() > deadline - 13000) {
      rotated = true;
      const rot = spawn(process.execPath, [BIN, 'ca', 'rotate', '--state-dir', ctx.state], { stdio: 'ignore' });
      await new Promise((r) => rot.once('exit', r));
    }
  }
  t.log(`${ok} calls succeeded, ${failures.length} failed`);
  t.deepEqual(failures, []);
  t.true(ok > 100);
  t.not(serialOf('client'), before.client, 'client certificate renewed during the run');
  t.not(serialOf('server'), before.server, 'server certificate renewed during the run');
  const status = JSON.parse(await new Promise<string>((resolve) => {
    let out = '';
    const p = spawn(process.execPath, [BIN, 'ca', 'status', '--state-dir', ctx.state, '-o', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout!.on('data', (d) => (out += d));
    p.once('exit', () => resolve(out));
  })) as { rotation: { phase: string }; roots: { active: boolean }[] };
  t.log(`CA after the run: rotation ${status.rotation.phase}, ${status.roots.length} root(s) in the bundle`);
  t.not(status.rotation.phase, 'distributing', 'the new root took over during the run');
  const rootAfter = readFileSync(join(ctx.state, 'ca', 'root-cert.pem'), 'utf8');
  t.not(rootAfter, rootBefore, 'the root was rotated');
  t.true(readFileSync(join(ctx.agents.client.dir, 'root-cert.pem'), 'utf8').includes(rootAfter.trim()), 'the client trusts the new root');
  const serverLeaf = new X509Certificate(readFileSync(join(ctx.agents.server.dir, 'cert-chain.pem'), 'utf8'));
  t.true(serverLeaf.verify(new X509Certificate(rootAfter).publicKey), 'the server now serves a certificate from the new root');
  t.deepEqual(await nacks(), []);
});

// The server side: listener, mTLS (STRICT) and RBAC (AuthorizationPolicy)
// all from meshcd, enforced by grpc-js-xds (RBAC needs GRPC_XDS_EXPERIMENTAL_RBAC).
test.serial('STRICT + AuthorizationPolicy on an XdsServer configured by meshcd: client allowed, intruder denied, plaintext refused', async (t) => {
  await ensureXdsServer();
  const target = 'xds:///echo-xds.shop.svc.cluster.local:9444';
  const c = await meshClient('client', target);
  t.teardown(() => c.close());
  const r = await eventually(() => callEcho(c, {}, {}, 2000), 15000, 200);
  t.is(r.version, 'xds-mtls');
  const intruder = await meshClient('intruder', target);
  t.teardown(() => intruder.close());
  const denied = await eventually(async () => {
    try {
      await callEcho(intruder, {}, {}, 2000);
    } catch (e) {
      if ((e as grpc.ServiceError).code === grpc.status.PERMISSION_DENIED) return e as grpc.ServiceError;
      throw e;
    }
    throw new Error('intruder was allowed');
  }, 15000, 200);
  t.is(denied.code, grpc.status.PERMISSION_DENIED);
  const { Client } = echoService();
  const plain = new Client(`127.0.0.1:${ctx.xdsPort}`, grpc.credentials.createInsecure());
  t.teardown(() => plain.close());
  await t.throwsAsync(callEcho(plain, {}, {}, 2000));
  t.deepEqual(await nacks(), []);
});
