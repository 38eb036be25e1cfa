// X.509 certificates and PKCS#10 requests for the CA and the agent.
//
// Structures are built with node-forge's asn1 module (the project's X.509
// library), but every signature is made and checked with Node's native
// crypto: forge signs in pure JS (~30 certs/s) and has no ECDSA at all.
// Parsing a CSR slices the exact DER bytes of the signed part, because a
// re-encoded structure is not guaranteed to be byte-identical to what the
// requester signed.
//
// Over 500 lines on purpose: one DER vocabulary (names, extensions, the
// certificate and CSR builders, the CSR parser and the fast leaf builder that
// must produce the same bytes) reads best in one place.

import forge from 'node-forge';
import {
  createHash, createPublicKey, randomBytes, sign as nativeSign, verify as nativeVerify,
  X509Certificate, type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import { publicKeyFromSpki, type SpkiKey } from './spki.js';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

export const OID = {
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
} as const;

/** A request that cannot be turned into a certificate; the message is safe to show the requester. */
export class CsrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsrError';
  }
}

// ---------------------------------------------------------------------------
// Minimal DER reader: gives exact byte ranges, which forge's parser does not.

interface DerNode {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the contents. */
  contentStart: number;
  /** Offset just past the contents. */
  end: number;
}

function readNode(buf: Buffer, offset: number, limit = buf.length): DerNode {
  if (offset + 2 > limit) throw new CsrError('truncated DER');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new CsrError('unsupported DER tag');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new CsrError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new CsrError('truncated DER');
  return { tag, start: offset, contentStart: p, end: p + len };
}

