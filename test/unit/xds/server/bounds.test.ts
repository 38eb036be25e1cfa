// Issue 9 §3 regressions with raw ADS clients: a client that never reads
// does not starve others and is reset when it makes no progress; streams per
// connection and per peer, and names per type and per stream, are capped
// with RESOURCE_EXHAUSTED; NACK details are bounded and their log lines
// rate-limited; /debug/syncz and /debug/config_dump page; garbage frames get
// INVALID_ARGUMENT and the stream is closed.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { ProxyInfo, ProxyResources } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { AdminServer } from '../../../../src/admin/server.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { SnapshotCache, translatingBuilder, type Translator } from '../../../../src/xds/cache/index.js';
import { registerXdsDebugRoutes, xdsDebugSource } from '../../../../src/xds/debug.js';
import { XdsServer, type XdsServerOptions } from '../../../../src/xds/server/index.js';
import { AdsTestClient, grpcNode, sharedAdsClient } from '../../../helpers/xds-client.js';
import { eventually } from '../../../helpers/xds-e2e.js';
import { grpcResources, type SvcSpec } from '../../../helpers/xds-resources.js';

const CDS = TYPE_URL.cluster, EDS = TYPE_URL.endpoint, LDS = TYPE_URL.listener;
const many = (n: number): SvcSpec[] => Array.from({ length: n }, (_, i) => ({ host: `svc-${i}-${'x'.repeat(40)}.bookinfo.svc.cluster.local`, port: 80, backends: [{ subset: '', port: 1000 + (i % 60000), weight: 100 }] }));

async function setup(t: any, services: SvcSpec[], opts: Partial<XdsServerOptions> = {}) {
  const resources = grpcResources(services);
  const translator: Translator<ProxyResources> = { model: () => resources, key: (p: ProxyInfo) => p.namespace, translate: (_p, m) => ({ resources: m }) };
  const cache = new SnapshotCache(translatingBuilder(translator));
  const server = new XdsServer({ watcher: cache, ...opts });
  const config = makeConfigSet([]);
  cache.update({ config, index: buildServiceIndex(config) }, 'r1');
  cache.flush();
  const port = await server.listen(0);
  const address = `127.0.0.1:${port}`;
  const closers: (() => void)[] = [];
  t.teardown(async () => {
    for (const c of closers.reverse()) c();
    await server.close();
    cache.close();
  });
  const connect = (id: string, o: ConstructorParameters<typeof AdsTestClient>[4] = {}, mode: 'sotw' | 'delta' = 'sotw') => {
    const c = new AdsTestClient(address, grpcNode(id, 'bookinfo'), mode, grpc.credentials.createInsecure(), { channel: { 'grpc.use_local_subchannel_pool': 1 }, ...o });
    closers.push(() => c.close());
    return c;
  };
  const shared = () => {
    const client = sharedAdsClient(address);
    closers.push(() => client.close());
    return client;
  };
  return { server, cache, address, connect, shared };
}

const statusOf = async (c: AdsTestClient, type?: string) => ((await c.next(type).then(() => undefined, (e: grpc.ServiceError) => e)) as grpc.ServiceError | undefined)?.code;

test('a connection of streams that never read neither starves a well-behaved proxy nor lives forever', async (t) => {
  // ~150 KiB CDS responses and budgets far smaller than what the abuser's windows hold.
  const { server, connect, shared } = await setup(t, many(800), { sendBudgetBytes: 256 * 1024, streamBudgetBytes: 128 * 1024, stallMs: 1500 });
  const abuser = shared();
  const stuck: AdsTestClient[] = [];
  for (let i = 0; i < 40; i++) {
    const c = connect(`abuser-${i}`, { client: abuser, read: false });
    c.request(CDS);
    stuck.push(c);
  }
  await eventually(async () => {
    if (server.stats().connected < 40) throw new Error('abuser streams not registered yet');
  });
  const good = connect('good');
  good.request(CDS);
  const cds = await good.next(CDS, 20000);
  t.is(cds.names.length, 800, 'the well-behaved proxy gets its whole config while the abuser holds its streams');
  good.request(CDS, [], cds);
  // Streams whose writes make no progress are reset; the good one stays.
  await eventually(async () => {
    const ids = server.syncz().map((e) => e.proxy);
    if (ids.some((id) => id.startsWith('abuser-'))) throw new Error(`still connected: ${ids.length}`);
  }, 30000, 200);
  t.deepEqual(server.syncz().map((e) => e.proxy), ['good']);
});

test('streams per connection and per peer address are capped (RESOURCE_EXHAUSTED)', async (t) => {
  const { connect, shared } = await setup(t, many(2), { maxStreamsPerConnection: 2, maxStreamsPerPeer: 3 });
  const one = shared();
  const [a, b, c] = [0, 1, 2].map((i) => connect(`conn-${i}`, { client: one }));
  for (const x of [a!, b!]) x.request(CDS);
  t.is((await a!.next(CDS)).names.length, 2);
  t.is((await b!.next(CDS)).names.length, 2);
  c!.request(CDS);
  t.is(await statusOf(c!, CDS), grpc.status.RESOURCE_EXHAUSTED);
  t.regex(c!.error!.details, /more than 2 ADS streams on one connection/);
  // Per peer: a (2 streams so far, c refused) + one more connection = 3; the 4th stream is refused.
  const d = connect('peer-3');
  d.request(CDS);
  t.is((await d.next(CDS)).names.length, 2);
  const e = connect('peer-4');
  e.request(CDS);
  t.is(await statusOf(e, CDS), grpc.status.RESOURCE_EXHAUSTED);
  t.regex(e.error!.details, /more than 3 ADS streams from 127\.0\.0\.1/);
});

