import test from 'ava';
import type { ProxyInfo } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { XdsServer } from '../../../../src/xds/server/index.js';
import { xdsMetrics } from '../../../../src/xds/metrics.js';
import { trustBundleSecret } from '../../../../src/xds/server/authorize.js';
import { FakeWatcher } from '../../../helpers/xds-fake-watcher.js';
import { AdminServer } from '../../../../src/admin/server.js';
import { registerXdsDebugRoutes } from '../../../../src/xds/debug.js';
import { AdsTestClient, grpcNode } from '../../../helpers/xds-client.js';
import { grpcResources, type SvcSpec } from '../../../helpers/xds-resources.js';

const LDS = TYPE_URL.listener, RDS = TYPE_URL.route, CDS = TYPE_URL.cluster, EDS = TYPE_URL.endpoint;
const H = 'reviews.bookinfo.svc.cluster.local';
const reviews = (w1: number, w2: number, port2 = 1002): SvcSpec => ({ host: H, port: 9080, backends: [{ subset: 'v1', port: 1001, weight: w1 }, { subset: 'v2', port: port2, weight: w2 }] });
const ratings: SvcSpec = { host: 'ratings.bookinfo.svc.cluster.local', port: 9080, backends: [{ subset: '', port: 2001, weight: 100 }] };
const details: SvcSpec = { host: 'details.shop.svc.cluster.local', port: 9080, backends: [{ subset: '', port: 3001, weight: 100 }] };


/** Requests are handled in order: once a probe LDS request is answered, everything sent before it was processed. */
async function barrier(c: AdsTestClient, name: string): Promise<void> {
  c.request(LDS, [`${name}.probe:1`]);
  await c.next(LDS);
}

async function setup(t: any, world: Record<string, SvcSpec[]>, opts: { maxMessageBytes?: number; sendBudgetBytes?: number } = {}) {
  const state = { world };
  // The server sees only a SnapshotWatcher: a fake one, no cache or translator.
  const watcher = new FakeWatcher((p: ProxyInfo) => (state.world[p.namespace] ? grpcResources(state.world[p.namespace]!) : new Map()));
  // Metrics come from the server's callbacks, as serve wires them.
  const server = new XdsServer({ watcher, callbacks: xdsMetrics(), ...opts });
  watcher.publish('r1');
  const port = await server.listen(0);
  const clients: AdsTestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const connect = (id: string, ns: string, mode: 'sotw' | 'delta' = 'sotw') => {
    const c = new AdsTestClient(`127.0.0.1:${port}`, grpcNode(id, ns), mode);
    clients.push(c);
    return c;
  };
  const change = (w: Record<string, SvcSpec[]>, rev: string) => {
    state.world = w;
    watcher.publish(rev);
  };
  return { server, connect, change, port, watcher };
}

