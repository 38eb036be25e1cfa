// Soak: clients of both kinds — grpc-go's xDS client (test/interop/grpc-go-client)
// and @grpc/grpc-js-xds — stay connected and call continuously for 20 s through
// examples-like config (test/interop/fixtures/soak-mesh.yaml.tmpl): ISTIO_MUTUAL
// with outlier detection every 1 s, STRICT mTLS and RBAC on a grpc-js-xds
// XdsServer, certificates from `meshcd agent`s renewed on a 4 s TTL. That is 20
// outlier sweeps and about five renewals per identity: zero errors, zero NACKs,
// zero crashes. grpc-go's agents point at serve's TLS port (15012, also the
// CA's address), so grpc-go fetches its config over TLS with its own
// certificate, and the server checks its node against that certificate
// (grpc-js-xds 1.14 cannot do TLS to its xDS server: its identities use the
// plaintext port). Then RBAC allow/deny as grpc-go sees it, a node claiming
// another identity refused, and a check that a NACK from grpc-go would be
// seen at all.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serverNacks, startGoClient, type GoAnswer, type GoClient } from '../helpers/go-grpc-client.js';
import { freeLoopbackPort, startIdentity, startServeWithCa, type MeshIdentity } from '../helpers/go-mesh-identities.js';
import { goPeer } from '../helpers/go-peers.js';
import { callEcho, echoService, eventually, grpcBootstrap, startBackend, tempDir, writeFileIn, xdsModule, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

// grpc-js-xds registers its RBAC HTTP filter only with this set (read when the module loads).
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const ECHO = 'xds:///echo.shop.svc.cluster.local:9443';
const ECHO_XDS = 'xds:///echo-xds.shop.svc.cluster.local:9444';
const SOAK_MS = 20_000;
const TOKENS = { client: 'soak-token-client-0123456789', server: 'soak-token-server-0123456789', intruder: 'soak-token-intruder-01234567' };

interface Ctx {
  serve: ServeProcess;
  ids: Record<'goClient' | 'jsClient' | 'intruder' | 'server', MeshIdentity>;
  backends: Backend[];
  cleanup: (() => Promise<unknown> | unknown)[];
}
let ctx: Ctx;

function bind(port: number, creds: grpc.ServerCredentials) {
  return (s: grpc.Server) => new Promise<number>((resolve, reject) => s.bindAsync(`127.0.0.1:${port}`, creds, (e, p) => (e ? reject(e) : resolve(p))));
}

test.before(async (t) => {
  t.timeout(600_000, 'the first build of grpc-go-client on a cold machine');
  const cleanup: Ctx['cleanup'] = [];
  ctx = { cleanup } as Ctx;
  await goPeer('grpc-go-client');
  const { dir, remove } = await tempDir('meshcd-soak-');
  cleanup.push(remove);
  const ports = { P_A: await freeLoopbackPort(), P_B: await freeLoopbackPort(), P_XDS_SERVER: await freeLoopbackPort() };
  const meshDir = join(dir, 'mesh');
  mkdirSync(meshDir);
  const tmpl = readFileSync(join(process.cwd(), 'test/interop/fixtures/soak-mesh.yaml.tmpl'), 'utf8');
  await writeFileIn(meshDir, 'mesh.yaml', tmpl.replace(/\{\{(\w+)\}\}/g, (_m, k: keyof typeof ports) => String(ports[k])));
  const { serve, ca } = await startServeWithCa(dir, meshDir, 'shop', TOKENS);
  cleanup.push(() => serve.stop());
  // grpc-go fetches its config over TLS (serve's 15012, the CA's address) with its agent's certificate;
  // grpc-js-xds 1.14 cannot do TLS to its xDS server, so its identities use the plaintext port.
  const spec = { goClient: ['client', 'client-go-0', ca.address], jsClient: ['client', 'client-js-0', serve.xds], intruder: ['intruder', 'intruder-0', ca.address], server: ['server', 'server-0', serve.xds] } as const;
  const ids = {} as Ctx['ids'];
  await Promise.all(Object.entries(spec).map(async ([k, [sa, pod, xds]]) => {
    const id = await startIdentity(dir, ca, xds, sa, { pod });
    ids[k as keyof Ctx['ids']] = id;
    cleanup.push(() => id.agent.stop());
  }));
  // echo: two plain TLS servers on the server identity's files, client certificates required.
  const provider = new grpc.experimental.FileWatcherCertificateProvider({ certificateFile: join(ids.server.certDir, 'cert-chain.pem'), privateKeyFile: join(ids.server.certDir, 'key.pem'), caCertificateFile: join(ids.server.certDir, 'root-cert.pem'), refreshIntervalMs: 500 });
  const tlsCreds = () => grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
  const backends = [await startBackend('a', new grpc.Server(), bind(ports.P_A, tlsCreds())), await startBackend('b', new grpc.Server(), bind(ports.P_B, tlsCreds()))];
  cleanup.push(...backends.map((b) => () => b.close()));
  // echo-xds: an XdsServer whose listener (STRICT + RBAC) comes from meshcd; it binds once the listener arrives.
  const { XdsServer, XdsServerCredentials } = await xdsModule();
  const xdsServer = new XdsServer({ [BOOTSTRAP_KEY]: readFileSync(ids.server.bootstrap, 'utf8') } as grpc.ServerOptions);
  cleanup.push(() => xdsServer.forceShutdown());
  backends.push(await startBackend('xds', xdsServer, bind(ports.P_XDS_SERVER, new XdsServerCredentials(grpc.ServerCredentials.createInsecure()))));
  Object.assign(ctx, { serve, ids, backends });
});

test.after.always(async () => {
  for (const f of (ctx?.cleanup ?? []).reverse()) await f();
});

/** grpc-go with an identity's bootstrap, a bootstrap file's path, or a bootstrap object. */
async function goClient(t: { teardown(f: () => unknown): void }, id: MeshIdentity | Record<string, unknown> | string): Promise<GoClient> {
  const c = await startGoClient(typeof id === 'string' ? id : 'bootstrap' in id && typeof id.bootstrap === 'string' ? id.bootstrap : (id as Record<string, unknown>));
  t.teardown(() => c.stop());
  return c;
}

function jsChannel(t: { teardown(f: () => unknown): void }, id: MeshIdentity, target: string, XdsChannelCredentials: Awaited<ReturnType<typeof xdsModule>>['XdsChannelCredentials']) {
  const { Client } = echoService();
  const c = new Client(target, new XdsChannelCredentials(grpc.credentials.createInsecure()), { [BOOTSTRAP_KEY]: readFileSync(id.bootstrap, 'utf8') });
  t.teardown(() => c.close());
  return c;
}

function summary(a: GoAnswer): string {
  return `calls=${a.calls} ok=${a.ok} backends=${JSON.stringify(a.backends)} codes=${JSON.stringify(a.codes)} errors=${a.errors.join(' | ')} nacks=${a.nacks.join(' | ')}`;
}

test.serial(`soak: grpc-go and grpc-js call for ${SOAK_MS / 1000} s through 1 s outlier sweeps and 4 s certificate renewals with zero errors`, async (t) => {
  t.timeout(120_000);
  const { XdsChannelCredentials } = await xdsModule();
  const goEcho = await goClient(t, ctx.ids.goClient);
  const goEchoXds = await goClient(t, ctx.ids.goClient);
  const js = [jsChannel(t, ctx.ids.jsClient, ECHO, XdsChannelCredentials), jsChannel(t, ctx.ids.jsClient, ECHO_XDS, XdsChannelCredentials)];
  for (const c of js) await eventually(() => callEcho(c, {}, {}, 2000), 20000, 200);
  await goEcho.run({ target: ECHO, n: 0, wait_ms: 20000 });
  await goEchoXds.run({ target: ECHO_XDS, n: 0, wait_ms: 20000 });
  const certOf = (id: MeshIdentity) => readFileSync(join(id.certDir, 'cert-chain.pem'), 'utf8');
  const before = { go: certOf(ctx.ids.goClient), js: certOf(ctx.ids.jsClient), server: certOf(ctx.ids.server) };

  const jsFailures: string[] = [];
  const jsVersions: Record<string, number> = {};
  const jsLoop = (async () => {
    const end = Date.now() + SOAK_MS;
    while (Date.now() < end) {
      for (const r of await Promise.allSettled(js.flatMap((c) => Array.from({ length: 5 }, () => callEcho(c, {}, {}, 3000))))) {
        if (r.status === 'fulfilled') jsVersions[r.value.version] = (jsVersions[r.value.version] ?? 0) + 1;
        else jsFailures.push((r.reason as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const [a, b] = await Promise.all([
    goEcho.run({ target: ECHO, duration_ms: SOAK_MS, concurrency: 4, deadline_ms: 3000 }),
    goEchoXds.run({ target: ECHO_XDS, duration_ms: SOAK_MS, concurrency: 4, deadline_ms: 3000 }),
    jsLoop,
  ]);
  t.log(`grpc-go: echo ${summary(a!)}; echo-xds ${summary(b!)}`);
  t.log(`grpc-js: ${JSON.stringify(jsVersions)}, ${jsFailures.length} failures`);
  for (const r of [a!, b!]) {
    t.true(r.calls > 100, summary(r));
    t.is(r.ok, r.calls, summary(r));
    t.deepEqual(r.errors, []);
    t.deepEqual(r.nacks, [], 'grpc-go NACKed nothing');
  }
  t.true((a!.backends.a ?? 0) > 0 && (a!.backends.b ?? 0) > 0, 'both echo endpoints answered grpc-go');
  t.true((b!.backends.xds ?? 0) > 0, 'the XdsServer answered grpc-go');
  t.deepEqual(jsFailures.slice(0, 10), []);
  t.true((jsVersions.a ?? 0) > 0 && (jsVersions.b ?? 0) > 0 && (jsVersions.xds ?? 0) > 0, 'every backend answered grpc-js');
  t.not(certOf(ctx.ids.goClient), before.go, "grpc-go's identity renewed during the soak");
  t.not(certOf(ctx.ids.jsClient), before.js, "grpc-js's identity renewed during the soak");
  t.not(certOf(ctx.ids.server), before.server, "the servers' identity renewed during the soak");
  t.is(ctx.serve.child.exitCode, null, 'meshcd serve is still running');
  t.deepEqual(await serverNacks(ctx.serve.admin), [], 'meshcd recorded no NACK');
});

test.serial('RBAC from meshcd as grpc-go sees it: the client identity is allowed, the intruder is PERMISSION_DENIED', async (t) => {
  const client = await goClient(t, ctx.ids.goClient);
  const ok = await client.run({ target: ECHO_XDS, n: 10, wait_ms: 20000 });
  t.deepEqual(ok.backends, { xds: 10 }, summary(ok));
  const intruder = await goClient(t, ctx.ids.intruder);
  await intruder.run({ target: ECHO_XDS, n: 0, wait_ms: 0 });
  const denied = await intruder.run({ target: ECHO_XDS, n: 10, wait_ms: 0, deadline_ms: 3000 });
  // The first calls may still wait for config: count only answers the server gave.
  const deniedAgain = denied.codes['7'] === 10 ? denied : await intruder.run({ target: ECHO_XDS, n: 10, deadline_ms: 3000 });
  t.deepEqual(deniedAgain.codes, { 7: 10 }, summary(deniedAgain));
  t.is(deniedAgain.ok, 0);
  for (const r of [ok, deniedAgain]) t.deepEqual(r.nacks, []);
  t.deepEqual(await serverNacks(ctx.serve.admin), []);
});

test.serial("grpc-go gets its config over TLS (serve's 15012) as its certificate's identity; a node claiming another service account is PERMISSION_DENIED, one without a client certificate UNAUTHENTICATED", async (t) => {
  const boot = JSON.parse(readFileSync(ctx.ids.goClient.bootstrap, 'utf8')) as { xds_servers: { server_uri: string; channel_creds: { type: string; config?: Record<string, string> }[] }[]; node: { id: string; metadata: Record<string, unknown> } };
  t.is(boot.xds_servers[0]!.server_uri, ctx.serve.tls!, "the agent's bootstrap points grpc-go at serve's TLS port");
  t.is(boot.xds_servers[0]!.channel_creds[0]!.type, 'tls');
  const client = await goClient(t, ctx.ids.goClient);
  const ok = await client.run({ target: ECHO, n: 10, wait_ms: 20000 });
  t.is(ok.ok, 10, summary(ok));
  t.deepEqual(ok.nacks, []);
  const syncz = (await (await fetch(`${ctx.serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; access: string; identity?: string }[] };
  const mine = syncz.proxies.filter((p) => p.proxy === boot.node.id);
  t.true(mine.length > 0, `grpc-go's node ${boot.node.id} is connected: ${JSON.stringify(syncz.proxies.map((p) => [p.proxy, p.access]))}`);
  for (const p of mine) t.deepEqual({ access: p.access, identity: p.identity }, { access: 'tls', identity: 'spiffe://cluster.local/ns/shop/sa/client' });

  // The same certificate, a node that claims the intruder's service account: refused, and the refusal logged with both.
  const dir = (await tempDir('meshcd-go-claim-'));
  t.teardown(dir.remove);
  const liar = join(dir.dir, 'liar.json');
  writeFileSync(liar, JSON.stringify({ ...boot, node: { ...boot.node, id: 'sidecar~127.0.0.1~liar-0.shop~shop.svc.cluster.local', metadata: { ...boot.node.metadata, SERVICE_ACCOUNT: 'intruder' } } }));
  const refused = await goClient(t, liar);
  const r = await refused.run({ target: ECHO, n: 2, wait_ms: 3000, deadline_ms: 2000 });
  t.is(r.ok, 0, summary(r));
  await eventually(async () => {
    if (!/PermissionDenied|PERMISSION_DENIED/.test(refused.stderr())) throw new Error(`grpc-go did not see PERMISSION_DENIED:\n${refused.stderr().slice(-2000)}`);
  }, 10000, 200);
  await eventually(async () => {
    if (!/identity_mismatch[^\n]*liar-0\.shop[^\n]*spiffe:\/\/cluster\.local\/ns\/shop\/sa\/client/.test(ctx.serve.stderr())) throw new Error('serve logged no identity_mismatch line naming the claim and the identity');
  }, 10000, 200);

  // TLS without a client certificate (only the roots): no identity, so no config.
  const anon = join(dir.dir, 'anon.json');
  const rootsOnly = { type: 'tls', config: { ca_certificate_file: boot.xds_servers[0]!.channel_creds[0]!.config!.ca_certificate_file } };
  writeFileSync(anon, JSON.stringify({ ...boot, node: { ...boot.node, id: 'sidecar~127.0.0.1~anon-0.shop~shop.svc.cluster.local' }, xds_servers: [{ ...boot.xds_servers[0], channel_creds: [rootsOnly] }] }));
  const nobody = await goClient(t, anon);
  const n = await nobody.run({ target: ECHO, n: 2, wait_ms: 3000, deadline_ms: 2000 });
  t.is(n.ok, 0, summary(n));
  await eventually(async () => {
    if (!/Unauthenticated|UNAUTHENTICATED/.test(nobody.stderr())) throw new Error(`grpc-go did not see UNAUTHENTICATED:\n${nobody.stderr().slice(-2000)}`);
  }, 10000, 200);
  t.false((await (await fetch(`${ctx.serve.admin}/debug/syncz`)).json() as { proxies: { proxy: string }[] }).proxies.some((p) => /liar-0|anon-0/.test(p.proxy)), 'neither refused node holds a stream');
});

// Last, because it makes meshcd record a NACK: the oracle must be able to fail.
test.serial("grpc-go's NACKs are seen: a bootstrap without certificate providers NACKs the ISTIO_MUTUAL cluster", async (t) => {
  const bare = await goClient(t, grpcBootstrap(ctx.serve.xds, 'sidecar~127.0.0.1~bare-0.shop~shop.svc.cluster.local', 'shop'));
  const r = await bare.run({ target: ECHO, n: 1, wait_ms: 5000, deadline_ms: 2000 });
  t.is(r.ok, 0, summary(r));
  t.true(r.nacks.length > 0, `grpc-go logged no NACK: ${summary(r)}\n${bare.stderr().slice(-2000)}`);
  t.log(r.nacks[0]);
  t.regex(r.nacks.join('\n'), /Cluster|certificate provider|instance/i);
});
