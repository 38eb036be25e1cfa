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

/** A folder of the repository, read as validate reads it. */
async function folderRevision(dir: string) {
  const { readFolderRevision } = await import('../../../src/source/folder.js');
  const { isConfigPath } = await import('../../../src/config/load.js');
  return readFolderRevision(dir, { filter: isConfigPath, sync: true });
}

test('the worker thread, sharing the parse, finds what the in-process translation finds', async (t) => {
  const rev = await folderRevision('examples/mesh');
  const alone = await loadRevision(rev);
  const job = startTranslation();
  const load = await loadRevision(rev, { shareParse: (files, limits) => job.shareParse(files, limits) });
  t.deepEqual(load.config.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}@${r.origin.file}:${r.origin.line}`), alone.config.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}@${r.origin.file}:${r.origin.line}`));
  const fromWorker = locateFindings(await job.result, load.locate);
  const inProcess = locateFindings(await translationFindings(alone.config), alone.locate);
  t.true(inProcess.length >= 4);
  t.deepEqual(fromWorker, inProcess);
  t.true(fromWorker.every((d) => d.code.startsWith('MCD4') && d.origin !== undefined));
});

test('files parsed on the worker thread come back as this thread would have parsed them', async (t) => {
  const { isConfigPath } = await import('../../../src/config/load.js');
  const rev = await folderRevision('examples');
  const alone = await loadRevision(rev);
  const job = startTranslation();
  t.teardown(() => job.cancel());
  let fromWorker = 0;
  // This thread takes no file: the worker parses them all and sends them over.
  const load = await loadRevision(rev, {
    shareParse: (files, limits) => {
      const s = job.shareParse(files, limits);
      return { claim: () => -1, exchange: async (mine) => { const theirs = await s.exchange(mine); fromWorker = theirs.size; return theirs; } };
    },
  });
  t.true(fromWorker > 0);
  t.is(fromWorker, rev.paths.filter(isConfigPath).length - load.diagnostics.filter((d) => d.code === 'MCD0003' || d.code === 'MCD0004').length);
  const show = (l: typeof load) => ({
    resources: l.config.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}@${r.origin.file}:${r.origin.line} ${JSON.stringify(r.raw)}`),
    diagnostics: l.diagnostics.map((d) => `${d.code} ${d.origin?.file}:${d.origin?.line} ${d.message}`),
  });
  t.deepEqual(show(load), show(alone));
});

test('with the worker gone, a load sharing its parse completes here without waiting for it', async (t) => {
  const job = startTranslation();
  job.cancel();
  const files = { 'a.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: x}\nspec: {hosts: [a.example.com]}\n' };
  const load = await loadRevision(memoryRevision(files), { shareParse: (list, limits) => job.shareParse(list, limits) });
  t.deepEqual(load.config.resources.map((r) => r.metadata.name), ['a']);
  await t.throwsAsync(job.result);
});

test('validate with its worker finishes on a folder with no config files, and on one whose only file does not decode', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runValidate } = await import('../../../src/cli/validate.js');
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-validate-empty-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const empty = await runValidate(dir, { defaultPolicies: false });
  t.is(empty.report.resources, 0);
  t.deepEqual(empty.report.diagnostics, []);
  await writeFile(join(dir, 'bad.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
  const bad = await runValidate(dir, { defaultPolicies: false });
  t.deepEqual(bad.report.diagnostics.map((d) => d.code), ['MCD0004']);
});
