// In-cluster identity and writes against a real API server:
// - service-account tokens (TokenRequest, audience istio-ca) authenticate
//   CreateCertificate and xDS on the TLS port through TokenReview; a token
//   for another audience is refused;
// - the CA's key lives in a Secret (created once, shared: a second replica
//   issues under the same root), never in a ConfigMap, never in the output;
// - the trust bundle is published as ConfigMap istio-ca-root-cert in every
//   namespace, including one created later;
// - Gateway credentialName comes from kubernetes.io/tls Secrets, served by SDS
//   to the gateway of that namespace only; a broken Secret is named.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { CaCallError, requestCertificate } from '../../src/ca/index.js';
import { buildCsr } from '../../src/ca/x509.js';
import { startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { createNamespace } from '../helpers/kube-objects.js';
import { AdsTestClient } from '../helpers/xds-client.js';
import { eventually, startServe, type ServeProcess } from '../helpers/xds-e2e.js';

function node(id: string, namespace: string, labels: Record<string, string>): Record<string, unknown> {
  const struct = (o: Record<string, string>) => ({ fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { string_value: v }])) });
  return { id, metadata: { fields: { NAMESPACE: { string_value: namespace }, LABELS: { struct_value: struct(labels) } } }, user_agent_name: 'envoy' };
}

async function saToken(c: TestCluster, ns: string, sa: string, audience = 'istio-ca'): Promise<string> {
  const r = await c.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds: 3600 } });
  if (r.status !== 201) throw new Error(`TokenRequest ${ns}/${sa}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.status.token as string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('TokenReview identity for CSR and xDS, CA key in a Secret, root cert ConfigMaps, gateway credentials from TLS Secrets', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-id-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const ns of ['meshcd-system', 'bookinfo']) await createNamespace(cluster, ns);
  for (const sa of ['ingress', 'reviews']) t.is((await cluster.request('POST', '/api/v1/namespaces/bookinfo/serviceaccounts', { metadata: { name: sa } })).status, 201);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=bookinfo.example.com', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { stdio: 'ignore' });
  const [crt, key] = [await readFile(join(dir, 'tls.crt'), 'utf8'), await readFile(join(dir, 'tls.key'), 'utf8')];
  for (const [name, data] of [['bookinfo-credential', { 'tls.crt': b64(crt), 'tls.key': b64(key) }], ['broken', { 'tls.crt': b64('not a certificate'), 'tls.key': b64(key) }]] as const) {
    const r = await cluster.request('POST', '/api/v1/namespaces/bookinfo/secrets', { metadata: { name }, type: 'kubernetes.io/tls', data });
    t.is(r.status, 201, JSON.stringify(r.body));
  }

  const flags = ['--kubeconfig', cluster.kubeconfig, '--namespace', 'meshcd-system', '--token-review', '--ca-secret', 'meshcd-ca', '--publish-root-cert', '--gateway-secrets'];
  const serve = await startServe('examples/mesh', ['--state-dir', join(dir, 'state-1'), ...flags]);
  t.teardown(() => serve.stop());
  const bundle = await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text();

  // The CA key is in the Secret, and the CA serves that root.
  const secret = await cluster.request('GET', '/api/v1/namespaces/meshcd-system/secrets/meshcd-ca');
  t.is(secret.status, 200);
  const caKey = Buffer.from(secret.body.data['ca-key.pem'], 'base64').toString();
  t.regex(caKey, /PRIVATE KEY/);
  t.is(Buffer.from(secret.body.data['root-cert.pem'], 'base64').toString().trim(), bundle.trim());

  // The root certificate in every namespace, and in one made later.
  await createNamespace(cluster, 'late');
  for (const ns of ['default', 'bookinfo', 'meshcd-system', 'late']) {
    await eventually(async () => {
      const cm = await cluster.request('GET', `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`);
      if (cm.status !== 200) throw new Error(`${ns}: ${cm.status}`);
      t.is(cm.body.data['root-cert.pem'].trim(), bundle.trim(), ns);
    }, 20_000);
  }
  const allConfigMaps = await cluster.request('GET', '/api/v1/configmaps');
  t.notRegex(JSON.stringify(allConfigMaps.body), /PRIVATE KEY/, 'no key in any ConfigMap');

  // A service-account token for istio-ca: the certificate names that service account.
  const reviewsToken = await saToken(cluster, 'bookinfo', 'reviews');
  const wrongAudience = await saToken(cluster, 'bookinfo', 'reviews', 'some-other-audience');
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const csrPem = buildCsr(keyPair, { uris: ['spiffe://cluster.local/ns/istio-system/sa/admin'] });
  const issued = await requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, token: reviewsToken, ttlSeconds: 3600 });
  t.is(new X509Certificate(issued.certChainPem[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews');
  await t.throwsAsync(requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, token: wrongAudience }), { instanceOf: CaCallError, message: /UNAUTHENTICATED|audience|rejected/i });

  // The gateway, authenticated by its service-account token, gets its credential from the TLS Secret.
  await eventually(async () => {
    if (!/Secret bookinfo\/broken key tls\.crt: not a PEM certificate/.test(serve.stderr())) throw new Error('broken Secret not reported yet');
  }, 20_000);
  const ingressToken = await saToken(cluster, 'bookinfo', 'ingress');
  const withToken = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(Buffer.from(bundle)), grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${ingressToken}`);
    cb(null, md);
  }));
  const gw = new AdsTestClient(serve.tls!, node('router~10.244.0.50~ingress-0.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', { istio: 'ingressgateway' }), 'sotw', withToken);
  t.teardown(() => gw.close());
  await eventually(async () => {
    gw.request(TYPE_URL.secret, ['bookinfo-credential']);
    const sds = await gw.next(TYPE_URL.secret, 3000);
    gw.request(TYPE_URL.secret, ['bookinfo-credential'], sds);
    const s = sds.values.find((v) => (v as { name: string }).name === 'bookinfo-credential') as { tls_certificate: { certificate_chain: { inline_string: string } } } | undefined;
    if (!s) throw new Error(`no credential yet: ${JSON.stringify(sds.names)}`);
    t.is(s.tls_certificate.certificate_chain.inline_string.trim(), crt.trim());
  }, 20_000);

  // A second replica with the same Secret issues under the same root.
  const second: ServeProcess = await startServe('examples/mesh', ['--state-dir', join(dir, 'state-2'), ...flags]);
  t.teardown(() => second.stop());
  t.is((await (await fetch(`${second.admin}/ca/trust-bundle.pem`)).text()).trim(), bundle.trim());
  const issued2 = await requestCertificate({ address: second.tls!, caRootsPem: bundle, csrPem, token: reviewsToken, ttlSeconds: 3600 });
  t.true(new X509Certificate(issued2.certChainPem[0]!).verify(new X509Certificate(bundle).publicKey), 'issued under the shared root');

  const keyBody = caKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1]!;
  for (const s of [serve, second]) {
    const out = s.stdout() + s.stderr();
    for (const secretText of [reviewsToken, ingressToken, keyBody]) t.false(out.includes(secretText), 'no token or key in the output');
  }
});
