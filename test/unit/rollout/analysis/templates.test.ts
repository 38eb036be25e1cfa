import test from 'ava';
import type { MetricSpec, TemplateArgs, Verdict } from '../../../../src/rollout/contracts.js';
import { judge, metricQuery, promqlString, renderTemplate, TemplateError, type QueryResult } from '../../../../src/rollout/analysis/templates.js';

const args: TemplateArgs = {
  namespace: 'bookinfo',
  service: 'reviews',
  interval: '30s',
  stable: { host: 'reviews.bookinfo.svc.cluster.local', subset: 'v1', version: 'v1' },
  canary: { host: 'reviews.bookinfo.svc.cluster.local', subset: 'v2', version: 'v2' },
};

test('request-success-rate selects the new version by reporter, service and version, and counts 5xx and non-OK gRPC as failures', (t) => {
  const q = metricQuery({ name: 'sr', template: 'request-success-rate' }, args);
  t.is(
    q,
    'sum(rate(istio_requests_total{reporter="destination",destination_service="reviews.bookinfo.svc.cluster.local",destination_version="v2",response_code!~"5..",grpc_response_status=~"0|"}[30s]))' +
      ' / sum(rate(istio_requests_total{reporter="destination",destination_service="reviews.bookinfo.svc.cluster.local",destination_version="v2"}[30s]))',
  );
});

test('request-duration-p99 is histogram_quantile over the new version’s duration buckets', (t) => {
  t.is(
    metricQuery({ name: 'lat', template: 'request-duration-p99' }, args),
    'histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_service="reviews.bookinfo.svc.cluster.local",destination_version="v2"}[30s])) by (le))',
  );
});

test('compare: stable runs the same query with canary bound to the stable side', (t) => {
  t.regex(metricQuery({ name: 'lat', template: 'request-duration-p99' }, args, 'stable'), /destination_version="v1"/);
  t.is(metricQuery({ name: 'x', query: 'up{v="{{ canary.version }}",s="{{ stable.version }}"}' }, args, 'stable'), 'up{v="v1",s="v1"}');
});

test('a destination without a version label is selected by host alone', (t) => {
  const q = metricQuery({ name: 'sr', template: 'request-duration-p99' }, { ...args, canary: { host: 'ratings.bookinfo.svc.cluster.local' } });
  t.true(q.includes('destination_service="ratings.bookinfo.svc.cluster.local"}'));
  t.false(q.includes('destination_version'));
});

const renders: Array<[string, string, Partial<TemplateArgs>?]> = [
  ['sum(rate(x{ns="{{ namespace }}",svc="{{service}}"}[{{ interval }}]))', 'sum(rate(x{ns="bookinfo",svc="reviews"}[30s]))'],
  ['{{ stable.host }}|{{ stable.subset }}|{{ stable.version }}', 'reviews.bookinfo.svc.cluster.local|v1|v1'],
  ['{{ canary.host }}|{{ canary.subset }}|{{ canary.version }}', 'reviews.bookinfo.svc.cluster.local|v2|v2'],
  ['x{v="{{ canary.version }}"}', 'x{v="a\\"b\\\\c\\n"}', { canary: { host: 'h', version: 'a"b\\c\n' } }],
  ['no arguments at all', 'no arguments at all'],
];
for (const [query, want, extra] of renders) {
  test(`renders ${JSON.stringify(query)}`, (t) => t.is(renderTemplate(query, { ...args, ...extra }, 'metric m'), want));
}

