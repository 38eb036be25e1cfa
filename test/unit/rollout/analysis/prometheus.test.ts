import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parsePrometheusAddress, PrometheusError, queryInstant, type PrometheusFailure } from '../../../../src/rollout/analysis/prometheus.js';
import { PrometheusProvider } from '../../../../src/rollout/analysis/provider.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function server(t: { teardown(fn: () => Promise<void>): void }, handler: Handler): Promise<string> {
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString(), res));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, status: number, doc: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(doc));
};

test('sends the query in a POST body to /api/v1/query under the path prefix and parses vector values', async (t) => {
  let seen: { method?: string; url?: string; body?: string } = {};
  const url = await server(t, (req, body, res) => {
    seen = { method: req.method, url: req.url, body };
    json(res, 200, { status: 'success', data: { resultType: 'vector', result: [
      { metric: { a: '1' }, value: [1, '0.5'] }, { metric: {}, value: [1, 'NaN'] }, { metric: {}, value: [1, '+Inf'] }, { metric: {}, value: [1, '-Inf'] },
    ] } });
  });
  const series = await queryInstant(parsePrometheusAddress(`${url}/prom`), 'sum(up{job="x"})', { time: 1_700_000_000_500 });
  t.deepEqual(series.map((s) => s.value), [0.5, NaN, Infinity, -Infinity]);
  t.deepEqual(series[0]!.labels, { a: '1' });
  t.is(seen.method, 'POST');
  t.is(seen.url, '/prom/api/v1/query');
  t.deepEqual(Object.fromEntries(new URLSearchParams(seen.body)), { query: 'sum(up{job="x"})', time: '1700000000.500' });
});

test('a scalar result is one unlabelled series', async (t) => {
  const url = await server(t, (_q, _b, res) => json(res, 200, { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } }));
  t.deepEqual(await queryInstant(parsePrometheusAddress(url), 'scalar(1)'), [{ labels: {}, value: 42 }]);
});

const failures: Array<[string, Handler, PrometheusFailure, RegExp]> = [
  ['Prometheus status error', (_q, _b, res) => json(res, 400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error:\n unexpected "}"' }), 'prometheus', /: bad_data: invalid parameter "query": 1:5: parse error: unexpected "}"$/],
  ['HTTP status', (_q, _b, res) => { res.writeHead(503, 'Service Unavailable'); res.end('<html>down</html>'); }, 'http', /: HTTP 503 Service Unavailable$/],
  ['not JSON', (_q, _b, res) => { res.writeHead(200); res.end('hello'); }, 'bad-response', /not JSON/],
  ['matrix', (_q, _b, res) => json(res, 200, { status: 'success', data: { resultType: 'matrix', result: [] } }), 'bad-response', /returned a matrix; an analysis query must return an instant vector or a scalar/],
  ['malformed sample', (_q, _b, res) => json(res, 200, { status: 'success', data: { resultType: 'vector', result: [{ value: [1, 'x'] }] } }), 'bad-response', /malformed sample/],
  ['too large', (_q, _b, res) => json(res, 200, { status: 'success', data: { resultType: 'vector', result: [{ metric: { big: 'x'.repeat(5000) }, value: [1, '1'] }] } }), 'too-large', /exceeds the limit of 1024/],
  ['timeout', () => undefined, 'timeout', /no answer within 200 ms/],
];
for (const [name, handler, kind, message] of failures) {
  test(`classifies: ${name}`, async (t) => {
    const url = await server(t, handler);
    const err = await t.throwsAsync(queryInstant(parsePrometheusAddress(url), 'up', { maxBytes: 1024, timeoutMs: kind === 'timeout' ? 200 : 10_000 }), { instanceOf: PrometheusError });
    t.is(err!.kind, kind);
    t.regex(err!.message, message);
    t.true(err!.message.startsWith(`Prometheus ${url}/api/v1/query: `));
    t.false(err!.message.includes('\n'));
  });
}

test('unreachable', async (t) => {
  const url = await server(t, () => undefined);
  const port = new URL(url).port;
  // A port that was just free: bind and close a server to get one nobody listens on.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const free = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  t.not(String(free), port);
  const err = await t.throwsAsync(queryInstant(parsePrometheusAddress(`http://127.0.0.1:${free}`), 'up'), { instanceOf: PrometheusError });
  t.is(err!.kind, 'unreachable');
  t.regex(err!.message, /unreachable \(ECONNREFUSED\)/);
});

const addresses: Array<[string, RegExp]> = [
  ['http://admin:s3cret-pass@prom:9090', /credentials in the address are not accepted \(http:\/\/prom:9090\)/],
  ['http://tok3n-only@prom:9090', /credentials in the address/],
  ['ftp://prom:9090', /scheme "ftp" is not supported \(http or https\)/],
  ['http://prom:9090/?token=abc', /must not have a query string/],
  ['prom 9090', /is not a URL/], ['prom:9090', /scheme "prom" is not supported/],
  ['://user:pw@', /is not a URL/],
];
for (const [i, [address, want]] of addresses.entries()) {
  test(`refuses address #${i + 1} (${want.source})`, (t) => {
    const err = t.throws(() => parsePrometheusAddress(address, 'Rollout bookinfo/reviews: prometheus address'), { instanceOf: PrometheusError });
    t.regex(err!.message, want);
    t.true(err!.message.startsWith('Rollout bookinfo/reviews: prometheus address: '));
    for (const secret of ['s3cret-pass', 'tok3n-only', 'token=abc', 'pw@']) t.false(err!.message.includes(secret));
  });
}

test('provider: never throws, a credentialed address or a bad template is an error measurement', async (t) => {
  const p = new PrometheusProvider();
  const args = { namespace: 'n', service: 's', interval: '10s', stable: { host: 'h', version: 'v1' }, canary: { host: 'h', version: 'v2' } };
  const a = await p.measure({ name: 'sr', template: 'request-success-rate', thresholdRange: { min: 0.9 } }, args, 'http://u:hunter22@p:9090', 5);
  t.is(a.verdict, 'error');
  t.false(a.message!.includes('hunter22'));
  const b = await p.measure({ name: 'x', query: '{{ nope }}', thresholdRange: { min: 0.9 } }, args, 'http://p:9090', 5);
  t.deepEqual(b, { metric: 'x', at: 5, verdict: 'error', message: 'metric x: unknown template argument {{ nope }} (known: namespace, service, interval, stable.host, stable.subset, stable.version, canary.host, canary.subset, canary.version, cohort.pods, rest.pods)' });
});

test('provider: compare: stable runs both sides', async (t) => {
  const queries: string[] = [];
  const url = await server(t, (_q, body, res) => {
    const q = new URLSearchParams(body).get('query')!;
    queries.push(q);
    json(res, 200, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, q.includes('"v2"') ? '130' : '100'] }] } });
  });
  const args = { namespace: 'n', service: 's', interval: '10s', stable: { host: 'h', version: 'v1' }, canary: { host: 'h', version: 'v2' } };
  const m = await new PrometheusProvider().measure({ name: 'lat', template: 'request-duration-p99', compare: 'stable', maxRatio: 1.2 }, args, url, 7);
  t.is(m.verdict, 'failure');
  t.is(m.value, 130);
  t.is(m.stableValue, 100);
  t.is(queries.length, 2);
  t.regex(m.query!, /# stable:/);
});
