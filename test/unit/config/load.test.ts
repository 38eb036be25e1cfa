import test from 'ava';
import { loadYaml, memoryRevision } from '../../helpers/revision.js';
import { loadRevision, ParseCache } from '../../../src/config/load.js';

const vs = (name: string, ns?: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
${ns ? `  namespace: ${ns}\n` : ''}spec:
  hosts: [${name}]
  http:
  - route:
    - destination: {host: ${name}}
`;

test('loads typed resources with origin and default namespace', async (t) => {
  const r = await loadYaml({ 'a/vs.yaml': vs('reviews') + '---\n' + vs('ratings', 'shop') });
  t.deepEqual(r.diagnostics, []);
  const keys = r.config.resources.map((x) => `${x.kind}/${x.metadata.namespace}/${x.metadata.name}@${x.origin.file}:${x.origin.line}`);
  t.deepEqual(keys, ['VirtualService/default/reviews@a/vs.yaml:1', 'VirtualService/shop/ratings@a/vs.yaml:11']);
  t.is(r.config.get('VirtualService', 'shop', 'ratings')?.spec.hosts?.[0], 'ratings');
});

test('MeshConfig sets the default namespace', async (t) => {
  const r = await loadYaml({
    'mesh.yaml': 'apiVersion: meshcd.io/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {defaultNamespace: apps, trustDomain: example.org}\n',
    'vs.yaml': vs('reviews'),
  });
  t.truthy(r.config.get('VirtualService', 'apps', 'reviews'));
  t.is(r.config.mesh.trustDomain, 'example.org');
});

test('the same kind/namespace/name twice is an error naming both places', async (t) => {
  const r = await loadYaml({ 'a.yaml': vs('reviews'), 'b.yaml': vs('reviews') });
  const d = r.diagnostics.find((x) => x.code === 'MCD0002');
  t.truthy(d);
  t.regex(d!.message, /b\.yaml:1 and at a\.yaml:1/);
  t.is(r.config.resources.length, 1);
});

test('other kinds are ignored with an info diagnostic; List objects unwrapped', async (t) => {
  const r = await loadYaml({
    'k.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: List\nitems:\n' + vs('reviews').replace(/^/gm, '  ').replace(/^  apiVersion/m, '- apiVersion'),
  });
  t.deepEqual(r.diagnostics.map((d) => [d.code, d.severity, d.origin?.line]), [['MCD0010', 'info', 1]]);
  t.is(r.config.resources[0]!.origin.line, 8);
});

test('unsupported versions and missing names are located errors; a non-mapping document is skipped (not Kubernetes-shaped)', async (t) => {
  const r = await loadYaml({
    'x.yaml': 'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {}\n---\n- 1\n',
  });
  t.deepEqual(r.diagnostics.map((d) => [d.code, d.origin?.line]), [['MCD0007', 1], ['MCD0006', 5], ['MCD0011', 9]]);
});

test('files that are not Kubernetes-shaped (package.json, tsconfig.json, CI files) are skipped with one info each, not errors (issue 10)', async (t) => {
  const r = await loadYaml({
    'package.json': JSON.stringify({ name: 'x', scripts: { build: 'tsc' }, dependencies: { a: '1' } }),
    'tsconfig.json': '{\n  "compilerOptions": {"strict": true}\n}\n',
    '.github/workflows/ci.yml': 'name: ci\non: [push]\njobs: {}\n---\nfoo: 1\n',
    'mesh.yaml': vs('reviews') + '---\nkind: VirtualService\nmetadata: {name: b}\n',
  });
  t.deepEqual(
    r.diagnostics.map((d) => [d.code, d.severity, d.origin?.file, d.message]),
    [
      ['MCD0006', 'error', 'mesh.yaml', 'document has no apiVersion'],
      ['MCD0011', 'info', '.github/workflows/ci.yml', '2 documents are not Kubernetes objects (no apiVersion or kind); skipped'],
      ['MCD0011', 'info', 'package.json', 'not a Kubernetes object (no apiVersion or kind); skipped'],
      ['MCD0011', 'info', 'tsconfig.json', 'not a Kubernetes object (no apiVersion or kind); skipped'],
    ],
  );
  t.is(r.config.resources.length, 1);
});

test('locate finds the line of a field path', async (t) => {
  const r = await loadYaml({ 'vs.yaml': vs('reviews') });
  t.deepEqual(r.locate('VirtualService/default/reviews', 'spec.http[0].route[0].destination'), { file: 'vs.yaml', line: 9 });
});

test('ParseCache re-parses only changed blobs', async (t) => {
  const cache = new ParseCache();
  const reads: string[] = [];
  const rev1 = memoryRevision({ 'a.yaml': vs('a'), 'b.yaml': vs('b') });
  const wrap = (rev: typeof rev1) => ({ ...rev, read: (p: string) => (reads.push(p), rev.read(p)) });
  await loadRevision(wrap(rev1), { cache });
  t.deepEqual(reads.sort(), ['a.yaml', 'b.yaml']);
  reads.length = 0;
  const rev2 = memoryRevision({ 'a.yaml': vs('a'), 'b.yaml': vs('b').replace('hosts: [b]', 'hosts: [b2]') });
  const r = await loadRevision(wrap(rev2), { cache });
  t.deepEqual(reads, ['b.yaml']);
  t.deepEqual(r.config.get('VirtualService', 'default', 'b')?.spec.hosts, ['b2']);
});

test('removed Istio types (rbac.istio.io ServiceRole…, and their CRDs) are IST0002, as Istio\'s deprecation analyzer reports them', async (t) => {
  const r = await loadYaml({
    'rbac.yaml': 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: serviceroles.rbac.istio.io}\nspec: {group: rbac.istio.io, names: {kind: ServiceRole}}\n---\napiVersion: rbac.istio.io/v1alpha1\nkind: ServiceRoleBinding\nmetadata: {name: b}\nspec: {}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: foos.example.com}\nspec: {group: example.com, names: {kind: Foo}}\n',
  });
  t.deepEqual(r.diagnostics.map((d) => [d.code, d.severity, d.origin?.line, d.message]), [
    ['IST0002', 'warning', 1, 'Deprecated: Custom resource type rbac.istio.io ServiceRole is removed'],
    ['IST0002', 'warning', 6, 'Deprecated: Custom resource type rbac.istio.io ServiceRoleBinding is removed'],
    ['MCD0010', 'info', 11, 'apiextensions.k8s.io/v1 CustomResourceDefinition is not a mesh kind; ignored'],
  ]);
});

test('lazy digests are the eager ones, worked out when read, and copied by spreads and structured clones', async (t) => {
  const files = {
    'a.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: x}\nspec: {hosts: [a.example.com], ports: [{number: 80, name: http, protocol: HTTP}]}\n',
    'b.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b, namespace: x}\nspec: {hosts: [b], http: [{route: [{destination: {host: b}}]}]}\n',
  };
  const eager = await loadRevision(memoryRevision(files));
  const lazy = await loadRevision(memoryRevision(files), { lazyDigests: true });
  t.true(eager.config.resources.every((r) => Object.getOwnPropertyDescriptor(r, 'digest')?.value !== undefined));
  t.true(lazy.config.resources.every((r) => typeof Object.getOwnPropertyDescriptor(r, 'digest')?.get === 'function'));
  t.deepEqual(lazy.config.resources.map((r) => r.digest), eager.config.resources.map((r) => r.digest));
  t.true(eager.config.resources.every((r) => /^[0-9a-f]{64}$/.test(r.digest)));
  const r = lazy.config.resources[0]!;
  t.is({ ...r }.digest, eager.config.resources[0]!.digest);
  t.is(structuredClone(r).digest, eager.config.resources[0]!.digest);
});
