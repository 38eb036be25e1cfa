// Time series with uPlot: a fixed-height box (no layout shift while data
// streams in) that follows its width, colours from the theme's CSS
// variables, an optional threshold band, and the same numbers as a table
// for screen readers (and for the browser tests). The time axis is ours
// (src/dashboard/ticks.ts): round steps that leave each label room, in the
// viewer's zone, the date once under the chart (and on a tick that starts
// a new day) rather than on every label.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { timeTicks } from '../ticks.js';
import { formatTime } from './ui.js';

export interface Series {
  label: string;
  /** A CSS variable (`--canary`) or colour. */
  color: string;
  /** [ms since epoch, value] */
  points: [number, number][];
  /** Stepped line (weights hold until the next step); else points only. */
  stepped?: boolean;
}

export interface ChartProps {
  title: string;
  series: Series[];
  /** Fixed y range (e.g. 0–100 for a weight). */
  yRange?: [number, number];
  /** Shaded band of allowed values (a threshold range). */
  band?: { min?: number; max?: number };
  unit?: string;
  /** Extend stepped series to this time (now). */
  until?: number;
  height?: number;
  theme: string;
  empty?: string;
}

let probe: HTMLSpanElement | undefined;
/** A theme colour as canvas understands it: `var(--x)` resolved by the browser (light-dark() included) to rgb(). */
const cssVar = (name: string): string => {
  if (!name.startsWith('--')) return name;
  probe ??= document.body.appendChild(Object.assign(document.createElement('span'), { hidden: true }));
  probe.style.color = `var(${name})`;
  return getComputedStyle(probe).color || '#888';
};

const Y_INCRS = Array.from({ length: 16 }, (_, i) => 10 ** (i - 6)).flatMap((p) => [p, 2 * p, 5 * p]);
const AXIS_FONT = '11px system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const zoneOffset = (ms: number) => -new Date(ms).getTimezoneOffset() * 60_000;
const TICK_FORMAT = {
  second: new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' }),
  minute: new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' }),
  day: new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' }),
};
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
const zoneName = (ms: number) => new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(ms).find((x) => x.type === 'timeZoneName')?.value ?? '';

let measurer: CanvasRenderingContext2D | null | undefined;
const labelWidth = (text: string) => {
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer) return text.length * 7;
  measurer.font = AXIS_FONT;
  return measurer.measureText(text).width;
};

/** The x axis's ticks (seconds, as uPlot's time scale) and their labels for a plot `width` CSS px wide. */
export function axisTicks(min: number, max: number, width: number): { splits: number[]; labels: string[] } {
  const gap = 28;
  // The widest labels first (with seconds); a coarser step has shorter labels, so more of them fit.
  let t = timeTicks(min * 1000, max * 1000, width / (labelWidth(TICK_FORMAT.second.format(Date.UTC(2026, 11, 30, 22, 59, 59))) + gap), zoneOffset);
  if (t.unit !== 'second') {
    const finer = timeTicks(min * 1000, max * 1000, width / (labelWidth(TICK_FORMAT.minute.format(Date.UTC(2026, 11, 30, 22, 59))) + gap), zoneOffset);
    if (finer.unit !== 'second') t = finer;
  }
  const labels = t.at.map((ms, i) => {
    const time = TICK_FORMAT[t.unit].format(ms);
    return t.unit !== 'day' && t.newDay.includes(i) ? `${TICK_FORMAT.day.format(ms)}, ${time}` : time;
  });
  return { splits: t.at.map((ms) => ms / 1000), labels };
}

/** The days the chart spans and the zone its times are in: "Dec 7, 2026 · GMT+9". */
function spanNote(xs: number[]): string {
  if (xs.length === 0) return '';
  const first = dayFormat.format(xs[0]!);
  const last = dayFormat.format(xs[xs.length - 1]!);
  return `${first === last ? first : `${first} – ${last}`} · ${zoneName(xs[0]!)}`;
}