test('subscribed names are capped per type and per stream, SotW and delta', async (t) => {
  const { connect } = await setup(t, many(2), { maxNamesPerType: 10, maxNamesPerStream: 15 });
  const s = connect('sotw');
  s.request(EDS, Array.from({ length: 11 }, (_, i) => `n${i}`));
  t.is(await statusOf(s, EDS), grpc.status.RESOURCE_EXHAUSTED);
  t.regex(s.error!.details, /11 resource names subscribed for ClusterLoadAssignment; the limit is 10 per type/);
  const d = connect('delta', {}, 'delta');
  d.delta(EDS, Array.from({ length: 8 }, (_, i) => `e${i}`));
  await d.next(EDS);
  d.delta(LDS, Array.from({ length: 8 }, (_, i) => `l${i}:80`));
  t.is(await statusOf(d, LDS), grpc.status.RESOURCE_EXHAUSTED);
  t.regex(d.error!.details, /16 resource names subscribed on one stream; the limit is 15/);
});

test('NACK details are bounded in syncz and cut in the NACK log; repeated NACK log lines are rate-limited', async (t) => {
  const { server, connect } = await setup(t, many(2));
  const c = connect('nacker');
  c.request(CDS);
  const cds = await c.next(CDS);
  const huge = 'E'.repeat(1024 * 1024);
  for (let i = 0; i < 30; i++) c.request(CDS, [], cds, huge);
  await eventually(async () => {
    if (server.stats().nacks < 30) throw new Error(`${server.stats().nacks} NACKs seen`);
  });
  const st = server.stats();
  t.true(st.nackLog.every((n) => n.message.length < 700), 'the NACK log keeps a short prefix');
  t.is(st.nackLogsSuppressed, 29, 'one log line for 30 identical NACKs within the window');
  const last = server.syncz()[0]!.types[CDS]!.lastNack!;
  t.true(last.message.length > 16000 && last.message.length < 17000, `syncz keeps the bounded full text (${last.message.length})`);
  t.regex(last.message, /truncated from 1048576 characters/);
});

test('/debug/syncz and /debug/config_dump page with limit, next and continue; proxy filter', async (t) => {
  const { server, cache, connect } = await setup(t, many(5));
  const admin = new AdminServer();
  registerXdsDebugRoutes(admin, xdsDebugSource(server, cache));
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  for (const id of ['p-a', 'p-b', 'p-c']) {
    const c = connect(id);
    c.request(CDS);
    await c.next(CDS);
  }
  const get = async (q: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${q}`);
    return { status: r.status, body: (await r.json()) as { proxies?: { proxy: string }[]; next?: string; refused?: unknown[]; revision?: string; configs?: { dynamic_active_clusters?: unknown[] }[]; error?: string } };
  };
  const p1 = await get('/debug/syncz?limit=2');
  t.deepEqual(p1.body.proxies!.map((p) => p.proxy), ['p-a', 'p-b']);
  t.truthy(p1.body.next);
  t.deepEqual(p1.body.refused, []);
  t.is(p1.body.revision, 'r1');
  const p2 = await get(`/debug/syncz?limit=2&continue=${p1.body.next}`);
  t.deepEqual(p2.body.proxies!.map((p) => p.proxy), ['p-c']);
  t.is(p2.body.next, undefined);
  t.deepEqual((await get('/debug/syncz?proxy=p-b')).body.proxies!.map((p) => p.proxy), ['p-b']);
  t.is((await get('/debug/syncz?limit=0')).status, 400);
  t.is((await get('/debug/syncz?continue=garbage')).status, 400);
  const d1 = await get('/debug/config_dump?proxy=p-a&limit=3');
  t.is(d1.body.configs![0]!.dynamic_active_clusters!.length, 3);
  const d2 = await get(`/debug/config_dump?proxy=p-a&limit=3&continue=${d1.body.next}`);
  t.is(d2.body.configs![0]!.dynamic_active_clusters!.length, 2);
  t.is(d2.body.next, undefined);
});

test('garbage request frames: INVALID_ARGUMENT and the stream is closed', async (t) => {
  const { server, connect, shared } = await setup(t, many(1));
  const client = shared();
  // An invalid varint (protobuf cannot decode it at all).
  const a = connect('garbage-a', { client });
  a.sendRaw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  t.is(await statusOf(a), grpc.status.INVALID_ARGUMENT);
  // Decodes (an unknown field only) but is no DiscoveryRequest: no type_url.
  const b = connect('garbage-b', { client });
  b.sendRaw(Buffer.from(protobuf.Writer.create().uint32((99 << 3) | 0).uint32(7).finish()));
  t.is(await statusOf(b), grpc.status.INVALID_ARGUMENT);
  t.regex(b.error!.details, /no valid type_url/);
  t.is(server.stats().connected, 0);
});
