import test from 'ava';
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { loadYaml } from '../../helpers/revision.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { buildClusterView, inferProtocol, localityOf, type ClusterObjects } from '../../../src/registry/kubernetes/view.js';
import { MergedServiceIndex } from '../../../src/registry/kubernetes/merged.js';
import { buildMeshModel } from '../../../src/mesh/index.js';

const svc = (ns: string, name: string, ports: V1Service['spec'] extends infer S ? S extends { ports?: infer P } ? P : never : never, extra: Partial<V1Service> = {}): V1Service => ({
  metadata: { namespace: ns, name, ...(extra.metadata ?? {}) },
  spec: { clusterIP: '10.96.0.10', selector: { app: name }, ports, ...(extra.spec ?? {}) },
});

const pod = (ns: string, name: string, ip: string, labels: Record<string, string>, node = 'node-a', sa = 'reviews'): V1Pod => ({
  metadata: { namespace: ns, name, labels },
  spec: { containers: [], nodeName: node, serviceAccountName: sa },
  status: { podIP: ip, phase: 'Running' },
});

const slice = (ns: string, service: string, name: string, ports: { name?: string; port: number }[], eps: { ip: string; pod?: string; ready?: boolean; node?: string }[]): V1EndpointSlice => ({
  metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
    ...(e.node ? { nodeName: e.node } : {}),
  })),
});

const node = (name: string, region: string, zone: string, subzone?: string): V1Node => ({
  metadata: { name, labels: { 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': zone, ...(subzone ? { 'topology.istio.io/subzone': subzone } : {}) } },
});

const ns = (name: string, labels: Record<string, string> = {}): V1Namespace => ({ metadata: { name, labels } });

function objects(o: Partial<ClusterObjects>): ClusterObjects {
  return { clusterId: 'c1', services: [], endpointSlices: [], pods: [], nodes: [], namespaces: [], ...o };
}

test('protocols are inferred as Istio does: appProtocol, then the port name prefix, then well-known TCP ports', (t) => {
  const cases: [number, string | undefined, string | undefined, string | undefined, string | undefined][] = [
    [80, 'http', 'TCP', undefined, 'HTTP'],
    [80, 'http-web', 'TCP', undefined, 'HTTP'],
    [9080, 'HTTP2-x', 'TCP', undefined, 'HTTP2'],
    [50051, 'grpc', 'TCP', undefined, 'GRPC'],
    [8080, 'grpc-web-ui', 'TCP', undefined, 'GRPC-WEB'],
    [8080, 'web', 'TCP', 'grpc', 'GRPC'],
    [8080, 'tcp-x', 'TCP', 'kubernetes.io/h2c', 'HTTP2'],
    [8080, undefined, 'TCP', 'kubernetes.io/ws', 'HTTP'],
    [8443, undefined, 'TCP', 'kubernetes.io/wss', 'HTTPS'],
    [443, 'https', 'TCP', undefined, 'HTTPS'],
    [3306, 'db', 'TCP', undefined, 'TCP'],
    [3306, 'mysql', 'TCP', undefined, 'MYSQL'],
    [9999, 'metrics', 'TCP', undefined, 'UNKNOWN'],
    [9999, undefined, 'TCP', undefined, 'UNKNOWN'],
    [53, 'dns', 'UDP', undefined, undefined],
  ];
  for (const [port, name, proto, app, want] of cases) t.is(inferProtocol(port, name, proto, app), want as never, `${port} ${name} ${proto} ${app}`);
});

test('locality: the pod label wins, then node topology labels, then the slice zone', (t) => {
  t.is(localityOf({ metadata: { labels: { 'istio-locality': 'eu.eu-1a.rack1' } } }, node('n', 'us', 'us-1')), 'eu/eu-1a/rack1');
  t.is(localityOf(undefined, node('n', 'us', 'us-1', 'r2')), 'us/us-1/r2');
  t.is(localityOf(undefined, undefined, 'z9'), '/z9/');
  t.is(localityOf(undefined, undefined), undefined);
});

test('services become name.ns.svc.<domain> with ports; ready slice endpoints carry pod labels, service account, locality and cluster', (t) => {
  const view = buildClusterView(
    objects({
      services: [svc('bookinfo', 'reviews', [{ name: 'http', port: 9080, targetPort: 8080 as never }, { name: 'dns', port: 53, protocol: 'UDP' }])],
      pods: [pod('bookinfo', 'reviews-v1-a', '10.244.0.5', { app: 'reviews', version: 'v1' }), pod('bookinfo', 'reviews-v2-a', '10.244.0.6', { app: 'reviews', version: 'v2' }, 'node-b', 'reviews-v2')],
      endpointSlices: [
        slice('bookinfo', 'reviews', 'reviews-abc', [{ name: 'http', port: 8080 }], [
          { ip: '10.244.0.5', pod: 'reviews-v1-a', node: 'node-a' },
          { ip: '10.244.0.6', pod: 'reviews-v2-a', node: 'node-b', ready: true },
          { ip: '10.244.0.7', ready: false },
        ]),
      ],
      nodes: [node('node-a', 'us-east', 'us-east-1a'), node('node-b', 'us-east', 'us-east-1b')],
      namespaces: [ns('bookinfo', { team: 'books' })],
    }),
    { clusterDomain: 'cluster.local' },
  );
  t.is(view.services.length, 1);
  const s = view.services[0]!;
  t.is(s.hostname, 'reviews.bookinfo.svc.cluster.local');
  t.deepEqual(s.ports, [{ number: 9080, protocol: 'HTTP', name: 'http', targetPort: 8080 }]);
  t.deepEqual(s.addresses, ['10.96.0.10']);
  t.deepEqual(s.exportTo, ['*']);
  t.is(s.resource, 'Service/bookinfo/reviews');
  const eps = view.endpoints.get(s)!;
  t.deepEqual(
    eps.map((w) => [w.id, w.address, w.ports.http, w.labels.version, w.serviceAccount, w.locality, w.labels['topology.istio.io/cluster']]),
    [
      ['Pod/bookinfo/reviews-v1-a@c1', '10.244.0.5', 8080, 'v1', 'reviews', 'us-east/us-east-1a/', 'c1'],
      ['Pod/bookinfo/reviews-v2-a@c1', '10.244.0.6', 8080, 'v2', 'reviews-v2', 'us-east/us-east-1b/', 'c1'],
    ],
  );
  t.deepEqual(view.namespaceLabels.get('bookinfo'), { team: 'books' });
  t.is(view.pods.length, 2);
});

test('exportTo annotation, ExternalName services, and an address in two slices counted once', (t) => {
  const view = buildClusterView(
    objects({
      services: [
        svc('a', 'private', [{ name: 'grpc', port: 7070 }], { metadata: { annotations: { 'networking.istio.io/exportTo': '., b' } } as never }),
        { metadata: { namespace: 'a', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'db.example.com', ports: [{ name: 'tcp', port: 5432 }] } },
      ],
      endpointSlices: [slice('a', 'private', 's1', [{ name: 'grpc', port: 7070 }], [{ ip: '10.1.0.1' }]), slice('a', 'private', 's2', [{ name: 'grpc', port: 7070 }], [{ ip: '10.1.0.1' }])],
    }),
    { clusterDomain: 'corp.local' },
  );
  const [ext, priv] = view.services;
  t.is(priv!.hostname, 'private.a.svc.corp.local');
  t.deepEqual(priv!.exportTo, ['a', 'b']);
  t.is(view.endpoints.get(priv!)!.length, 1);
  t.is(ext!.resolution, 'DNS');
  t.deepEqual(view.endpoints.get(ext!)!.map((w) => w.address), ['db.example.com']);
});

const gitConfig = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews-se, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.9.9.9}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: bookinfo}
spec:
  hosts: [legacy.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: legacy}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-reviews, namespace: bookinfo}
