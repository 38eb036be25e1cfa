// The CSR API over real gRPC + TLS on 127.0.0.1:0.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { TokenFileAuthenticator, type Authenticator } from '../../../src/ca/auth.js';
import { defaultAuth, startCaServer, type CaServerHandle } from '../../../src/ca/service.js';
import { CaCallError, requestCertificate } from '../../../src/ca/client.js';
import { buildCsr, uriSans } from '../../../src/ca/x509.js';
import { registry } from '../../../src/util/metrics.js';
import { setRootLogger } from '../../../src/util/log.js';
import { pino } from 'pino';
import { ecKey, opensslVerify, tempDir } from './_helpers.js';

const TOKEN = 'tok-0123456789abcdef-web';
const auditLines: string[] = [];
setRootLogger(pino({ level: 'info' }, { write: (s: string) => void auditLines.push(s) }));

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

interface Fixture {
  dir: string;
  ca: CertificateAuthority;
  server: CaServerHandle;
  address: string;
  roots: string;
}

async function fixture(t: { teardown(fn: () => unknown): void }, extra: Authenticator[] = []): Promise<Fixture> {
  const { dir, cleanup } = tempDir();
  writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - name: web-bootstrap\n    token: ${TOKEN}\n    namespace: shop\n    serviceAccount: web\n`);
  const ca = await CertificateAuthority.open({ stateDir: dir, minTtlSeconds: 1 });
  const tokens = await TokenFileAuthenticator.load(join(dir, 'tokens.yaml'));
  const server = await startCaServer({ port: 0, ca, auth: defaultAuth(ca, [tokens, ...extra]) });
  t.teardown(async () => {
    await server.close();
    await ca.close();
    cleanup();
  });
  return { dir, ca, server, address: `127.0.0.1:${server.port}`, roots: ca.trustBundle().rootsPem.join('') };
}

test.serial('bootstrap token → certificate for the token identity; chain verifies; audit line without the token', async (t) => {
  const f = await fixture(t);
  const k = ecKey();
  const before = await counter('meshcd_ca_certs_issued_total');
  const res = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, {}), token: TOKEN, ttlSeconds: 600 });
  t.is(await counter('meshcd_ca_certs_issued_total'), before + 1);
  t.is(res.certChainPem.length, 2, 'leaf + root (Istio response shape)');
  t.deepEqual(res.trustBundlePem, f.ca.trustBundle().rootsPem);
  const leaf = new X509Certificate(res.certChainPem[0]!);
  t.deepEqual(uriSans(leaf), ['spiffe://cluster.local/ns/shop/sa/web']);
  t.regex(opensslVerify(f.dir, f.roots, [], res.certChainPem[0]!), /OK/);
  const audit = auditLines.filter((l) => l.includes('cert_issued')).at(-1)!;
  t.regex(audit, /"identity":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/web"/);
  t.regex(audit, /"caller":"bootstrap-token:web-bootstrap@/);
  t.regex(audit, /"serial":"[0-9a-f]{32}"/);
  t.false(auditLines.some((l) => l.includes(TOKEN)), 'the token never reaches the log');
});

test.serial('renewal over mTLS: the identity is the presented certificate, not the CSR', async (t) => {
  const f = await fixture(t);
  const k = ecKey();
  const first = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, {}), token: TOKEN, ttlSeconds: 600 });
  const k2 = ecKey();
  const renewed = await requestCertificate({
    address: f.address, caRootsPem: f.roots,
    csrPem: buildCsr(k2.privateKey, { uris: ['spiffe://cluster.local/ns/kube-system/sa/admin'] }),
    clientCert: { certChainPem: first.certChainPem[0]!, keyPem: k.keyPem },
  });
  const leaf = new X509Certificate(renewed.certChainPem[0]!);
  t.deepEqual(uriSans(leaf), ['spiffe://cluster.local/ns/shop/sa/web']);
  t.true(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(k2.publicKey.export({ type: 'spki', format: 'der' })));
  t.regex(auditLines.filter((l) => l.includes('cert_issued')).at(-1)!, /"caller":"client-certificate:spiffe:\/\/cluster.local\/ns\/shop\/sa\/web@/);
});

test.serial('a CSR asking for another identity gets the caller identity only', async (t) => {
  const f = await fixture(t);
  const k = ecKey();
  const res = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, { uris: ['spiffe://cluster.local/ns/kube-system/sa/admin'], dns: ['admin.example'] }), token: TOKEN });
  const leaf = new X509Certificate(res.certChainPem[0]!);
  t.is(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');
});

test.serial('refusals: each a clear gRPC error, nothing issued, counted by reason', async (t) => {
  const f = await fixture(t);
  const k = ecKey();
  const csr = buildCsr(k.privateKey, {});
  // An expired client certificate from this very CA (issued by a second handle whose clock is two days behind).
  const past = await CertificateAuthority.open({ stateDir: f.dir, now: () => new Date(Date.now() - 2 * 86400e3) });
  const expired = past.issue({ csrPem: csr, namespace: 'shop', serviceAccount: 'web', ttlSeconds: 3600 });
  await past.close();
  t.true(Date.parse(new X509Certificate(expired.chainPem[0]!).validTo) < Date.now());
  // A certificate for the same identity from a foreign CA.
  const foreignDir = tempDir();
  t.teardown(foreignDir.cleanup);
  const foreign = await CertificateAuthority.open({ stateDir: foreignDir.dir });
  const foreignCert = foreign.issue({ csrPem: csr, namespace: 'shop', serviceAccount: 'web' });
  await foreign.close();

  const cases: { name: string; opts: Partial<Parameters<typeof requestCertificate>[0]>; code: grpc.status; re: RegExp; reason: string }[] = [
    { name: 'no credentials', opts: {}, code: grpc.status.UNAUTHENTICATED, re: /no credentials/, reason: 'no_credentials' },
    { name: 'wrong token', opts: { token: 'not-the-right-token-at-all' }, code: grpc.status.UNAUTHENTICATED, re: /bearer token not recognised/, reason: 'bad_token' },
    { name: 'expired client certificate', opts: { clientCert: { certChainPem: expired.chainPem[0]!, keyPem: k.keyPem } }, code: grpc.status.UNAUTHENTICATED, re: /no valid client certificate/, reason: 'no_credentials' },
    { name: 'client certificate from another CA', opts: { clientCert: { certChainPem: foreignCert.chainPem[0]!, keyPem: k.keyPem } }, code: grpc.status.UNAUTHENTICATED, re: /no valid client certificate/, reason: 'no_credentials' },
    { name: 'TTL over the maximum', opts: { token: TOKEN, ttlSeconds: 91 * 86400 }, code: grpc.status.INVALID_ARGUMENT, re: /exceeds the maximum of 7776000s/, reason: 'ttl_too_long' },
    { name: 'malformed CSR', opts: { token: TOKEN, csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n' }, code: grpc.status.INVALID_ARGUMENT, re: /malformed CSR/, reason: 'invalid_csr' },
  ];
  for (const c of cases) {
    const issuedBefore = await counter('meshcd_ca_certs_issued_total');
    const refusedBefore = await counter('meshcd_ca_refused_total', { reason: c.reason });
    const auditBefore = auditLines.filter((l) => l.includes('cert_issued')).length;
    const err = await t.throwsAsync(requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: csr, ...c.opts }), { instanceOf: CaCallError }, c.name);
    t.is(err?.code, c.code, c.name);
    t.regex(err!.message, c.re, c.name);
    t.is(await counter('meshcd_ca_certs_issued_total'), issuedBefore, `${c.name}: nothing issued`);
    t.is(auditLines.filter((l) => l.includes('cert_issued')).length, auditBefore, `${c.name}: no audit line`);
    t.is(await counter('meshcd_ca_refused_total', { reason: c.reason }), refusedBefore + 1, `${c.name}: refusal counted`);
  }
});

test.serial('pluggable authenticator (as a Kubernetes TokenReview would be) and token file errors', async (t) => {
  const review: Authenticator = {
    name: 'kubernetes',
    async authenticate(c) {
      return c.bearerToken === 'k8s-jwt-for-reviews' ? { namespace: 'bookinfo', serviceAccount: 'reviews', method: 'kubernetes', principal: 'system:serviceaccount:bookinfo:reviews' } : undefined;
    },
  };
  const f = await fixture(t, [review]);
  const k = ecKey();
  const res = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, {}), token: 'k8s-jwt-for-reviews' });
  t.deepEqual(uriSans(new X509Certificate(res.certChainPem[0]!)), ['spiffe://cluster.local/ns/bookinfo/sa/reviews']);

  writeFileSync(join(f.dir, 'bad.yaml'), 'tokens:\n  - token: short\n    namespace: a\n    serviceAccount: b\n');
  await t.throwsAsync(TokenFileAuthenticator.load(join(f.dir, 'bad.yaml')), { message: /bad.yaml: tokens\[0\]: token is shorter than 16 characters/ });
  writeFileSync(join(f.dir, 'bad2.yaml'), 'tokens:\n  - token: 0123456789abcdefXYZ\n    serviceAccount: b\n');
  const e2 = await t.throwsAsync(TokenFileAuthenticator.load(join(f.dir, 'bad2.yaml')), { message: /bad2.yaml: tokens\[0\]: namespace missing/ });
  t.false(e2!.message.includes('0123456789abcdefXYZ'), 'error never echoes a token');
  await t.throwsAsync(TokenFileAuthenticator.load(join(f.dir, 'missing.yaml')), { message: /missing.yaml: token file not found/ });
  // Hashed tokens work too, so the file need not hold the secret.
  const { createHash } = await import('node:crypto');
  writeFileSync(join(f.dir, 'hashed.yaml'), JSON.stringify({ tokens: [{ tokenSha256: createHash('sha256').update('hashed-token-1234567').digest('hex'), namespace: 'x', serviceAccount: 'y' }] }));
  const hashed = await TokenFileAuthenticator.load(join(f.dir, 'hashed.yaml'));
  t.like(await hashed.authenticate({ bearerToken: 'hashed-token-1234567' }), { namespace: 'x', serviceAccount: 'y' });
  t.is(await hashed.authenticate({ bearerToken: 'hashed-token-1234568' }), undefined);
});

test.serial('after a root rotation the trailer carries both roots, and the CA port moves to the new root once it signs', async (t) => {
  const f = await fixture(t);
  const k = ecKey();
  const first = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, {}), token: TOKEN });
  // Another workload on the old root keeps the rotation in its distributing phase.
  const slow = ecKey();
  f.ca.issue({ csrPem: buildCsr(slow.privateKey, {}), namespace: 'other', serviceAccount: 'slow' });
  await f.ca.rotateRoot();
  const both = f.ca.trustBundle().rootsPem;
  t.is(both.length, 2);
  const newRoot = both.find((p) => p !== f.roots)!;
  // Renew with the old-root certificate: the answer carries both roots, still signed by the old root.
  const renewed = await requestCertificate({ address: f.address, caRootsPem: f.roots, csrPem: buildCsr(k.privateKey, {}), clientCert: { certChainPem: first.certChainPem[0]!, keyPem: k.keyPem } });
  t.deepEqual(renewed.trustBundlePem.sort(), [...both].sort());
  t.is(renewed.certChainPem.at(-1), f.roots);
  // The last workload renews: the new root signs, and the CA's own TLS certificate follows.
  f.ca.issue({ csrPem: buildCsr(slow.privateKey, {}), namespace: 'other', serviceAccount: 'slow' });
  t.is(f.ca.status().rotation.phase, 'overlap');
  await new Promise((r) => setTimeout(r, 50));
  const onlyNew = await requestCertificate({ address: f.address, caRootsPem: newRoot, csrPem: buildCsr(k.privateKey, {}), clientCert: { certChainPem: renewed.certChainPem[0]!, keyPem: k.keyPem } });
  t.is(onlyNew.certChainPem.at(-1), newRoot);
  t.regex(opensslVerify(f.dir, newRoot, [], onlyNew.certChainPem[0]!), /OK/);
});
