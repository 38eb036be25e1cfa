import test from 'ava';
import { NodeError, proxyFromNode, structToJson, looksLikeGrpcListenerName } from '../../../src/xds/node.js';

const struct = (o: Record<string, unknown>): unknown => ({
  fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? { string_value: v } : { struct_value: struct(v as Record<string, unknown>) }])),
});

test('Istio sidecar node id and metadata', (t) => {
  const p = proxyFromNode({
    id: 'sidecar~10.0.0.7~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local',
    metadata: struct({ LABELS: { app: 'reviews', version: 'v1' }, SERVICE_ACCOUNT: 'bookinfo-reviews' }),
    user_agent_name: 'envoy',
    user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 } },
  });
  t.deepEqual(p, { id: 'sidecar~10.0.0.7~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local', kind: 'sidecar', namespace: 'bookinfo', labels: { app: 'reviews', version: 'v1' }, ips: ['10.0.0.7'], serviceAccount: 'bookinfo-reviews', userAgent: 'envoy 1.31.2' });
});

test('router id → gateway kind; NAMESPACE and INSTANCE_IPS metadata win', (t) => {
  const p = proxyFromNode({ id: 'router~10.0.0.9~gw.istio-system~istio-system.svc.cluster.local', metadata: struct({ NAMESPACE: 'edge', INSTANCE_IPS: '10.0.0.9, 10.0.0.10' }) });
  t.is(p.kind, 'router');
  t.is(p.namespace, 'edge');
  t.deepEqual(p.ips, ['10.0.0.9', '10.0.0.10']);
});

test('GENERATOR grpc → proxyless grpc even with a sidecar id', (t) => {
  const p = proxyFromNode({ id: 'sidecar~127.0.0.1~client.bookinfo~bookinfo.svc.cluster.local', metadata: struct({ GENERATOR: 'grpc' }), user_agent_name: 'grpc-node-js', user_agent_version: '1.14.1' });
  t.is(p.kind, 'grpc');
  t.is(p.userAgent, 'grpc-node-js 1.14.1');
});

test('non-Istio id: grpc user agent → grpc, namespace default; plain metadata accepted', (t) => {
  t.like(proxyFromNode({ id: 'client-1', user_agent_name: 'gRPC Go' }), { kind: 'grpc', namespace: 'default' });
  t.like(proxyFromNode({ id: 'e1', metadata: { NAMESPACE: 'shop' } }), { kind: 'sidecar', namespace: 'shop' });
});

test('bad nodes are refused with a clear error', (t) => {
  t.throws(() => proxyFromNode({}), { instanceOf: NodeError, message: /no node id/ });
  t.throws(() => proxyFromNode(undefined), { instanceOf: NodeError });
  t.throws(() => proxyFromNode({ id: 'x', metadata: { NAMESPACE: 'Bad_NS' } }), { instanceOf: NodeError, message: /namespace "Bad_NS"/ });
});

test('structToJson handles nested values and lists', (t) => {
  t.deepEqual(structToJson({ fields: { a: { number_value: 1 }, b: { bool_value: true }, c: { list_value: { values: [{ string_value: 'x' }] } }, d: { null_value: 'NULL_VALUE' } } }), { a: 1, b: true, c: ['x'], d: null });
});

test('grpc listener names', (t) => {
  t.true(looksLikeGrpcListenerName('reviews.bookinfo.svc.cluster.local:9080'));
  t.true(looksLikeGrpcListenerName('xds.istio.io/grpc/lds/inbound/127.0.0.1:8080'));
  t.false(looksLikeGrpcListenerName('0.0.0.0_15001'));
  t.false(looksLikeGrpcListenerName('virtualOutbound'));
});
