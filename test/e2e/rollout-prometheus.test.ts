// The analysis templates against a real Prometheus (Debian package
// `prometheus`) scraping a backend that exports Istio's standard metrics:
// the right success rate and p99 for the new version, a failing v2 fails,
// missing data is inconclusive (never success), Prometheus gone is an error.

import test from 'ava';
import type { Measurement, MetricSpec, TemplateArgs } from '../../src/rollout/contracts.js';
import { PrometheusProvider } from '../../src/rollout/analysis/provider.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { startIstioMetricsBackend, type Requests } from '../helpers/istio-metrics-backend.js';

const host = (name: string) => `${name}.bookinfo.svc.cluster.local`;
const argsFor = (name: string): TemplateArgs => ({
  namespace: 'bookinfo',
  service: name,
  interval: '5s',
  stable: { host: host(name), subset: 'v1', version: 'v1' },
  canary: { host: host(name), subset: 'v2', version: 'v2' },
});

const successRate: MetricSpec = { name: 'success-rate', template: 'request-success-rate', thresholdRange: { min: 0.99 } };
const p99: MetricSpec = { name: 'latency', template: 'request-duration-p99', thresholdRange: { max: 500 } };

test('built-in templates measure v2 on a real Prometheus; failing v2 fails, no data is inconclusive, Prometheus stopped is an error', async (t) => {
  const backend = await startIstioMetricsBackend();
  t.teardown(() => backend.close());
  const mix: Requests[] = [
    // reviews: v2 healthy (90% at 20 ms, 10% at 400 ms); v1 has 5xx, which must not count for v2.
    { host: host('reviews'), version: 'v2', count: 9, durationMs: 20 },
    { host: host('reviews'), version: 'v2', count: 1, durationMs: 400 },
    { host: host('reviews'), version: 'v1', count: 5, durationMs: 3 },
    { host: host('reviews'), version: 'v1', count: 5, code: 503, durationMs: 3 },
    // ratings: v2 fails 20% with 503.
    { host: host('ratings'), version: 'v2', count: 8 },
    { host: host('ratings'), version: 'v2', count: 2, code: 503 },
    { host: host('ratings'), version: 'v1', count: 10 },
    // details (gRPC): HTTP 200 throughout, but 10% UNAVAILABLE (14).
    { host: host('details'), version: 'v2', count: 9, grpcStatus: 0 },
    { host: host('details'), version: 'v2', count: 1, grpcStatus: 14 },
  ];
  // idle: the series exist but stay at 0 (rate 0/0 = NaN).
  backend.record({ host: host('idle'), version: 'v2', count: 0 });
  const stopTraffic = backend.steady(mix, 100);
  t.teardown(stopTraffic);
  const prom = await startPrometheus([backend.target]);
  t.teardown(() => prom.stop());
  const provider = new PrometheusProvider({ timeoutMs: 10_000 });
  const measure = (metric: MetricSpec, name: string): Promise<Measurement> => provider.measure(metric, argsFor(name), prom.address, Date.now());

  // Wait (bounded) until two scrapes of the traffic are in the window.
  let first: Measurement | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    first = await measure(successRate, 'reviews');
    if (first.verdict !== 'inconclusive') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  t.is(first?.verdict, 'success', `${first?.message}\n${prom.log()}`);
  t.is(first?.value, 1);

  const latency = await measure(p99, 'reviews');
  t.is(latency.verdict, 'success', latency.message);
  // 9 of 10 in (10, 25], 1 in (250, 500]: rank 0.99 lies 90% into (250, 500].
  t.true(Math.abs(latency.value! - 475) < 1e-6, `p99 ${latency.value}`);

  const failing = await measure(successRate, 'ratings');
  t.is(failing.verdict, 'failure');
  t.true(Math.abs(failing.value! - 0.8) < 1e-9, `success rate ${failing.value}`);
  t.regex(failing.message!, /^0\.8 < min 0\.99$/);

  const grpc = await measure(successRate, 'details');
  t.is(grpc.verdict, 'failure');
  t.true(Math.abs(grpc.value! - 0.9) < 1e-9, `gRPC success rate ${grpc.value}`);

  // compare: stable — v2's p99 (475 ms) against v1's (4.96 ms).
  const cmp = await measure({ name: 'latency-vs-stable', template: 'request-duration-p99', compare: 'stable', maxRatio: 2 }, 'reviews');
  t.is(cmp.verdict, 'failure');
  t.true(Math.abs(cmp.stableValue! - 4.96) < 1e-6, `stable p99 ${cmp.stableValue}`);

  const nan = await measure(successRate, 'idle');
  t.is(nan.verdict, 'inconclusive');
  t.regex(nan.message!, /NaN/);
  for (const metric of [successRate, p99]) {
    const none = await measure(metric, 'ghost');
    t.is(none.verdict, 'inconclusive', `${metric.name}: ${none.message}`);
    t.regex(none.message!, /no samples/);
  }

  const bad = await measure({ name: 'bad', query: 'sum(rate(istio_requests_total[{{ interval }}]) by (', thresholdRange: { max: 1 } }, 'reviews');
  t.is(bad.verdict, 'error');
  t.regex(bad.message!, /: bad_data: /);

  await prom.stop();
  const down = await measure(successRate, 'reviews');
  t.is(down.verdict, 'error');
  t.regex(down.message!, /^canary: Prometheus http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: unreachable \(ECONNREFUSED\)$/);
});
