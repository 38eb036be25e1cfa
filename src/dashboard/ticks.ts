// Time-axis ticks for the dashboard's charts: a round step (1 s, 5 s, 1 min,
// 1 h, 1 day …) chosen so that at most `maxTicks` labels fit the span, the
// ticks on multiples of that step in the viewer's local time (10:20:00,
// 10:20:15, … in their zone, not in UTC), and which ticks fall on a new
// day (those carry the date). Pure: the zone enters as a function from an
// instant to its UTC offset; imports nothing.

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** The steps a time axis may use, smallest first. */
export const TIME_STEPS: readonly number[] = [S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S, M, 2 * M, 5 * M, 10 * M, 15 * M, 30 * M, H, 2 * H, 3 * H, 6 * H, 12 * H, D, 2 * D, 7 * D, 14 * D, 30 * D];

export interface TimeTicks {
  /** The step between ticks, ms. */
  step: number;
  /** What the labels must show: seconds below a minute's step, the day from a day's step. */
  unit: 'second' | 'minute' | 'day';
  /** Instants of the ticks, ms since the epoch, ascending. */
  at: number[];
  /** Index into `at` of each tick on a later local day than the tick before it: its label carries the date (the chart says the first day once). */
  newDay: number[];
}

/**
 * Ticks between `start` and `end` (ms since the epoch) for an axis that
 * fits at most `maxTicks` labels. `offset(ms)` is the viewer's UTC offset
 * at that instant in ms (east positive, as `-new Date(ms).getTimezoneOffset() * 60000`).
 */
export function timeTicks(start: number, end: number, maxTicks: number, offset: (ms: number) => number = () => 0): TimeTicks {
  const lo = Math.min(start, end);
  const hi = Math.max(start, end);
  const span = Math.max(hi - lo, 1);
  const most = Math.max(1, Math.floor(maxTicks));
  const step = TIME_STEPS.find((s) => span / s <= most) ?? Math.ceil(span / most / D) * D;
  const at: number[] = [];
  // Local multiples of the step: 10:20:00 in the viewer's zone, whatever their offset from UTC.
  const off = offset(lo);
  for (let t = Math.ceil((lo + off) / step) * step - off; t <= hi && at.length <= most + 1; t += step) {
    // A day's step keeps local midnights across a change of offset (summer time).
    const shift = step >= D ? off - offset(t) : 0;
    at.push(t + shift);
  }
  const day = (t: number) => Math.floor((t + offset(t)) / D);
  const newDay: number[] = [];
  at.forEach((t, i) => {
    if (i > 0 && day(t) !== day(at[i - 1]!)) newDay.push(i);
  });
  return { step, unit: step < M ? 'second' : step < D ? 'minute' : 'day', at, newDay };
}
