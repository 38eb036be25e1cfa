// The route builders take (route, kind, warn): tested with plain values, no view.
import test from 'ava';
import type { HttpRouteModel } from '../../../../src/mesh/model.js';
import { corsPerRoute, directResponseAction, faultPerRoute, forwardAction, redirectAction, retryPolicy, type Warn } from '../../../../src/xds/translate/routes.js';

const base: HttpRouteModel = { index: 0, matches: [], destinations: [], mirrors: [], path: 'spec.http[0]' };
function sink(): { warn: Warn; codes: string[] } {
  const codes: string[] = [];
  return { warn: (code) => void codes.push(code), codes };
}

test('redirect and direct response: Envoy gets the action, gRPC clients get nothing and a warning', (t) => {
  const r = { ...base, redirect: { uri: '/new', redirectCode: 308 } };
  const e = sink();
  t.deepEqual(redirectAction(r, 'sidecar', e.warn), { redirect: { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } });
  const g = sink();
  t.is(redirectAction(r, 'grpc', g.warn), undefined);
  t.deepEqual([e.codes, g.codes], [[], ['MCD4110']]);
  t.deepEqual(directResponseAction({ ...base, directResponse: { status: 418, body: 'tea' } }, 'router', e.warn), { direct_response: { status: 418, body: { inline_string: 'tea' } } });
});

test('forward action: no live cluster is a 503 for Envoy and a left-out route for gRPC; gRPC timeouts are max_stream_duration', (t) => {
  t.deepEqual(forwardAction(base, 'sidecar', sink().warn, { clusters: [], mirrors: [] }), { direct_response: { status: 503 } });
  const g = sink();
  t.is(forwardAction(base, 'grpc', g.warn, { clusters: [], mirrors: [] }), undefined);
  t.deepEqual(g.codes, ['MCD4111']);
  const one = { clusters: [{ name: 'outbound|80||a', weight: 100, dest: { host: 'a', weight: 100 } }], mirrors: [] };
  t.deepEqual(forwardAction({ ...base, timeoutMs: 1500 }, 'grpc', sink().warn, one), { route: { cluster: 'outbound|80||a', max_stream_duration: { max_stream_duration: { seconds: 1, nanos: 500_000_000 } } } });
});

test('fault: the gRPC status resolved in the mesh model is what the filter gets', (t) => {
  const f = faultPerRoute({ ...base, fault: { abort: { grpcStatus: 'UNAVAILABLE', grpcCode: 14, percent: 50 } } }, 'grpc', sink().warn) as Record<string, any>;
  t.deepEqual(f.abort, { grpc_status: 14, percentage: { numerator: 500000, denominator: 'MILLION' } });
  const s = sink();
  t.is(faultPerRoute({ ...base, fault: { abort: { grpcStatus: 'NOPE', percent: 50 } } }, 'sidecar', s.warn), undefined);
  t.deepEqual(s.codes, ['MCD4115']);
});

test('CORS: Envoy only, max age already in seconds; retries: gRPC keeps the codes grpc-js retries on', (t) => {
  const r = { ...base, cors: { allowOrigins: [{ kind: 'prefix' as const, value: '' }], allowMethods: ['GET', 'POST'], allowHeaders: [], exposeHeaders: [], maxAgeSeconds: 86400 } };
  t.like(corsPerRoute(r, 'sidecar', sink().warn), { allow_origin_string_match: [{ prefix: '' }], allow_methods: 'GET,POST', max_age: '86400' });
  const g = sink();
  t.is(corsPerRoute(r, 'grpc', g.warn), undefined);
  t.deepEqual(g.codes, ['MCD4116']);
  const w = sink();
  t.deepEqual(retryPolicy({ path: 'p', retries: { attempts: 3, retryOn: 'unavailable,5xx' } }, 'grpc', w.warn), { retry_on: 'unavailable', num_retries: { value: 3 } });
  t.deepEqual(w.codes, ['MCD4117']);
});