spec: {address: 10.8.0.1, labels: {app: reviews, version: vm}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`;

test('merged index: a Kubernetes Service wins over a ServiceEntry of the same host and namespace; selectors cross over as in Istio', async (t) => {
  const config = (await loadYaml({ 'git.yaml': gitConfig })).config;
  const view = buildClusterView(
    objects({
      services: [svc('bookinfo', 'reviews', [{ name: 'http', port: 9080 }])],
      pods: [pod('bookinfo', 'r1', '10.244.0.5', { app: 'reviews', version: 'v1' }), pod('bookinfo', 'r2', '10.244.0.6', { app: 'reviews', version: 'v2' }), pod('bookinfo', 'l1', '10.244.0.9', { app: 'legacy' })],
      endpointSlices: [slice('bookinfo', 'reviews', 's', [{ name: 'http', port: 9080 }], [{ ip: '10.244.0.5', pod: 'r1' }, { ip: '10.244.0.6', pod: 'r2' }])],
    }),
    { clusterDomain: 'cluster.local' },
  );
  const idx = new MergedServiceIndex(config, buildServiceIndex(config), [view]);
  const reviews = idx.services().filter((s) => s.hostname === 'reviews.bookinfo.svc.cluster.local');
  t.is(reviews.length, 1, 'the ServiceEntry for the same host/namespace is left out');
  t.is(reviews[0]!.resource, 'Service/bookinfo/reviews');
  // The Service's selector also takes the WorkloadEntry; the ServiceEntry's inline endpoint is gone.
  t.deepEqual(idx.workloadsFor('reviews.bookinfo.svc.cluster.local', 'bookinfo').map((w) => w.address).sort(), ['10.244.0.5', '10.244.0.6', '10.8.0.1']);
  // The ServiceEntry's workloadSelector also selects pods.
  t.deepEqual(idx.workloadsFor('legacy.example.internal', 'bookinfo').map((w) => w.address), ['10.244.0.9']);
  // DestinationRule subsets select pods by labels, through the mesh model.
  const model = buildMeshModel(config, idx);
  const ms = model.services.find((s) => s.hostname === 'reviews.bookinfo.svc.cluster.local')!;
  t.deepEqual(ms.endpoints.filter((e) => e.labels.version === 'v2').map((e) => [e.address, e.serviceAccount]), [['10.244.0.6', 'reviews']]);
});

test('merged index: the same Service in two clusters is one service with both clusters\' endpoints', async (t) => {
  const config = (await loadYaml({ 'empty.yaml': '' })).config;
  const mk = (id: string, ip: string) =>
    buildClusterView(
      { ...objects({ services: [svc('a', 'echo', [{ name: 'grpc', port: 7070 }])], endpointSlices: [slice('a', 'echo', 's', [{ name: 'grpc', port: 7070 }], [{ ip }])] }), clusterId: id },
      { clusterDomain: 'cluster.local' },
    );
  const idx = new MergedServiceIndex(config, buildServiceIndex(config), [mk('east', '10.1.0.1'), mk('west', '10.2.0.1')]);
  t.is(idx.services().length, 1);
  t.deepEqual(idx.workloadsFor('echo.a.svc.cluster.local', 'a').map((w) => [w.address, w.labels['topology.istio.io/cluster']]), [['10.1.0.1', 'east'], ['10.2.0.1', 'west']]);
});
