// Translation memoized across revisions (src/mesh/intern.ts keeps unchanged
// model parts the same objects; src/xds/translate/memo.ts reuses the work done
// for them) gives exactly what translating the new revision from scratch
// gives: for seeded random meshes changed by random edits (a resource
// removed, a field changed), chained over several revisions, every proxy
// kind's resources and diagnostics are equal both ways (and equal to each
// proxy translated alone, so nothing shared across namespaces leaks), and
// the memo is hit.
// Plus the two changes issue 15 names: one VirtualService edited re-translates
// only its routes, one endpoint changes only that service's clusters and EDS.

import test from 'ava';
import type { AnyResource, ProxyInfo } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildMeshModel, type MeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { translateParts, translateWithDiagnostics } from '../../../../src/xds/translate/index.js';
import { buildSnapshot, EncodeCache } from '../../../../src/xds/cache/snapshot.js';
import { diffSnapshots } from '../../../../src/xds/server/prepared.js';
import { memoStats } from '../../../../src/xds/translate/memo.js';
import { RANDOM_MESH_PROXIES, randomMesh } from '../../../helpers/random-mesh.js';
import { mutate, rng } from './mutate.js';

const model = (resources: AnyResource[], previous?: MeshModel) => {
  const config = makeConfigSet(resources);
  return buildMeshModel(config, buildServiceIndex(config), undefined, previous);
};

const outputs = (m: MeshModel) => RANDOM_MESH_PROXIES.map((p) => {
  const r = translateWithDiagnostics(p, m);
  return JSON.stringify({ resources: [...r.resources].map(([t, byName]) => [t, [...byName.values()].map((x) => [x.name, x.version, x.value])]), diagnostics: r.diagnostics });
});

const SEEDS = Array.from({ length: 30 }, (_, i) => 5000 + i * 104729);

/** Each proxy translated on a model of its own, with nothing another proxy translated first to share. */
const alone = (resources: AnyResource[]) => RANDOM_MESH_PROXIES.map((p) => {
  const r = translateWithDiagnostics(p, model(resources));
  return JSON.stringify({ resources: [...r.resources].map(([t, byName]) => [t, [...byName.values()].map((x) => [x.name, x.version, x.value])]), diagnostics: r.diagnostics });
});

test('random meshes, random edits, four revisions each: memoized translation equals translation from scratch', (t) => {
  const before = memoStats();
  for (const seed of SEEDS) {
    const r = rng(seed);
    let resources = randomMesh(seed);
    let incremental = model(resources);
    outputs(incremental);
    for (let step = 1; step <= 4; step++) {
      resources = mutate(resources, r);
      incremental = model(resources, incremental);
      const got = outputs(incremental);
      const fresh = outputs(model(resources));
      RANDOM_MESH_PROXIES.forEach((p, i) => t.is(got[i], fresh[i], `seed ${seed} step ${step}: ${p.kind} ${p.namespace} differs from a fresh translation`));
      // What proxies of other namespaces share (routes that read no source and name only visible destinations) is what each would get alone.
      const own = alone(resources);
      RANDOM_MESH_PROXIES.forEach((p, i) => t.is(got[i], own[i], `seed ${seed} step ${step}: ${p.kind} ${p.namespace} differs from its translation alone`));
    }
  }
  const after = memoStats();
  t.true(after.hits - before.hits > 100, `memo hits: ${after.hits - before.hits}`);
});

const resource = (kind: string, ns: string, name: string, spec: Record<string, unknown>) =>
  ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec, origin: { file: `${name}.yaml`, line: 1 }, raw: {}, digest: '' }) as unknown as AnyResource;

function mesh(weight: number, endpointPort: number): AnyResource[] {
  const out: AnyResource[] = [];
  for (let i = 0; i < 50; i++) {
    const host = `svc${i}.ns.svc.cluster.local`;
    out.push(resource('ServiceEntry', 'ns', `svc${i}`, { hosts: [host], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: `10.0.${i}.1`, ports: { http: i === 7 ? endpointPort : 8080 }, labels: { version: 'v1' } }, { address: `10.0.${i}.2`, labels: { version: 'v2' } }] }));
    out.push(resource('DestinationRule', 'ns', `svc${i}`, { host, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }));
    out.push(resource('VirtualService', 'ns', `svc${i}`, { hosts: [host], http: [{ route: [{ destination: { host, subset: 'v1' }, weight: i === 3 ? weight : 90 }, { destination: { host, subset: 'v2' }, weight: i === 3 ? 100 - weight : 10 }] }] }));
  }
  return out;
}

const proxies: ProxyInfo[] = [
  { id: 'sidecar', kind: 'sidecar', namespace: 'ns', labels: {}, ips: ['10.9.0.1'] },
  { id: 'grpc', kind: 'grpc', namespace: 'ns', labels: {}, ips: ['10.9.0.2'] },
];

function changed(a: MeshModel, b: MeshModel): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of proxies) {
    const ra = translateWithDiagnostics(p, a).resources;
    const rb = translateWithDiagnostics(p, b).resources;
    const names: string[] = [];
    for (const [t, m] of rb) for (const [n, x] of m) if (ra.get(t)?.get(n)?.version !== x.version) names.push(`${t.split('.').pop()} ${n}`);
    out[p.kind] = names;
  }
  return out;
}