test('SotW: wildcard CDS, named LDS/RDS/EDS, ACKs, no push when nothing changed, zero NACKs', async (t) => {
  const { server, connect, change } = await setup(t, { bookinfo: [reviews(90, 10), ratings], shop: [details] });
  const c = connect('sidecar~127.0.0.1~a.bookinfo~bookinfo.svc.cluster.local', 'bookinfo');
  c.request(CDS);
  const cds = await c.next(CDS);
  t.deepEqual(cds.names.slice().sort(), ['outbound|9080||ratings.bookinfo.svc.cluster.local', `outbound|9080|v1|${H}`, `outbound|9080|v2|${H}`].sort());
  t.regex(cds.version_info!, /^[0-9a-f]{16}$/);
  c.request(CDS, [], cds);
  c.request(LDS, [`${H}:9080`]);
  const lds = await c.next(LDS);
  t.deepEqual(lds.names, [`${H}:9080`]);
  c.request(LDS, [`${H}:9080`], lds);
  c.request(RDS, [`outbound|9080||${H}`]);
  const rds = await c.next(RDS);
  c.request(RDS, [`outbound|9080||${H}`], rds);
  c.request(EDS, [`outbound|9080|v1|${H}`, `outbound|9080|v2|${H}`]);
  const eds = await c.next(EDS);
  t.is(eds.values.length, 2);
  c.request(EDS, [`outbound|9080|v1|${H}`, `outbound|9080|v2|${H}`], eds);

  // A change in another namespace: this proxy gets nothing.
  change({ bookinfo: [reviews(90, 10), ratings], shop: [{ ...details, backends: [{ subset: '', port: 3002, weight: 100 }] }] }, 'r2');
  t.true(await c.quiet(200));

  // Weight change: only RDS is pushed.
  change({ bookinfo: [reviews(50, 50), ratings], shop: [details] }, 'r3');
  const rds2 = await c.next(RDS);
  t.not(rds2.version_info, rds.version_info);
  const wc = (rds2.values[0] as any).virtual_hosts[0].routes[0].route.weighted_clusters.clusters;
  t.deepEqual(wc.map((x: any) => x.weight.value), [50, 50]);
  c.request(RDS, [`outbound|9080||${H}`], rds2);
  t.true(await c.quiet(150), 'no other type pushed');
  await barrier(c, 'b1');
  const sz = server.syncz().find((s) => s.proxy.startsWith('sidecar~127.0.0.1~a'))!;
  t.is(sz.types[RDS]!.ackedVersion, rds2.version_info);
  t.is(sz.types[CDS]!.subscribed, '*');
  t.is(server.stats().nacks, 0);
});

test('SotW: stale nonces ignored, NACK recorded and the rejected version never re-sent', async (t) => {
  const { server, connect, change } = await setup(t, { bookinfo: [reviews(90, 10)] });
  const c = connect('n1', 'bookinfo');
  c.request(CDS);
  const cds1 = await c.next(CDS);
  c.request(CDS, [], undefined); // no nonce: answered again only if something changed
  c.request(CDS, [], cds1, 'cluster rejected: test');
  await barrier(c, 'b1');
  let sz = server.syncz()[0]!;
  t.is(sz.types[CDS]!.lastNack?.message, 'cluster rejected: test', 'nothing was sent in between, so the NACK matched');
  change({ bookinfo: [reviews(90, 10), ratings] }, 'r2');
  const cds2 = await c.next(CDS);
  t.is(cds2.names.length, 3);
  // NACK the new version.
  c.request(CDS, [], cds2, 'Cluster outbound|9080||ratings: bad thing');
  // A stale ACK (old nonce) must not count.
  c.request(CDS, [], cds1);
  await barrier(c, 'b2');
  sz = server.syncz()[0]!;
  t.is(sz.types[CDS]!.lastNack!.message, 'Cluster outbound|9080||ratings: bad thing');
  t.is(sz.types[CDS]!.lastNack!.version, cds2.version_info ?? "");
  t.is(sz.lastNack!.nonce, cds2.nonce);
  t.not(sz.types[CDS]!.ackedVersion, cds2.version_info);
  // Same config again (new revision id, same content): nothing is re-sent.
  change({ bookinfo: [reviews(90, 10), ratings] }, 'r3');
  t.true(await c.quiet(200), 'rejected version not re-sent');
  t.true(server.stats().nacks >= 1);
});