function childrenOf(buf: Buffer, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let p = node.contentStart;
  while (p < node.end) {
    const c = readNode(buf, p, node.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function bytesOf(buf: Buffer, n: DerNode): Buffer {
  return buf.subarray(n.start, n.end);
}

function oidOf(buf: Buffer, n: DerNode): string {
  if (n.tag !== 0x06) throw new CsrError('expected an OBJECT IDENTIFIER');
  return asn1.derToOid(forge.util.createBuffer(buf.subarray(n.contentStart, n.end).toString('binary')));
}

// ---------------------------------------------------------------------------
// PEM

export function pemToDer(pem: string, label: string): Buffer {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) throw new CsrError(`no "${label}" PEM block`);
  const body = m[1]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new CsrError(`the ${label} PEM block is not valid base64`);
  return Buffer.from(body, 'base64');
}

export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every CERTIFICATE block in a PEM text, in order. */
export function splitPemCerts(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((s) => `${s}\n`) ?? [];
}

// ---------------------------------------------------------------------------
// Keys

export type KeyAlgorithm = 'rsa' | 'ec';

export function keyAlgorithm(key: KeyObject): KeyAlgorithm {
  const t = key.asymmetricKeyType;
  if (t === 'rsa') return 'rsa';
  if (t === 'ec') return 'ec';
  throw new CsrError(`unsupported key type ${t ?? 'unknown'} (use RSA ≥ 2048 or ECDSA P-256/P-384)`);
}

/** Checks a public key is strong enough for a workload identity. */
export function checkKeyStrength(key: KeyObject, d: NonNullable<KeyObject['asymmetricKeyDetails']> = key.asymmetricKeyDetails ?? {}): void {
  const alg = keyAlgorithm(key);
  if (alg === 'rsa' && (d.modulusLength ?? 0) < 2048) throw new CsrError(`RSA key of ${d.modulusLength} bits is too small (minimum 2048)`);
  if (alg === 'ec' && d.namedCurve !== 'prime256v1' && d.namedCurve !== 'secp384r1') {
    throw new CsrError(`EC curve ${d.namedCurve ?? 'unknown'} is not supported (use P-256 or P-384)`);
  }
}

function signatureAlgorithmFor(key: KeyObject): { oid: string; hash: string } {
  if (keyAlgorithm(key) === 'rsa') return { oid: OID.sha256WithRSA, hash: 'sha256' };
  return key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
    ? { oid: OID.ecdsaWithSHA384, hash: 'sha384' }
    : { oid: OID.ecdsaWithSHA256, hash: 'sha256' };
}

const CSR_SIG_ALGS: Record<string, { hash: string; key: KeyAlgorithm }> = {
  [OID.sha256WithRSA]: { hash: 'sha256', key: 'rsa' },
  [OID.sha384WithRSA]: { hash: 'sha384', key: 'rsa' },
  [OID.sha512WithRSA]: { hash: 'sha512', key: 'rsa' },
  [OID.ecdsaWithSHA256]: { hash: 'sha256', key: 'ec' },
  [OID.ecdsaWithSHA384]: { hash: 'sha384', key: 'ec' },
};

// ---------------------------------------------------------------------------
// CSR parsing

export interface ParsedCsr {
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER, copied into the certificate as is. */
  spkiDer: Buffer;
  keyAlgorithm: KeyAlgorithm;
  /** SAN URIs the requester asked for: informational only, never copied. */
  requestedUris: string[];
}

const MAX_CSR_BYTES = 16 * 1024;

/** Parses and verifies a PEM PKCS#10 request (RSA or ECDSA). Throws CsrError with a message for the requester. */
export function parseCsr(pem: string): ParsedCsr {
  const d = decodeCsr(pem);
  if (!nativeVerify(d.proof.hash, d.proof.data, d.csr.publicKey, d.proof.signature)) throw POP_FAILED();
  return d.csr;
}

/**
 * parseCsr() for servers: the proof of possession (the CSR's signature) is
 * checked on libuv's thread pool, so the main thread goes on serving while
 * the other core verifies.
 */
export function parseCsrAsync(pem: string): Promise<ParsedCsr> {
  let d: DecodedCsr;
  try {
    d = decodeCsr(pem);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) =>
    nativeVerify(d.proof.hash, d.proof.data, d.csr.publicKey, d.proof.signature, (err, ok) => (err || !ok ? reject(POP_FAILED()) : resolve(d.csr))),
  );
}

const POP_FAILED = () => new CsrError('malformed CSR: the CSR signature does not verify (proof of key possession failed)');

interface DecodedCsr {
  csr: ParsedCsr;
  /** What the requester signed, and how: checked by parseCsr / parseCsrAsync. */
  proof: { hash: string; data: Buffer; signature: Buffer };
}

function decodeCsr(pem: string): DecodedCsr {
  if (typeof pem !== 'string' || pem.trim() === '') throw new CsrError('the request has no CSR');
  if (pem.length > MAX_CSR_BYTES * 2) throw new CsrError(`the CSR is larger than ${MAX_CSR_BYTES} bytes`);
  let der: Buffer;
  try {
    der = pemToDer(pem, 'CERTIFICATE REQUEST');
  } catch {
    try {
      der = pemToDer(pem, 'NEW CERTIFICATE REQUEST');
    } catch {
      throw new CsrError('the CSR is not a PEM "CERTIFICATE REQUEST" block');
    }
  }
  try {
    const top = readNode(der, 0);
    if (top.tag !== 0x30 || top.end !== der.length) throw new CsrError('not a DER SEQUENCE');
    const [cri, algId, sigBits] = childrenOf(der, top);
    if (!cri || !algId || !sigBits || cri.tag !== 0x30 || algId.tag !== 0x30 || sigBits.tag !== 0x03) throw new CsrError('not a PKCS#10 CertificationRequest');
    const criParts = childrenOf(der, cri);
    if (criParts.length < 3) throw new CsrError('CertificationRequestInfo is incomplete');
    const spkiNode = criParts[2]!;
    const spkiDer = Buffer.from(bytesOf(der, spkiNode));
    let publicKey: KeyObject;
    let details: SpkiKey['details'];
    try {
      ({ key: publicKey, details } = publicKeyFromSpki(spkiDer));
    } catch {
      throw new CsrError('the CSR public key cannot be read');
    }
    checkKeyStrength(publicKey, details);
    const algOid = oidOf(der, childrenOf(der, algId)[0]!);
    const alg = CSR_SIG_ALGS[algOid];
    if (!alg) throw new CsrError(`unsupported CSR signature algorithm ${algOid}`);
    if (alg.key !== keyAlgorithm(publicKey)) throw new CsrError(`signature algorithm ${algOid} does not match the ${keyAlgorithm(publicKey).toUpperCase()} key`);
    const signature = der.subarray(sigBits.contentStart + 1, sigBits.end);
    return {
      csr: { publicKey, spkiDer, keyAlgorithm: keyAlgorithm(publicKey), requestedUris: requestedUris(der, criParts[3]) },
      proof: { hash: alg.hash, data: bytesOf(der, cri), signature },
    };
  } catch (err) {
    if (err instanceof CsrError) throw new CsrError(`malformed CSR: ${err.message}`);
    throw new CsrError('malformed CSR: cannot be parsed');
  }
}

function requestedUris(der: Buffer, attrs: DerNode | undefined): string[] {
  if (!attrs || attrs.tag !== 0xa0) return [];
  const out: string[] = [];
  try {
    for (const attr of childrenOf(der, attrs)) {
      const [oid, set] = childrenOf(der, attr);
      if (!oid || !set || oidOf(der, oid) !== OID.extensionRequest) continue;
      for (const exts of childrenOf(der, set)) {
        for (const ext of childrenOf(der, exts)) {
          const parts = childrenOf(der, ext);
          if (oidOf(der, parts[0]!) !== OID.subjectAltName) continue;
          const octets = parts[parts.length - 1]!;
          const seq = readNode(der, octets.contentStart, octets.end);
          for (const gn of childrenOf(der, seq)) if (gn.tag === 0x86) out.push(der.subarray(gn.contentStart, gn.end).toString('latin1'));
        }
      }
    }
  } catch {
    // Requested SANs are informational only; a malformed attribute is ignored.
  }
  return out;
}

// ---------------------------------------------------------------------------
// Building

function bin(b: Buffer): string {
  return b.toString('binary');
}

function seq(items: Asn1[]): Asn1 {
  return asn1.create(U, T.SEQUENCE, true, items);
}

function oid(o: string): Asn1 {
  return asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
}

function integerBytes(b: Buffer): Asn1 {
  return asn1.create(U, T.INTEGER, false, bin(b));
}

function octets(b: Buffer | string): Asn1 {
  return asn1.create(U, T.OCTETSTRING, false, typeof b === 'string' ? b : bin(b));
}

function bitString(b: Buffer, unusedBits = 0): Asn1 {
  return asn1.create(U, T.BITSTRING, false, String.fromCharCode(unusedBits) + bin(b));
}

function time(d: Date): Asn1 {
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function der(a: Asn1): Buffer {
  return Buffer.from(asn1.toDer(a).getBytes(), 'binary');
}

function fromDer(b: Buffer): Asn1 {
  return asn1.fromDer(forge.util.createBuffer(bin(b)), { decodeBitStrings: false } as unknown as Parameters<typeof asn1.fromDer>[1]);
}

export interface NameAttr {
  oid: string;
  value: string;
}

export function buildName(attrs: NameAttr[]): Asn1 {
  return seq(attrs.map((a) => asn1.create(U, T.SET, true, [seq([oid(a.oid), asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(a.value))])])));
}

/** The subject Name of a certificate as an asn1 node (exact bytes), to use as a child's issuer. */
export function subjectNameOf(certDer: Buffer): Asn1 {
  const top = readNode(certDer, 0);
  const tbs = childrenOf(certDer, top)[0]!;
  const parts = childrenOf(certDer, tbs);
  const off = parts[0]!.tag === 0xa0 ? 1 : 0;
  return fromDer(Buffer.from(bytesOf(certDer, parts[off + 4]!)));
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const top = readNode(spkiDer, 0);
  const bits = childrenOf(spkiDer, top)[1]!;
  return createHash('sha1').update(spkiDer.subarray(bits.contentStart + 1, bits.end)).digest();
}

export function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/** A random positive 128-bit serial, as DER INTEGER content. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b;
}

export interface SubjectAltNames {
  uris?: string[];
  dns?: string[];
  ips?: string[];
}

function generalNames(sans: SubjectAltNames): Asn1 {
  const names: Asn1[] = [];
  for (const d of sans.dns ?? []) names.push(asn1.create(CTX, 2, false, d));
  for (const u of sans.uris ?? []) names.push(asn1.create(CTX, 6, false, u));
  for (const ip of sans.ips ?? []) {
    const v = isIP(ip);
    if (v === 4) names.push(asn1.create(CTX, 7, false, bin(Buffer.from(ip.split('.').map(Number)))));
    else if (v === 6) names.push(asn1.create(CTX, 7, false, (forge.util as unknown as { bytesFromIP(ip: string): string | null }).bytesFromIP(ip) ?? ''));
  }
  return seq(names);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(U, T.BOOLEAN, false, '\xff'));
  parts.push(octets(der(value)));
  return seq(parts);
}

export type KeyUsageBit = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign';
const KU_BITS: Record<KeyUsageBit, number> = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 };

function keyUsage(bits: KeyUsageBit[]): Asn1 {
  let byte = 0;
  let highest = 0;
  for (const b of bits) {
    byte |= 0x80 >> KU_BITS[b];
    highest = Math.max(highest, KU_BITS[b]);
  }
  return bitString(Buffer.from([byte]), 7 - highest);
}

export interface CertificateSpec {
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** Subject Name; empty for workload certificates (identity is the SAN, as Istio). */
  subject: Asn1;
  /** Issuer's subject Name (exact bytes); the subject itself when self-signed. */
  issuer: Asn1;
  spkiDer: Buffer;
  isCa: boolean;
  pathLen?: number;
  keyUsage: KeyUsageBit[];
  extKeyUsage?: string[];
  sans?: SubjectAltNames;
  /** Issuer's key identifier; omitted for self-signed roots. */
  authorityKeyId?: Buffer;
}

