// A snapshot composed of a shared part (a scope's outbound config, built and
// checked once) and a proxy's own part: only the own part is checked, its
// references may point into the shared part, and what Envoy would refuse
// across the two (a name in both, one address bound twice) refuses it. With
// the mesh translator, sidecars of one namespace that each run their own
// workload are distinct classes but share one outbound part, and the server
// prepares its responses once for all of them.

import test from 'ava';
import type { ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { buildSnapshot, composeSnapshot, SnapshotCache, translatingBuilder } from '../../../../src/xds/cache/index.js';
import { meshTranslator } from '../../../../src/xds/server/translator.js';
import { AdsStream, type StreamHooks } from '../../../../src/xds/server/stream.js';
import type { PreparedResponse } from '../../../../src/xds/server/service.js';
import { grpcResources, res, type SvcSpec } from '../../../helpers/xds-resources.js';

const shared = buildSnapshot(grpcResources([{ host: 'a.ns.svc.cluster.local', port: 80, backends: [{ subset: '', port: 1000, weight: 100 }] } as SvcSpec])).snapshot!;
const listener = (name: string, port: number, cluster: string) => res(name, { name, address: { socket_address: { address: '0.0.0.0', port_value: port } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'x', cluster } }] }] });
const own = (...listeners: XdsResource[]): ProxyResources => new Map<TypeUrl, Map<string, XdsResource>>([[TYPE_URL.listener, new Map(listeners.map((l) => [l.name, l]))]]);