test('SotW: removed service disappears from LDS (absent = deleted) and clusters go only after routes are answered', async (t) => {
  const { connect, change } = await setup(t, { bookinfo: [reviews(90, 10), ratings] });
  const c = connect('n2', 'bookinfo');
  c.request(CDS);
  const cds = await c.next(CDS);
  c.request(CDS, [], cds);
  c.request(LDS);
  const lds = await c.next(LDS);
  t.is(lds.names.length, 2);
  c.request(LDS, [], lds);
  c.request(RDS, [`outbound|9080||${H}`, 'outbound|9080||ratings.bookinfo.svc.cluster.local']);
  const rds = await c.next(RDS);
  c.request(RDS, [`outbound|9080||${H}`, 'outbound|9080||ratings.bookinfo.svc.cluster.local'], rds);
  await c.quiet(50);

  change({ bookinfo: [reviews(90, 10)] }, 'r2');
  // Listeners change first; CDS still holds the removed cluster until LDS is answered.
  const lds2 = await c.next(LDS);
  t.deepEqual(lds2.names, [`${H}:9080`]);
  t.true(c.pending().every((r) => r.type_url !== CDS || r.names.includes('outbound|9080||ratings.bookinfo.svc.cluster.local')), 'no early cluster removal');
  c.request(LDS, [], lds2);
  const rds2 = await c.next(RDS);
  t.deepEqual(rds2.names, [`outbound|9080||${H}`]);
  t.true(c.pending().every((r) => r.type_url !== CDS), 'clusters wait for the route answer too');
  c.request(RDS, [`outbound|9080||${H}`], rds2);
  // A real client ACKs every response (the narrowed RDS subscription is answered too) until clusters shrink.
  let cds2 = await c.next();
  while (cds2.type_url !== CDS) {
    c.request(cds2.type_url, [`outbound|9080||${H}`], cds2);
    cds2 = await c.next();
  }
  t.false(cds2.names.includes('outbound|9080||ratings.bookinfo.svc.cluster.local'));
  t.is(cds2.names.length, 2);
});

test('SotW: new clusters are sent before the routes that use them', async (t) => {
  const { connect, change } = await setup(t, { bookinfo: [{ host: H, port: 9080, backends: [{ subset: 'v1', port: 1001, weight: 100 }] }] });
  const c = connect('n3', 'bookinfo');
  const order: string[] = [];
  c.request(CDS);
  const cds = await c.next(CDS);
  c.request(CDS, [], cds);
  c.request(RDS, [`outbound|9080||${H}`]);
  const rds = await c.next(RDS);
  c.request(RDS, [`outbound|9080||${H}`], rds);
  await c.quiet(50);
  change({ bookinfo: [reviews(80, 20)] }, 'r2');
  for (let i = 0; i < 2; i++) {
    const r = await c.next();
    order.push(r.type_url);
    c.request(r.type_url as string, r.type_url === CDS ? [] : [`outbound|9080||${H}`], r);
  }
  t.deepEqual(order, [CDS, RDS]);
});

test('proxyless aliases: short and namespace-qualified listener names get a listener with the requested name', async (t) => {
  // The aliases are resources of their own (translation emits them); the server looks names up as they are.
  const { connect } = await setup(t, { bookinfo: [{ ...reviews(90, 10), aliasesFor: 'bookinfo' }] });
  const c = connect('n4', 'bookinfo');
  c.request(LDS, ['reviews:9080', 'reviews.bookinfo:9080', 'nope:1']);
  const lds = await c.next(LDS);
  t.deepEqual(lds.names.sort(), ['reviews.bookinfo:9080', 'reviews:9080']);
  t.is((lds.values[0] as any).api_listener.api_listener.rds.route_config_name, `outbound|9080||${H}`);
});

