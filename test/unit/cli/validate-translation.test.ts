// validate's translation step (src/cli/validate-translation.ts): which
// proxies stand for the mesh, and the worker that translates beside the
// validation gives what an in-process translation gives.
import test from 'ava';
import type { ProxyInfo } from '../../../src/api/types.js';
import { loadRevision } from '../../../src/config/load.js';
import { representativeProxies, startTranslation, translationFindings, locateFindings } from '../../../src/cli/validate-translation.js';
import { memoryRevision } from '../../helpers/revision.js';

const p = (kind: ProxyInfo['kind'], namespace: string, n: number): ProxyInfo => ({ id: `${kind}~10.0.0.${n}~x.${namespace}~${namespace}.svc.cluster.local`, kind, namespace, labels: {}, ips: [`10.0.0.${n}`] });

test('routers, plus one gRPC client and one sidecar in namespaces that together see every resource', async (t) => {
  const load = await loadRevision(memoryRevision({
    'a.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pub, namespace: a}\nspec: {hosts: [x], http: [{route: [{destination: {host: x}}]}]}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: priv, namespace: c}\nspec: {hosts: [y], exportTo: ["."], http: [{route: [{destination: {host: y}}]}]}\n',
  }));
  const proxies = [p('sidecar', 'a', 1), p('sidecar', 'a', 2), p('grpc', 'a', 3), p('sidecar', 'b', 4), p('grpc', 'b', 5), p('grpc', 'c', 6), p('sidecar', 'c', 7), p('router', 'istio-system', 8)];
  const picked = representativeProxies(load.config, proxies).map((x) => `${x.kind}/${x.namespace}`);
  t.deepEqual(picked, ['grpc/c', 'sidecar/c', 'router/istio-system']);
  const onlyPublic = await loadRevision(memoryRevision({ 'a.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pub, namespace: a}\nspec: {hosts: [x], http: [{route: [{destination: {host: x}}]}]}\n' }));
  t.deepEqual(representativeProxies(onlyPublic.config, proxies).map((x) => `${x.kind}/${x.namespace}`), ['sidecar/a', 'grpc/a', 'router/istio-system']);
});

test('the worker thread finds what the in-process translation finds', async (t) => {
  const { readFolderRevision } = await import('../../../src/source/folder.js');
  const { isConfigPath } = await import('../../../src/config/load.js');
  const load = await loadRevision(await readFolderRevision('examples/mesh', { filter: isConfigPath }));
  const job = startTranslation();
  job.translate(load.config.resources, load.config.mesh);
  const fromWorker = locateFindings(await job.result, load.locate);
  const inProcess = locateFindings(await translationFindings(load.config), load.locate);
  t.true(inProcess.length >= 4);
  t.deepEqual(fromWorker, inProcess);
  t.true(fromWorker.every((d) => d.code.startsWith('MCD4') && d.origin !== undefined));
});
