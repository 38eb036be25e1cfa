// Issue 12: route weights are relative, as Istio has them. Validation accepts
// weights 1 and 2 with a warning that states the split (MCD0230), and the
// translation sends those weights unchanged, without total_weight, which
// Envoy, grpc-js-xds and grpc-go all read as weight / sum (1/3, 2/3).
import test from 'ava';
import { readFolderRevision } from '../../../src/source/folder.js';
import { isConfigPath, loadRevision } from '../../../src/config/load.js';
import { validate } from '../../../src/validate/index.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { buildMeshModel } from '../../../src/mesh/index.js';
import { translate } from '../../../src/xds/translate/index.js';
import { TYPE_URL, type ProxyKind } from '../../../src/api/types.js';
import { memoryRevision } from '../../helpers/revision.js';

test('weights 1 and 2: valid with a warning giving the split; translated as relative weights for every client kind', async (t) => {
  const load = await loadRevision(await readFolderRevision('test/fixtures/validate-rules/relative-weights', { filter: isConfigPath }));
  const diags = validate(load);
  t.deepEqual(diags.map((d) => `${d.severity} ${d.code} ${d.message}`), [
    'warning MCD0230 destination weights sum to 3, not 100; Istio treats them as relative, so traffic splits reviews (v1) 33.3%, reviews (v2) 66.7%',
  ]);
  const model = buildMeshModel(load.config, buildServiceIndex(load.config));
  for (const kind of ['grpc', 'sidecar'] as ProxyKind[]) {
    const routes = translate({ id: `${kind}~10.0.0.9~c.d~d.svc.cluster.local`, kind, namespace: 'd', labels: {}, ips: ['10.0.0.9'] }, model).get(TYPE_URL.route)!;
    const weighted = [...routes.values()].flatMap((r) => JSON.stringify(r.value).match(/"weighted_clusters":\{.*?\]\}/g) ?? []);
    t.is(weighted.length, 1, kind);
    const wc = JSON.parse(`{${weighted[0]!}}`) as { weighted_clusters: { clusters: { name: string; weight: { value: number } }[]; total_weight?: unknown } };
    t.deepEqual(wc.weighted_clusters.clusters.map((c) => [c.name, c.weight.value]), [
      ['outbound|9080|v1|reviews.d.svc.cluster.local', 1],
      ['outbound|9080|v2|reviews.d.svc.cluster.local', 2],
    ]);
    t.false('total_weight' in wc.weighted_clusters, `${kind}: no total_weight, so clients divide by the sum`);
  }
});

// Istio (pilot/pkg/networking/core/route): a lone destination gets the whole
// route whatever its weight, 0 included; the webhook accepts `weight: 0` there.
const LONE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: d}
spec:
  hosts: [db.d.svc.cluster.local]
  addresses: [240.240.0.7]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}, {number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.7}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: d}
spec:
  hosts: [db.d.svc.cluster.local]
  http:
  - route:
    - {destination: {host: db.d.svc.cluster.local, port: {number: 8080}}, weight: 0}
  tcp:
  - match: [{port: 5432}]
    route:
    - {destination: {host: db.d.svc.cluster.local, port: {number: 5432}}, weight: 0}
`;

test('a lone destination with weight 0: valid, silent, and it gets all of the HTTP and TCP route for every client kind', async (t) => {
  const load = await loadRevision(memoryRevision({ 'db.yaml': LONE }));
  t.deepEqual(validate(load).filter((d) => d.severity !== 'info'), []);
  const model = buildMeshModel(load.config, buildServiceIndex(load.config));
  for (const kind of ['grpc', 'sidecar'] as ProxyKind[]) {
    const out = translate({ id: `${kind}~10.0.0.9~c.d~d.svc.cluster.local`, kind, namespace: 'd', labels: {}, ips: ['10.0.0.9'] }, model);
    const routes = JSON.stringify([...out.get(TYPE_URL.route)!.values()].map((r) => r.value));
    t.regex(routes, /"cluster":"outbound\|8080\|\|db\.d\.svc\.cluster\.local"/, `${kind}: the HTTP route goes to the one destination`);
    t.notRegex(routes, /"direct_response"|"weighted_clusters"/, kind);
    if (kind === 'sidecar') {
      const listeners = JSON.stringify([...out.get(TYPE_URL.listener)!.values()].map((r) => r.value));
      t.regex(listeners, /"cluster":"outbound\|5432\|\|db\.d\.svc\.cluster\.local"/, 'the TCP proxy goes to the one destination');
      t.notRegex(listeners, /"weighted_clusters":\{"clusters":\[\]\}/, 'no empty weighted clusters');
    }
  }
});
