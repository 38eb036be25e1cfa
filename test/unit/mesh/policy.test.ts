// DestinationRule traffic policies are normalised once in the mesh model:
// durations in milliseconds, a text that is not a duration diagnosed and left
// out, and Istio's precedence in effectivePolicy. Plain values.

import test from 'ava';
import type { TrafficPolicy } from '../../../src/api/istio.js';
import type { Diagnostic } from '../../../src/api/types.js';
import { effectivePolicy, normalizeTrafficPolicy, type TrafficPolicyModel } from '../../../src/mesh/policy.js';

const rows: { name: string; in: TrafficPolicy; out: TrafficPolicyModel; diagnostics?: string[] }[] = [
  {
    name: 'connection pool durations',
    in: { connectionPool: { tcp: { maxConnections: 10, connectTimeout: '250ms', tcpKeepalive: { probes: 3, time: '2h', interval: '75s' }, maxConnectionDuration: '1h30m', idleTimeout: '1.5s' }, http: { idleTimeout: '30s', maxRetries: 2 } } },
    out: { connectionPool: { tcp: { maxConnections: 10, connectTimeoutMs: 250, tcpKeepalive: { probes: 3, timeMs: 7_200_000, intervalMs: 75_000 }, maxConnectionDurationMs: 5_400_000, idleTimeoutMs: 1500 }, http: { maxRetries: 2, idleTimeoutMs: 30_000 } } },
  },
  {
    name: 'warmup and cookie TTL',
    in: { loadBalancer: { warmupDurationSecs: '30s', consistentHash: { httpCookie: { name: 'user', path: '/', ttl: '0.5s' }, minimumRingSize: 64 } } },
    out: { loadBalancer: { warmupMs: 30_000, consistentHash: { minimumRingSize: 64, httpCookie: { name: 'user', path: '/', ttlMs: 500 } } } },
  },
  {
    name: 'outlier durations, also per port',
    in: { outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '3m' }, portLevelSettings: [{ port: { number: 9080 }, outlierDetection: { interval: '1s' } }] },
    out: { outlierDetection: { consecutive5xxErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 180_000 }, portLevelSettings: [{ outlierDetection: { intervalMs: 1000 }, port: { number: 9080 } }] },
  },
  {
    name: 'a text that is not a duration is left out and named',
    in: { connectionPool: { tcp: { connectTimeout: 'soon' } }, portLevelSettings: [{ port: { number: 1 }, outlierDetection: { baseEjectionTime: '5 minutes' } }] },
    out: { connectionPool: { tcp: {} }, portLevelSettings: [{ outlierDetection: {}, port: { number: 1 } }] },
    diagnostics: ['MCD4002 spec.trafficPolicy.connectionPool.tcp.connectTimeout: connectTimeout "soon" is not a duration; ignored', 'MCD4002 spec.trafficPolicy.portLevelSettings[0].outlierDetection.baseEjectionTime: baseEjectionTime "5 minutes" is not a duration; ignored'],
  },
];

for (const row of rows) {
  test(`normalizeTrafficPolicy: ${row.name}`, (t) => {
    const diagnostics: Diagnostic[] = [];
    t.deepEqual(normalizeTrafficPolicy(row.in, 'DestinationRule/ns/dr', 'spec.trafficPolicy', diagnostics), row.out);
    t.deepEqual(diagnostics.map((d) => `${d.code} ${d.path}: ${d.message}`), row.diagnostics ?? []);
  });
}

test('effectivePolicy: subset over top level, port level over its level, each field whole', (t) => {
  const dr = {
    trafficPolicy: { connectionPool: { tcp: { connectTimeoutMs: 1000 } }, loadBalancer: { simple: 'RANDOM' as const }, portLevelSettings: [{ port: { number: 9090 }, loadBalancer: { simple: 'LEAST_REQUEST' as const } }] },
    subsets: [{ name: 'v2', trafficPolicy: { connectionPool: { http: { maxRetries: 1 } } } }],
  };
  const rows: [number, string | undefined, unknown][] = [
    [8080, undefined, { connectionPool: { tcp: { connectTimeoutMs: 1000 } }, loadBalancer: { simple: 'RANDOM' } }],
    [9090, undefined, { connectionPool: { tcp: { connectTimeoutMs: 1000 } }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
    [9090, 'v2', { connectionPool: { http: { maxRetries: 1 } }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
    [8080, 'v9', { connectionPool: { tcp: { connectTimeoutMs: 1000 } }, loadBalancer: { simple: 'RANDOM' } }],
  ];
  for (const [port, subset, want] of rows) t.deepEqual(effectivePolicy(dr, port, subset), want, `${port} ${subset}`);
  t.deepEqual(effectivePolicy(undefined, 80, undefined), {});
});
