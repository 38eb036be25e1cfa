// The send scheduler's budget across all connections (istiod's push
// throttle, in bytes): a write starts only while less than totalBudgetBytes
// is in flight, waiting connections served oldest first, a write pending
// past parkMs no longer holding the others back, a closed stream's bytes
// given back. Driven with fake write targets whose completions the test calls.

import test from 'ava';
import { SendScheduler, type SendTarget } from '../../../../src/xds/server/sender.js';

interface Fake extends SendTarget<string> {
  written: string[];
  done: (() => void)[];
}

function fake(): Fake {
  const f: Fake = { written: [], done: [], write: (msg, done) => void (f.written.push(msg), f.done.push(done)) };
  return f;
}

const item = (msg: string, bytes: number) => ({ type: 't', msg, bytes, replaceable: false });
const tick = () => new Promise((r) => setImmediate(r));

function scheduler(total: number, parkMs = 60_000) {
  const s = new SendScheduler<string>({ streamBudgetBytes: 1000, connectionBudgetBytes: 1000, totalBudgetBytes: total, parkMs, stallMs: 60_000 }, () => undefined);
  return s;
}

test('writes start only while the bytes in flight across connections are under the total budget; completions let the next connection go', (t) => {
  const s = scheduler(100);
  t.teardown(() => s.stop());
  const targets = [fake(), fake(), fake()];
  const handles = targets.map((f, i) => s.open(`peer:${i}`, f));
  for (const [i, h] of handles.entries()) h.send(item(`m${i}`, 60));
  // 60 in flight (< 100): the second starts; 120 in flight: the third waits.
  t.deepEqual(targets.map((f) => f.written.length), [1, 1, 0]);
  t.deepEqual(s.totals(), { inFlight: 120, waiting: 1 });
  targets[0]!.done[0]!();
  t.deepEqual(targets.map((f) => f.written.length), [1, 1, 1]);
  targets[1]!.done[0]!();
  targets[2]!.done[0]!();
  t.deepEqual(s.totals(), { inFlight: 0, waiting: 0 });
  // One message larger than the whole budget still goes, alone.
  handles[0]!.send(item('big', 500));
  handles[1]!.send(item('small', 1));
  t.deepEqual(targets.map((f) => f.written.length), [2, 1, 1]);
  targets[0]!.done[1]!();
  t.deepEqual(targets.map((f) => f.written.length), [2, 2, 1]);
});

test('waiting connections are served oldest first, not in the order they asked', (t) => {
  const s = scheduler(100);
  t.teardown(() => s.stop());
  const [a, b, c, d] = [fake(), fake(), fake(), fake()];
  const ha = s.open('a', a!);
  const hb = s.open('b', b!);
  const hc = s.open('c', c!);
  const hd = s.open('d', d!);
  ha.send(item('a1', 100));
  hd.send(item('d1', 10));
  hc.send(item('c1', 10));
  hb.send(item('b1', 10));
  t.deepEqual([a!.written, b!.written, c!.written, d!.written].map((w) => w.length), [1, 0, 0, 0]);
  // a's next response waits too; when a's first completes, a (the oldest) goes first, then b, c, d.
  ha.send(item('a2', 80));
  a!.done[0]!();
  t.deepEqual([a!.written, b!.written, c!.written, d!.written].map((w) => w.length), [2, 1, 1, 0]);
  b!.done[0]!();
  t.is(d!.written.length, 1);
});

test('a write pending past parkMs stops counting, so a stuck client holds the others back only that long', async (t) => {
  const s = scheduler(100, 40);
  t.teardown(() => s.stop());
  const stuck = fake();
  const good = fake();
  const hs = s.open('stuck', stuck);
  const hg = s.open('good', good);
  hs.send(item('s1', 100));
  hg.send(item('g1', 50));
  t.is(good.written.length, 0);
  const t0 = performance.now();
  while (good.written.length === 0 && performance.now() - t0 < 5000) await tick();
  t.is(good.written.length, 1, 'the good connection went once the stuck write was parked');
  t.true(performance.now() - t0 >= 30);
  // The parked write completing later does not take its bytes off twice.
  stuck.done[0]!();
  t.deepEqual(s.totals(), { inFlight: 50, waiting: 0 });
  good.done[0]!();
  t.deepEqual(s.totals(), { inFlight: 0, waiting: 0 });
});

test('a closed stream gives its bytes back to the total budget', async (t) => {
  const s = scheduler(100);
  t.teardown(() => s.stop());
  const [a, b] = [fake(), fake()];
  const ha = s.open('a', a!);
  const hb = s.open('b', b!);
  ha.send(item('a1', 100));
  hb.send(item('b1', 10));
  t.is(b!.written.length, 0);
  ha.close();
  await tick();
  t.is(b!.written.length, 1);
  // A late callback from the closed stream's write changes nothing.
  a!.done[0]!();
  t.deepEqual(s.totals(), { inFlight: 10, waiting: 0 });
});

test('the push budget is in /metrics, read when scraped', async (t) => {
  const { registry } = await import('../../../../src/util/metrics.js');
  const { watchSendBudget } = await import('../../../../src/xds/metrics.js');
  const s = scheduler(100);
  t.teardown(() => s.stop());
  watchSendBudget(() => s.totals());
  const [a, b] = [fake(), fake()];
  s.open('a', a!).send(item('a1', 100));
  s.open('b', b!).send(item('b1', 10));
  const text = await registry.metrics();
  t.regex(text, /^meshcd_xds_send_inflight_bytes 100$/m);
  t.regex(text, /^meshcd_xds_send_waiting_connections 1$/m);
  a!.done[0]!();
  b!.done[0]!();
  const after = await registry.metrics();
  t.regex(after, /^meshcd_xds_send_inflight_bytes 0$/m);
  t.regex(after, /^meshcd_xds_send_waiting_connections 0$/m);
});
