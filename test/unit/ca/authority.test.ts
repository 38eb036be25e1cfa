import test from 'ava';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority, CaRequestError, MAX_TTL_SECONDS, fingerprintOf } from '../../../src/ca/authority.js';
import { buildCsr, uriSans } from '../../../src/ca/x509.js';
import { registry } from '../../../src/util/metrics.js';
import { ecKey, makePluginCa, openssl, opensslText, opensslVerify, tempDir } from './_helpers.js';

async function issuedCount(): Promise<number> {
  const m = registry.getSingleMetric('meshcd_ca_certs_issued_total');
  return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
}

test.serial('first start generates a 10-year RSA root with a 0600 key; a restart reuses it', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const rootPem = readFileSync(join(dir, 'ca', 'root-cert.pem'), 'utf8');
  const root = new X509Certificate(rootPem);
  t.true(root.ca);
  t.is(root.publicKey.asymmetricKeyType, 'rsa');
  t.is(root.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const years = (Date.parse(root.validTo) - Date.now()) / (365.25 * 86400e3);
  t.true(years > 9.9 && years < 10.1, `validity ${years} years`);
  t.is(statSync(join(dir, 'ca', 'root-key.pem')).mode & 0o777, 0o600);
  t.true(root.verify(root.publicKey));
  await ca.close();
  const again = await CertificateAuthority.open({ stateDir: dir });
  t.deepEqual(again.trustBundle().rootsPem, [rootPem]);
  await again.close();
});

test.serial('ECDSA P-256 root on request', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir, rootKeyAlgorithm: 'ec' });
  const root = new X509Certificate(ca.trustBundle().rootsPem[0]!);
  t.is(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const k = ecKey();
  const issued = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'ns1', serviceAccount: 'sa1' });
  t.notThrows(() => opensslVerify(dir, ca.trustBundle().rootsPem.join(''), [], issued.chainPem[0]!));
  await ca.close();
});

test.serial('workload certificate: SPIFFE SAN, key usages, 24h default TTL, backdated, CA:false, AKI/SKI, openssl verifies', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'example.org' });
  const k = ecKey();
  const before = Date.now();
  const issued = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'bookinfo', serviceAccount: 'reviews' });
  const leaf = new X509Certificate(issued.chainPem[0]!);
  t.is(issued.chainPem.length, 1);
  t.is(issued.spiffeId, 'spiffe://example.org/ns/bookinfo/sa/reviews');
  t.deepEqual(uriSans(leaf), ['spiffe://example.org/ns/bookinfo/sa/reviews']);
  t.false(leaf.ca);
  t.deepEqual(leaf.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const ttl = (Date.parse(leaf.validTo) - before) / 1000;
  t.true(Math.abs(ttl - 86400) < 5, `ttl ${ttl}`);
  t.true(Date.parse(leaf.validFrom) < before - 30_000, 'notBefore is backdated');
  t.true(leaf.verify(new X509Certificate(ca.trustBundle().rootsPem[0]!).publicKey));
  t.is(issued.serial.length, 32);
  t.is(issued.responseChainPem.at(-1), ca.trustBundle().rootsPem[0]);
  const text = opensslText(issued.chainPem[0]!);
  t.regex(text, /Key Usage: critical\s+Digital Signature\n/);
  t.regex(text, /Subject Key Identifier/);
  t.regex(text, /Authority Key Identifier/);
  t.regex(text, /CA:FALSE/);
  t.regex(opensslVerify(dir, ca.trustBundle().rootsPem.join(''), [], issued.chainPem[0]!), /OK/);
  // Two certificates never share a serial.
  const other = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'bookinfo', serviceAccount: 'reviews' });
  t.not(other.serial, issued.serial);
  await ca.close();
});

test.serial('RSA CSR made by openssl: keyEncipherment added; SANs the CSR asks for are replaced by the caller identity', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'r.csr', '-subj', '/CN=admin', '-addext', 'subjectAltName=URI:spiffe://cluster.local/ns/kube-system/sa/admin,DNS:evil.example'], dir);
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const issued = ca.issue({ csrPem: readFileSync(join(dir, 'r.csr'), 'utf8'), namespace: 'default', serviceAccount: 'web', ttlSeconds: 3600 });
  const leaf = new X509Certificate(issued.chainPem[0]!);
  t.is(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/web');
  t.falsy(leaf.subject, 'empty subject: the identity is the SAN');
  t.regex(opensslText(issued.chainPem[0]!), /Digital Signature, Key Encipherment/);
  t.true(Math.abs((Date.parse(leaf.validTo) - Date.now()) / 1000 - 3600) < 5);
  await ca.close();
});