export function TimeChart(p: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const height = p.height ?? 240;
  const total = p.series.reduce((n, s) => n + s.points.length, 0);

  useEffect(() => {
    const el = box.current;
    if (!el || total === 0) return;
    // One x axis for all series (seconds), each series null where it has no point.
    const xs = [...new Set(p.series.flatMap((s) => s.points.map(([t]) => t)).concat(p.until !== undefined ? [p.until] : []))].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [
      xs.map((t) => t / 1000),
      ...p.series.map((s) => {
        const at = new Map(s.points);
        let last: number | null = null;
        return xs.map((t) => {
          const v = at.get(t);
          if (v !== undefined) last = v;
          // A stepped weight holds its value up to `until`; other series are points only.
          return v !== undefined ? v : s.stepped && t === p.until ? last : null;
        });
      }),
    ];
    let ticks: { splits: number[]; labels: string[] } = { splits: [], labels: [] };
    const fg = cssVar('--muted');
    const grid = cssVar('--border');
    const band = p.band;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: height - 8,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // A little air left and right, so the first and last points are drawn whole.
      scales: { x: { time: true, range: (_u, min, max) => timeRange(min, max) }, y: p.yRange ? { range: p.yRange } : { range: (_u, min, max) => rangeWith(min, max, band) } },
      axes: [
        {
          stroke: fg,
          font: AXIS_FONT,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          size: 30,
          splits: (u, _i, min, max) => (ticks = axisTicks(min, max, u.bbox.width / uPlot.pxRatio)).splits,
          values: () => ticks.labels,
        },
        // Steps of 1, 2 or 5 times a power of ten: 0.99 0.992 0.994 …, never 0.9975 shown as "0.998".
        { stroke: fg, font: AXIS_FONT, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, incrs: Y_INCRS, values: (_u, vals) => vals.map((v) => `${Number(v.toPrecision(12))}${p.unit ?? ''}`) },
      ],
      series: [
        {},
        ...p.series.map((s) => {
          const color = cssVar(s.color);
          return s.stepped
            ? { label: s.label, stroke: color, width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: true, size: 6, fill: color }, spanGaps: true }
            : { label: s.label, stroke: color, width: 0, paths: () => null, points: { show: true, size: 9, fill: color, stroke: color } };
        }),
      ],
      hooks: {
        ...(band
          ? {
              drawClear: [
                (u: uPlot) => {
                  const ctx = u.ctx;
                  const top = band.max !== undefined ? u.valToPos(band.max, 'y', true) : u.bbox.top;
                  const bottom = band.min !== undefined ? u.valToPos(band.min, 'y', true) : u.bbox.top + u.bbox.height;
                  ctx.save();
                  ctx.fillStyle = cssVar('--band');
                  ctx.fillRect(u.bbox.left, Math.max(u.bbox.top, top), u.bbox.width, Math.min(u.bbox.top + u.bbox.height, bottom) - Math.max(u.bbox.top, top));
                  ctx.restore();
                },
              ],
            }
          : {}),
        // The axis as drawn (instant, label, x in CSS px), for the tests: the canvas itself cannot be read back.
        draw: [
          (u: uPlot) => {
            const at = (s: number) => Math.round(u.valToPos(s, 'x'));
            el.parentElement?.setAttribute('data-x-ticks', JSON.stringify(ticks.splits.map((s, i) => ({ at: s * 1000, label: ticks.labels[i], x: at(s) }))));
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: height - 8 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [JSON.stringify(p.series), p.until, p.theme, JSON.stringify(p.band), total]);

  const rows = p.series.flatMap((s) => s.points.map(([t, v]) => ({ t, v, s: s.label }))).sort((a, b) => a.t - b.t);
  const note = spanNote([...rows.map((r) => r.t), ...(p.until !== undefined && rows.length ? [p.until] : [])].sort((a, b) => a - b));
  return (
    <figure style={{ margin: 0 }}>
      <div class="chart" style={{ height: `${height}px` }} role="img" aria-label={`${p.title}: ${rows.length} points${rows.length ? `, last ${rows[rows.length - 1]!.v}${p.unit ?? ''}` : ''}`} data-points={rows.length}>
        <div ref={box} />
        {total === 0 && <div class="empty">{p.empty ?? 'no data yet'}</div>}
      </div>
      <div class="legend">
        {p.series.map((s) => (
          <span key={s.label}>
            <i style={{ background: `var(${s.color})` }} />
            {s.label}
          </span>
        ))}
        {p.band && (
          <span>
            <i style={{ background: 'var(--band)', borderRadius: 0 }} />
            allowed {p.band.min !== undefined ? `≥ ${p.band.min}` : ''}
            {p.band.min !== undefined && p.band.max !== undefined ? ' and ' : ''}
            {p.band.max !== undefined ? `≤ ${p.band.max}` : ''}
          </span>
        )}
        <span class="axis-note" data-axis-note>
          {note}
        </span>
      </div>
      {/* A table is as wide as its content whatever its own width: the box around it is what hides it. */}
      <div class="sr-only">
        <table data-chart={p.title}>
          <caption>{p.title}</caption>
          <thead>
            <tr>
              <th>time</th>
              <th>series</th>
              <th>value</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td>{formatTime(r.t)}</td>
                <td>{r.s}</td>
                <td data-value={r.v}>{`${r.v}${p.unit ?? ''}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

/** The time span (seconds) with 2% air each side; a single instant gets a minute around it. */
function timeRange(min: number | null, max: number | null): uPlot.Range.MinMax {
  const lo = min ?? 0;
  const hi = max ?? lo;
  if (hi - lo < 1) return [lo - 30, hi + 30];
  const pad = (hi - lo) * 0.02;
  return [lo - pad, hi + pad];
}

/** The data's range, widened to show the threshold band and a little air. */
function rangeWith(min: number | null, max: number | null, band: { min?: number; max?: number } | undefined): uPlot.Range.MinMax {
  let lo = min ?? 0;
  let hi = max ?? 1;
  if (band?.min !== undefined) lo = Math.min(lo, band.min);
  if (band?.max !== undefined) hi = Math.max(hi, band.max);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}
