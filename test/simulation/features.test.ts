// Behaviour of the one-feature golden fixtures: each row names its fixture
// and proxy, sends a request through the translated config and checks where
// it lands.

import test from 'ava';
import { fixtureResources } from '../golden/harness.js';
import { type SimRequest, type SimResult, simulate } from './simulator.js';

const API = (subset: string) => `outbound|8080|${subset}|api.shop.svc.cluster.local`;
const ORDERS = 'outbound|9090||orders.shop.svc.cluster.local';

const rows: { fixture: string; proxy: string; name: string; req: SimRequest; expect: Partial<SimResult> }[] = [
  { fixture: 'dr-policies', proxy: 'sidecar-client', name: 'the route goes to the subset with the cookie hash', req: { port: 8080, host: 'api.shop:8080', path: '/' }, expect: { route: 'shop/api/http[0]', clusters: [{ name: API('v2'), weight: 100 }] } },
  { fixture: 'dr-policies', proxy: 'grpc-client', name: 'proxyless: the same subset', req: { target: 'api.shop:8080', path: '/x' }, expect: { route: 'shop/api/http[0]', clusters: [{ name: API('v2'), weight: 100 }] } },
  { fixture: 'fault-retries', proxy: 'sidecar-client', name: 'abort by header reaches the fault route', req: { port: 9090, host: 'orders.shop.svc.cluster.local:9090', path: '/shop.Orders/Get', headers: { 'x-fault': 'abort' } }, expect: { route: 'shop/orders/abort', routeFilters: ['envoy.filters.http.fault'], clusters: [{ name: ORDERS, weight: 100 }] } },
  { fixture: 'fault-retries', proxy: 'grpc-client', name: 'proxyless: delay by header', req: { target: 'orders:9090', path: '/shop.Orders/Get', headers: { 'x-fault': 'delay' } }, expect: { route: 'shop/orders/delay', routeFilters: ['envoy.filters.http.fault'] } },
  { fixture: 'fault-retries', proxy: 'grpc-client', name: 'proxyless: no header, the default route', req: { target: 'orders.shop.svc.cluster.local:9090', path: '/shop.Orders/Get' }, expect: { route: 'shop/orders/default', clusters: [{ name: ORDERS, weight: 100 }] } },
  { fixture: 'sidecar-scope', proxy: 'sidecar-a', name: 'the scoped namespace reaches the listed host of b', req: { port: 80, host: 'two.b.svc.cluster.local', path: '/' }, expect: { clusters: [{ name: 'outbound|80||two.b.svc.cluster.local', weight: 100 }] } },
  { fixture: 'sidecar-scope', proxy: 'sidecar-a', name: 'an unlisted host of b is blocked (REGISTRY_ONLY)', req: { port: 80, host: 'three.b.svc.cluster.local', path: '/' }, expect: { virtualHost: 'block_all', directResponse: 502 } },
  { fixture: 'sidecar-scope', proxy: 'sidecar-b', name: 'an unscoped namespace reaches it', req: { port: 80, host: 'three.b.svc.cluster.local', path: '/' }, expect: { clusters: [{ name: 'outbound|80||three.b.svc.cluster.local', weight: 100 }] } },
  { fixture: 'sidecar-scope', proxy: 'grpc-a', name: 'proxyless in the scoped namespace has no listener for the unlisted host', req: { target: 'three.b.svc.cluster.local:80', path: '/' }, expect: { error: 'no listener three.b.svc.cluster.local:80' } },
  { fixture: 'authz-mtls', proxy: 'sidecar-vault', name: 'STRICT: plaintext inbound is refused (black hole)', req: { inbound: true, port: 8200, host: 'vault', path: '/api/x' }, expect: { filterChain: 'inbound|8200||-plaintext-refused', clusters: [{ name: 'BlackHoleCluster', weight: 100 }] } },
  { fixture: 'authz-mtls', proxy: 'sidecar-vault', name: 'STRICT: mTLS inbound reaches the workload', req: { inbound: true, port: 8200, sni: 'outbound_.8200_._.vault.secure.svc.cluster.local', host: 'vault', path: '/api/x' }, expect: { filterChain: 'inbound|8200||-tls', clusters: [{ name: 'inbound|8200||', weight: 100 }] } },
];

for (const r of rows) {
  test(`${r.fixture}/${r.proxy}: ${r.name}`, async (t) => {
    const got = simulate(await fixtureResources(r.fixture, r.proxy), r.req);
    const picked: Record<string, unknown> = {};
    for (const k of Object.keys(r.expect)) picked[k] = got[k as keyof SimResult];
    t.deepEqual(picked, r.expect as Record<string, unknown>, JSON.stringify(got));
  });
}
