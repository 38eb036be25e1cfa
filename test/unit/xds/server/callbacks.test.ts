// The server reports through callbacks (src/xds/callbacks.ts), not metrics
// of its own: stream opened/closed, response sent, ACK and NACK, each with
// the proxy, type, version, nonce and the revision the response came from.
// A fake watcher feeds it; a subscriber that throws changes nothing.

import test from 'ava';
import type { ProxyInfo } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { XdsEvents, type XdsCallbacks } from '../../../../src/xds/callbacks.js';
import { XdsServer } from '../../../../src/xds/server/index.js';
import { FakeWatcher } from '../../../helpers/xds-fake-watcher.js';
import { AdsTestClient, grpcNode } from '../../../helpers/xds-client.js';
import { eventually } from '../../../helpers/xds-e2e.js';
import { grpcResources, type SvcSpec } from '../../../helpers/xds-resources.js';

const CDS = TYPE_URL.cluster;
/** `n` services: a change of n changes CDS. */
const services = (n: number): SvcSpec[] => Array.from({ length: n }, (_, i) => ({ host: `s${i}.bookinfo.svc.cluster.local`, port: 9080, backends: [{ subset: '', port: 2000 + i, weight: 100 }] }));

async function setup(t: any) {
  const state = { n: 1 };
  const watcher = new FakeWatcher((p: ProxyInfo) => (p.namespace === 'bookinfo' ? grpcResources(services(state.n)) : new Map()));
  const events = new XdsEvents();
  const seen: string[] = [];
  const log: Record<string, any[]> = {};
  const record: XdsCallbacks = {};
  for (const name of ['streamOpened', 'streamClosed', 'responseSent', 'ack', 'nack'] as const) {
    (record as any)[name] = (e: any) => {
      (log[name] ??= []).push(e);
      seen.push(name);
    };
  }
  events.subscribe({ ack: () => { throw new Error('a broken subscriber'); } });
  events.subscribe(record);
  const server = new XdsServer({ watcher, callbacks: events });
  watcher.publish('r1');
  const port = await server.listen(0);
  const clients: AdsTestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const connect = (id: string, mode: 'sotw' | 'delta' = 'sotw') => {
    const c = new AdsTestClient(`127.0.0.1:${port}`, grpcNode(id, 'bookinfo'), mode);
    clients.push(c);
    return c;
  };
  const change = (n: number, revision: string) => {
    state.n = n;
    watcher.publish(revision);
  };
  return { server, connect, change, log, seen, events };
}

test('SotW: opened, response sent, ACK (with version and revision), NACK (with the error), closed', async (t) => {
  const { connect, change, log } = await setup(t);
  const c = connect('sidecar~10.0.0.1~a.bookinfo~bookinfo.svc.cluster.local');
  c.request(CDS);
  const cds = await c.next(CDS);
  c.request(CDS, [], cds);
  await eventually(async () => {
    if (!log.ack?.length) throw new Error('no ACK yet');
  });
  t.is(log.streamOpened!.length, 1);
  t.is(log.streamOpened![0].proxy.id, 'sidecar~10.0.0.1~a.bookinfo~bookinfo.svc.cluster.local');
  t.is(log.streamOpened![0].mode, 'sotw');
  const sent = log.responseSent![0];
  t.like(sent, { type: CDS, version: cds.version_info, nonce: cds.nonce, revision: 'r1', resources: 1 });
  t.true(sent.bytes > 0);
  t.like(log.ack![0], { type: CDS, version: cds.version_info, nonce: cds.nonce, revision: 'r1' });
  t.true(log.ack![0].seconds >= 0);

  change(2, 'r2');
  const cds2 = await c.next(CDS);
  c.request(CDS, [], cds2, 'cluster rejected: test');
  await eventually(async () => {
    if (!log.nack?.length) throw new Error('no NACK yet');
  });
  t.like(log.nack![0], { type: CDS, version: cds2.version_info, nonce: cds2.nonce, revision: 'r2', error: 'cluster rejected: test' });
  t.false("streamClosed" in log);
  c.close();
  await eventually(async () => {
    if (!log.streamClosed?.length) throw new Error('not closed yet');
  });
  t.is(log.streamClosed![0].stream, log.streamOpened![0].stream);
});

test('delta: the ACK names the revision its response came from', async (t) => {
  const { connect, change, log } = await setup(t);
  const c = connect('sidecar~10.0.0.2~b.bookinfo~bookinfo.svc.cluster.local', 'delta');
  c.delta(CDS);
  const r1 = await c.next(CDS);
  c.delta(CDS, [], [], r1);
  change(3, 'r2');
  const r2 = await c.next(CDS);
  c.delta(CDS, [], [], r2);
  await eventually(async () => {
    if ((log.ack?.length ?? 0) < 2) throw new Error('waiting for two ACKs');
  });
  t.deepEqual(log.ack!.map((a) => [a.mode, a.revision, a.nonce]), [['delta', 'r1', r1.nonce], ['delta', 'r2', r2.nonce]]);
});

test('unsubscribing stops the events; the server works without callbacks', async (t) => {
  const events = new XdsEvents();
  const got: string[] = [];
  const stop = events.subscribe({ streamOpened: (e) => got.push(e.proxy.id) });
  t.is(events.subscribers, 1);
  events.streamOpened({ stream: 1, mode: 'sotw', proxy: { id: 'x', kind: 'grpc', namespace: 'n', labels: {}, ips: [] } });
  stop();
  events.streamOpened({ stream: 2, mode: 'sotw', proxy: { id: 'y', kind: 'grpc', namespace: 'n', labels: {}, ips: [] } });
  t.deepEqual(got, ['x']);
  t.is(events.subscribers, 0);
});
