// Gateway credential Secrets as Istio's gateway SecretAnalyzer judges them
// (pkg/config/analysis/analyzers/gateway/secret.go, isValidSecret):
// - the certificate and key are `cert`/`key` (Istio's generic Secret), else
//   `tls.crt`/`tls.key`, both non-empty (pilot/pkg/credentials/kube
//   ExtractCertInfo); anything else is no credential;
// - the certificate's first PEM block (of any type) parses as X.509 and is
//   within its validity period at the time of the check (pilot/pkg/xds
//   ValidateCertificate).
// The key is not checked against the certificate (Istio's analyzer does not;
// meshcd's SDS does, and logs a mismatch). Only the validity window is kept,
// never the Secret's content. Pure: the time of the check is an input.

import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';

/** The validity window of a Secret's certificate (ms since the epoch); null when it holds no usable certificate. */
export type SecretCertificate = { notBefore: number; notAfter: number } | null;

/** PEM blocks tried before giving up: each try scans the text once, so a Secret of many broken blocks costs at most this many scans. */
const MAX_PEM_TRIES = 16;

/** Where the next `-----BEGIN ` line starts at or after `from` (at the start of the text or of a line), or -1. */
function nextBegin(text: string, from: number): number {
  if (from === 0 && text.startsWith('-----BEGIN ')) return 0;
  const i = text.indexOf('\n-----BEGIN ', Math.max(0, from - 1));
  return i < 0 ? -1 : i + 1;
}

/** The first PEM block's bytes, as Go's pem.Decode finds it (a block without its END line, or whose body is not base64, is skipped; at most MAX_PEM_TRIES blocks). */
export function firstPemBlock(text: string): Buffer | undefined {
  let from = 0;
  for (let tries = 0; tries < MAX_PEM_TRIES; tries++) {
    const at = nextBegin(text, from);
    if (at < 0) return undefined;
    const eol = text.indexOf('\n', at);
    if (eol < 0) return undefined;
    from = eol + 1;
    const head = text.slice(at, eol).trimEnd();
    if (!head.endsWith('-----') || head.length < '-----BEGIN -----'.length) continue;
    const end = text.indexOf(`\n-----END ${head.slice('-----BEGIN '.length, -5)}-----`, eol);
    if (end < 0) continue;
    // RFC 1421 headers ("Proc-Type: …") end at the first empty line.
    let lines = text.slice(eol + 1, end).replace(/\r/g, '').split('\n');
    if (lines[0]?.includes(':')) lines = lines.slice(lines.indexOf('') + 1 || lines.length);
    const b64 = lines.join('').replace(/[ \t]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) continue;
    return Buffer.from(b64, 'base64');
  }
  return undefined;
}

function dataOf(secret: V1Secret, key: string): Buffer | undefined {
  const v = secret.data?.[key];
  if (!v) return undefined;
  const b = Buffer.from(v, 'base64');
  return b.length > 0 ? b : undefined;
}

/** The validity window of the certificate a Secret holds for a Gateway, or null (no cert and key, or no parsable certificate). */
export function secretCertificate(secret: V1Secret): SecretCertificate {
  const generic = dataOf(secret, 'cert') && dataOf(secret, 'key') ? dataOf(secret, 'cert') : undefined;
  const cert = generic ?? (dataOf(secret, 'tls.crt') && dataOf(secret, 'tls.key') ? dataOf(secret, 'tls.crt') : undefined);
  if (!cert) return null;
  const der = firstPemBlock(cert.toString('latin1'));
  if (!der) return null;
  try {
    const c = new X509Certificate(der);
    const notBefore = Date.parse(c.validFrom);
    const notAfter = Date.parse(c.validTo);
    return Number.isNaN(notBefore) || Number.isNaN(notAfter) ? null : { notBefore, notAfter };
  } catch {
    return null;
  }
}

/** `namespace/name` → each Secret's certificate window. */
export function secretCertificates(secrets: readonly V1Secret[]): Map<string, SecretCertificate> {
  const out = new Map<string, SecretCertificate>();
  for (const s of secrets) {
    const ns = s.metadata?.namespace;
    const name = s.metadata?.name;
    if (ns && name) out.set(`${ns}/${name}`, secretCertificate(s));
  }
  return out;
}

/** Istio's isValidSecret at time `at`: a certificate, not expired and already valid. */
export function validAt(cert: SecretCertificate, at: number): boolean {
  return cert !== null && at >= cert.notBefore && at <= cert.notAfter;
}
