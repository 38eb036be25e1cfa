// Gateway credential Secrets as Istio's gateway SecretAnalyzer judges them
// (isValidSecret: ExtractCertInfo + ValidateCertificate), table-driven; and
// the merged index answering credentialSecret() only when Secrets were read.
import test from 'ava';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { MergedServiceIndex } from '../../../src/registry/kubernetes/merged.js';
import { KubernetesRegistry } from '../../../src/registry/kubernetes/index.js';
import { firstPemBlock, secretCertificate, secretCertificates, validAt } from '../../../src/registry/kubernetes/secrets.js';
import { makeConfigSet } from '../../../src/config/load.js';
import { AT, certificate, secret } from './_certs.js';

const good = certificate(-1, 365);
const expired = certificate(-30, -1);
const notYet = certificate(1, 30);

const cases: { name: string; data: Record<string, string>; type?: string; valid: boolean }[] = [
  { name: 'tls.crt and tls.key, valid now', data: { 'tls.crt': good.crt, 'tls.key': good.key }, valid: true },
  { name: "Istio's generic keys cert and key, in an Opaque Secret", data: { cert: good.crt, key: good.key }, type: 'Opaque', valid: true },
  { name: 'cert/key win over tls.crt/tls.key', data: { cert: expired.crt, key: expired.key, 'tls.crt': good.crt, 'tls.key': good.key }, valid: false },
  { name: 'cert without key: tls.crt/tls.key are used', data: { cert: expired.crt, 'tls.crt': good.crt, 'tls.key': good.key }, valid: true },
  { name: 'the key is not checked against the certificate (as Istio)', data: { 'tls.crt': good.crt, 'tls.key': expired.key }, valid: true },
  { name: 'text before the PEM block, CRLF line ends', data: { 'tls.crt': `subject=CN = gateway\r\n${good.crt.replace(/\n/g, '\r\n')}`, 'tls.key': good.key }, valid: true },
  { name: 'expired', data: { 'tls.crt': expired.crt, 'tls.key': expired.key }, valid: false },
  { name: 'not yet valid', data: { 'tls.crt': notYet.crt, 'tls.key': notYet.key }, valid: false },
  { name: 'tls.crt without tls.key', data: { 'tls.crt': good.crt }, valid: false },
  { name: 'tls.key empty', data: { 'tls.crt': good.crt, 'tls.key': '' }, valid: false },
  { name: 'tls.cert (misspelt) and tls.key', data: { 'tls.cert': good.crt, 'tls.key': good.key }, valid: false },
  { name: 'cert/key that are not PEM', data: { cert: 'hush hush hush\n', key: 'secret secret\n' }, type: 'Opaque', valid: false },
  { name: 'the first PEM block is the key, not the certificate', data: { 'tls.crt': good.key + good.crt, 'tls.key': good.key }, valid: false },
  { name: 'a PEM block that is not X.509', data: { 'tls.crt': '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n', 'tls.key': good.key }, valid: false },
  { name: 'no data at all', data: {}, valid: false },
];

for (const c of cases) {
  test(`secretCertificate: ${c.name} → ${c.valid ? 'valid' : 'invalid'}`, (t) => {
    t.is(validAt(secretCertificate(secret('istio-system/cred', c.data, c.type)), AT), c.valid);
  });
}

test('the window is the certificate\'s, to the second; judged inclusive at both ends', (t) => {
  const w = secretCertificate(secret('ns/a', { 'tls.crt': good.crt, 'tls.key': good.key }));
  t.deepEqual(w, { notBefore: AT - 86_400_000, notAfter: AT + 365 * 86_400_000 });
  t.true(validAt(w, w!.notAfter));
  t.false(validAt(w, w!.notAfter + 1000));
  t.false(validAt(w, w!.notBefore - 1000));
});

test('firstPemBlock skips a block whose body is not base64 or runs into the next block, as Go\'s pem.Decode, up to 16 blocks', (t) => {
  const der = firstPemBlock(`-----BEGIN X-----\n!!!\n-----END X-----\n${good.crt}`);
  t.truthy(der);
  t.is(der!.toString('base64'), good.crt.split('\n').slice(1, -2).join(''));
  t.is(firstPemBlock('no pem here'), undefined);
  t.truthy(firstPemBlock(`-----BEGIN CERTIFICATE-----\nno end line\n${good.crt}`), 'a BEGIN line whose END belongs to a later block is skipped');
  t.is(firstPemBlock(`${'-----BEGIN X-----\n!!!\n-----END X-----\n'.repeat(16)}${good.crt}`), undefined, 'bounded: 16 broken blocks, then it gives up');
});

test('the merged index answers credentialSecret only when Secrets were read', (t) => {
  const config = makeConfigSet([]);
  const none = new MergedServiceIndex(config, buildServiceIndex(config), []);
  t.is(none.credentialSecret, undefined);
  const certificates = secretCertificates([secret('istio-system/ok', { 'tls.crt': good.crt, 'tls.key': good.key }), secret('istio-system/old', { 'tls.crt': expired.crt, 'tls.key': expired.key })]);
  const index = new MergedServiceIndex(config, buildServiceIndex(config), [], { at: AT, certificates });
  t.deepEqual(index.credentialSecret!('istio-system', 'ok'), { valid: true });
  t.deepEqual(index.credentialSecret!('istio-system', 'old'), { valid: false });
  t.is(index.credentialSecret!('shop', 'ok'), undefined);
  t.is(index.credentialSecret!('istio-system', 'missing'), undefined);
});

test('KubernetesRegistry: no credentialSecret until the Secrets are listed, then judged when the index is built; a new list makes a new index', (t) => {
  // The registry judges at the time it builds the index: certificates around now.
  const [current, lapsed] = [certificate(-1, 30, Date.now()), certificate(-30, -1, Date.now())];
  const kube = new KubernetesRegistry({ clusters: [], clusterDomain: 'cluster.local' });
  const config = makeConfigSet([]);
  const configIndex = buildServiceIndex(config);
  const before = kube.index(config, configIndex);
  t.is(before.credentialSecret, undefined, 'Secrets not listed yet: nothing to report about them');
  kube.setCredentialSecrets([secret('istio-system/ok', { 'tls.crt': current.crt, 'tls.key': current.key }), secret('istio-system/old', { 'tls.crt': lapsed.crt, 'tls.key': lapsed.key })]);
  const after = kube.index(config, configIndex);
  t.not(after, before);
  t.deepEqual(after.credentialSecret!('istio-system', 'ok'), { valid: true });
  t.deepEqual(after.credentialSecret!('istio-system', 'old'), { valid: false });
  t.is(kube.index(config, configIndex), after, 'same inputs, same index');
  kube.setCredentialSecrets([]);
  t.is(kube.index(config, configIndex).credentialSecret!('istio-system', 'ok'), undefined, 'a deleted Secret is gone');
});
