// Gateway TLS without Kubernetes: `meshcd serve --credentials-dir` serves a
// Gateway's credentialName over SDS — on the TLS port, to the gateways of
// that namespace that use it and prove that identity, never to sidecars and
// never on the plaintext port — and keeps private keys out of config dumps.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { AdsTestClient } from '../helpers/xds-client.js';
import { eventually, startServe } from '../helpers/xds-e2e.js';

function node(id: string, namespace: string, labels: Record<string, string>): Record<string, unknown> {
  const struct = (o: Record<string, string>) => ({ fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { string_value: v }])) });
  return { id, metadata: { fields: { NAMESPACE: { string_value: namespace }, LABELS: { struct_value: struct(labels) } } }, user_agent_name: 'envoy' };
}

test('gateway credentials: served by SDS to the gateway that uses them only; bad files named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-creds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cred = join(dir, 'credentials', 'bookinfo', 'bookinfo-credential');
  await mkdir(cred, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=bookinfo.example.com', '-keyout', join(cred, 'tls.key'), '-out', join(cred, 'tls.crt')], { stdio: 'ignore' });
  const broken = join(dir, 'credentials', 'bookinfo', 'broken');
  await mkdir(broken, { recursive: true });
  await writeFile(join(broken, 'tls.crt'), 'not a certificate');
  await writeFile(join(broken, 'tls.key'), 'not a key');

  const token = 'ingress-bootstrap-0123456789';
  await writeFile(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${token}\n    namespace: bookinfo\n    serviceAccount: ingress\n`, { mode: 0o600 });
  const serve = await startServe('examples/mesh', ['--state-dir', join(dir, 'state'), '--ca-token-file', join(dir, 'tokens.yaml'), '--credentials-dir', join(dir, 'credentials')]);
  t.teardown(() => serve.stop());
  await eventually(async () => {
    if (!serve.stderr().includes('broken/tls.crt: not a PEM certificate')) throw new Error('not reported yet');
  });

  const gatewayId = 'router~127.0.0.1~ingress-0.bookinfo~bookinfo.svc.cluster.local';
  // The same claim on the plaintext port: config, the trust bundle, never the key.
  const plain = new AdsTestClient(serve.xds, node(gatewayId, 'bookinfo', { istio: 'ingressgateway' }));
  t.teardown(() => plain.close());
  plain.request(TYPE_URL.secret, ['bookinfo-credential', 'ROOTCA']);
  const psds = await plain.next(TYPE_URL.secret);
  t.deepEqual(psds.names, ['ROOTCA'], 'no gateway key on the plaintext port');
  t.notRegex(JSON.stringify(psds.values), /PRIVATE KEY/);
  plain.close();

  const bundle = await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text();
  const withToken = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(Buffer.from(bundle)), grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    cb(null, md);
  }));
  const gw = new AdsTestClient(serve.tls!, node(gatewayId, 'bookinfo', { istio: 'ingressgateway' }), 'sotw', withToken);
  t.teardown(() => gw.close());
  gw.request(TYPE_URL.listener, []);
  const lds = await gw.next(TYPE_URL.listener);
  gw.request(TYPE_URL.listener, [], lds);
  t.regex(JSON.stringify(lds.values), /"name":"bookinfo-credential"/, 'the HTTPS listener asks SDS for the credential');
  gw.request(TYPE_URL.secret, ['bookinfo-credential']);
  const sds = await gw.next(TYPE_URL.secret);
  gw.request(TYPE_URL.secret, ['bookinfo-credential'], sds);
  const secret = sds.values.find((v) => (v as { name: string }).name === 'bookinfo-credential') as { tls_certificate: { private_key: { inline_string: string } } } | undefined;
  t.truthy(secret, 'the gateway gets its credential');
  t.regex(secret!.tls_certificate.private_key.inline_string, /PRIVATE KEY/);

  // A sidecar in the same namespace asking for the same name gets nothing.
  const sc = new AdsTestClient(serve.xds, node('sidecar~127.0.0.9~reviews-0.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', { app: 'reviews' }));
  t.teardown(() => sc.close());
  sc.request(TYPE_URL.secret, ['bookinfo-credential']);
  try {
    const r = await sc.next(TYPE_URL.secret, 1500);
    t.false(r.names.includes('bookinfo-credential'), 'no gateway key for a sidecar');
  } catch {
    t.pass('no response: no such secret for a sidecar');
  }

  const classes = (await (await fetch(`${serve.admin}/debug/translation`)).json()) as { classes: { key: string; proxies: number; diagnostics: unknown[] }[] };
  t.true(classes.classes.some((c) => c.proxies >= 1 && c.key.includes('router')), JSON.stringify(classes.classes.map((c) => c.key)));

  const dump = await (await fetch(`${serve.admin}/debug/config_dump?proxy=${encodeURIComponent(gatewayId)}`)).text();
  t.regex(dump, /bookinfo-credential/);
  t.notRegex(dump, /BEGIN [A-Z ]*PRIVATE KEY/, 'config dumps never show private keys');
});
