import test from 'ava';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  buildCertificate, buildCsr, buildName, keyIdentifier, LeafCertificateBuilder, OID, parseCsr, randomSerial, spkiOf, subjectNameOf,
} from '../../../src/ca/x509.js';

function root(alg: 'rsa' | 'ec') {
  const { privateKey, publicKey } = alg === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = buildName([{ oid: OID.organization, value: 'example.org' }, { oid: OID.commonName, value: `root ${alg}` }]);
  const der = buildCertificate({ serial: randomSerial(), notBefore: new Date(), notAfter: new Date(Date.now() + 86400e3), subject: name, issuer: name, spkiDer: spkiOf(publicKey), isCa: true, keyUsage: ['keyCertSign', 'cRLSign'] }, privateKey);
  return { privateKey, der };
}

// ECDSA signatures are randomised, so byte equality is checked on RSA signers
// (deterministic PKCS#1 v1.5); EC signers are checked by verification.
for (const signer of ['rsa', 'ec'] as const) {
  for (const leafAlg of ['rsa', 'ec'] as const) {
    test(`fast leaf builder = generic builder, sync and on the thread pool (${signer} signer, ${leafAlg} leaf)`, async (t) => {
      const r = root(signer);
      const leafKey = leafAlg === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const csr = parseCsr(buildCsr(leafKey.privateKey, {}));
      const issuer = subjectNameOf(r.der);
      const aki = keyIdentifier(spkiOf(new X509Certificate(r.der).publicKey));
      const serial = randomSerial();
      const notBefore = new Date(Date.UTC(2030, 0, 1));
      const notAfter = new Date(Date.UTC(2055, 0, 2)); // GeneralizedTime branch too
      const uri = 'spiffe://example.org/ns/a/sa/b';
      const fast = new LeafCertificateBuilder(issuer, aki, r.privateKey).build({ serial, notBefore, notAfter, spkiDer: csr.spkiDer, keyAlgorithm: csr.keyAlgorithm, uri });
      const slow = buildCertificate({
        serial, notBefore, notAfter, subject: buildName([]), issuer, spkiDer: csr.spkiDer, isCa: false,
        keyUsage: leafAlg === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
        extKeyUsage: [OID.serverAuth, OID.clientAuth], sans: { uris: [uri] }, authorityKeyId: aki,
      }, r.privateKey);
      const rootCert = new X509Certificate(r.der);
      const f = new X509Certificate(fast);
      t.true(f.verify(rootCert.publicKey));
      t.true(f.checkIssued(rootCert));
      t.is(f.subjectAltName, `URI:${uri}`);
      const pooled = await new LeafCertificateBuilder(issuer, aki, r.privateKey).buildAsync({ serial, notBefore, notAfter, spkiDer: csr.spkiDer, keyAlgorithm: csr.keyAlgorithm, uri });
      t.true(new X509Certificate(pooled).verify(rootCert.publicKey));
      if (signer === 'rsa') {
        t.true(fast.equals(slow), 'identical DER');
        t.true(pooled.equals(fast), 'identical DER from the thread pool');
      } else t.true(new X509Certificate(slow).verify(rootCert.publicKey));
    });
  }
}

test('CSR round trip: our CSR parses, requested URIs are read, P-384 and RSA accepted, Ed25519 refused', (t) => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const parsed = parseCsr(buildCsr(p384.privateKey, { uris: ['spiffe://x/ns/y/sa/z'] }));
  t.is(parsed.keyAlgorithm, 'ec');
  t.deepEqual(parsed.requestedUris, ['spiffe://x/ns/y/sa/z']);
  t.is(parseCsr(buildCsr(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, {})).keyAlgorithm, 'rsa');
  const ed = generateKeyPairSync('ed25519');
  t.throws(() => buildCsr(ed.privateKey, {}), { message: /unsupported key type ed25519/ });
});