test.serial('refusals issue nothing: TTL over the maximum, malformed, tampered, weak-key CSRs', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const k = ecKey();
  const good = buildCsr(k.privateKey, {});
  const start = await issuedCount();
  const tooLong = t.throws(() => ca.issue({ csrPem: good, namespace: 'a', serviceAccount: 'b', ttlSeconds: MAX_TTL_SECONDS + 1 }), { instanceOf: CaRequestError });
  t.is(tooLong?.reason, 'ttl_too_long');
  t.regex(tooLong!.message, /exceeds the maximum of 7776000s/);
  const b64 = good.split('\n').slice(1, -2).join('');
  const der = Buffer.from(b64, 'base64');
  const tampered = Buffer.from(der);
  tampered[tampered.length - 80] ^= 0x01;
  const pem = (d: Buffer) => `-----BEGIN CERTIFICATE REQUEST-----\n${d.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'weak.pem', '-out', 'weak.csr', '-subj', '/CN=x'], dir);
  const cases: [string, string, RegExp][] = [
    ['empty', '', /no CSR/],
    ['not PEM', 'hello', /not a PEM "CERTIFICATE REQUEST" block/],
    ['bad base64', '-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n', /not a PEM|base64/],
    ['truncated', pem(der.subarray(0, der.length - 20)), /malformed CSR: truncated DER/],
    ['tampered', pem(tampered), /malformed CSR/],
    ['weak RSA', readFileSync(join(dir, 'weak.csr'), 'utf8'), /RSA key of 1024 bits is too small/],
    ['a certificate, not a CSR', ca.trustBundle().rootsPem[0]!, /not a PEM "CERTIFICATE REQUEST" block/],
  ];
  for (const [name, csrPem, re] of cases) {
    const err = t.throws(() => ca.issue({ csrPem, namespace: 'a', serviceAccount: 'b' }), { instanceOf: CaRequestError }, name);
    t.is(err?.reason, 'invalid_csr', name);
    t.regex(err!.message, re, name);
  }
  t.throws(() => ca.issue({ csrPem: good, namespace: '../etc', serviceAccount: 'b' }), { instanceOf: CaRequestError });
  t.is(await issuedCount(), start, 'nothing issued');
  await ca.close();
});

test.serial('plug-in CA: leaves chain to the organisation root; a bad replacement set keeps the old one', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const plugin = join(dir, 'cacerts');
  mkdirSync(plugin);
  makePluginCa(plugin);
  const ca = await CertificateAuthority.open({ stateDir: join(dir, 'state'), pluginDir: plugin });
  t.is(ca.mode, 'plugin');
  const orgRoot = readFileSync(join(plugin, 'root-cert.pem'), 'utf8');
  t.deepEqual(ca.trustBundle().rootsPem, [orgRoot]);
  const k = ecKey();
  const issued = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'ns', serviceAccount: 'sa' });
  t.is(issued.chainPem.length, 2, 'leaf + intermediate');
  t.regex(opensslVerify(dir, orgRoot, issued.chainPem.slice(1), issued.chainPem[0]!), /OK/);
  t.is(issued.responseChainPem.at(-1), orgRoot);
  // Without the intermediate the leaf does not verify: it really is signed by the intermediate.
  t.throws(() => opensslVerify(dir, orgRoot, [], issued.chainPem[0]!));

  // Replace ca-key.pem with a key that does not match: reload is rejected, issuing continues with the old set.
  const intermediateBefore = ca.intermediatesPem()[0];
  const keyBackup = readFileSync(join(plugin, 'ca-key.pem'));
  writeFileSync(join(plugin, 'ca-key.pem'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  t.false(await ca.reload());
  t.is(ca.intermediatesPem()[0], intermediateBefore);
  const still = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'ns', serviceAccount: 'sa' });
  t.regex(opensslVerify(dir, orgRoot, still.chainPem.slice(1), still.chainPem[0]!), /OK/);
  writeFileSync(join(plugin, 'ca-key.pem'), keyBackup);

  // A new organisation root + intermediate is adopted; the old root stays trusted for the overlap.
  const next = join(dir, 'next');
  mkdirSync(next);
  makePluginCa(next, { rootName: 'Example Org Root 2' });
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) copyFileSync(join(next, f), join(plugin, f));
  t.true(await ca.reload());
  const newRoot = readFileSync(join(next, 'root-cert.pem'), 'utf8');
  t.deepEqual(ca.trustBundle().rootsPem.sort(), [orgRoot, newRoot].sort());
  const fresh = ca.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'other', serviceAccount: 'sa' });
  t.regex(opensslVerify(dir, newRoot, fresh.chainPem.slice(1), fresh.chainPem[0]!), /OK/);
  await ca.close();
});

test.serial('plug-in CA errors name the file at fault', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const plugin = join(dir, 'cacerts');
  mkdirSync(plugin);
  makePluginCa(plugin);
  writeFileSync(join(plugin, 'root-cert.pem'), readFileSync(join(plugin, 'ca-cert.pem')));
  await t.throwsAsync(CertificateAuthority.open({ stateDir: join(dir, 's'), pluginDir: plugin }), { message: /cacerts\/ca-cert.pem: does not chain to any certificate in root-cert.pem/ });
  await t.throwsAsync(CertificateAuthority.open({ stateDir: join(dir, 's'), pluginDir: join(dir, 'nope') }), { message: /nope\/ca-cert.pem: missing/ });
});

/** A TLS server with `server` cert and a client with `client` cert, both trusting `bundle`; resolves with the peer's SAN seen by the server. */
async function mtlsHandshake(bundle: string, server: { cert: string; key: string }, client: { cert: string; key: string }): Promise<string> {
  const srv = createTlsServer({ cert: server.cert, key: server.key, ca: bundle, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end(String(s.getPeerCertificate().subjectaltname));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<string>((resolve, reject) => {
      const c = tlsConnect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', cert: client.cert, key: client.key, ca: bundle, checkServerIdentity: () => undefined }, () => undefined);
      let data = '';
      c.on('data', (d) => (data += d));
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
  } finally {
    srv.close();
  }
}

test.serial('root rotation in two phases: new root distributed first, then it signs; old and new workloads talk; old root leaves when nothing uses it; state survives a restart', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const oldRoot = ca.trustBundle().rootsPem[0]!;
  const a = ecKey();
  const b = ecKey();
  const issue = (c: CertificateAuthority, k: ReturnType<typeof ecKey>, sa: string) => c.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'ns', serviceAccount: sa });
  const signedBy = (pem: string, root: string) => new X509Certificate(pem).verify(new X509Certificate(root).publicKey);
  issue(ca, a, 'a');
  let changes = 0;
  ca.onChange(() => changes++);

  // Phase 1: the new root is in the bundle; the old root still signs.
  const status = await ca.rotateRoot();
  t.true(changes > 0);
  t.is(status.rotation.phase, 'distributing');
  t.is(status.rotation.awaitingNewBundle, 1);
  const bundle = ca.trustBundle().rootsPem;
  t.is(bundle.length, 2);
  const newRoot = bundle.find((p) => p !== oldRoot)!;
  const b1 = issue(ca, b, 'b');
  t.true(signedBy(b1.chainPem[0]!, oldRoot), 'phase 1: old root signs');
  t.is(ca.status().rotation.awaitingNewBundle, 1, 'a has not renewed yet');

  // a renews (same key): everyone now holds the new bundle, so the new root takes over.
  const a1 = issue(ca, a, 'a');
  t.true(signedBy(a1.chainPem[0]!, oldRoot));
  const overlap = ca.status();
  t.is(overlap.rotation.phase, 'overlap');
  t.is(overlap.rotation.remainingOnOldRoots, 2);
  t.is(overlap.roots.find((r) => r.active)?.fingerprint, fingerprintOf(newRoot));
  const b2 = issue(ca, b, 'b');
  t.true(signedBy(b2.chainPem[0]!, newRoot), 'phase 2: new root signs');
  t.false(signedBy(b2.chainPem[0]!, oldRoot));
  await ca.flush();

  // An old-root workload and a new-root workload talk both ways with the bundle.
  const both = ca.trustBundle().rootsPem.join('');
  t.is(await mtlsHandshake(both, { cert: a1.chainPem[0]!, key: a.keyPem }, { cert: b2.chainPem[0]!, key: b.keyPem }), 'URI:spiffe://cluster.local/ns/ns/sa/b');
  t.is(await mtlsHandshake(both, { cert: b2.chainPem[0]!, key: b.keyPem }, { cert: a1.chainPem[0]!, key: a.keyPem }), 'URI:spiffe://cluster.local/ns/ns/sa/a');
  // Trusting only the new root, the old workload is refused: the overlap is what keeps them talking.
  const refused = await mtlsHandshake(newRoot, { cert: b2.chainPem[0]!, key: b.keyPem }, { cert: a1.chainPem[0]!, key: a.keyPem }).catch(() => 'refused');
  t.true(refused === '' || refused === 'refused', `handshake result: ${refused}`);

  // Restart mid-overlap: the same roots and counts come back.
  await ca.close();
  const reopened = await CertificateAuthority.open({ stateDir: dir });
  t.deepEqual(reopened.trustBundle().rootsPem.sort(), ca.trustBundle().rootsPem.sort());
  t.is(reopened.status().rotation.remainingOnOldRoots, 1);
  t.is(readFileSync(join(dir, 'ca', 'root-cert.pem'), 'utf8'), newRoot);
  // a renews with the new root: the old root leaves the bundle.
  issue(reopened, a, 'a');
  t.deepEqual(reopened.trustBundle().rootsPem, [newRoot]);
  const done = reopened.status();
  t.is(done.rotation.phase, 'idle');
  t.is(done.roots.length, 1);
  t.is(done.roots[0]!.activeCerts, 2);
  await reopened.close();
  const final = await CertificateAuthority.open({ stateDir: dir, readOnly: true });
  t.deepEqual(final.trustBundle().rootsPem, [newRoot]);
  t.is(readFileSync(join(dir, 'ca', 'trust-bundle.pem'), 'utf8'), newRoot);
  await final.close();
});

test.serial('a rotation with no live certificates promotes the new root at once; read-only open of an empty dir is an error', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  await t.throwsAsync(CertificateAuthority.open({ stateDir: dir, readOnly: true }), { message: /no CA here yet/ });
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const oldRoot = ca.trustBundle().rootsPem[0]!;
  const s = await ca.rotateRoot();
  t.is(s.rotation.phase, 'idle');
  t.is(ca.trustBundle().rootsPem.length, 1);
  t.not(ca.trustBundle().rootsPem[0], oldRoot);
  await ca.close();
});

test.serial('a rotation made by another process (the CLI) is picked up by a running CA', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const running = await CertificateAuthority.open({ stateDir: dir, watch: true });
  const k = ecKey();
  running.issue({ csrPem: buildCsr(k.privateKey, {}), namespace: 'ns', serviceAccount: 'a' });
  await running.flush();
  // The CA's watcher does not hold the process open (the gRPC server does in production).
  const keepAlive = setInterval(() => undefined, 100);
  t.teardown(() => clearInterval(keepAlive));
  const changed = new Promise<void>((r) => running.onChange(() => r()));
  const cli = await CertificateAuthority.open({ stateDir: dir });
  await cli.rotateRoot();
  await cli.close();
  await changed;
  t.is(running.trustBundle().rootsPem.length, 2);
  t.is(running.status().rotation.phase, 'distributing');
  t.is(running.status().rotation.awaitingNewBundle, 1);
  await running.close();
});

test.serial('getters change nothing: a phase that is due moves only on issue, on the timer or on checkRotation()', async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  let clock = Date.now();
  const ca = await CertificateAuthority.open({ stateDir: dir, maxTtlSeconds: 3600, defaultTtlSeconds: 1800, now: () => new Date(clock) });
  ca.issue({ csrPem: buildCsr(ecKey().privateKey, {}), namespace: 'ns', serviceAccount: 'a' });
  clock += 1000;
  t.is((await ca.rotateRoot()).rotation.phase, 'distributing');
  await ca.flush();
  const rootsJson = readFileSync(join(dir, 'ca', 'roots.json'), 'utf8');
  // Past the distribution window (one max TTL) and past the old certificate's end.
  clock += 2 * 3600_000;
  t.is(ca.status().rotation.phase, 'distributing');
  t.is(ca.trustBundle().rootsPem.length, 2);
  t.is(ca.status().rotation.phase, 'distributing');
  await ca.flush();
  t.is(readFileSync(join(dir, 'ca', 'roots.json'), 'utf8'), rootsJson, 'no getter wrote roots.json');
  // The explicit call runs the due phases: promotion, then (nothing live) retirement.
  const s = ca.checkRotation();
  t.is(s.rotation.phase, 'idle');
  t.is(ca.trustBundle().rootsPem.length, 1);
  await ca.close();
  t.not(readFileSync(join(dir, 'ca', 'roots.json'), 'utf8'), rootsJson);
});
