import test from 'ava';
import { clusterName, clusterSni, grpcClientListenerNames, grpcServerListenerName, isGrpcListenerName, spiffeId } from '../../../../src/xds/names.js';

test('Istio names: cluster, SNI, SPIFFE id', (t) => {
  t.is(clusterName('outbound', 9080, 'v1', 'reviews.bookinfo.svc.cluster.local'), 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local');
  t.is(clusterName('inbound', 9080, undefined, ''), 'inbound|9080||');
  t.is(clusterSni(9080, undefined, 'reviews.bookinfo.svc.cluster.local'), 'outbound_.9080_._.reviews.bookinfo.svc.cluster.local');
  t.is(spiffeId('cluster.local', 'bookinfo', 'reviews'), 'spiffe://cluster.local/ns/bookinfo/sa/reviews');
});

const CASES: [host: string, clientNs: string, names: string[]][] = [
  ['reviews.bookinfo.svc.cluster.local', 'bookinfo', ['reviews.bookinfo.svc.cluster.local:9080', 'reviews.bookinfo:9080', 'reviews.bookinfo.svc:9080', 'reviews:9080']],
  ['reviews.bookinfo.svc.cluster.local', 'shop', ['reviews.bookinfo.svc.cluster.local:9080', 'reviews.bookinfo:9080', 'reviews.bookinfo.svc:9080']],
  ['api.example.com', 'bookinfo', ['api.example.com:9080']],
  ['a.b.c.svc.cluster.local', 'c', ['a.b.c.svc.cluster.local:9080']],
];
for (const [host, ns, names] of CASES) {
  test(`grpc client listener names: ${host} from ${ns}`, (t) => {
    t.deepEqual(grpcClientListenerNames(host, 9080, ns, 'svc.cluster.local'), names);
    for (const n of names) t.true(isGrpcListenerName(n));
  });
}

test('grpc server listener names bracket IPv6', (t) => {
  t.is(grpcServerListenerName('10.0.0.1', 8080), 'xds.istio.io/grpc/lds/inbound/10.0.0.1:8080');
  t.is(grpcServerListenerName('::1', 8080), 'xds.istio.io/grpc/lds/inbound/[::1]:8080');
  t.is(grpcServerListenerName('[::]', 8080), 'xds.istio.io/grpc/lds/inbound/[::]:8080');
  t.true(isGrpcListenerName(grpcServerListenerName('0.0.0.0', 1)));
  t.false(isGrpcListenerName('virtualInbound'));
});
