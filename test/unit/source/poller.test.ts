// The poller's arithmetic (pure pollDelay) and its queue: triggers join a
// waiting cycle, cycles never overlap, and the timer follows the injected
// clock and jitter.

import test from 'ava';
import { pollDelay, Poller } from '../../../src/source/poller.js';

const delays: { intervalMs: number; failures: number; cap: number; random: number; want: number }[] = [
  { intervalMs: 30_000, failures: 0, cap: 300_000, random: 0, want: 27_000 },
  { intervalMs: 30_000, failures: 0, cap: 300_000, random: 0.5, want: 30_000 },
  { intervalMs: 30_000, failures: 0, cap: 300_000, random: 1, want: 33_000 },
  { intervalMs: 30_000, failures: 1, cap: 300_000, random: 0.7, want: 1000 },
  { intervalMs: 30_000, failures: 4, cap: 300_000, random: 0.7, want: 8000 },
  { intervalMs: 30_000, failures: 12, cap: 300_000, random: 0.7, want: 300_000 },
  { intervalMs: 200, failures: 3, cap: 300_000, random: 0, want: 800 },
  { intervalMs: 30_000, failures: 1000, cap: 5000, random: 0, want: 5000 },
];

for (const d of delays) {
  test(`pollDelay(${d.intervalMs}, failures ${d.failures}, cap ${d.cap}, random ${d.random}) = ${d.want}`, (t) => {
    t.is(pollDelay(d.intervalMs, d.failures, d.cap, d.random), d.want);
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('triggers while a cycle runs join one waiting cycle; cycles never overlap', async (t) => {
  let running = 0;
  let cycles = 0;
  let overlap = false;
  const gates = [deferred(), deferred()];
  const p = new Poller({
    intervalMs: 3_600_000, maxBackoffMs: 1000, periodic: false, now: () => 0, random: () => 0, failures: () => 0,
    cycle: async () => {
      if (running++ > 0) overlap = true;
      await gates[cycles++]!.promise;
      running--;
    },
  });
  const first = p.trigger();
  t.is(p.trigger(), first, 'a trigger before the cycle starts joins it');
  await new Promise((r) => setImmediate(r));
  const second = p.trigger();
  const third = p.trigger();
  t.is(second, third, 'a waiting cycle is shared');
  gates[0]!.resolve();
  await first;
  gates[1]!.resolve();
  await second;
  t.is(cycles, 2);
  t.false(overlap);
  await p.stop();
});

test('periodic: after each cycle the next is due a jittered interval later, or a backoff after failures', async (t) => {
  let failures = 0;
  const p = new Poller({ intervalMs: 10_000, maxBackoffMs: 4000, periodic: true, now: () => 1_000_000, random: () => 0.25, failures: () => failures, cycle: async () => undefined });
  t.teardown(() => p.stop());
  await p.trigger();
  t.is(p.nextFetchAt, 1_000_000 + 9500);
  failures = 3;
  await p.trigger();
  t.is(p.nextFetchAt, 1_000_000 + 4000);
  t.true(p.scheduled);
});

test('a webhook is answered by the next cycle, not the running one', async (t) => {
  let now = 100;
  const seen: (number | undefined)[] = [];
  const gate = deferred();
  let n = 0;
  const p = new Poller({
    intervalMs: 1000, maxBackoffMs: 1000, periodic: false, now: () => now, random: () => 0, failures: () => 0,
    cycle: async () => {
      seen.push(p.answeringWebhookAt);
      if (n++ === 0) await gate.promise;
    },
  });
  const running = p.trigger();
  await new Promise((r) => setImmediate(r));
  now = 200;
  p.noteWebhook();
  const next = p.trigger();
  gate.resolve();
  await running;
  await next;
  t.deepEqual(seen, [undefined, 200]);
  t.is(p.answeringWebhookAt, undefined);
  await p.stop();
});

test('stop: no further cycles and no timer', async (t) => {
  let cycles = 0;
  const p = new Poller({ intervalMs: 10, maxBackoffMs: 10, periodic: true, now: () => 0, random: () => 0, failures: () => 0, cycle: async () => void cycles++ });
  await p.stop();
  await p.trigger();
  p.schedule();
  t.is(cycles, 0);
  t.false(p.scheduled);
});
