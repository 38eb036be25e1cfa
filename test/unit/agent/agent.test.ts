// The agent against a real CA gRPC server on 127.0.0.1, with short TTLs.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { TokenFileAuthenticator } from '../../../src/ca/auth.js';
import { defaultAuth, startCaServer, type CaServerHandle } from '../../../src/ca/service.js';
import { maxRefreshSeconds, WorkloadAgent, type IdentityMaterial } from '../../../src/agent/agent.js';
import { registry } from '../../../src/util/metrics.js';
import { setRootLogger } from '../../../src/util/log.js';
import { opensslVerify, tempDir } from '../ca/_helpers.js';

const TOKEN = 'agent-test-token-0123456789';
const logs: string[] = [];
setRootLogger(pino({ level: 'info' }, { write: (s: string) => void logs.push(s) }));

async function gauge(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (!m) return undefined;
  return (await m.get()).values.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}

interface Env {
  dir: string;
  ca: CertificateAuthority;
  server: CaServerHandle | undefined;
  port: number;
  start(port?: number): Promise<void>;
  stop(): Promise<void>;
}

async function env(t: { teardown(fn: () => unknown): void }): Promise<Env> {
  const { dir, cleanup } = tempDir('meshcd-agent-');
  writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${TOKEN}\n    namespace: shop\n    serviceAccount: cart\n`);
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const ca = await CertificateAuthority.open({ stateDir: join(dir, 'state'), minTtlSeconds: 1 });
  const tokens = await TokenFileAuthenticator.load(join(dir, 'tokens.yaml'));
  const e: Env = {
    dir, ca, server: undefined, port: 0,
    async start(port = 0) {
      e.server = await startCaServer({ port, ca, auth: defaultAuth(ca, [tokens]) });
      e.port = e.server.port;
    },
    async stop() {
      await e.server?.close();
      e.server = undefined;
    },
  };
  t.teardown(async () => {
    await e.stop();
    await ca.close();
    cleanup();
  });
  return e;
}

function agentFor(e: Env, extra: Partial<ConstructorParameters<typeof WorkloadAgent>[0]> = {}): WorkloadAgent {
  return new WorkloadAgent({
    caAddress: `127.0.0.1:${e.port}`,
    caRootCertFile: join(e.dir, 'state', 'ca', 'trust-bundle.pem'),
    tokenFile: join(e.dir, 'token'),
    namespace: 'shop',
    serviceAccount: 'cart',
    outputDir: join(e.dir, 'out'),
    minBackoffMs: 100,
    maxBackoffMs: 400,
    ...extra,
  });
}

function nextUpdate(agent: WorkloadAgent, after?: IdentityMaterial): Promise<IdentityMaterial> {
  return new Promise((resolve) => {
    const off = agent.onUpdate((m) => {
      if (m !== after && m.certChainPem !== after?.certChainPem) {
        off();
        resolve(m);
      }
    });
  });
}

test.serial('first certificate with the token: files written (key 0600), chain verifies, renewed over mTLS at half life with the same key', async (t) => {
  const e = await env(t);
  await e.start();
  const agent = agentFor(e, { ttlSeconds: 4 });
  t.teardown(() => agent.stop());
  const first = nextUpdate(agent);
  await agent.start();
  await agent.ready;
  const m1 = await first;
  const out = join(e.dir, 'out');
  t.is(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
  t.is(readFileSync(join(out, 'cert-chain.pem'), 'utf8'), m1.certChainPem);
  t.is(readFileSync(join(out, 'root-cert.pem'), 'utf8'), e.ca.trustBundle().rootsPem.join(''));
  t.is(m1.spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
  t.regex(opensslVerify(e.dir, m1.rootsPem, [], m1.certChainPem), /OK/);
  const serial1 = new X509Certificate(m1.certChainPem).serialNumber;
  const keyBefore = readFileSync(join(out, 'key.pem'), 'utf8');

  const m2 = await nextUpdate(agent, m1);
  const c2 = new X509Certificate(m2.certChainPem);
  t.not(c2.serialNumber, serial1);
  // Renewed at about half life (4 s TTL): not at once, and before the first one expired.
  const after = m2.receivedAt.getTime() - m1.receivedAt.getTime();
  t.true(after >= 1500 && m2.receivedAt < m1.notAfter, `renewed ${after} ms after the first`);
  t.is(readFileSync(join(out, 'key.pem'), 'utf8'), keyBefore, 'key kept: a renewal changes one file');
  t.is(readFileSync(join(out, 'cert-chain.pem'), 'utf8'), m2.certChainPem);
  const issued = logs.filter((l) => l.includes('"cert_issued"') && l.includes('ns/shop/sa/cart'));
  t.regex(issued[0]!, /"caller":"bootstrap-token:/);
  t.regex(issued.at(-1)!, /"caller":"client-certificate:spiffe:\/\/cluster.local\/ns\/shop\/sa\/cart@/);
  t.false(logs.some((l) => l.includes(TOKEN)), 'token never logged');
});

test.serial('CA down at start, then up: the agent retries with backoff and gets its certificate', async (t) => {
  const e = await env(t);
  await e.start();
  const port = e.port;
  await e.stop();
  const agent = agentFor(e);
  t.teardown(() => agent.stop());
  await agent.start();
  await new Promise((r) => setTimeout(r, 700));
  t.is(agent.current(), undefined);
  const errors = await gauge('meshcd_agent_renewals_total', { result: 'error' });
  t.true((errors ?? 0) >= 2, `failed attempts counted: ${errors}`);
  await e.start(port);
  await agent.ready;
  t.is(agent.current()?.spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
});

test.serial('CA down while the certificate runs out: loud error and metric, then recovery when the CA is back', async (t) => {
  const e = await env(t);
  await e.start();
  const port = e.port;
  const agent = agentFor(e, { ttlSeconds: 3 });
  t.teardown(() => agent.stop());
  await agent.start();
  await agent.ready;
  const m1 = agent.current()!;
  await e.stop();
  // Wait past 75% of the life: renewals fail and the agent says so loudly.
  await new Promise((r) => setTimeout(r, Math.max(0, m1.notAfter.getTime() - Date.now() - 500)));
  await new Promise((r) => setTimeout(r, 800));
  t.is(await gauge('meshcd_agent_cert_expiring', { identity: m1.spiffeId }), 1);
  t.true(logs.some((l) => l.includes('"level":50') && /expires soon|EXPIRED/.test(l)), 'an error-level log line before/at expiry');
  const back = nextUpdate(agent, m1);
  await e.start(port);
  const m2 = await back;
  t.true(m2.notAfter > m1.notAfter);
  await new Promise((r) => setTimeout(r, 50));
  t.is(await gauge('meshcd_agent_cert_expiring', { identity: m1.spiffeId }), 0);
});

test.serial('a restarted agent uses valid files on disk without the CA; wrong-identity tokens are caught', async (t) => {
  const e = await env(t);
  await e.start();
  const a1 = agentFor(e, { ttlSeconds: 600 });
  await a1.start();
  await a1.ready;
  a1.stop();
  const before = a1.current()!;
  await e.stop();
  const a2 = agentFor(e, { ttlSeconds: 600 });
  t.teardown(() => a2.stop());
  await a2.start();
  await a2.ready;
  t.is(a2.current()?.certChainPem, before.certChainPem);

  // A token for shop/cart used by an agent configured as shop/other: refused, nothing written.
  await e.start();
  const wrong = agentFor(e, { serviceAccount: 'other', outputDir: join(e.dir, 'out-other') });
  t.teardown(() => wrong.stop());
  await wrong.start();
  await new Promise((r) => setTimeout(r, 600));
  t.is(wrong.current(), undefined);
  t.true(logs.some((l) => l.includes('not the configured ns/shop/sa/other')));
  t.throws(() => statSync(join(e.dir, 'out-other', 'cert-chain.pem')));
});

test('maxRefreshSeconds: gRPC re-reads the files well before a certificate it read can expire', (t) => {
  const rows: [number, number, number][] = [[4, 0.5, 1], [3, 0.5, 1], [30, 0.5, 7], [120, 0.5, 30], [86400, 0.5, 21600], [100, 0.8, 10]];
  for (const [ttl, f, want] of rows) t.is(maxRefreshSeconds(ttl, f), want, `ttl ${ttl}s renew at ${f}`);
});