test('composeSnapshot: own references into the shared part; refusals across parts', (t) => {
  const ok = composeSnapshot(shared, own(listener('in', 15006, 'outbound|80||a.ns.svc.cluster.local')));
  t.deepEqual(ok.errors, []);
  const snap = ok.snapshot!;
  t.is(snap.parts!.shared, shared);
  t.true(snap.encoded.get(TYPE_URL.listener)!.has('in') && snap.encoded.get(TYPE_URL.listener)!.has('a.ns.svc.cluster.local:80'));
  t.is(snap.encoded.get(TYPE_URL.cluster)!.size, shared.encoded.get(TYPE_URL.cluster)!.size);
  t.not(snap.version, composeSnapshot(shared, own(listener('in', 15007, 'outbound|80||a.ns.svc.cluster.local'))).snapshot!.version);
  t.regex(composeSnapshot(shared, own(listener('in', 15006, 'missing'))).errors.join(), /Listener in: cluster missing is not in the snapshot/);
  t.regex(composeSnapshot(shared, own(listener('a.ns.svc.cluster.local:80', 15006, 'outbound|80||a.ns.svc.cluster.local'))).errors.join(), /in both the shared and the proxy's own part/);
  const withBound = buildSnapshot(new Map([...grpcResources([]), [TYPE_URL.listener, new Map([['out', listener('out', 8080, 'x')]])], [TYPE_URL.cluster, new Map([['x', res('x', { name: 'x', type: 'STATIC', connect_timeout: { seconds: 1, nanos: 0 } })]])]])).snapshot!;
  t.regex(composeSnapshot(withBound, own(listener('in', 8080, 'x'))).errors.join(), /Listeners out and in both bind 0\.0\.0\.0:8080/);
});

test('realistic sidecars: one class each, one shared outbound part, responses prepared once', async (t) => {
  const { loadRevision } = await import('../../../../src/config/load.js');
  const { readFolderRevision } = await import('../../../../src/source/folder.js');
  const load = await loadRevision(await readFolderRevision('test/fixtures/golden/bookinfo/input'));
  const cache = new SnapshotCache(translatingBuilder(meshTranslator()));
  cache.update({ config: load.config, index: buildServiceIndex(load.config) }, 'r1');
  cache.flush();
  const sidecar = (ip: string, app: string, version: string): ProxyInfo => ({ id: `sidecar~${ip}~${app}.bookinfo~bookinfo.svc.cluster.local`, kind: 'sidecar', namespace: 'bookinfo', labels: { app, version }, ips: [ip] });
  const a = cache.register(sidecar('10.0.2.1', 'reviews', 'v1'));
  const b = cache.register(sidecar('10.0.2.2', 'reviews', 'v2'));
  t.not(a.key, b.key, 'each workload its own class');
  t.truthy(a.snapshot!.parts);
  t.is(a.snapshot!.parts!.shared, b.snapshot!.parts!.shared, 'one outbound part for the namespace');
  const sent: PreparedResponse[] = [];
  const hooks: StreamHooks = { sendSotw: (r) => sent.push(r), sendDelta: () => undefined, acked: () => undefined, nacked: () => undefined, oversize: () => undefined, pushed: () => undefined };
  for (const snap of [a.snapshot!, b.snapshot!]) {
    const s = new AdsStream(sidecar('10.0.0.0', 'x', 'y'), 'sotw', hooks, { maxMessageBytes: Infinity });
    s.snapshot = snap;
    s.onRequest({ type_url: TYPE_URL.cluster });
  }
  const [ca, cb] = sent.map((r) => r.resourcesBytes as Buffer[]);
  t.is(ca![0], cb![0], 'the shared clusters\' bytes are one buffer for both');
  t.is(ca!.length, 2, 'followed by the proxy\'s own inbound clusters');
  cache.close();
});

test('a route change sends routes only: the clusters\' version is the same however the response is put together', async (t) => {
  const { makeConfigSet } = await import('../../../../src/config/load.js');
  const resource = (kind: string, name: string, spec: Record<string, unknown>) => ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: 'ns', labels: {}, annotations: {} }, spec, origin: { file: `${name}.yaml`, line: 1 }, raw: {}, digest: '' });
  const mesh = (weight: number) => makeConfigSet([
    resource('ServiceEntry', 'a', { hosts: ['a.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.0.0.1', labels: { v: '1' } }, { address: '10.0.0.2', labels: { v: '2' } }] }),
    resource('DestinationRule', 'a', { host: 'a.ns.svc.cluster.local', subsets: [{ name: 'one', labels: { v: '1' } }, { name: 'two', labels: { v: '2' } }] }),
    resource('VirtualService', 'a', { hosts: ['a.ns.svc.cluster.local'], http: [{ route: [{ destination: { host: 'a.ns.svc.cluster.local', subset: 'one' }, weight }, { destination: { host: 'a.ns.svc.cluster.local', subset: 'two' }, weight: 100 - weight }] }] }),
  ] as never);
  const cache = new SnapshotCache(translatingBuilder(meshTranslator()));
  const c1 = mesh(90);
  cache.update({ config: c1, index: buildServiceIndex(c1) }, 'r1');
  cache.flush();
  const sent: PreparedResponse[] = [];
  const hooks: StreamHooks = { sendSotw: (r) => sent.push(r), sendDelta: () => undefined, acked: () => undefined, nacked: () => undefined, oversize: () => undefined, pushed: () => undefined };
  // A workload of its own (inbound clusters in its own part), as every realistic sidecar is.
  const proxy: ProxyInfo = { id: 'sidecar~10.0.0.1~a-1.ns~ns.svc.cluster.local', kind: 'sidecar', namespace: 'ns', labels: { v: '1' }, ips: ['10.0.0.1'] };
  const stream = new AdsStream(proxy, 'sotw', hooks, { maxMessageBytes: Infinity });
  const watch = cache.watch(proxy, (snap, rev) => stream.setSnapshot(snap, rev));
  stream.snapshot = watch.current;
  const ack = (type: string, names: string[] = []) => {
    const r = sent.filter((x) => x.type_url === type).at(-1)!;
    stream.onRequest({ type_url: type, resource_names: names, version_info: r.version_info, response_nonce: r.nonce });
  };
  stream.onRequest({ type_url: TYPE_URL.cluster });
  ack(TYPE_URL.cluster);
  stream.onRequest({ type_url: TYPE_URL.listener });
  ack(TYPE_URL.listener);
  stream.onRequest({ type_url: TYPE_URL.route, resource_names: ['80'] });
  ack(TYPE_URL.route, ['80']);
  const before = sent.length;
  const c2 = mesh(50);
  cache.update({ config: c2, index: buildServiceIndex(c2) }, 'r2');
  cache.flush();
  ack(TYPE_URL.route, ['80']);
  t.deepEqual(sent.slice(before).map((r) => r.type_url), [TYPE_URL.route]);
  cache.close();
});

