// AnalysisProvider over Prometheus: render the metric's query (both sides
// with `compare: stable`), run the instant queries, judge the values. Never
// throws: a bad template, a bad address or an unreachable Prometheus is an
// `error` measurement with a one-line message.

import type { AnalysisProvider, Measurement, MetricSpec, TemplateArgs } from '../contracts.js';
import { parsePrometheusAddress, PrometheusError, queryInstant, type QueryOptions } from './prometheus.js';
import { judge, metricQuery, TemplateError, type QueryResult } from './templates.js';

export interface PrometheusProviderOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

export class PrometheusProvider implements AnalysisProvider {
  constructor(private readonly opts: PrometheusProviderOptions = {}) {}

  async measure(metric: MetricSpec, args: TemplateArgs, prometheusAddress: string, now: number): Promise<Measurement> {
    let canaryQuery: string;
    let stableQuery: string | undefined;
    try {
      canaryQuery = metricQuery(metric, args, 'canary');
      if (metric.compare !== undefined) stableQuery = metricQuery(metric, args, 'stable');
    } catch (err) {
      return { metric: metric.name, at: now, verdict: 'error', message: message(err) };
    }
    const query = stableQuery === undefined ? canaryQuery : `${canaryQuery}\n# ${metric.compare}:\n${stableQuery}`;
    let address;
    try {
      address = parsePrometheusAddress(prometheusAddress, `metric ${metric.name}: prometheus address`);
    } catch (err) {
      return { metric: metric.name, at: now, verdict: 'error', message: message(err), query };
    }
    const q: QueryOptions = { ...(this.opts.timeoutMs ? { timeoutMs: this.opts.timeoutMs } : {}), ...(this.opts.maxBytes ? { maxBytes: this.opts.maxBytes } : {}) };
    const run = async (text: string): Promise<QueryResult> => {
      try {
        return { series: (await queryInstant(address, text, q)).map((s) => s.value) };
      } catch (err) {
        return { error: message(err) };
      }
    };
    const [canary, stable] = await Promise.all([run(canaryQuery), stableQuery === undefined ? undefined : run(stableQuery)]);
    return judge(metric, canary, stable, now, query);
  }
}

function message(err: unknown): string {
  if (err instanceof PrometheusError || err instanceof TemplateError) return err.message;
  return `unexpected: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`;
}
