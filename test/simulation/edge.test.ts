// Behaviour of the translated `edge` fixture: source-label matches,
// case-insensitive prefixes with header exclusions, redirects, port-scoped
// routes, TCP by address range, mesh-wide REGISTRY_ONLY, a MUTUAL gateway
// restricted to one namespace's VirtualServices and a TCP gateway server.

import test from 'ava';
import { fixtureResources } from '../golden/harness.js';
import { type SimRequest, type SimResult, simulate } from './simulator.js';

const S = (subset: string, port = 8080) => `outbound|${port}|${subset}|shop.web.svc.cluster.local`;

const cases: { fixture: string; name: string; proxy: string; req: SimRequest; expect: Partial<SimResult> }[] = [
  { fixture: 'edge', name: 'sourceLabels route applies to the tester', proxy: 'sidecar-tester', req: { port: 8080, host: 'shop:8080', path: '/' }, expect: { route: 'web/shop/from-tester', clusters: [{ name: S('canary'), weight: 100 }] } },
  { fixture: 'edge', name: 'sourceLabels route does not apply to others', proxy: 'sidecar-web', req: { port: 8080, host: 'shop:8080', path: '/' }, expect: { route: 'web/shop/default', routeFilters: ['envoy.filters.http.fault'], clusters: [{ name: S('stable'), weight: 100 }] } },
  { fixture: 'edge', name: 'ignoreUriCase prefix', proxy: 'sidecar-web', req: { port: 8080, host: 'shop', path: '/LEGACY/items' }, expect: { route: 'web/shop/legacy', clusters: [{ name: S('stable'), weight: 100 }] } },
  { fixture: 'edge', name: 'withoutHeaders excludes', proxy: 'sidecar-web', req: { port: 8080, host: 'shop', path: '/legacy/items', headers: { 'x-new': '1' } }, expect: { route: 'web/shop/default' } },
  { fixture: 'edge', name: 'redirect', proxy: 'sidecar-web', req: { port: 8080, host: 'shop', path: '/old-shop' }, expect: { route: 'web/shop/moved', redirect: { path_redirect: '/shop', port_redirect: 8443, scheme_redirect: 'https', response_code: 'PERMANENT_REDIRECT' } } },
  { fixture: 'edge', name: 'port-scoped route on 9090 (weighted)', proxy: 'sidecar-web', req: { port: 9090, host: 'shop.web.svc.cluster.local:9090', path: '/shop.Shop/List' }, expect: { routeConfig: '9090', route: 'web/shop/grpc', clusters: [{ name: S('stable', 9090), weight: 75 }, { name: S('canary', 9090), weight: 25 }] } },
  { fixture: 'edge', name: 'TCP by VIP range', proxy: 'sidecar-web', req: { port: 6379, destinationIp: '10.96.1.77' }, expect: { clusters: [{ name: 'outbound|6379||redis.web.svc.cluster.local', weight: 100 }] } },
  { fixture: 'edge', name: 'TCP outside the range is not redis', proxy: 'sidecar-web', req: { port: 6379, destinationIp: '10.96.2.1' }, expect: { error: 'no filter chain of 0.0.0.0_6379 matches' } },
  { fixture: 'edge', name: 'mesh-wide REGISTRY_ONLY blocks unknown hosts', proxy: 'sidecar-web', req: { port: 8080, host: 'example.com', path: '/' }, expect: { virtualHost: 'block_all', directResponse: 502 } },
  { fixture: 'edge', name: 'TLS to the external DNS service by SNI', proxy: 'sidecar-web', req: { port: 443, sni: 'payments.example.net' }, expect: { clusters: [{ name: 'outbound|443||payments.example.net', weight: 100 }] } },
  { fixture: 'edge', name: 'grpc: port 9090 target gets the weighted route', proxy: 'grpc-web', req: { target: 'shop:9090', path: '/shop.Shop/List' }, expect: { route: 'web/shop/grpc', clusters: [{ name: S('stable', 9090), weight: 75 }, { name: S('canary', 9090), weight: 25 }] } },
  { fixture: 'edge', name: 'grpc: port 8080 target skips the port-9090 route', proxy: 'grpc-web', req: { target: 'shop.web:8080', path: '/x' }, expect: { route: 'web/shop/default', clusters: [{ name: S('stable'), weight: 100 }] } },
  { fixture: 'edge', name: 'gateway: MUTUAL TLS server routes its namespace host', proxy: 'router-edge', req: { port: 443, sni: 'www.shop.example.com', host: 'www.shop.example.com', path: '/' }, expect: { filterChain: 'https.443.0.edge.edge-gw', virtualHost: 'www.shop.example.com:443', clusters: [{ name: 'outbound|8080||shop.web.svc.cluster.local', weight: 100 }] } },
  { fixture: 'edge', name: 'gateway: a VirtualService of another namespace is not bound', proxy: 'router-edge', req: { port: 443, sni: 'evil.shop.example.com', host: 'evil.shop.example.com', path: '/' }, expect: { error: 'no virtual host for evil.shop.example.com' } },
  { fixture: 'edge', name: 'gateway: TCP server', proxy: 'router-edge', req: { port: 31400 }, expect: { listener: '0.0.0.0_31400', clusters: [{ name: 'outbound|6379||redis.web.svc.cluster.local', weight: 100 }] } },
];

for (const c of cases) {
  test(`${c.fixture}/${c.proxy}: ${c.name}`, async (t) => {
    const got = simulate(await fixtureResources(c.fixture, c.proxy), c.req);
    const picked: Record<string, unknown> = {};
    for (const k of Object.keys(c.expect)) picked[k] = got[k as keyof SimResult];
    t.deepEqual(picked, c.expect as Record<string, unknown>, JSON.stringify(got));
  });
}