const renderErrors: Array<[string, RegExp, Partial<TemplateArgs>?]> = [
  ['x{a="{{ canary.verison }}"}', /^metric m: unknown template argument \{\{ canary\.verison \}\} \(known: namespace, service, interval, stable\.host/],
  ['x{a="{{ target }}"}', /unknown template argument \{\{ target \}\}/],
  ['x{a="{{ canary.version "}', /"\{\{" without a closing "\}\}"/],
  ['x{a="v"}}', /"\}\}" without an opening/],
  ['x{a="{{ canary.subset }}"}', /\{\{ canary\.subset \}\} has no value \(the canary destination has no subset\)/, { canary: { host: 'h' } }],
  ['rate(x[{{ interval }}])', /interval "1m\] or vector\(1\) #" is not a Prometheus duration/, { interval: '1m] or vector(1) #' }],
];
for (const [query, want, extra] of renderErrors) {
  test(`refuses ${JSON.stringify(query)}`, (t) => {
    const err = t.throws(() => renderTemplate(query, { ...args, ...extra }, 'metric m'), { instanceOf: TemplateError });
    t.regex(err!.message, want);
  });
}

test('unknown built-in template names the built-ins', (t) => {
  t.throws(() => metricQuery({ name: 'm', template: 'success-rate' }, args), { message: 'metric m: unknown template "success-rate" (built in: request-success-rate, request-duration-p99)' });
});

test('promqlString escapes quotes and backslashes', (t) => t.is(promqlString('a"\\'), 'a\\"\\\\'));

const v = (...series: number[]): QueryResult => ({ series });
const min99: MetricSpec = { name: 'sr', thresholdRange: { min: 0.99 } };
const max500: MetricSpec = { name: 'lat', thresholdRange: { max: 500 } };
const cmpDelta: MetricSpec = { name: 'lat', compare: 'stable', maxDelta: 50 };
const cmpRatio: MetricSpec = { name: 'lat', compare: 'stable', maxRatio: 1.2, thresholdRange: { max: 1000 } };

const judged: Array<[string, MetricSpec, QueryResult, QueryResult | undefined, Verdict, RegExp, number?, number?]> = [
  ['in range (min)', min99, v(0.995), undefined, 'success', /0\.995 in \[0\.99, \+Inf\]/, 0.995],
  ['at the bound', min99, v(0.99), undefined, 'success', /in \[/, 0.99],
  ['below min', min99, v(0.8), undefined, 'failure', /^0\.8 < min 0\.99$/, 0.8],
  ['above max', max500, v(812.5), undefined, 'failure', /^812\.5 > max 500$/, 812.5],
  ['empty vector', min99, v(), undefined, 'inconclusive', /^canary: no samples/],
  ['NaN', min99, v(NaN), undefined, 'inconclusive', /^canary: value is NaN/],
  ['+Inf', max500, v(Infinity), undefined, 'inconclusive', /^canary: value is \+Inf/],
  ['-Inf', max500, v(-Infinity), undefined, 'inconclusive', /value is -Inf/],
  ['several series', min99, v(1, 0.5), undefined, 'error', /returned 2 series; it must return one/],
  ['query error', min99, { error: 'Prometheus at http://p:9090/ unreachable' }, undefined, 'error', /^canary: Prometheus at/],
  ['no thresholds', { name: 'x' }, v(1), undefined, 'error', /no thresholdRange, maxDelta or maxRatio/, 1],
  ['delta within', cmpDelta, v(140), v(100), 'success', /canary − stable = 40 ≤ 50/, 140, 100],
  ['delta exceeded', cmpDelta, v(160), v(100), 'failure', /canary − stable = 60 > maxDelta 50/, 160, 100],
  ['ratio within', cmpRatio, v(110), v(100), 'success', /canary \/ stable = 1\.1 ≤ 1\.2/, 110, 100],
  ['ratio exceeded', cmpRatio, v(130), v(100), 'failure', /canary \/ stable = 1\.3 > maxRatio 1\.2/, 130, 100],
  ['ratio and range both fail', cmpRatio, v(1300), v(100), 'failure', /> max 1000; canary \/ stable = 13 > maxRatio/],
  ['ratio, both zero', cmpRatio, v(0), v(0), 'success', /= 1 ≤ 1\.2/],
  ['ratio, stable zero', cmpRatio, v(5), v(0), 'inconclusive', /stable is 0/],
  ['stable without data', cmpDelta, v(100), v(), 'inconclusive', /^stable: no samples/, 100],
  ['stable NaN', cmpDelta, v(100), v(NaN), 'inconclusive', /^stable: value is NaN/],
  ['stable missing', cmpDelta, v(100), undefined, 'error', /without a stable measurement/],
];
for (const [name, metric, canary, stable, verdict, message, value, stableValue] of judged) {
  test(`judge: ${name} → ${verdict}`, (t) => {
    const m = judge(metric, canary, stable, 1000, 'q');
    t.is(m.verdict, verdict);
    t.regex(m.message ?? '', message);
    t.is(m.metric, metric.name);
    t.is(m.at, 1000);
    t.is(m.query, 'q');
    if (value !== undefined) t.is(m.value, value);
    if (stableValue !== undefined) t.is(m.stableValue, stableValue);
    if (verdict === 'inconclusive' || verdict === 'error') t.not(m.verdict, 'success');
  });
}
