// The test cluster itself (test/helpers/kube-cluster.ts): a real etcd and
// kube-apiserver built from their Go modules, RBAC on, TokenRequest working,
// etcd compaction turning an old resourceVersion into 410 Gone, and
// @kubernetes/client-node (on Node 20, with undici pinned to 7.x) listing and
// watching through its informer.

import test from 'ava';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type TestCluster } from '../helpers/kube-cluster.js';

let cluster: TestCluster;

test.before(async () => {
  cluster = await startCluster({ watchCache: false, users: [{ token: 'a-plain-user-token-0123456789', user: 'plain' }] });
});
test.after.always(async () => {
  await cluster?.stop();
});

test.serial('the API server is up with RBAC: admin may, a plain user may not', async (t) => {
  const ok = await cluster.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'smoke' } });
  t.is(ok.status, 201, JSON.stringify(ok.body));
  const denied = await cluster.request('GET', '/api/v1/namespaces/smoke/pods', undefined, 'a-plain-user-token-0123456789');
  t.is(denied.status, 403);
  t.regex(denied.body.message, /forbidden/);
  const anon = await cluster.request('GET', '/api/v1/namespaces', undefined, 'not-a-token');
  t.is(anon.status, 401);
});

test.serial('TokenRequest issues an audience-bound service-account token that TokenReview accepts', async (t) => {
  await cluster.request('POST', '/api/v1/namespaces/smoke/serviceaccounts', { metadata: { name: 'reviews' } });
  const tr = await cluster.request('POST', '/api/v1/namespaces/smoke/serviceaccounts/reviews/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['istio-ca'], expirationSeconds: 600 } });
  t.is(tr.status, 201, JSON.stringify(tr.body));
  const review = await cluster.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: tr.body.status.token, audiences: ['istio-ca'] } });
  t.true(review.body.status.authenticated);
  t.is(review.body.status.user.username, 'system:serviceaccount:smoke:reviews');
});

test.serial('client-node informers list and watch on Node 20; compaction makes an old resourceVersion 410 Gone', async (t) => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, '/api/v1/namespaces/smoke/configmaps', () => core.listNamespacedConfigMap({ namespace: 'smoke' }));
  const seen: string[] = [];
  informer.on('add', (o) => seen.push(o.metadata!.name!));
  await informer.start();
  const listed = await core.listNamespacedConfigMap({ namespace: 'smoke' });
  const oldRv = listed.metadata!.resourceVersion!;
  await core.createNamespacedConfigMap({ namespace: 'smoke', body: { metadata: { name: 'one' }, data: { a: 'b' } } });
  const deadline = Date.now() + 20_000;
  while (!seen.includes('one') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(seen.includes('one'), 'the informer saw the ConfigMap');
  await informer.stop();

  await core.createNamespacedConfigMap({ namespace: 'smoke', body: { metadata: { name: 'two' } } });
  await cluster.compactEtcd();
  const gone = await cluster.request('GET', `/api/v1/namespaces/smoke/configmaps?watch=true&resourceVersion=${oldRv}&timeoutSeconds=1`);
  // The watch answers 200 with an ERROR event carrying 410, or 410 outright.
  const text = typeof gone.body === 'string' ? gone.body : JSON.stringify(gone.body);
  t.true(gone.status === 410 || /"code":410/.test(text), `expected 410 Gone, got ${gone.status} ${text.slice(0, 300)}`);
});
