// Issue 9 §1 regressions, on a real XdsServer with the embedded CA: a node
// claiming a gateway's id gets no private key on the plaintext port, is
// refused on the TLS port without credentials or with another identity's
// certificate, and the CA API answers on the TLS port only; the matching
// identity gets its config and its credential.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { openEmbeddedCa, requestCertificate } from '../../../../src/ca/index.js';
import { buildCsr } from '../../../../src/ca/x509.js';
import { streamAuthenticator, XdsServer } from '../../../../src/xds/server/index.js';
import { SnapshotCache, translatingBuilder, type Translator } from '../../../../src/xds/cache/index.js';
import { credentialsFor, trustBundleSecret } from '../../../../src/xds/server/authorize.js';
import { AdsTestClient } from '../../../helpers/xds-client.js';
import { res } from '../../../helpers/xds-resources.js';
import { ecKey, tempDir } from '../../ca/_helpers.js';

const TOKEN = 'gateway-token-0123456789';
const GATEWAY = 'router~127.0.0.1~ingress-0.bookinfo~bookinfo.svc.cluster.local';
const CREDENTIAL = 'bookinfo-credential';
const TLS_CTX = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const ADS = { ads: {}, resource_api_version: 'V3' };

function gatewayResources(): ProxyResources {
  const listener = {
    name: 'gateway-443',
    address: { socket_address: { address: '0.0.0.0', port_value: 8443 } },
    filter_chains: [{ filters: [], transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TLS_CTX, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: CREDENTIAL, sds_config: ADS }] } } } }],
  };
  return new Map<TypeUrl, Map<string, XdsResource>>([[TYPE_URL.listener, new Map([['gateway-443', res('gateway-443', listener)]])]]);
}

function node(id: string, namespace: string, serviceAccount?: string): Record<string, unknown> {
  const fields: Record<string, unknown> = { NAMESPACE: { string_value: namespace }, LABELS: { struct_value: { fields: { istio: { string_value: 'ingressgateway' } } } } };
  if (serviceAccount) fields.SERVICE_ACCOUNT = { string_value: serviceAccount };
  return { id, metadata: { fields }, user_agent_name: 'envoy' };
}