test('delta: initial wildcard, only changed resources, removals, NACK not looped', async (t) => {
  const { server, connect, change } = await setup(t, { bookinfo: [reviews(90, 10), ratings] });
  const c = connect('d1', 'bookinfo', 'delta');
  c.delta(CDS);
  const r1 = await c.next(CDS);
  t.is(r1.deltaResources!.length, 3);
  c.delta(CDS, [], [], r1);
  c.delta(EDS, [`outbound|9080|v2|${H}`, 'outbound|9080|v9|nope']);
  const e1 = await c.next(EDS);
  t.deepEqual(e1.names, [`outbound|9080|v2|${H}`]);
  t.deepEqual(e1.removed_resources, ['outbound|9080|v9|nope'], 'unknown names reported once');
  c.delta(EDS, [], [], e1);
  await c.quiet(50);
  change({ bookinfo: [reviews(90, 10, 1009), ratings] }, 'r2');
  const e2 = await c.next(EDS);
  t.deepEqual(e2.names, [`outbound|9080|v2|${H}`], 'only the changed endpoint');
  t.deepEqual(e2.removed_resources ?? [], []);
  c.delta(EDS, [], [], e2, 'bad endpoint');
  await c.quiet(50);
  change({ bookinfo: [reviews(90, 10, 1009)] }, 'r3');
  const r2 = await c.next(CDS);
  t.deepEqual(r2.removed_resources, ['outbound|9080||ratings.bookinfo.svc.cluster.local']);
  t.is(r2.deltaResources!.length, 0);
  t.true(await c.quiet(150, EDS), 'rejected endpoint not re-sent');
  const sz = server.syncz()[0]!;
  t.is(sz.mode, 'delta');
  t.is(sz.types[EDS]!.lastNack!.message, 'bad endpoint');
  t.deepEqual(sz.types[EDS]!.lastNack!.resources, [`outbound|9080|v2|${H}`]);
});

test('responses over the size limit are refused and counted, not sent', async (t) => {
  const big = Array.from({ length: 40 }, (_, i): SvcSpec => ({ host: `svc${i}.bookinfo.svc.cluster.local`, port: 80, backends: [{ subset: '', port: 1000 + i, weight: 100 }] }));
  const { server, connect } = await setup(t, { bookinfo: big }, { maxMessageBytes: 4000 });
  const c = connect('o1', 'bookinfo');
  c.request(CDS);
  // Answered in order: once the probe's LDS answer is here, the CDS request has been handled.
  await barrier(c, 'o1');
  t.true(await c.quiet(200, CDS));
  t.is(server.stats().oversize, 1);
});

test('a node without an id is refused with INVALID_ARGUMENT', async (t) => {
  const { connect } = await setup(t, { bookinfo: [ratings] });
  const c = connect('', 'bookinfo');
  c.request(CDS);
  const err = await t.throwsAsync(c.next(CDS));
  t.regex(err!.message, /no node id/);
  t.is((err as any).code, 3);
});

