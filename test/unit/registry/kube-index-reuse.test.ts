// KubernetesRegistry.index(): the same merged index while its inputs are the
// same objects (a rollout step changes only the overlay, so the mesh model's
// overlay-only path applies under Kubernetes too), a new one when the config
// changes.

import test from 'ava';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { KubernetesRegistry } from '../../../src/registry/kubernetes/index.js';
import { BASE, loadFiles } from '../validate/analyzers/_helpers.js';

test('index() is reused for the same config and index, rebuilt for another config', async (t) => {
  const kube = new KubernetesRegistry({ clusters: [], clusterDomain: 'cluster.local' });
  const a = (await loadFiles({ 'a.yaml': BASE })).config;
  const b = (await loadFiles({ 'a.yaml': BASE })).config;
  const ia = buildServiceIndex(a);
  const first = kube.index(a, ia);
  t.is(kube.index(a, ia), first);
  t.true(first.service('reviews.shop.svc.cluster.local', 'shop') !== undefined);
  const other = kube.index(b, buildServiceIndex(b));
  t.not(other, first);
  t.not(kube.index(a, buildServiceIndex(a)), first, 'another ServiceIndex object is another input');
});