/** Builds the TBSCertificate with forge asn1 and signs its DER natively. Returns the certificate DER. */
export function buildCertificate(spec: CertificateSpec, signingKey: KeyObject): Buffer {
  const alg = signatureAlgorithmFor(signingKey);
  const algId = keyAlgorithm(signingKey) === 'rsa' ? seq([oid(alg.oid), asn1.create(U, T.NULL, false, '')]) : seq([oid(alg.oid)]);
  const ski = keyIdentifier(spec.spkiDer);
  const bc: Asn1[] = [];
  if (spec.isCa) {
    bc.push(asn1.create(U, T.BOOLEAN, false, '\xff'));
    if (spec.pathLen !== undefined) bc.push(integerBytes(Buffer.from([spec.pathLen])));
  }
  const exts: Asn1[] = [
    extension(OID.basicConstraints, true, seq(bc)),
    extension(OID.keyUsage, true, keyUsage(spec.keyUsage)),
  ];
  if (spec.extKeyUsage?.length) exts.push(extension(OID.extKeyUsage, false, seq(spec.extKeyUsage.map(oid))));
  exts.push(extension(OID.subjectKeyId, false, octets(ski)));
  if (spec.authorityKeyId) exts.push(extension(OID.authorityKeyId, false, seq([asn1.create(CTX, 0, false, bin(spec.authorityKeyId))])));
  const subjectEmpty = (spec.subject.value as Asn1[]).length === 0;
  const sans = spec.sans ?? {};
  if ((sans.uris?.length ?? 0) + (sans.dns?.length ?? 0) + (sans.ips?.length ?? 0) > 0) {
    // RFC 5280 4.2.1.6: the SAN is critical when the subject is empty.
    exts.push(extension(OID.subjectAltName, subjectEmpty, generalNames(sans)));
  }
  const tbs = seq([
    asn1.create(CTX, 0, true, [integerBytes(Buffer.from([2]))]),
    integerBytes(spec.serial),
    algId,
    spec.issuer,
    seq([time(spec.notBefore), time(spec.notAfter)]),
    spec.subject,
    fromDer(spec.spkiDer),
    asn1.create(CTX, 3, true, [seq(exts)]),
  ]);
  const tbsDer = der(tbs);
  const signature = nativeSign(alg.hash, tbsDer, signingKey);
  return derWrap(0x30, [tbsDer, der(algId), der(bitString(signature))]);
}

