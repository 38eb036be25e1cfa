import test from 'ava';
import { loadYaml } from '../../helpers/revision.js';
import { buildServiceIndex, resolveExportTo } from '../../../src/registry/config.js';

const mesh = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {address: 127.0.0.11, labels: {app: reviews, version: v1}, serviceAccount: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: other, namespace: other}
spec: {address: 127.0.0.12, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.20}]
`;

test('ServiceEntry workloadSelector picks WorkloadEntries of its namespace only', async (t) => {
  const idx = buildServiceIndex((await loadYaml({ 'm.yaml': mesh })).config);
  const ws = idx.workloadsFor('reviews.bookinfo.svc.cluster.local');
  t.deepEqual(ws.map((w) => [w.address, w.labels.version, w.serviceAccount]), [['127.0.0.11', 'v1', 'reviews']]);
  t.is(idx.service('reviews.bookinfo.svc.cluster.local')?.ports[0]?.protocol, 'HTTP');
});

test('inline endpoints and exportTo visibility', async (t) => {
  const idx = buildServiceIndex((await loadYaml({ 'm.yaml': mesh })).config);
  t.is(idx.workloadsFor('api.example.com', 'bookinfo')[0]?.address, '127.0.0.20');
  t.is(idx.service('api.example.com', 'other'), undefined);
  t.deepEqual(resolveExportTo(['.', 'x'], 'ns'), ['ns', 'x']);
  t.deepEqual(resolveExportTo(['~'], 'ns'), []);
  t.deepEqual(resolveExportTo(undefined, 'ns'), ['*']);
});