test('admin: syncz and config_dump in Envoy shape', async (t) => {
  const { server, connect, watcher } = await setup(t, { bookinfo: [reviews(90, 10)] });
  const admin = new AdminServer();
  registerXdsDebugRoutes(admin, { revision: () => watcher.revision, synczPage: (q) => server.synczPage(q), refused: () => [], translation: () => [], configDump: (id, p) => server.configDump(id, p) });
  watcher.setSecrets([trustBundleSecret({ rootsPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'] })]);
  const aport = await admin.listen(0);
  t.teardown(() => admin.close());
  const c = connect('sidecar~10.0.0.1~x.bookinfo~bookinfo.svc.cluster.local', 'bookinfo');
  c.request(CDS);
  const cds = await c.next(CDS);
  c.request(CDS, [], cds);
  c.request(TYPE_URL.secret, ['ROOTCA']);
  const sds = await c.next(TYPE_URL.secret);
  t.deepEqual(sds.names, ['ROOTCA']);
  c.request(TYPE_URL.secret, ['ROOTCA'], sds);
  await barrier(c, 'b1');
  const syncz = await (await fetch(`http://127.0.0.1:${aport}/debug/syncz`)).json() as any;
  t.is(syncz.proxies.length, 1);
  t.is(syncz.proxies[0].types[CDS].ackedVersion, cds.version_info);
  const id = encodeURIComponent('sidecar~10.0.0.1~x.bookinfo~bookinfo.svc.cluster.local');
  const dump = await (await fetch(`http://127.0.0.1:${aport}/debug/config_dump?proxy=${id}`)).json() as any;
  const clusters = dump.configs.find((x: any) => x['@type'] === 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump');
  t.is(clusters.dynamic_active_clusters.length, 2);
  t.is(clusters.dynamic_active_clusters[0].cluster.connectTimeout, '10s');
  t.is(clusters.dynamic_active_clusters[0].cluster['@type'], CDS);
  t.is(clusters.dynamic_active_clusters[0].cluster.edsClusterConfig.edsConfig.resourceApiVersion, 'V3');
  const secrets = dump.configs.find((x: any) => x['@type'] === 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump');
  t.is(secrets.dynamic_active_secrets[0].name, 'ROOTCA');
  t.is((await fetch(`http://127.0.0.1:${aport}/debug/config_dump?proxy=nobody`)).status, 404);
  t.is((await fetch(`http://127.0.0.1:${aport}/debug/config_dump`)).status, 400);
  const metrics = await (await fetch(`http://127.0.0.1:${aport}/metrics`)).text();
  t.regex(metrics, /meshcd_xds_connected_proxies\{kind="sidecar"\} [1-9]/);
  t.regex(metrics, /meshcd_xds_push_ack_seconds_bucket/);
});

test('a tiny send budget still delivers every response, one at a time, in make-before-break order', async (t) => {
  const { server, connect, change } = await setup(t, { bookinfo: [reviews(90, 10), ratings] }, { sendBudgetBytes: 1 });
  const a = connect('s1', 'bookinfo');
  const b = connect('s2', 'bookinfo');
  for (const c of [a, b]) {
    c.request(CDS);
    c.request(LDS);
    c.request(EDS, [`outbound|9080|v2|${H}`]);
  }
  for (const c of [a, b]) {
    const got = [await c.next(), await c.next(), await c.next()].map((r) => r.type_url);
    t.deepEqual(got, [CDS, LDS, EDS]);
  }
  change({ bookinfo: [reviews(50, 50, 1005), ratings] }, 'r2');
  const e = await a.next(EDS);
  t.is((e.values[0] as any).endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 1005);
  t.is(server.stats().nacks, 0);
});

test('a node without GENERATOR that asks for host:port listeners is served as proxyless gRPC', async (t) => {
  const { server, connect } = await setup(t, { bookinfo: [reviews(90, 10)] });
  const g = connect('plain-client', 'bookinfo');
  g.request(LDS, [`${H}:9080`]);
  const lds = await g.next(LDS);
  t.deepEqual(lds.names, [`${H}:9080`]);
  t.is(server.syncz()[0]!.kind, 'grpc');
});

test('other services (the CA) go on the TLS port only; the plaintext port answers UNIMPLEMENTED', async (t) => {
  const { server, port } = await setup(t, { bookinfo: [ratings] });
  const { echoService, callEcho } = await import('../../../helpers/xds-e2e.js');
  const { service, Client } = echoService();
  // Services are given with the TLS port; a second server shows the call path.
  const s2 = new XdsServer({ watcher: new FakeWatcher(() => new Map()) });
  const grpc = await import('@grpc/grpc-js');
  const implementation = { Call: (_call: unknown, cb: (e: null, r: { version: string; attempt: number }) => void) => cb(null, { version: 'ca', attempt: 1 }) };
  const p2 = await s2.listenTls(0, '127.0.0.1', { credentials: grpc.ServerCredentials.createInsecure(), authenticate: async () => undefined, allowUnauthenticated: true, services: [{ definition: service, implementation }] });
  const plain = await s2.listen(0);
  t.teardown(() => s2.close());
  const c = new Client(`127.0.0.1:${p2}`, grpc.credentials.createInsecure());
  t.teardown(() => c.close());
  t.is((await callEcho(c)).version, 'ca');
  const p = new Client(`127.0.0.1:${plain}`, grpc.credentials.createInsecure());
  t.teardown(() => p.close());
  const err = await t.throwsAsync(callEcho(p));
  t.is((err as { code?: number }).code, grpc.status.UNIMPLEMENTED);
  t.true(port > 0 && server.stats().connected === 0);
});
