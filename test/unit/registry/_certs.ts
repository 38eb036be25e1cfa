// Self-signed certificates with a chosen validity window, and Kubernetes
// Secrets holding them, for the gateway credential tests (registry and
// analyzers).
import { generateKeyPairSync } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { buildCertificate, buildName, derToPem, OID, randomSerial, spkiOf } from '../../../src/ca/x509.js';

const DAY = 86_400_000;
/** The time the tests judge certificates at. */
export const AT = Date.parse('2026-06-01T00:00:00Z');

/** A certificate PEM valid from base + fromDays to base + toDays (base: AT), and its key. */
export function certificate(fromDays: number, toDays: number, base = AT): { crt: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = buildName([{ oid: OID.commonName, value: 'gateway.example.com' }]);
  const der = buildCertificate({ serial: randomSerial(), notBefore: new Date(base + fromDays * DAY), notAfter: new Date(base + toDays * DAY), subject: name, issuer: name, spkiDer: spkiOf(publicKey), isCa: false, keyUsage: ['digitalSignature'], sans: { dns: ['gateway.example.com'] } }, privateKey);
  return { crt: derToPem(der, 'CERTIFICATE'), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A Secret in `namespace/name` with these data keys (values as text; base64-encoded here, as the API returns them). */
export function secret(ref: string, data: Record<string, string>, type = 'kubernetes.io/tls'): V1Secret {
  const [namespace, name] = ref.split('/');
  return { metadata: { namespace, name }, type, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
}