/** A DER header (tag + definite length) for `len` content bytes. */
function derHeader(tag: number, len: number): Buffer {
  if (len < 0x80) return Buffer.from([tag, len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
}

function derWrap(tag: number, parts: Buffer[]): Buffer {
  const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return Buffer.concat([derHeader(tag, body.length), body]);
}

/**
 * The hot path for workload certificates. Everything that is the same for
 * every leaf of one signer (algorithm, issuer, key usages, AKI, the encoded
 * OIDs) is built once with forge asn1; per certificate only the serial,
 * validity, key, SKI and SAN are encoded and spliced in, then the TBS is
 * signed natively. Produces the same bytes as buildCertificate (tested).
 */
export interface LeafFields {
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  keyAlgorithm: KeyAlgorithm;
  uri: string;
}

export class LeafCertificateBuilder {
  private readonly versionDer = der(asn1.create(CTX, 0, true, [integerBytes(Buffer.from([2]))]));
  private readonly afterSerial: Buffer;
  private readonly emptySubject = der(buildName([]));
  private readonly staticExts: { rsa: Buffer[]; ec: Buffer[] };
  private readonly akiExt: Buffer;
  private readonly skiPrefix: Buffer;
  private readonly sanOid = der(oid(OID.subjectAltName));
  private readonly critical = der(asn1.create(U, T.BOOLEAN, false, '\xff'));
  private readonly algIdDer: Buffer;
  private readonly hash: string;

  constructor(issuer: Asn1, authorityKeyId: Buffer, private readonly signingKey: KeyObject) {
    const alg = signatureAlgorithmFor(signingKey);
    this.hash = alg.hash;
    this.algIdDer = der(keyAlgorithm(signingKey) === 'rsa' ? seq([oid(alg.oid), asn1.create(U, T.NULL, false, '')]) : seq([oid(alg.oid)]));
    this.afterSerial = Buffer.concat([this.algIdDer, der(issuer)]);
    const bc = der(extension(OID.basicConstraints, true, seq([])));
    const eku = der(extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])));
    this.staticExts = {
      rsa: [bc, der(extension(OID.keyUsage, true, keyUsage(['digitalSignature', 'keyEncipherment']))), eku],
      ec: [bc, der(extension(OID.keyUsage, true, keyUsage(['digitalSignature']))), eku],
    };
    this.akiExt = der(extension(OID.authorityKeyId, false, seq([asn1.create(CTX, 0, false, bin(authorityKeyId))])));
    const skiTemplate = der(extension(OID.subjectKeyId, false, octets(Buffer.alloc(20))));
    this.skiPrefix = skiTemplate.subarray(0, skiTemplate.length - 20);
  }

  build(o: LeafFields): Buffer {
    const tbs = this.tbs(o);
    return this.assemble(tbs, nativeSign(this.hash, tbs, this.signingKey));
  }

  /**
   * The same certificate, signed on libuv's thread pool (crypto.sign with a
   * callback), so a server keeps handling requests on its main thread while
   * RSA signatures are computed on the other cores.
   */
  buildAsync(o: LeafFields): Promise<Buffer> {
    const tbs = this.tbs(o);
    return new Promise((resolve, reject) =>
      nativeSign(this.hash, tbs, this.signingKey, (err, signature) => (err ? reject(err) : resolve(this.assemble(tbs, signature)))),
    );
  }

  private tbs(o: LeafFields): Buffer {
    const validity = der(seq([time(o.notBefore), time(o.notAfter)]));
    const san = derWrap(0x30, [this.sanOid, this.critical, derWrap(0x04, [derWrap(0x30, [derWrap(0x86, [Buffer.from(o.uri, 'latin1')])])])]);
    const exts = derWrap(0xa3, [derWrap(0x30, [...this.staticExts[o.keyAlgorithm], this.skiPrefix, keyIdentifier(o.spkiDer), this.akiExt, san])]);
    const serial = derWrap(0x02, [o.serial]);
    return derWrap(0x30, [this.versionDer, serial, this.afterSerial, validity, this.emptySubject, o.spkiDer, exts]);
  }

  private assemble(tbs: Buffer, signature: Buffer): Buffer {
    return derWrap(0x30, [tbs, this.algIdDer, derWrap(0x03, [Buffer.from([0]), signature])]);
  }
}

