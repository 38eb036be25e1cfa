// The built-in analysis templates over Istio's standard metrics, the
// `{{ … }}` argument rendering for user queries, and judging a measured value
// against a metric's thresholds. Pure: no clock, no network.
//
// The built-ins select the new version as Flagger's Istio checks do, but by
// service and version label rather than workload name:
//   istio_requests_total{reporter="destination", destination_service="<host>",
//                        destination_version="<version>"}
// (the server-side proxy reports, so a request is counted once).

import type { Measurement, MetricSpec, TemplateArgs } from '../contracts.js';

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** One side of the comparison: the canary (new destinations) or the stable (old) ones. */
export type Side = TemplateArgs['canary'];

/** A value for inside a double-quoted PromQL string: backslash, quote and control characters escaped. */
export function promqlString(value: string): string {
  return value.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
}

const DURATION_RE = /^(\d+(ms|s|m|h|d|w|y))+$/;

/** A PromQL range duration (`10s`, `1m30s`); anything else is refused (it is pasted unquoted into `[…]`). */
export function promqlDuration(value: string, where: string): string {
  if (!DURATION_RE.test(value)) throw new TemplateError(`${where}: interval "${value}" is not a Prometheus duration (e.g. 30s, 1m, 1m30s)`);
  return value;
}

