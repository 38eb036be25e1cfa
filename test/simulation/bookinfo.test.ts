// Behaviour of the translated bookinfo fixture: which listener, route and
// cluster a request reaches, per proxy kind. Table-driven.

import test from 'ava';
import { fixtureResources } from '../golden/harness.js';
import { type SimRequest, type SimResult, simulate } from './simulator.js';

const R = (s: string) => `outbound|9080|${s}|reviews.bookinfo.svc.cluster.local`;
const RATINGS = 'outbound|9080||ratings.bookinfo.svc.cluster.local';
const PRODUCTPAGE = 'outbound|9080||productpage.bookinfo.svc.cluster.local';

interface Case {
  /** The golden fixture (test/fixtures/golden/<fixture>) whose proxy serves the request. */
  fixture: string;
  name: string;
  proxy: string;
  req: SimRequest;
  expect: Partial<SimResult> & { clusters?: { name: string; weight: number }[] };
}

const cases: Case[] = [
  // Header routing, subsets, weights, catch-all order (sidecar).
  { fixture: 'bookinfo', name: 'header routes jason to v2', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews:9080', path: '/', headers: { 'end-user': 'jason' } }, expect: { listener: '0.0.0.0_9080', routeConfig: '9080', virtualHost: 'reviews.bookinfo.svc.cluster.local:9080', route: 'bookinfo/reviews/jason', clusters: [{ name: R('v2'), weight: 100 }] } },
  { fixture: 'bookinfo', name: 'other users get the 90/10 split', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews.bookinfo.svc.cluster.local', path: '/', headers: { 'end-user': 'mike' } }, expect: { route: 'bookinfo/reviews/split', clusters: [{ name: R('v1'), weight: 90 }, { name: R('v3'), weight: 10 }] } },
  { fixture: 'bookinfo', name: 'prefix + method match', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews.bookinfo:9080', path: '/api/v1/list', method: 'GET' }, expect: { route: 'bookinfo/reviews/api/match[0]', clusters: [{ name: R('v3'), weight: 100 }] } },
  { fixture: 'bookinfo', name: 'method mismatch falls through to the split', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews:9080', path: '/api/v1/list', method: 'POST' }, expect: { route: 'bookinfo/reviews/split' } },
  { fixture: 'bookinfo', name: 'regex match', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews', path: '/reviews/42' }, expect: { route: 'bookinfo/reviews/api/match[1]', clusters: [{ name: R('v3'), weight: 100 }] } },
  { fixture: 'bookinfo', name: 'regex must match the whole path', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews', path: '/reviews/42/x' }, expect: { route: 'bookinfo/reviews/split' } },
  { fixture: 'bookinfo', name: 'service without VirtualService gets the default route', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'details:9080', path: '/x' }, expect: { route: 'default', clusters: [{ name: 'outbound|9080||details.bookinfo.svc.cluster.local', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'fault route first, by header', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'ratings:9080', path: '/', headers: { 'x-test-fault': 'abort' } }, expect: { route: 'bookinfo/ratings/http[0]', routeFilters: ['envoy.filters.http.fault'], clusters: [{ name: RATINGS, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'query parameter redirect for Envoy', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'ratings:9080', path: '/x?debug=1' }, expect: { route: 'bookinfo/ratings/http[2]', redirect: { path_redirect: '/debug', response_code: 'FOUND' } } },
  { fixture: 'bookinfo', name: 'catch-all comes last', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'ratings:9080', path: '/x' }, expect: { route: 'bookinfo/ratings/http[3]', clusters: [{ name: RATINGS, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'unknown host passes through (ALLOW_ANY)', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'example.net', path: '/' }, expect: { virtualHost: 'allow_any', clusters: [{ name: 'PassthroughCluster', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'TCP by destination address', proxy: 'sidecar-reviews-v1', req: { port: 3306, destinationIp: '10.96.0.50' }, expect: { listener: '0.0.0.0_3306', clusters: [{ name: 'outbound|3306||mysql.bookinfo.svc.cluster.local', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'TLS by SNI to an external DNS service', proxy: 'sidecar-reviews-v1', req: { port: 443, sni: 'httpbin.org' }, expect: { listener: '0.0.0.0_443', clusters: [{ name: 'outbound|443||httpbin.org', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'unknown port goes to virtualOutbound passthrough', proxy: 'sidecar-reviews-v1', req: { port: 5432, destinationIp: '192.0.2.1' }, expect: { listener: 'virtualOutbound', clusters: [{ name: 'PassthroughCluster', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'exportTo "." is visible in its namespace', proxy: 'sidecar-reviews-v1', req: { port: 8080, host: 'admin.bookinfo.svc.cluster.local:8080', path: '/' }, expect: { clusters: [{ name: 'outbound|8080||admin.bookinfo.svc.cluster.local', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'exportTo "." hides the service from other namespaces', proxy: 'sidecar-other', req: { port: 8080, host: 'admin.bookinfo.svc.cluster.local:8080', path: '/' }, expect: { listener: 'virtualOutbound', clusters: [{ name: 'PassthroughCluster', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'other namespaces see exported services by FQDN', proxy: 'sidecar-other', req: { port: 9080, host: 'reviews.bookinfo.svc.cluster.local', path: '/', headers: { 'end-user': 'jason' } }, expect: { route: 'bookinfo/reviews/jason', clusters: [{ name: R('v2'), weight: 100 }] } },
  { fixture: 'bookinfo', name: 'short names only resolve in the own namespace', proxy: 'sidecar-other', req: { port: 9080, host: 'reviews', path: '/' }, expect: { virtualHost: 'allow_any' } },
  // Sidecar egress scoping + REGISTRY_ONLY.
  { fixture: 'bookinfo', name: 'Sidecar egress allows a listed host', proxy: 'sidecar-shop', req: { port: 9080, host: 'ratings.bookinfo.svc.cluster.local:9080', path: '/' }, expect: { route: 'bookinfo/ratings/http[3]', clusters: [{ name: RATINGS, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'Sidecar egress hides an unlisted host (REGISTRY_ONLY blocks it)', proxy: 'sidecar-shop', req: { port: 9080, host: 'reviews.bookinfo.svc.cluster.local', path: '/' }, expect: { virtualHost: 'block_all', directResponse: 502 } },
  { fixture: 'bookinfo', name: 'Sidecar egress allows the own namespace', proxy: 'sidecar-shop', req: { port: 9080, host: 'billing:9080', path: '/' }, expect: { clusters: [{ name: 'outbound|9080||billing.shop.svc.cluster.local', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'REGISTRY_ONLY blackholes unknown ports', proxy: 'sidecar-shop', req: { port: 5432, destinationIp: '192.0.2.1' }, expect: { listener: 'virtualOutbound', clusters: [{ name: 'BlackHoleCluster', weight: 100 }] } },
  // Inbound.
  { fixture: 'bookinfo', name: 'inbound plaintext under PERMISSIVE', proxy: 'sidecar-reviews-v1', req: { inbound: true, port: 9080, host: 'reviews', path: '/' }, expect: { listener: 'virtualInbound', filterChain: 'inbound|9080||-plaintext', clusters: [{ name: 'inbound|9080||', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'inbound mTLS under PERMISSIVE', proxy: 'sidecar-reviews-v1', req: { inbound: true, port: 9080, sni: 'outbound_.9080_._.reviews.bookinfo.svc.cluster.local', host: 'reviews', path: '/' }, expect: { filterChain: 'inbound|9080||-tls', clusters: [{ name: 'inbound|9080||', weight: 100 }] } },
  { fixture: 'bookinfo', name: 'inbound to a port we do not serve passes through', proxy: 'sidecar-reviews-v1', req: { inbound: true, port: 7777 }, expect: { filterChain: 'virtualInbound-catchall', clusters: [{ name: 'InboundPassthroughCluster', weight: 100 }] } },
  // Proxyless gRPC.
  { fixture: 'bookinfo', name: 'grpc: FQDN target, header route', proxy: 'grpc-productpage', req: { target: 'reviews.bookinfo.svc.cluster.local:9080', path: '/reviews.Reviews/Get', headers: { 'end-user': 'jason' } }, expect: { listener: 'reviews.bookinfo.svc.cluster.local:9080', routeConfig: 'outbound|9080||reviews.bookinfo.svc.cluster.local', route: 'bookinfo/reviews/jason', clusters: [{ name: R('v2'), weight: 100 }] } },
  { fixture: 'bookinfo', name: 'grpc: short target in own namespace, weighted split', proxy: 'grpc-productpage', req: { target: 'reviews:9080', path: '/reviews.Reviews/Get' }, expect: { listener: 'reviews:9080', route: 'bookinfo/reviews/split', clusters: [{ name: R('v1'), weight: 90 }, { name: R('v3'), weight: 10 }] } },
  { fixture: 'bookinfo', name: 'grpc: name.namespace target', proxy: 'grpc-productpage', req: { target: 'ratings.bookinfo:9080', path: '/ratings.Ratings/Get', headers: { 'x-test-fault': 'delay' } }, expect: { route: 'bookinfo/ratings/http[1]', routeFilters: ['envoy.filters.http.fault'] } },
  { fixture: 'bookinfo', name: 'grpc: redirect route is left out, the catch-all takes it', proxy: 'grpc-productpage', req: { target: 'ratings:9080', path: '/x?debug=1' }, expect: { route: 'bookinfo/ratings/http[3]', clusters: [{ name: RATINGS, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'grpc: server listener for the workload address', proxy: 'grpc-ratings-server', req: { target: 'xds.istio.io/grpc/lds/inbound/10.0.3.1:50051', host: 'ratings:9080', path: '/ratings.Ratings/Get', sni: 'ratings' }, expect: { filterChain: 'inbound|50051||', routeConfig: 'inbound|50051||', route: 'default', nonForwarding: true } },
  { fixture: 'bookinfo', name: 'grpc: server listener for a wildcard bind', proxy: 'grpc-ratings-server', req: { target: 'xds.istio.io/grpc/lds/inbound/0.0.0.0:50051', host: 'ratings:9080', path: '/' }, expect: { filterChain: 'inbound|50051||', nonForwarding: true } },
  { fixture: 'bookinfo', name: 'grpc: no server listener for a port the workload does not serve', proxy: 'grpc-ratings-server', req: { target: 'xds.istio.io/grpc/lds/inbound/10.0.3.1:9999' }, expect: { error: 'no listener xds.istio.io/grpc/lds/inbound/10.0.3.1:9999' } },
  // Gateway.
  { fixture: 'bookinfo', name: 'gateway: httpsRedirect on port 80', proxy: 'router-ingress', req: { port: 80, host: 'bookinfo.example.com', path: '/productpage' }, expect: { listener: '0.0.0.0_80', routeConfig: 'http.80', virtualHost: 'bookinfo.example.com:80', httpsRedirect: true } },
  { fixture: 'bookinfo', name: 'gateway: host routing on port 80', proxy: 'router-ingress', req: { port: 80, host: 'api.example.com', path: '/productpage' }, expect: { virtualHost: 'api.example.com:80', route: 'bookinfo/bookinfo/http[0]/match[0]', routeFilters: ['envoy.filters.http.cors'], clusters: [{ name: PRODUCTPAGE, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'gateway: direct response', proxy: 'router-ingress', req: { port: 80, host: 'api.example.com', path: '/old/x' }, expect: { route: 'bookinfo/bookinfo/http[2]', directResponse: 410 } },
  { fixture: 'bookinfo', name: 'gateway: unknown host has no virtual host', proxy: 'router-ingress', req: { port: 80, host: 'evil.example.com', path: '/' }, expect: { error: 'no virtual host for evil.example.com' } },
  { fixture: 'bookinfo', name: 'gateway: HTTPS termination by SNI', proxy: 'router-ingress', req: { port: 443, sni: 'bookinfo.example.com', host: 'bookinfo.example.com', path: '/static/app.js' }, expect: { routeConfig: 'https.443.2.bookinfo-gateway.bookinfo', route: 'bookinfo/bookinfo/http[0]/match[1]', clusters: [{ name: PRODUCTPAGE, weight: 100 }] } },
  { fixture: 'bookinfo', name: 'gateway: TLS passthrough by SNI', proxy: 'router-ingress', req: { port: 443, sni: 'legacy.example.com' }, expect: { filterChain: 'bookinfo/legacy/spec.tls[0]', clusters: [{ name: 'outbound|9080||details.bookinfo.svc.cluster.local', weight: 100 }] } },
];

for (const c of cases) {
  test(`${c.fixture}/${c.proxy}: ${c.name}`, async (t) => {
    const res = await fixtureResources(c.fixture, c.proxy);
    const got = simulate(res, c.req);
    const picked: Record<string, unknown> = {};
    for (const k of Object.keys(c.expect)) picked[k] = got[k as keyof SimResult];
    t.deepEqual(picked, c.expect as Record<string, unknown>, JSON.stringify(got));
  });
}