/** Builds a PKCS#10 CSR (PEM) for `privateKey`, asking for the given SAN URIs. */
export function buildCsr(privateKey: KeyObject, sans: SubjectAltNames, subject: NameAttr[] = []): string {
  const spki = spkiOf(privateKey);
  const attrs: Asn1[] = [];
  if ((sans.uris?.length ?? 0) + (sans.dns?.length ?? 0) + (sans.ips?.length ?? 0) > 0) {
    const extReq = seq([extension(OID.subjectAltName, subject.length === 0, generalNames(sans))]);
    attrs.push(seq([oid(OID.extensionRequest), asn1.create(U, T.SET, true, [extReq])]));
  }
  const cri = seq([
    integerBytes(Buffer.from([0])),
    buildName(subject),
    fromDer(spki),
    asn1.create(CTX, 0, true, attrs),
  ]);
  const criDer = der(cri);
  const alg = signatureAlgorithmFor(privateKey);
  const algId = keyAlgorithm(privateKey) === 'rsa' ? seq([oid(alg.oid), asn1.create(U, T.NULL, false, '')]) : seq([oid(alg.oid)]);
  const sig = nativeSign(alg.hash, criDer, privateKey);
  return derToPem(der(seq([fromDer(criDer), algId, bitString(sig)])), 'CERTIFICATE REQUEST');
}

// ---------------------------------------------------------------------------
// Reading certificates

/** The URI SANs of a certificate (e.g. its SPIFFE id). */
export function uriSans(cert: X509Certificate): string[] {
  const alt = cert.subjectAltName ?? '';
  const out: string[] = [];
  for (const part of alt.split(/,\s*/)) if (part.startsWith('URI:')) out.push(part.slice(4));
  return out;
}

export function isCaCert(cert: X509Certificate): boolean {
  return cert.ca;
}
