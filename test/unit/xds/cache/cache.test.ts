import test from 'ava';
import type { ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { buildSnapshot, checkConsistency, SnapshotCache, translatingBuilder, type ModelInputs, type Translator } from '../../../../src/xds/cache/index.js';
import { grpcResources, res, type SvcSpec } from '../../../helpers/xds-resources.js';

const reviews: SvcSpec = { host: 'reviews.bookinfo.svc.cluster.local', port: 9080, backends: [{ subset: 'v1', port: 1001, weight: 90 }, { subset: 'v2', port: 1002, weight: 10 }] };
const ratings: SvcSpec = { host: 'ratings.bookinfo.svc.cluster.local', port: 9080, backends: [{ subset: '', port: 2001, weight: 100 }] };

function proxy(id: string, namespace: string): ProxyInfo {
  return { id, kind: 'grpc', namespace, labels: {}, ips: [] };
}

function mutate(r: ProxyResources, t: TypeUrl, name: string, f: (v: any) => void): ProxyResources {
  const out = new Map<TypeUrl, Map<string, XdsResource>>([...r].map(([k, v]) => [k, new Map(v)]));
  const v = structuredClone(out.get(t)!.get(name)!.value);
  f(v);
  out.get(t)!.set(name, res(name, v));
  return out;
}

const empty: ModelInputs = (() => {
  const config = makeConfigSet([]);
  return { config, index: buildServiceIndex(config) };
})();

/** A translator whose "model" is a map namespace → resources, set by the test. */
function fakeTranslator(byNs: () => Record<string, ProxyResources>): Translator<Record<string, ProxyResources>> & { calls: number } {
  const t = {
    calls: 0,
    model: () => byNs(),
    key: (p: ProxyInfo) => `${p.kind}/${p.namespace}`,
    translate(p: ProxyInfo, m: Record<string, ProxyResources>) {
      t.calls++;
      return { resources: m[p.namespace] ?? new Map() };
    },
  };
  return t;
}

test('a consistent snapshot is encoded and versioned by content', (t) => {
  const a = buildSnapshot(grpcResources([reviews, ratings]));
  t.deepEqual(a.errors, []);
  t.truthy(a.snapshot);
  const b = buildSnapshot(grpcResources([reviews, ratings]));
  t.is(a.snapshot!.version, b.snapshot!.version);
  const c = buildSnapshot(grpcResources([reviews]));
  t.not(a.snapshot!.version, c.snapshot!.version);
  const cl = a.snapshot!.encoded.get(TYPE_URL.cluster)!.get('outbound|9080|v1|reviews.bookinfo.svc.cluster.local')!;
  t.regex(cl.version, /^[0-9a-f]{16}$/);
  t.true(cl.bytes.length > 20);
});

test('inconsistent snapshots are refused with the dangling reference named', (t) => {
  const base = grpcResources([reviews]);
  const noRoute = new Map(base);
  noRoute.set(TYPE_URL.route, new Map());
  t.regex(buildSnapshot(noRoute).errors.join('\n'), /Listener reviews\.bookinfo\.svc\.cluster\.local:9080: route configuration outbound\|9080\|\|reviews\.bookinfo\.svc\.cluster\.local \(RDS\) is not in the snapshot/);
  const badCluster = mutate(base, TYPE_URL.route, 'outbound|9080||reviews.bookinfo.svc.cluster.local', (v) => (v.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name = 'outbound|9080|v3|reviews.bookinfo.svc.cluster.local'));
  t.regex(buildSnapshot(badCluster).errors.join('\n'), /cluster outbound\|9080\|v3\|reviews.* is not in the snapshot/);
  const noEds = new Map(base);
  noEds.set(TYPE_URL.endpoint, new Map([...base.get(TYPE_URL.endpoint)!].slice(1)));
  t.regex(buildSnapshot(noEds).errors.join('\n'), /EDS ClusterLoadAssignment outbound\|9080\|v1\|reviews.* is not in the snapshot/);
  const extra = new Map(base);
  extra.set(TYPE_URL.endpoint, new Map([...base.get(TYPE_URL.endpoint)!, ['orphan', res('orphan', { cluster_name: 'orphan' })]]));
  t.deepEqual(checkConsistency(extra).errors, []);
  t.regex(checkConsistency(extra).warnings.join(), /orphan: no EDS cluster uses it/);
});

test('what Envoy refuses across resources refuses the snapshot: one address twice, two equal filter-chain matches, a repeated domain', (t) => {
  const base = grpcResources([reviews]);
  const withListeners = (list: XdsResource[]) => {
    const out = new Map(base);
    out.set(TYPE_URL.listener, new Map([...base.get(TYPE_URL.listener)!, ...list.map((l) => [l.name, l] as const)]));
    return out;
  };
  const tcp = (name: string, port: number, chains: unknown[]) => res(name, { name, address: { socket_address: { address: '0.0.0.0', port_value: port } }, filter_chains: chains });
  const chain = (match: unknown) => ({ filter_chain_match: match, filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'x', cluster: 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local' } }] });
  t.deepEqual(checkConsistency(withListeners([tcp('a', 8080, [chain({})])])).errors, []);
  t.regex(buildSnapshot(withListeners([tcp('a', 8080, [chain({})]), tcp('b', 8080, [chain({})])])).errors.join('\n'), /Listeners a and b both bind 0\.0\.0\.0:8080/);
  t.regex(buildSnapshot(withListeners([tcp('a', 8080, [chain({ destination_port: 1 }), chain({ destination_port: 1 })])])).errors.join('\n'), /Listener a: two filter chains match/);
  // Proxyless server listeners are alternatives (the server binds one), so they may share an address.
  t.deepEqual(checkConsistency(withListeners([tcp('xds.istio.io/grpc/lds/inbound/0.0.0.0:8080', 8080, [chain({})]), tcp('xds.istio.io/grpc/lds/inbound/[::]:8080', 8080, [chain({})])])).errors, []);
  const repeated = mutate(base, TYPE_URL.route, 'outbound|9080||reviews.bookinfo.svc.cluster.local', (v) => v.virtual_hosts.push({ ...v.virtual_hosts[0], name: 'again' }));
  t.regex(buildSnapshot(repeated).errors.join('\n'), /domain .* repeated/);
});

test('a resource failing the strict checks refuses the snapshot', (t) => {
  const bad = mutate(grpcResources([ratings]), TYPE_URL.cluster, 'outbound|9080||ratings.bookinfo.svc.cluster.local', (v) => (v.connectTimeout = { seconds: 1 }));
  const r = buildSnapshot(bad);
  t.is(r.snapshot, undefined);
  t.regex(r.errors.join(), /Cluster outbound\|9080\|\|ratings.*: connectTimeout: unknown field/);
});

test('translates once per key, notifies only changed keys, keeps the last good snapshot on refusal', (t) => {
  let world: Record<string, ProxyResources> = { bookinfo: grpcResources([reviews, ratings]), shop: grpcResources([ratings]) };
  const tr = fakeTranslator(() => world);
  const cache = new SnapshotCache(translatingBuilder(tr));
  const seen: string[] = [];
  cache.onSnapshot((ids) => seen.push(ids.join(',')));
  cache.update(empty, 'r1');
  cache.flush();
  const a = cache.register(proxy('a', 'bookinfo'));
  const b = cache.register(proxy('b', 'bookinfo'));
  const c = cache.register(proxy('c', 'shop'));
  t.is(a.key, b.key);
  t.is(a.snapshot, b.snapshot);
  t.truthy(c.snapshot);
  t.is(tr.calls, 2, 'one translation per class');

  world = { bookinfo: mutate(world.bookinfo!, TYPE_URL.endpoint, 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local', (v) => (v.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 1003)), shop: world.shop! };
  cache.update(empty, 'r2');
  cache.flush();
  t.deepEqual(seen, ['a,b'], 'shop unchanged: no notification; both bookinfo proxies in one notification');
  t.not(cache.snapshotOf('grpc/bookinfo')!.version, a.snapshot!.version);

  const good = cache.snapshotOf('grpc/bookinfo');
  world = { bookinfo: mutate(world.bookinfo!, TYPE_URL.cluster, 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local', (v) => (v.name = '')), shop: world.shop! };
  cache.update(empty, 'r3');
  cache.flush();
  t.is(cache.snapshotOf('grpc/bookinfo'), good, 'last good snapshot kept');
  const st = cache.status().find((s) => s.key === 'grpc/bookinfo')!;
  t.is(st.error?.revision, 'r3');
  t.regex(st.error!.errors.join(), /name: must not be empty/);
  t.deepEqual(seen, ['a,b']);
  t.is(cache.snapshotFor('a'), good);

  cache.unregister('a');
  cache.unregister('b');
  t.is(cache.snapshotOf('grpc/bookinfo'), undefined, 'class dropped with its last proxy');
  cache.close();
});

test('canonical(): proxies that differ only in what translation ignores share one class, re-keyed per model', (t) => {
  const world: Record<string, ProxyResources> = { bookinfo: grpcResources([ratings]) };
  let workloadIps = new Set<string>(['10.0.0.1']);
  const tr = {
    ...fakeTranslator(() => world),
    key: (p: ProxyInfo) => `${p.kind}/${p.namespace}/${p.ips.join(',')}`,
    canonical: (p: ProxyInfo) => ({ ...p, ips: p.ips.filter((ip) => workloadIps.has(ip)) }),
  };
  const cache = new SnapshotCache(translatingBuilder(tr));
  cache.update(empty, 'r1');
  cache.flush();
  cache.register({ ...proxy('a', 'bookinfo'), ips: ['10.9.0.1'] });
  cache.register({ ...proxy('b', 'bookinfo'), ips: ['10.9.0.2'] });
  cache.register({ ...proxy('c', 'bookinfo'), ips: ['10.0.0.1'] });
  t.is(cache.keyOf('a'), cache.keyOf('b'));
  t.not(cache.keyOf('a'), cache.keyOf('c'));
  t.is(cache.status().length, 2);
  // A workload appears at b's address: b gets its own class on the next revision.
  workloadIps = new Set(['10.0.0.1', '10.9.0.2']);
  cache.update(empty, 'r2');
  cache.flush();
  t.not(cache.keyOf('a'), cache.keyOf('b'));
  t.is(cache.status().length, 3);
  cache.close();
});

test('a burst of updates coalesces into one rebuild, and a steady stream still rebuilds', async (t) => {
  const tr = fakeTranslator(() => ({ bookinfo: grpcResources([ratings]) }));
  const cache = new SnapshotCache(translatingBuilder(tr));
  cache.register(proxy('a', 'bookinfo'));
  for (let i = 0; i < 5; i++) cache.update(empty, `r${i}`);
  await new Promise((r) => setTimeout(r, 80));
  t.is(cache.rebuilds, 1);
  t.is(cache.revision, 'r4');
  // A steady stream of updates every 20 ms never goes quiet; the max delay forces a rebuild.
  const start = cache.rebuilds;
  await new Promise<void>((resolve) => {
    let n = 0;
    const iv = setInterval(() => {
      cache.update(empty, `s${n++}`);
      if (n === 12) {
        clearInterval(iv);
        resolve();
      }
    }, 20);
  });
  t.true(cache.rebuilds > start, 'rebuilt during the burst (max delay)');
  cache.close();
});

test('secrets are merged into every snapshot', (t) => {
  const tr = fakeTranslator(() => ({ bookinfo: grpcResources([ratings]) }));
  const builder = translatingBuilder(tr);
  const cache = new SnapshotCache(builder);
  cache.update(empty, 'r1');
  cache.flush();
  cache.register(proxy('a', 'bookinfo'));
  builder.setSecrets([res('ROOTCA', { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: 'x' } } })]);
  t.true(cache.snapshotOf('grpc/bookinfo')!.encoded.get(TYPE_URL.secret)!.has('ROOTCA'));
  cache.close();
});
