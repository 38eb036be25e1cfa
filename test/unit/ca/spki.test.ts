// The fast SPKI → KeyObject path (src/ca/spki.ts) gives the same key and the
// same details as OpenSSL's DER import, and leaves every unusual shape to it.

import test from 'ava';
import { createPublicKey, ECDH, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { publicKeyFromSpki } from '../../../src/ca/spki.js';

const spkiOf = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });

const keys: [string, KeyObject, KeyObject][] = [
  ['RSA 2048', ...pair(generateKeyPairSync('rsa', { modulusLength: 2048 }))],
  ['RSA 3072, e=3', ...pair(generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }))],
  ['RSA 1024', ...pair(generateKeyPairSync('rsa', { modulusLength: 1024 }))],
  ['EC P-256', ...pair(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }))],
  ['EC P-384', ...pair(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }))],
  ['EC secp256k1', ...pair(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }))],
  ['Ed25519', ...pair(generateKeyPairSync('ed25519'))],
];
function pair(p: { publicKey: KeyObject; privateKey: KeyObject }): [KeyObject, KeyObject] {
  return [p.publicKey, p.privateKey];
}

for (const [name, pub, priv] of keys) {
  test(`${name}: the same key (re-exported SPKI byte for byte), the same details, and it verifies the key's signatures`, (t) => {
    const spki = spkiOf(pub);
    const { key, details } = publicKeyFromSpki(spki);
    t.true(spkiOf(key).equals(spki));
    const want = createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyDetails ?? {};
    if (want.modulusLength !== undefined) t.is(details.modulusLength, want.modulusLength);
    if (want.namedCurve !== undefined) t.is(details.namedCurve, want.namedCurve);
    const data = Buffer.from('proof of possession');
    const alg = name.startsWith('Ed') ? null : 'sha256';
    t.true(verify(alg, data, key, sign(alg, data, priv)));
  });
}

test('shapes off the fast path go to OpenSSL: a compressed point is read; a point off the curve and a cut RSA key are refused', (t) => {
  const pairEc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = spkiOf(pairEc.publicKey);
  const point = Buffer.from(ECDH.convertKey(spki.subarray(spki.length - 65), 'prime256v1', undefined, 'hex', 'compressed') as string, 'hex');
  const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), point]);
  const data = Buffer.from('x');
  t.true(verify('sha256', data, publicKeyFromSpki(compressed).key, sign('sha256', data, pairEc.privateKey)), 'the compressed form is the same key');
  t.is(publicKeyFromSpki(compressed).details.namedCurve, 'prime256v1');
  const offCurve = Buffer.from(spki);
  offCurve[offCurve.length - 1] ^= 1;
  t.throws(() => publicKeyFromSpki(offCurve));
  const rsa = spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  t.throws(() => publicKeyFromSpki(rsa.subarray(0, rsa.length - 1)));
});