/** A regex (RE2, as Prometheus reads it) matching exactly these names. */
export function alternation(names: readonly string[]): string {
  return names.length ? names.map((n) => n.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`)).join('|') : '$^';
}

/**
 * The label matchers that select one side's traffic: service host and, when
 * known, its version label; for a config canary, the requests the side's
 * pods sent (client-side reporting, the `pod` label Prometheus's Kubernetes
 * discovery adds as Istio's scrape config does).
 */
function destination(side: Side): string {
  if (side.pods) return [`reporter="source"`, `pod=~"${promqlString(alternation(side.pods))}"`].join(',');
  const matchers = [`reporter="destination"`, `destination_service="${promqlString(side.host)}"`];
  if (side.version !== undefined) matchers.push(`destination_version="${promqlString(side.version)}"`);
  return matchers.join(',');
}

interface BuiltIn {
  description: string;
  render(side: Side, interval: string): string;
}

/**
 * Built-in templates. A request succeeds when its response code is not 5xx
 * and, for gRPC, its grpc_response_status is OK (0); plain HTTP requests have
 * an empty grpc_response_status, which also counts as OK.
 */
export const BUILT_IN_TEMPLATES: Record<string, BuiltIn> = {
  'request-success-rate': {
    description: 'share (0–1) of requests to the new version that are not 5xx and, for gRPC, whose status is OK',
    render: (side, interval) =>
      `sum(rate(istio_requests_total{${destination(side)},response_code!~"5..",grpc_response_status=~"0|"}[${interval}]))` +
      ` / sum(rate(istio_requests_total{${destination(side)}}[${interval}]))`,
  },
  'request-duration-p99': {
    description: '99th percentile of request duration to the new version, in milliseconds',
    render: (side, interval) =>
      `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{${destination(side)}}[${interval}])) by (le))`,
  },
};

export function isBuiltInTemplate(name: string): boolean {
  return Object.hasOwn(BUILT_IN_TEMPLATES, name);
}

const ARGUMENTS = ['namespace', 'service', 'interval', 'stable.host', 'stable.subset', 'stable.version', 'canary.host', 'canary.subset', 'canary.version', 'cohort.pods', 'rest.pods'] as const;

function argument(name: string, args: TemplateArgs, where: string): string {
  const [head, field] = name.split('.') as [string, string | undefined];
  let value: string | undefined;
  if (field === undefined && (head === 'namespace' || head === 'service')) value = args[head];
  else if (field === undefined && head === 'interval') return promqlDuration(args.interval, where);
  else if ((head === 'cohort' || head === 'rest') && field === 'pods') {
    const pods = (head === 'cohort' ? args.canary : args.stable).pods;
    if (!pods) throw new TemplateError(`${where}: {{ ${name} }} is only known in a config canary (strategy: proxies)`);
    return promqlString(alternation(pods));
  }
  else if ((head === 'stable' || head === 'canary') && (field === 'host' || field === 'subset' || field === 'version')) {
    value = args[head][field];
    if (value === undefined) throw new TemplateError(`${where}: {{ ${name} }} has no value (the ${head} destination has no ${field})`);
  } else {
    throw new TemplateError(`${where}: unknown template argument {{ ${name} }} (known: ${ARGUMENTS.join(', ')})`);
  }
  return promqlString(value);
}

/**
 * Renders `{{ name }}` arguments into a query. String values are escaped for
 * a double-quoted PromQL string (where templates put them); `interval` must
 * be a Prometheus duration.
 */
export function renderTemplate(query: string, args: TemplateArgs, where: string): string {
  let out = '';
  let rest = query;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) break;
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`${where}: "{{" without a closing "}}" in the query`);
    out += rest.slice(0, open) + argument(rest.slice(open + 2, close).trim(), args, where);
    rest = rest.slice(close + 2);
  }
  if (rest.includes('}}')) throw new TemplateError(`${where}: "}}" without an opening "{{" in the query`);
  return out + rest;
}

/** The side's view of the arguments: for `compare: stable`, the same query run with `canary` bound to the stable side. */
export function argsFor(args: TemplateArgs, side: 'canary' | 'stable'): TemplateArgs {
  return side === 'canary' ? args : { ...args, canary: args.stable };
}

/** The query a metric runs for one side (a built-in template or its own `query`). Throws TemplateError. */
export function metricQuery(metric: MetricSpec, args: TemplateArgs, side: 'canary' | 'stable' = 'canary'): string {
  const where = `metric ${metric.name}`;
  const a = argsFor(args, side);
  if (metric.template !== undefined) {
    const t = isBuiltInTemplate(metric.template) ? BUILT_IN_TEMPLATES[metric.template] : undefined;
    if (!t) throw new TemplateError(`${where}: unknown template "${metric.template}" (built in: ${Object.keys(BUILT_IN_TEMPLATES).join(', ')})`);
    return t.render(a.canary, promqlDuration(a.interval, where));
  }
  if (metric.query !== undefined) return renderTemplate(metric.query, a, where);
  throw new TemplateError(`${where}: neither template nor query is set`);
}

// ---------------------------------------------------------------------------
// Judging.

/** What one instant query returned: one value per series (empty: no samples), or the query failed. */
export type QueryResult = { series: number[] } | { error: string };

function describe(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(Number.isInteger(v) ? v : Number(v.toPrecision(6)));
}

type Single = { value: number } | { verdict: 'inconclusive' | 'error'; message: string };

/** Exactly one finite value, or why not. */
function single(result: QueryResult, side: string): Single {
  if ('error' in result) return { verdict: 'error', message: `${side}: ${result.error}` };
  const { series } = result;
  if (series.length === 0) return { verdict: 'inconclusive', message: `${side}: no samples (no traffic in the interval, or the labels select nothing)` };
  if (series.length > 1) return { verdict: 'error', message: `${side}: the query returned ${series.length} series; it must return one (aggregate with sum(…))` };
  const v = series[0]!;
  if (Number.isNaN(v)) return { verdict: 'inconclusive', message: `${side}: value is NaN (no requests in the interval: 0/0)` };
  if (!Number.isFinite(v)) return { verdict: 'inconclusive', message: `${side}: value is ${describe(v)} (a division by zero, or the quantile lies in the +Inf bucket)` };
  return { value: v };
}

/**
 * Judges a metric's measurement. `thresholdRange` bounds the canary's value
 * (inclusive); with `compare: stable` (or `rest`), canary − stable ≤
 * maxDelta and canary / stable ≤ maxRatio as well (cohort and rest for a
 * config canary). Missing data is never success.
 */
export function judge(metric: MetricSpec, canary: QueryResult, stable: QueryResult | undefined, at: number, query?: string): Measurement {
  const base: Measurement = { metric: metric.name, at, verdict: 'error', ...(query !== undefined ? { query } : {}) };
  const [cn, sn] = metric.compare === 'rest' ? ['cohort', 'rest'] : ['canary', 'stable'];
  const c = single(canary, cn);
  if (!('value' in c)) return { ...base, verdict: c.verdict, message: c.message };
  const out: Measurement = { ...base, value: c.value };
  const failures: string[] = [];
  const r = metric.thresholdRange;
  if (r?.min !== undefined && c.value < r.min) failures.push(`${describe(c.value)} < min ${r.min}`);
  if (r?.max !== undefined && c.value > r.max) failures.push(`${describe(c.value)} > max ${r.max}`);
  const checks: string[] = [];
  if (r && (r.min !== undefined || r.max !== undefined)) checks.push(`${describe(c.value)} in [${r.min ?? '-Inf'}, ${r.max ?? '+Inf'}]`);
  if (metric.compare !== undefined) {
    if (!stable) return { ...out, verdict: 'error', message: `compare: ${metric.compare} without a ${sn} measurement` };
    const s = single(stable, sn);
    if (!('value' in s)) return { ...out, verdict: s.verdict, message: s.message };
    out.stableValue = s.value;
    if (metric.maxDelta !== undefined) {
      const delta = c.value - s.value;
      if (delta > metric.maxDelta) failures.push(`${cn} − ${sn} = ${describe(delta)} > maxDelta ${metric.maxDelta}`);
      else checks.push(`${cn} − ${sn} = ${describe(delta)} ≤ ${metric.maxDelta}`);
    }
    if (metric.maxRatio !== undefined) {
      if (s.value === 0 && c.value !== 0) return { ...out, verdict: 'inconclusive', message: `${cn} / ${sn} undefined: ${sn} is 0, ${cn} ${describe(c.value)}` };
      const ratio = s.value === 0 ? 1 : c.value / s.value;
      if (ratio > metric.maxRatio) failures.push(`${cn} / ${sn} = ${describe(ratio)} > maxRatio ${metric.maxRatio}`);
      else checks.push(`${cn} / ${sn} = ${describe(ratio)} ≤ ${metric.maxRatio}`);
    }
  }
  if (failures.length) return { ...out, verdict: 'failure', message: failures.join('; ') };
  if (!checks.length) return { ...out, verdict: 'error', message: `metric ${metric.name} has no thresholdRange, maxDelta or maxRatio to judge by` };
  return { ...out, verdict: 'success', message: checks.join('; ') };
}
