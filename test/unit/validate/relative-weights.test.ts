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
