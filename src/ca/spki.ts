// Public keys from SubjectPublicKeyInfo DER, for the CSR hot path. Node's DER
// and PEM import goes through OpenSSL 3's decoder, ~100–120 µs a key on the
// bench machine (a fifth of issuing a certificate); a JWK import of the same
// numbers costs ~3 µs for RSA and ~65 µs for EC (OpenSSL still checks the
// point). Only the exact shapes a PKCS#10 request carries take the fast path
// (RSA with NULL parameters; P-256/P-384 uncompressed points); anything else
// goes to createPublicKey, which validates it fully.
// Imports: node:crypto only.

import { createPublicKey, type KeyObject } from 'node:crypto';

export interface SpkiKey {
  key: KeyObject;
  /** What checkKeyStrength needs, without asking OpenSSL for the key's details again. */
  details: { modulusLength?: number; namedCurve?: string };
}

const RSA_ALG = Buffer.from('300d06092a864886f70d0101010500', 'hex'); // SEQUENCE { rsaEncryption, NULL }
const EC_ALG_PREFIX = Buffer.from('06072a8648ce3d0201', 'hex'); // id-ecPublicKey
const CURVES: { oid: Buffer; name: string; crv: string; size: number }[] = [
  { oid: Buffer.from('06082a8648ce3d030107', 'hex'), name: 'prime256v1', crv: 'P-256', size: 32 },
  { oid: Buffer.from('06052b81040022', 'hex'), name: 'secp384r1', crv: 'P-384', size: 48 },
];

/** [contentStart, end] of the DER element at `p` (short or long definite length), or undefined. */
function element(b: Buffer, p: number, tag: number, limit = b.length): [number, number] | undefined {
  if (p + 2 > limit || b[p] !== tag) return undefined;
  let len = b[p + 1]!;
  let q = p + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || q + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[q + i]!;
    q += n;
  }
  return q + len <= limit ? [q, q + len] : undefined;
}

/** A positive DER INTEGER's magnitude (no leading zero), or undefined. */
function unsignedInteger(b: Buffer, start: number, end: number): Buffer | undefined {
  if (end <= start || b[start]! & 0x80) return undefined;
  let s = start;
  while (s < end - 1 && b[s] === 0) s++;
  return b.subarray(s, end);
}

function fastKey(spki: Buffer): SpkiKey | undefined {
  const top = element(spki, 0, 0x30);
  if (!top || top[1] !== spki.length) return undefined;
  const algEnd = element(spki, top[0], 0x30);
  if (!algEnd) return undefined;
  const alg = spki.subarray(top[0], algEnd[1]);
  const bits = element(spki, algEnd[1], 0x03, top[1]);
  if (!bits || bits[1] !== top[1] || spki[bits[0]] !== 0) return undefined;
  const keyStart = bits[0] + 1;
  if (alg.equals(RSA_ALG)) {
    const rsa = element(spki, keyStart, 0x30, bits[1]);
    if (!rsa || rsa[1] !== bits[1]) return undefined;
    const nEl = element(spki, rsa[0], 0x02, rsa[1]);
    const eEl = nEl && element(spki, nEl[1], 0x02, rsa[1]);
    if (!nEl || !eEl || eEl[1] !== rsa[1]) return undefined;
    const n = unsignedInteger(spki, nEl[0], nEl[1]);
    const e = unsignedInteger(spki, eEl[0], eEl[1]);
    if (!n || !e || n[0] === 0 || e[0] === 0) return undefined;
    const key = createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' });
    return { key, details: { modulusLength: (n.length - 1) * 8 + (32 - Math.clz32(n[0]!)) } };
  }
  if (alg.length > 2 && alg.subarray(2, 2 + EC_ALG_PREFIX.length).equals(EC_ALG_PREFIX)) {
    const params = alg.subarray(2 + EC_ALG_PREFIX.length);
    const curve = CURVES.find((c) => c.oid.equals(params));
    if (!curve || alg[1] !== alg.length - 2) return undefined;
    const point = spki.subarray(keyStart, bits[1]);
    if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) return undefined;
    const x = point.subarray(1, 1 + curve.size).toString('base64url');
    const y = point.subarray(1 + curve.size).toString('base64url');
    return { key: createPublicKey({ key: { kty: 'EC', crv: curve.crv, x, y }, format: 'jwk' }), details: { namedCurve: curve.name } };
  }
  return undefined;
}

/** The public key of a SubjectPublicKeyInfo; throws when OpenSSL cannot read it. */
export function publicKeyFromSpki(spki: Buffer): SpkiKey {
  const fast = fastKey(spki);
  if (fast) return fast;
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return { key, details: key.asymmetricKeyDetails ?? {} };
}