async function setup(t: any, opts: { allowUnauthenticated?: boolean } = {}) {
  const { dir, cleanup } = tempDir('meshcd-xds-identity-');
  writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${TOKEN}\n    namespace: bookinfo\n    serviceAccount: ingress\n`);
  const ca = await openEmbeddedCa({ stateDir: dir, tokenFile: join(dir, 'tokens.yaml') });
  const translator: Translator<number> = {
    model: () => 1,
    key: (p: ProxyInfo) => `${p.kind}/${p.namespace}`,
    translate: (p) => ({ resources: p.kind === 'router' ? gatewayResources() : new Map() }),
  };
  const builder = translatingBuilder(translator, { authorizeCredentials: credentialsFor });
  const cache = new SnapshotCache(builder);
  const server = new XdsServer({ watcher: cache });
  const config = makeConfigSet([]);
  cache.update({ config, index: buildServiceIndex(config) }, 'r1');
  cache.flush();
  builder.setSecrets([trustBundleSecret(ca.ca.trustBundle())]);
  const key = ecKey();
  const secret = res(CREDENTIAL, { name: CREDENTIAL, tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: '-----BEGIN PRIVATE KEY-----\nsecret\n' } } });
  builder.setCredentials(new Map([['bookinfo', [secret]]]));
  const plain = await server.listen(0);
  const tls = await server.listenTls(0, '127.0.0.1', { credentials: ca.credentials, authenticate: streamAuthenticator(ca.auth), allowUnauthenticated: opts.allowUnauthenticated ?? false, services: [{ definition: ca.definition, implementation: ca.implementation }] });
  const clients: AdsTestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.close();
    cache.close();
    await ca.close();
    cleanup();
  });
  const roots = ca.ca.trustBundle().rootsPem.join('');
  /** A client certificate for ns/sa from the CA itself. */
  const certFor = (namespace: string, serviceAccount: string) => {
    const issued = ca.ca.issue({ csrPem: buildCsr(key.privateKey, {}), namespace, serviceAccount });
    return grpc.credentials.createSsl(Buffer.from(roots), Buffer.from(key.keyPem), Buffer.from(issued.responseChainPem.slice(0, -1).join('')));
  };
  const connect = (port: number, n: Record<string, unknown>, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()) => {
    const c = new AdsTestClient(`127.0.0.1:${port}`, n, 'sotw', creds);
    clients.push(c);
    return c;
  };
  return { server, ca, plain, tls, roots, key, certFor, connect };
}

/** Asks for the gateway's credential and the trust bundle; resolves the names served. */
async function secretsServed(c: AdsTestClient): Promise<{ names: string[]; text: string }> {
  c.request(TYPE_URL.secret, ['ROOTCA', CREDENTIAL]);
  const r = await c.next(TYPE_URL.secret);
  return { names: r.names.sort(), text: JSON.stringify(r.values) };
}

test('plaintext port: a client claiming the gateway gets config and ROOTCA, never its private key', async (t) => {
  const { plain, connect } = await setup(t);
  const c = connect(plain, node(GATEWAY, 'bookinfo'));
  c.request(TYPE_URL.listener, []);
  const lds = await c.next(TYPE_URL.listener);
  t.deepEqual(lds.names, ['gateway-443'], 'config is served on the plaintext port');
  const s = await secretsServed(c);
  t.deepEqual(s.names, ['ROOTCA']);
  t.notRegex(s.text, /PRIVATE KEY/);
});

test('TLS port without credentials is refused (UNAUTHENTICATED); with a bad token too', async (t) => {
  const { tls, roots, connect } = await setup(t);
  const c = connect(tls, node(GATEWAY, 'bookinfo'), grpc.credentials.createSsl(Buffer.from(roots)));
  c.request(TYPE_URL.secret, [CREDENTIAL]);
  const err = await t.throwsAsync(c.next(TYPE_URL.secret));
  t.is((err as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED, err?.message);
  const bad = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(Buffer.from(roots)), grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer not-the-token-at-all');
    cb(null, md);
  }));
  const b = connect(tls, node(GATEWAY, 'bookinfo'), bad);
  b.request(TYPE_URL.secret, [CREDENTIAL]);
  const err2 = await t.throwsAsync(b.next(TYPE_URL.secret));
  t.is((err2 as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED);
  t.notRegex(err2!.message, /not-the-token/, 'the token is never echoed');
});

test('TLS port: the client certificate of an unrelated service account is PERMISSION_DENIED', async (t) => {
  const { tls, certFor, connect } = await setup(t);
  // Another namespace entirely.
  const c = connect(tls, node(GATEWAY, 'bookinfo'), certFor('shop', 'frontend'));
  c.request(TYPE_URL.secret, [CREDENTIAL]);
  const err = await t.throwsAsync(c.next(TYPE_URL.secret));
  t.is((err as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  t.regex(err!.message, /claims namespace "bookinfo" but the caller is spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend/);
  // Same namespace, but the node says it runs as another service account.
  const d = connect(tls, node(GATEWAY, 'bookinfo', 'ingress'), certFor('bookinfo', 'reviews'));
  d.request(TYPE_URL.secret, [CREDENTIAL]);
  const err2 = await t.throwsAsync(d.next(TYPE_URL.secret));
  t.is((err2 as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED);
  t.regex(err2!.message, /service account "ingress"/);
});

test('TLS port: the matching identity gets its config and its credential (client certificate or token)', async (t) => {
  const { tls, roots, certFor, connect, server } = await setup(t);
  const c = connect(tls, node(GATEWAY, 'bookinfo', 'ingress'), certFor('bookinfo', 'ingress'));
  c.request(TYPE_URL.listener, []);
  t.deepEqual((await c.next(TYPE_URL.listener)).names, ['gateway-443']);
  const s = await secretsServed(c);
  t.deepEqual(s.names, ['ROOTCA', CREDENTIAL]);
  t.regex(s.text, /PRIVATE KEY/);
  const entry = server.syncz().find((e) => e.access === 'tls');
  t.is(entry?.identity, 'spiffe://cluster.local/ns/bookinfo/sa/ingress');

  const withToken = grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(Buffer.from(roots)), grpc.credentials.createFromMetadataGenerator((_p, cb) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    cb(null, md);
  }));
  const b = connect(tls, node(GATEWAY, 'bookinfo'), withToken);
  t.deepEqual((await secretsServed(b)).names, ['ROOTCA', CREDENTIAL]);
});

test('--xds-allow-unauthenticated: a TLS stream without credentials gets config only, no key', async (t) => {
  const { tls, roots, connect } = await setup(t, { allowUnauthenticated: true });
  const c = connect(tls, node(GATEWAY, 'bookinfo'), grpc.credentials.createSsl(Buffer.from(roots)));
  c.request(TYPE_URL.listener, []);
  t.deepEqual((await c.next(TYPE_URL.listener)).names, ['gateway-443']);
  const s = await secretsServed(c);
  t.deepEqual(s.names, ['ROOTCA']);
});

test('CreateCertificate answers on the TLS port only: UNIMPLEMENTED on the plaintext port', async (t) => {
  const { plain, tls, roots, key } = await setup(t);
  const csrPem = buildCsr(key.privateKey, {});
  const issued = await requestCertificate({ address: `127.0.0.1:${tls}`, caRootsPem: roots, csrPem, token: TOKEN });
  t.true(issued.certChainPem.length >= 1);
  // The plaintext port has no TLS: call it with the raw service definition over an insecure channel.
  const { certificateServiceDefinition } = await import('../../../../src/ca/index.js');
  const Client = grpc.makeGenericClientConstructor(certificateServiceDefinition(), 'IstioCertificateService');
  const client = new Client(`127.0.0.1:${plain}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { CreateCertificate: (req: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void };
  t.teardown(() => client.close());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${TOKEN}`);
  const err = await new Promise<grpc.ServiceError | null>((resolve) => client.CreateCertificate({ csr: csrPem, validity_duration: 3600 }, md, resolve));
  t.is(err?.code, grpc.status.UNIMPLEMENTED);
});
