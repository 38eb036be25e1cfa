// Each client kind gets its own message limit: proxyless gRPC clients refuse
// messages over 4 MiB (gRPC's default), Envoy has none. A SotW response over
// a proxyless client's limit is not sent (and reported through the oversize
// callback, naming the limit); the same response goes to an Envoy sidecar,
// and delta splits it into messages under 4 MiB.

import test from 'ava';
import type { ProxyResources, TypeUrl, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { XdsServer, MAX_MESSAGE_BYTES } from '../../../../src/xds/server/index.js';
import { FakeWatcher } from '../../../helpers/xds-fake-watcher.js';
import { AdsTestClient, grpcNode } from '../../../helpers/xds-client.js';
import { res } from '../../../helpers/xds-resources.js';

const CDS = TYPE_URL.cluster;

/** About 5.5 MiB of STATIC clusters. */
function bigCds(): ProxyResources {
  const clusters = new Map<string, XdsResource>();
  for (let i = 0; i < 12_000; i++) {
    const name = `outbound|80||svc-${i}-${'x'.repeat(300)}.big.svc.cluster.local`;
    clusters.set(name, res(name, { name, type: 'STATIC', connect_timeout: { seconds: 1, nanos: 0 }, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } }] }] } }));
  }
  return new Map<TypeUrl, Map<string, XdsResource>>([[CDS, clusters]]);
}

function envoyNode(id: string): Record<string, unknown> {
  return { id, metadata: { fields: { NAMESPACE: { string_value: 'big' } } }, user_agent_name: 'envoy' };
}

test('over 4 MiB: not sent to a proxyless client (oversize, limit named), sent whole to Envoy, split for delta', async (t) => {
  const resources = bigCds();
  const watcher = new FakeWatcher(() => resources);
  const oversize: { kind: string; limit: number; bytes: number }[] = [];
  const server = new XdsServer({ watcher, callbacks: { oversize: (e) => oversize.push({ kind: e.proxy.kind, limit: e.limit, bytes: e.bytes }) } });
  watcher.publish('r1');
  const port = await server.listen(0);
  const clients: AdsTestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const big = { channel: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 } };
  const grpcClient = new AdsTestClient(`127.0.0.1:${port}`, grpcNode('sidecar~10.0.0.9~g.big~big.svc.cluster.local', 'big', { GENERATOR: 'grpc' }), 'sotw', undefined, big);
  const envoy = new AdsTestClient(`127.0.0.1:${port}`, envoyNode('sidecar~10.0.0.8~e.big~big.svc.cluster.local'), 'sotw', undefined, big);
  const envoyDelta = new AdsTestClient(`127.0.0.1:${port}`, envoyNode('sidecar~10.0.0.7~d.big~big.svc.cluster.local'), 'delta', undefined, big);
  clients.push(grpcClient, envoy, envoyDelta);
  envoy.request(CDS);
  const whole = await envoy.next(CDS, 30_000);
  t.is(whole.names.length, 12_000);
  envoyDelta.delta(CDS);
  let got = 0;
  let messages = 0;
  while (got < 12_000) {
    const r = await envoyDelta.next(CDS, 30_000);
    got += r.names.length;
    messages++;
    envoyDelta.delta(CDS, [], [], r);
  }
  t.true(messages >= 2, `delta split into ${messages} messages`);
  grpcClient.request(CDS);
  t.true(await grpcClient.quiet(1500, CDS), 'nothing sent to the proxyless client');
  t.deepEqual(oversize.map((o) => [o.kind, o.limit]), [['grpc', MAX_MESSAGE_BYTES]]);
  t.true(oversize[0]!.bytes > MAX_MESSAGE_BYTES);
});
