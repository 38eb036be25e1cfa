// Per-ACK work is O(1) in the subscribed names: an ACK that repeats the
// names it was answered for is compared, not sorted, joined or hashed, and
// no response is worked out again; a delta ACK changes no subscription and
// selects nothing. Counted on AdsStream directly.

import test from 'ava';
import { TYPE_URL } from '../../../../src/api/types.js';
import { buildSnapshot } from '../../../../src/xds/cache/snapshot.js';
import { AdsStream, type StreamHooks } from '../../../../src/xds/server/stream.js';
import { clusterName, grpcResources, type SvcSpec } from '../../../helpers/xds-resources.js';

const EDS = TYPE_URL.endpoint;
const services: SvcSpec[] = Array.from({ length: 200 }, (_, i) => ({ host: `s${i}.ns.svc.cluster.local`, port: 80, backends: [{ subset: '', port: 1000 + i, weight: 100 }] }));
const names = services.map((s) => clusterName(s, ''));

function counted(mode: 'sotw' | 'delta') {
  const sent: { nonce: string; version: string }[] = [];
  const hooks: StreamHooks = {
    sendSotw: (r) => sent.push({ nonce: r.nonce, version: r.version_info }),
    sendDelta: (r) => sent.push({ nonce: r.nonce, version: r.system_version_info }),
    acked: () => undefined,
    nacked: () => undefined,
    oversize: () => undefined,
    pushed: () => undefined,
  };
  const stream = new AdsStream({ id: 'p', kind: 'sidecar', namespace: 'ns', labels: {}, ips: [] }, mode, hooks, { maxMessageBytes: Infinity });
  stream.snapshot = buildSnapshot(grpcResources(services)).snapshot!;
  const calls = { namesKey: 0, select: 0 };
  const s = stream as unknown as Record<'namesKey' | 'select', (...a: unknown[]) => unknown>;
  for (const m of ['namesKey', 'select'] as const) {
    const orig = s[m]!.bind(stream);
    s[m] = (...a: unknown[]) => {
      calls[m]++;
      return orig(...a);
    };
  }
  return { stream, sent, calls };
}

test('SotW: 100 ACKs of a 200-name EDS subscription sort, hash and select nothing', (t) => {
  const { stream, sent, calls } = counted('sotw');
  stream.onRequest({ type_url: EDS, resource_names: names });
  t.is(sent.length, 1);
  const before = { ...calls };
  for (let i = 0; i < 100; i++) stream.onRequest({ type_url: EDS, resource_names: names, version_info: sent[0]!.version, response_nonce: sent[0]!.nonce });
  t.deepEqual(calls, before);
  t.is(sent.length, 1);
  // A changed subscription is worked out again.
  stream.onRequest({ type_url: EDS, resource_names: names.slice(1), version_info: sent[0]!.version, response_nonce: sent[0]!.nonce });
  t.is(calls.namesKey, before.namesKey + 1);
  t.is(sent.length, 2);
});

test('delta: ACKs select nothing', (t) => {
  const { stream, sent, calls } = counted('delta');
  stream.onDeltaRequest({ type_url: EDS, resource_names_subscribe: names });
  t.is(sent.length, 1);
  const before = calls.select;
  for (let i = 0; i < 100; i++) stream.onDeltaRequest({ type_url: EDS, response_nonce: sent[0]!.nonce });
  t.is(calls.select, before);
  t.is(sent.length, 1);
});

test('SotW streams subscribing the same names share one set of them; a change gives a stream its own again', (t) => {
  const a = counted('sotw');
  const b = counted('sotw');
  const c = counted('sotw');
  // Equal names in separate arrays of separate strings, as two clients' decoded requests are.
  a.stream.onRequest({ type_url: EDS, resource_names: names.map((n) => `${n} `.trimEnd()) });
  b.stream.onRequest({ type_url: EDS, resource_names: names.map((n) => `${n} `.trimEnd()) });
  c.stream.onRequest({ type_url: EDS, resource_names: [...names].reverse() });
  const set = (x: ReturnType<typeof counted>) => (x.stream.types.get(EDS) as unknown as { names: Set<string> }).names;
  t.is(set(a), set(b));
  t.is(set(a), set(c), 'the same names in another order are the same set');
  t.is(a.sent.length + b.sent.length + c.sent.length, 3);
  // b drops a name: its set is its own; a's and c's are untouched.
  b.stream.onRequest({ type_url: EDS, resource_names: names.slice(1), version_info: b.sent[0]!.version, response_nonce: b.sent[0]!.nonce });
  t.not(set(b), set(a));
  t.is(set(a).size, 200);
  t.is(set(b).size, 199);
  t.is(b.sent.length, 2);
  t.is(a.sent.length, 1);
  // An ACK from c (its own order) is still matched without a new subscription.
  const before = c.calls.namesKey;
  c.stream.onRequest({ type_url: EDS, resource_names: [...names].reverse(), version_info: c.sent[0]!.version, response_nonce: c.sent[0]!.nonce });
  t.is(c.calls.namesKey, before);
  t.is(c.sent.length, 1);
});
