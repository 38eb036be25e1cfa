import test from 'ava';
import { buildMeshModel } from '../../../src/mesh/index.js';
import { hostMatches, parseDurationMs, resolveGatewayRef, resolveHost } from '../../../src/mesh/names.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { configOf } from './config-of.js';

test('durations', (t) => {
  const cases: [string, number | undefined][] = [['1s', 1000], ['1.5s', 1500], ['100ms', 100], ['1m30s', 90_000], ['2h', 7_200_000], ['', undefined], ['10', undefined], ['1x', undefined], ['1s ', 1000]];
  for (const [text, ms] of cases) t.is(parseDurationMs(text), ms, text);
});

test('host names and gateway refs', (t) => {
  const s = { clusterDomain: 'svc.cluster.local' };
  t.is(resolveHost('reviews', 'bookinfo', s), 'reviews.bookinfo.svc.cluster.local');
  t.is(resolveHost('reviews.other.svc.cluster.local', 'bookinfo', s), 'reviews.other.svc.cluster.local');
  t.is(resolveHost('*.example.com', 'bookinfo', s), '*.example.com');
  t.is(resolveGatewayRef('gw', 'ns1'), 'ns1/gw');
  t.is(resolveGatewayRef('ns2/gw', 'ns1'), 'ns2/gw');
  t.is(resolveGatewayRef('./gw', 'ns1'), 'ns1/gw');
  t.is(resolveGatewayRef('mesh', 'ns1'), 'mesh');
  t.true(hostMatches('*.example.com', 'a.example.com'));
  t.false(hostMatches('*.example.com', 'example.com'));
  t.true(hostMatches('*', 'anything'));
});

const BASE = `
kind: ServiceEntry
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: reviews } }
---
kind: WorkloadEntry
metadata: { name: r1, namespace: bookinfo }
spec: { address: 10.0.0.1, labels: { app: reviews, version: v1 }, ports: { http: 19080 } }
---
kind: WorkloadEntry
metadata: { name: r2, namespace: bookinfo }
spec: { address: 10.0.0.2, labels: { app: reviews, version: v2 }, weight: 0 }
---
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews]
  exportTo: ["."]
  http:
    - route:
        - { destination: { host: reviews, subset: v1 }, weight: 80 }
        - { destination: { host: reviews, subset: v2 }, weight: 20 }
      timeout: 1.5s
      fault: { delay: { fixedDelay: 100ms, percent: 30 } }
      mirror: { host: reviews, subset: v2 }
    - route: [{ destination: { host: reviews } }, { destination: { host: reviews } }, { destination: { host: reviews } }]
      timeout: soon
`;

test('services resolve workloads (workloadSelector.labels), port remapping and weights', (t) => {
  const config = configOf(BASE);
  const m = buildMeshModel(config, buildServiceIndex(config));
  t.is(m.services.length, 1);
  const eps = m.services[0]!.endpoints;
  t.deepEqual(eps.map((e) => [e.address, e.ports[9080], e.weight]), [['10.0.0.1', 19080, 1], ['10.0.0.2', 9080, 1]]);
});

test('virtual services: FQDN hosts, exportTo, durations, defaults, bad duration diagnosed', (t) => {
  const config = configOf(BASE);
  const m = buildMeshModel(config, buildServiceIndex(config));
  const vs = m.virtualServices[0]!;
  t.deepEqual(vs.hosts, ['reviews.bookinfo.svc.cluster.local']);
  t.deepEqual(vs.exportTo, ['bookinfo']);
  t.deepEqual(vs.gateways, ['mesh']);
  const r0 = vs.http[0]!;
  t.is(r0.timeoutMs, 1500);
  t.deepEqual(r0.fault, { delay: { fixedDelayMs: 100, percent: 30 } });
  t.deepEqual(r0.mirrors, [{ destination: { host: 'reviews.bookinfo.svc.cluster.local', subset: 'v2' }, percent: 100 }]);
  // Unweighted destinations share 100 evenly.
  t.deepEqual(vs.http[1]!.destinations.map((d) => d.weight), [34, 33, 33]);
  t.is(vs.http[1]!.timeoutMs, undefined);
  t.deepEqual(m.diagnostics.map((d) => [d.code, d.path]), [['MCD4002', 'spec.http[1].timeout']]);
});

test('sidecar egress hosts and selectors are resolved', (t) => {
  const config = configOf(`
kind: Sidecar
metadata: { name: s, namespace: shop }
spec:
  workloadSelector: { labels: { app: web } }
  egress: [{ hosts: ["./*", "bookinfo/reviews", "*/*.example.com"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`);
  const m = buildMeshModel(config, buildServiceIndex(config));
  const s = m.sidecars[0]!;
  t.deepEqual(s.workloadSelector, { app: 'web' });
  t.deepEqual(s.egressHosts, [
    { namespace: 'shop', host: '*' },
    { namespace: 'bookinfo', host: 'reviews.bookinfo.svc.cluster.local' },
    { namespace: '*', host: '*.example.com' },
  ]);
  t.is(s.outboundTrafficPolicy, 'REGISTRY_ONLY');
});

test('delegate VirtualServices are inlined under the root route matches', (t) => {
  const config = configOf(`
kind: VirtualService
metadata: { name: root, namespace: edge }
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
    - name: shop
      match: [{ uri: { prefix: /shop }, headers: { x-a: { exact: "1" } } }]
      delegate: { name: shop-routes, namespace: web }
    - name: missing
      delegate: { name: nope }
    - route: [{ destination: { host: fallback.web.svc.cluster.local } }]
---
kind: VirtualService
metadata: { name: shop-routes, namespace: web }
spec:
  http:
    - name: v2
      match: [{ uri: { prefix: /shop/v2 }, headers: { x-b: { exact: "2" } } }]
      route: [{ destination: { host: shop, subset: v2 } }]
    - route: [{ destination: { host: shop } }]
`);
  const m = buildMeshModel(config, buildServiceIndex(config));
  const root = m.virtualServices.find((v) => v.name === 'root')!;
  t.deepEqual(root.http.map((r) => r.name ?? `#${r.index}`), ['shop/v2', 'shop/delegate[1]', '#2']);
  const v2 = root.http[0]!;
  t.deepEqual(v2.matches[0]!.uri, { kind: 'prefix', value: '/shop/v2' });
  t.deepEqual(v2.matches[0]!.headers.map((h) => h.name), ['x-a', 'x-b']);
  t.deepEqual(v2.matches[0]!.gateways, []);
  // Delegate destinations resolve in the delegate's namespace.
  t.is(v2.destinations[0]!.host, 'shop.web.svc.cluster.local');
  t.deepEqual(root.http[1]!.matches[0]!.uri, { kind: 'prefix', value: '/shop' });
  t.true(m.diagnostics.some((d) => d.code === 'IST0101' && d.path === 'spec.http[1].delegate'));
});
