// SDS over a real Unix socket, and the bootstrap files checked by the
// consumers' own validators where we have them (grpc-js-xds).
import test from 'ava';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SdsServer, sdsServiceDefinition, SDS_IDENTITY, SDS_ROOT, type SecretMaterial } from '../../../src/agent/sds.js';
import { grpcBootstrap, envoyBootstrap, nodeId, SERVER_LISTENER_TEMPLATE } from '../../../src/agent/bootstrap.js';
import { decodeResource, checkResource } from '../../../src/xds/proto.js';
import { TYPE_URL } from '../../../src/api/types.js';
import { tempDir } from '../ca/_helpers.js';

const require_ = createRequire(import.meta.url);

type Msg = Record<string, unknown>;
const SdsClient = grpc.makeGenericClientConstructor(sdsServiceDefinition(), 'SecretDiscoveryService');

function material(n: number): SecretMaterial {
  return { certChainPem: `CERT-${n}\n`, keyPem: `KEY-${n}\n`, rootsPem: `ROOTS-${n}\n` };
}

function secretsOf(res: Msg): Map<string, Msg> {
  const out = new Map<string, Msg>();
  for (const any of res.resources as { type_url: string; value: Buffer }[]) {
    const s = decodeResource(any.type_url, any.value);
    out.set(s.name as string, s);
  }
  return out;
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

test.serial('StreamSecrets: default and ROOTCA on subscribe, pushed again on renewal, ACK does not resend, NACK is logged not fatal', async (t) => {
  const { dir, cleanup } = tempDir('meshcd-sds-');
  const socket = join(dir, 'sds.sock');
  const sds = new SdsServer(socket);
  await sds.start();
  sds.update(material(1));
  const client = new SdsClient(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { StreamSecrets(): grpc.ClientDuplexStream<Msg, Msg> };
  t.teardown(async () => {
    client.close();
    await sds.close();
    cleanup();
  });
  const call = client.StreamSecrets();
  const received: Msg[] = [];
  let wake: (() => void) | undefined;
  call.on('data', (m: Msg) => {
    received.push(m);
    wake?.();
  });
  call.on('error', () => undefined);
  const next = (n: number) => new Promise<void>((r) => {
    if (received.length >= n) return r();
    wake = () => received.length >= n && r();
  });
  call.write({ node: { id: 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local' }, resource_names: [SDS_IDENTITY, SDS_ROOT], type_url: TYPE_URL.secret });
  await next(1);
  const first = received[0]!;
  t.is(first.type_url, TYPE_URL.secret);
  const s1 = secretsOf(first);
  t.deepEqual([...s1.keys()].sort(), [SDS_ROOT, SDS_IDENTITY].sort());
  t.like(s1.get(SDS_IDENTITY), { tls_certificate: { certificate_chain: { inline_bytes: b64('CERT-1\n') }, private_key: { inline_bytes: b64('KEY-1\n') } } });
  t.like(s1.get(SDS_ROOT), { validation_context: { trusted_ca: { inline_bytes: b64('ROOTS-1\n') } } });
  for (const s of s1.values()) t.deepEqual(checkResource(TYPE_URL.secret, s), [], 'passes Envoy validate rules');

  // ACK: nothing new is sent; NACK: logged, the stream stays up.
  call.write({ version_info: first.version_info, response_nonce: first.nonce, resource_names: [SDS_IDENTITY, SDS_ROOT], type_url: TYPE_URL.secret });
  call.write({ version_info: first.version_info, response_nonce: first.nonce, resource_names: [SDS_IDENTITY, SDS_ROOT], type_url: TYPE_URL.secret, error_detail: { code: 3, message: 'bad cert' } });
  await new Promise((r) => setTimeout(r, 200));
  t.is(received.length, 1);

  sds.update(material(2));
  await next(2);
  const s2 = secretsOf(received[1]!);
  t.like(s2.get(SDS_IDENTITY), { tls_certificate: { certificate_chain: { inline_bytes: b64('CERT-2\n') } } });
  t.not(received[1]!.version_info, first.version_info);
  call.end();
});

test.serial('DeltaSecrets: subscribe one secret, get only it; updates push only what changed', async (t) => {
  const { dir, cleanup } = tempDir('meshcd-sds-');
  const socket = join(dir, 'sds.sock');
  const sds = new SdsServer(socket);
  await sds.start();
  sds.update(material(1));
  const client = new SdsClient(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { DeltaSecrets(): grpc.ClientDuplexStream<Msg, Msg> };
  t.teardown(async () => {
    client.close();
    await sds.close();
    cleanup();
  });
  const call = client.DeltaSecrets();
  const got: Msg[] = [];
  let wake: (() => void) | undefined;
  call.on('data', (m: Msg) => {
    got.push(m);
    wake?.();
  });
  call.on('error', () => undefined);
  const next = (n: number) => new Promise<void>((r) => {
    if (got.length >= n) return r();
    wake = () => got.length >= n && r();
  });
  call.write({ type_url: TYPE_URL.secret, resource_names_subscribe: [SDS_ROOT] });
  await next(1);
  const r1 = got[0]!.resources as { name: string; resource: { type_url: string; value: Buffer } }[];
  t.deepEqual(r1.map((r) => r.name), [SDS_ROOT]);
  // Same roots, new identity: a ROOTCA-only subscriber hears nothing.
  sds.update({ ...material(2), rootsPem: 'ROOTS-1\n' });
  await new Promise((r) => setTimeout(r, 150));
  t.is(got.length, 1);
  sds.update(material(3));
  await next(2);
  const r2 = got[1]!.resources as { name: string; resource: { type_url: string; value: Buffer } }[];
  t.deepEqual(r2.map((r) => r.name), [SDS_ROOT]);
  t.like(decodeResource(r2[0]!.resource.type_url, r2[0]!.resource.value), { validation_context: { trusted_ca: { inline_bytes: b64('ROOTS-3\n') } } });
  call.end();
});

test('gRPC bootstrap: accepted by grpc-js-xds, Istio node id and metadata, file watcher provider, server listener template', (t) => {
  const b = grpcBootstrap({ kind: 'grpc', xdsAddress: '127.0.0.1:15010', namespace: 'shop', serviceAccount: 'cart', podName: 'cart-1', ip: '10.1.2.3', labels: { app: 'cart', version: 'v1' }, certDir: '/var/run/meshcd', refreshIntervalSeconds: 5 });
  const { validateBootstrapConfig } = require_('@grpc/grpc-js-xds/build/src/xds-bootstrap.js') as { validateBootstrapConfig(o: unknown): Record<string, unknown> };
  const parsed = validateBootstrapConfig(b) as { node: { id: string }; certificateProviders?: unknown; serverListenerResourceNameTemplate?: string };
  t.is(parsed.node.id, 'sidecar~10.1.2.3~cart-1.shop~shop.svc.cluster.local');
  t.like(b, {
    xds_servers: [{ server_uri: '127.0.0.1:15010', server_features: ['xds_v3'] }],
    node: { metadata: { NAMESPACE: 'shop', SERVICE_ACCOUNT: 'cart', GENERATOR: 'grpc', INSTANCE_IPS: '10.1.2.3', LABELS: { app: 'cart', version: 'v1' } } },
    certificate_providers: { default: { plugin_name: 'file_watcher', config: { certificate_file: '/var/run/meshcd/cert-chain.pem', private_key_file: '/var/run/meshcd/key.pem', ca_certificate_file: '/var/run/meshcd/root-cert.pem', refresh_interval: '5s' } } },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
  });
  t.is(nodeId({ kind: 'sidecar', ip: '10.0.0.9', podName: 'p', namespace: 'n' }), 'sidecar~10.0.0.9~p.n~n.svc.cluster.local');
});

test('Envoy bootstrap: ADS over xds-grpc, SDS cluster on the Unix socket, node metadata without GENERATOR', (t) => {
  const b = envoyBootstrap({ kind: 'sidecar', xdsAddress: 'meshcd.meshcd-system.svc:15010', namespace: 'shop', serviceAccount: 'cart', podName: 'cart-1', ip: '10.1.2.3', labels: { app: 'cart' }, certDir: '/x', sdsSocket: '/var/run/meshcd/sds.sock' }) as {
    node: { metadata: Record<string, unknown>; cluster: string };
    static_resources: { clusters: Record<string, unknown>[] };
    dynamic_resources: Record<string, unknown>;
  };
  t.false('GENERATOR' in b.node.metadata);
  t.is(b.node.cluster, 'cart.shop');
  const [xds, sds] = b.static_resources.clusters;
  t.like(xds, { name: 'xds-grpc', type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'meshcd.meshcd-system.svc', port_value: 15010 } } } }] }] } });
  t.like(sds, { name: 'sds-grpc', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: '/var/run/meshcd/sds.sock' } } } }] }] } });
  t.like(b.dynamic_resources, { ads_config: { api_type: 'GRPC', transport_api_version: 'V3' } });
  // The static clusters are real Envoy Cluster messages (our protos check them as Envoy would).
  for (const c of b.static_resources.clusters) t.deepEqual(checkResource(TYPE_URL.cluster, { ...c, connect_timeout: { seconds: 1, nanos: 0 } }), []);
  t.throws(() => envoyBootstrap({ kind: 'sidecar', xdsAddress: 'x:1', namespace: 'a', serviceAccount: 'b', podName: 'p', ip: '1.1.1.1', labels: {}, certDir: '/x' }), { message: /SDS socket/ });
});
