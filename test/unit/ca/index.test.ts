// The embedded CA as the control plane wires it: handlers on a server it owns,
// bound with the CA's TLS credentials; trust bundle changes are fed out.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { openEmbeddedCa, requestCertificate } from '../../../src/ca/index.js';
import type { TrustBundle } from '../../../src/api/types.js';
import { buildCsr, uriSans } from '../../../src/ca/x509.js';
import { ecKey, tempDir } from './_helpers.js';

test('openEmbeddedCa: service on a caller-owned gRPC server with the CA credentials; onTrustBundle follows a rotation', async (t) => {
  const { dir, cleanup } = tempDir();
  writeFileSync(join(dir, 'tokens.yaml'), 'tokens:\n  - token: embedded-token-0123456789\n    namespace: ns\n    serviceAccount: sa\n');
  const emb = await openEmbeddedCa({ stateDir: dir, tokenFile: join(dir, 'tokens.yaml') });
  const server = new grpc.Server();
  server.addService(emb.definition, emb.implementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', emb.credentials, (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(async () => {
    server.forceShutdown();
    await emb.close();
    cleanup();
  });
  const bundles: TrustBundle[] = [];
  emb.onTrustBundle((b) => bundles.push(b));
  t.is(bundles.length, 1);
  const k = ecKey();
  const res = await requestCertificate({ address: `127.0.0.1:${port}`, caRootsPem: emb.ca.trustBundle().rootsPem.join(''), csrPem: buildCsr(k.privateKey, {}), token: 'embedded-token-0123456789' });
  t.deepEqual(uriSans(new X509Certificate(res.certChainPem[0]!)), ['spiffe://cluster.local/ns/ns/sa/sa']);
  await emb.ca.rotateRoot();
  // The bundle reaches listeners on a later turn of the event loop; a loaded machine can take a while.
  for (const end = Date.now() + 5000; Date.now() < end && bundles.at(-1)!.rootsPem.length !== 2; ) await new Promise((r) => setTimeout(r, 20));
  t.is(bundles.at(-1)!.rootsPem.length, 2, 'distributing phase: both roots fed to SDS');
  await t.throwsAsync(openEmbeddedCa({ stateDir: dir, tokenFile: join(dir, 'nope.yaml') }), { message: /nope\.yaml: token file not found/ });
});