test('an endpoint change in another namespace: the classes that cannot see it get their last snapshot again without composing it; new secrets still reach them', async (t) => {
  const { makeConfigSet } = await import('../../../../src/config/load.js');
  const { res: secret } = await import('../../../helpers/xds-resources.js');
  const entry = (ns: string, name: string, addresses: string[]) => ({ kind: 'ServiceEntry', apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec: { hosts: [`${name}.${ns}.svc.cluster.local`], exportTo: ['.'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: addresses.map((address) => ({ address, labels: { app: name } })) }, origin: { file: `${ns}/${name}.yaml`, line: 1 }, raw: {}, digest: '' });
  const mesh = (lastB: string) => makeConfigSet([entry('one', 'a', ['10.1.0.1', '10.1.0.2']), entry('one', 'b', ['10.1.1.1']), entry('two', 'c', ['10.2.0.1', lastB])] as never);
  const builder = translatingBuilder(meshTranslator());
  const cache = new SnapshotCache(builder);
  const c1 = mesh('10.2.0.2');
  cache.update({ config: c1, index: buildServiceIndex(c1) }, 'r1');
  cache.flush();
  const sidecar = (ip: string, ns: string, app: string): ProxyInfo => ({ id: `sidecar~${ip}~${app}.${ns}~${ns}.svc.cluster.local`, kind: 'sidecar', namespace: ns, labels: { app }, ips: [ip] });
  const inOne = [sidecar('10.1.0.1', 'one', 'a'), sidecar('10.1.0.2', 'one', 'a'), sidecar('10.1.1.1', 'one', 'b')];
  const inTwo = sidecar('10.2.0.1', 'two', 'c');
  for (const p of [...inOne, inTwo]) cache.register(p);
  const before = new Map([...inOne, inTwo].map((p) => [p.id, cache.snapshotFor(p.id)!]));
  t.is(new Set(inOne.map((p) => cache.keyOf(p.id))).size, 3, 'a class per workload');

  const reused0 = builder.reused;
  const c2 = mesh('10.2.0.3');
  cache.update({ config: c2, index: buildServiceIndex(c2) }, 'r2');
  cache.flush();
  t.is(builder.reused - reused0, 3, "namespace one's three classes: nothing they are built from changed");
  for (const p of inOne) t.is(cache.snapshotFor(p.id), before.get(p.id), `${p.id}: the same snapshot object`);
  const after = cache.snapshotFor(inTwo.id)!;
  t.not(after.version, before.get(inTwo.id)!.version, 'namespace two sees the new endpoint');
  t.true(JSON.stringify([...after.resources.get(TYPE_URL.endpoint)!.values()].map((r) => r.value)).includes('10.2.0.3'));

  // The CA's trust bundle changes: every class is composed again, with it.
  const reused1 = builder.reused;
  builder.setSecrets([secret('ROOTCA', { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: 'x' } } })]);
  t.is(builder.reused, reused1, 'nothing reused across new secrets');
  for (const p of [...inOne, inTwo]) t.true(cache.snapshotFor(p.id)!.encoded.get(TYPE_URL.secret)!.has('ROOTCA'), `${p.id} has ROOTCA`);
  cache.close();
});
