import test from 'ava';
import { timeTicks } from '../../../src/dashboard/ticks.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '');

test('a step that leaves each label room: a few seconds, a minute, hours, days', (t) => {
  const cases: [string, string, number, number, string][] = [
    // start, end, labels that fit, expected step (ms), first tick
    ['2026-12-07T10:18:59.500Z', '2026-12-07T10:19:09.500Z', 12, 1000, '2026-12-07T10:19:00Z'],
    ['2026-12-07T10:18:59.500Z', '2026-12-07T10:19:09.500Z', 6, 2000, '2026-12-07T10:19:00Z'],
    ['2026-12-07T10:18:59.500Z', '2026-12-07T10:19:19.500Z', 3, 10_000, '2026-12-07T10:19:00Z'],
    ['2026-12-07T10:00:00Z', '2026-12-07T10:45:00Z', 8, 10 * 60_000, '2026-12-07T10:00:00Z'],
    ['2026-12-07T10:07:00Z', '2026-12-07T16:00:00Z', 7, 3600_000, '2026-12-07T11:00:00Z'],
    ['2026-12-01T00:00:00Z', '2026-12-09T00:00:00Z', 6, 2 * 86400_000, '2026-12-01T00:00:00Z'],
  ];
  for (const [start, end, fit, step, first] of cases) {
    const ticks = timeTicks(at(start), at(end), fit);
    t.is(ticks.step, step, `${start}…${end} in ${fit}`);
    t.is(iso(ticks.at[0]!), first);
    t.true(ticks.at.length <= fit, `${ticks.at.length} ticks for ${fit} labels`);
    t.true(ticks.at.every((x, i) => i === 0 || x - ticks.at[i - 1]! === step));
  }
  // Never finer than a second, however wide the axis.
  t.is(timeTicks(at('2026-12-07T10:19:00.100Z'), at('2026-12-07T10:19:00.900Z'), 50).step, 1000);
});

test('ticks fall on round times in the viewer\'s zone; a tick that starts a new local day says so', (t) => {
  // India (UTC+5:30): hourly ticks at local whole hours, i.e. at :30 UTC.
  const india = () => 5.5 * 3600_000;
  const hourly = timeTicks(at('2026-12-07T10:00:00Z'), at('2026-12-07T15:00:00Z'), 6, india);
  t.is(hourly.step, 3600_000);
  t.deepEqual(hourly.at.map(iso), ['2026-12-07T10:30:00Z', '2026-12-07T11:30:00Z', '2026-12-07T12:30:00Z', '2026-12-07T13:30:00Z', '2026-12-07T14:30:00Z']);
  t.is(hourly.unit, 'minute');
  t.deepEqual(hourly.newDay, [], 'all on one local day');
  // Tokyo (UTC+9): 14:00Z is 23:00 local; the 15:00Z tick is local midnight, a new day.
  const tokyo = () => 9 * 3600_000;
  const night = timeTicks(at('2026-12-07T13:30:00Z'), at('2026-12-07T17:30:00Z'), 5, tokyo);
  t.deepEqual(night.at.map(iso), ['2026-12-07T14:00:00Z', '2026-12-07T15:00:00Z', '2026-12-07T16:00:00Z', '2026-12-07T17:00:00Z']);
  t.deepEqual(night.newDay, [1]);
  // Seconds are labelled as such; days by the day.
  t.is(timeTicks(0, 20_000, 10).unit, 'second');
  t.is(timeTicks(0, 10 * 86400_000, 10).unit, 'day');
});

test('a day step keeps local midnights across a change of UTC offset (summer time)', (t) => {
  // Berlin: UTC+1 until 2026-03-29 01:00Z, UTC+2 after.
  const berlin = (ms: number) => (ms < at('2026-03-29T01:00:00Z') ? 3600_000 : 7200_000);
  const days = timeTicks(at('2026-03-27T12:00:00Z'), at('2026-03-31T12:00:00Z'), 5, berlin);
  t.is(days.step, 86400_000);
  t.deepEqual(days.at.map(iso), ['2026-03-27T23:00:00Z', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', '2026-03-30T22:00:00Z']);
});
