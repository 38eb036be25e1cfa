// `meshcd serve` embeds the CA as istiod does: port 15012 serves xDS and
// Istio's CreateCertificate over TLS with a server certificate from the same
// CA. A workload with a bootstrap token gets its own SPIFFE identity (not the
// one its CSR asks for), renews with that certificate, and reads the trust
// bundle as SDS `ROOTCA` over the same TLS connection.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { CaCallError, requestCertificate } from '../../src/ca/index.js';
import { buildCsr } from '../../src/ca/x509.js';
import { AdsTestClient, grpcNode } from '../helpers/xds-client.js';
import { startServe } from '../helpers/xds-e2e.js';

const TOKEN = 'bootstrap-7d1e2f0a9c';

test('serve: CA and xDS share the TLS port; identity from the token; ROOTCA over SDS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-serve-ca-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${TOKEN}\n    namespace: bookinfo\n    serviceAccount: reviews\n`, { mode: 0o600 });
  const serve = await startServe('examples/mesh', ['--state-dir', join(dir, 'state'), '--ca-token-file', join(dir, 'tokens.yaml')]);
  t.teardown(() => serve.stop());
  t.truthy(serve.tls, serve.stdout());
  const bundle = await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text();
  t.regex(bundle, /BEGIN CERTIFICATE/);

  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const csrPem = buildCsr(key, { uris: ['spiffe://cluster.local/ns/istio-system/sa/admin'] });
  await t.throwsAsync(requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, token: 'wrong' }), { instanceOf: CaCallError, message: /UNAUTHENTICATED|token/i });
  const issued = await requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, token: TOKEN, ttlSeconds: 3600 });
  const leaf = new X509Certificate(issued.certChainPem[0]!);
  t.is(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews', 'the caller’s identity, not the CSR’s');
  t.true(leaf.verify(new X509Certificate(issued.certChainPem.at(-1)!).publicKey));

  // Renewal by the certificate just issued: no token needed.
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const renewed = await requestCertificate({ address: serve.tls!, caRootsPem: bundle, csrPem, clientCert: { keyPem, certChainPem: issued.certChainPem.join('') }, ttlSeconds: 3600 });
  t.is(new X509Certificate(renewed.certChainPem[0]!).subjectAltName, 'URI:spiffe://cluster.local/ns/bookinfo/sa/reviews');

  // xDS over the same TLS port, with the workload's certificate: ROOTCA is the CA's bundle.
  const creds = grpc.credentials.createSsl(Buffer.from(bundle), Buffer.from(keyPem), Buffer.from(issued.certChainPem.join('')));
  const client = new AdsTestClient(serve.tls!, grpcNode('sidecar~127.0.0.1~reviews-0.bookinfo~bookinfo.svc.cluster.local', 'bookinfo'), 'sotw', creds);
  t.teardown(() => client.close());
  client.request(TYPE_URL.secret, ['ROOTCA']);
  const sds = await client.next(TYPE_URL.secret, 10000);
  const root = sds.values[0] as { name: string; validation_context: { trusted_ca: { inline_string: string } } };
  t.is(root.name, 'ROOTCA');
  t.is(root.validation_context.trusted_ca.inline_string.replace(/\s+/g, ''), bundle.replace(/\s+/g, ''));
  t.false(serve.stdout().includes(TOKEN) || serve.stderr().includes(TOKEN), 'the token never appears in output');
});