test('one VirtualService edited: only its routes change and only they are translated again; one endpoint: only that service\'s EDS', (t) => {
  const m1 = model(mesh(90, 8080));
  changed(m1, m1);
  const s0 = memoStats();
  const m2 = model(mesh(50, 8080), m1);
  t.deepEqual(changed(m1, m2), { sidecar: [`${TYPE_URL.route.split('.').pop()} 80`], grpc: [`RouteConfiguration outbound|80||svc3.ns.svc.cluster.local`] });
  const s1 = memoStats();
  // Two translations per proxy kind (changed() translates both models; m1's are all hits): the first of m2 misses only svc3's routes.
  t.true(s1.misses - s0.misses <= 4, `fragments built again: ${s1.misses - s0.misses}`);
  const m3 = model(mesh(50, 9090), m2);
  t.deepEqual(changed(m2, m3), { sidecar: ['ClusterLoadAssignment outbound|80|v1|svc7.ns.svc.cluster.local', 'ClusterLoadAssignment outbound|80||svc7.ns.svc.cluster.local'].sort(), grpc: ['ClusterLoadAssignment outbound|80|v1|svc7.ns.svc.cluster.local', 'ClusterLoadAssignment outbound|80||svc7.ns.svc.cluster.local'].sort() });
});

test("one endpoint: a sidecar running another service's workload keeps its inbound listener object; the changed workload's is translated again", async (t) => {
  const { translateParts } = await import('../../../../src/xds/translate/index.js');
  const m2 = model(mesh(50, 8080));
  const m3 = model(mesh(50, 9090), m2);
  const inbound = (ip: string, m: MeshModel) => translateParts({ id: ip, kind: 'sidecar', namespace: 'ns', labels: { version: 'v1' }, ips: [ip] }, m).own.resources.get(TYPE_URL.listener)!.get('virtualInbound')!;
  const other = inbound('10.0.2.1', m2);
  t.is(inbound('10.0.2.1', m3), other, 'svc2 workload: the same listener object');
  const before = inbound('10.0.7.1', m2);
  const after = inbound('10.0.7.1', m3);
  t.not(after.version, before.version, 'svc7 workload: its port changed');
  t.true(JSON.stringify(after.value).includes('9090'));
});

test('ownerOf: one object per tuple of objects, another as soon as one of them is another', async (t) => {
  const { ownerOf } = await import('../../../../src/xds/translate/memo.js');
  const a = {};
  const b: unknown[] = [];
  const c: unknown[] = [];
  t.is(ownerOf(a, b, c), ownerOf(a, b, c));
  t.not(ownerOf(a, b, c), ownerOf(a, [], c));
  t.not(ownerOf(a, b, c), ownerOf(a, c, b));
  t.not(ownerOf(a, b, c), ownerOf({}, b, c));
});

test('at default visibility, sidecars of other namespaces share one cluster map and one endpoint map, their snapshots one build of each, and a route change leaves both alone', (t) => {
  const sidecar = (ns: string): ProxyInfo => ({ id: `s-${ns}`, kind: 'sidecar', namespace: ns, labels: {}, ips: [] });
  const m1 = model(mesh(90, 8080));
  const [a, b] = [translateParts(sidecar('a'), m1), translateParts(sidecar('b'), m1)];
  for (const type of [TYPE_URL.cluster, TYPE_URL.endpoint]) t.is(a.shared!.resources.get(type), b.shared!.resources.get(type), `${type}: one map`);
  // Route tables are built per namespace (short host names are relative to it), but the routes inside are the same objects.
  t.not(a.shared!.resources.get(TYPE_URL.route), b.shared!.resources.get(TYPE_URL.route));
  const routesOf = (p: typeof a) => (p.shared!.resources.get(TYPE_URL.route)!.get('80')!.value as { virtual_hosts: { name: string; routes: unknown[] }[] }).virtual_hosts.filter((v) => v.name.startsWith('svc')).map((v) => v.routes);
  t.is(routesOf(a).length, 50);
  routesOf(a).forEach((r, i) => t.is(r, routesOf(b)[i]));
  // Their services are in a third namespace, so their domains are the same from both: one virtual host object each.
  const vhostsOf = (p: typeof a) => (p.shared!.resources.get(TYPE_URL.route)!.get('80')!.value as { virtual_hosts: unknown[] }).virtual_hosts;
  vhostsOf(a).forEach((v, i) => t.is(v, vhostsOf(b)[i]));
  // From the services' own namespace the short names are added: other virtual hosts.
  const own = translateParts(sidecar('ns'), m1);
  t.not(vhostsOf(own)[0], vhostsOf(a)[0]);
  t.true(((vhostsOf(own)[0] as { domains: string[] }).domains).includes('svc0'));
  const cache = new EncodeCache();
  const [sa, sb] = [buildSnapshot(a.shared!.resources, cache).snapshot!, buildSnapshot(b.shared!.resources, cache).snapshot!];
  t.is(sa.encoded.get(TYPE_URL.cluster), sb.encoded.get(TYPE_URL.cluster), 'one encoding of the clusters');
  t.not(sa.encoded.get(TYPE_URL.route), sb.encoded.get(TYPE_URL.route));
  // A route change: the next revision's clusters are the same map, and the difference for them is nothing.
  const m2 = model(mesh(50, 8080), m1);
  const a2 = translateParts(sidecar('a'), m2);
  t.is(a2.shared!.resources.get(TYPE_URL.cluster), a.shared!.resources.get(TYPE_URL.cluster));
  const sa2 = buildSnapshot(a2.shared!.resources, cache).snapshot!;
  t.deepEqual(diffSnapshots(sa, sa2, TYPE_URL.cluster), { changed: [], removed: [] });
  t.deepEqual(diffSnapshots(sa, sa2, TYPE_URL.route).changed.map((r) => r.name), ['80']);
});
