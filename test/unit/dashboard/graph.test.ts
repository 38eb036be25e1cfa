import test from 'ava';
import { meshGraph, type ConfigResource } from '../../../src/dashboard/graph.js';

const r = (kind: string, namespace: string, name: string, spec: unknown): ConfigResource => ({ kind, namespace, name, resource: { spec } });

const config: ConfigResource[] = [
  r('ServiceEntry', 'shop', 'cart', { hosts: ['cart.shop.svc.cluster.local'], ports: [{ number: 80, protocol: 'HTTP' }] }),
  r('ServiceEntry', 'shop', 'payments', { hosts: ['api.payments.example.com'], location: 'MESH_EXTERNAL', ports: [{ number: 443, protocol: 'TLS' }] }),
  r('DestinationRule', 'shop', 'cart', { host: 'cart', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }, { name: 'v3', labels: { version: 'v3' } }] }),
  r('Gateway', 'shop', 'edge', { servers: [{ hosts: ['shop.example.com'] }] }),
  r('VirtualService', 'shop', 'front', { hosts: ['shop.example.com'], gateways: ['edge'], http: [{ name: 'all', route: [{ destination: { host: 'cart' } }] }] }),
  r('VirtualService', 'shop', 'cart', {
    hosts: ['cart'],
    http: [
      { name: 'testers', match: [{ headers: { user: { exact: 'qa' } } }], route: [{ destination: { host: 'cart', subset: 'v2' } }] },
      { name: 'split', route: [{ destination: { host: 'cart', subset: 'v1' }, weight: 75 }, { destination: { host: 'cart', subset: 'v2' }, weight: 25 }] },
    ],
  }),
  r('VirtualService', 'shop', 'both', { hosts: ['cart-alias'], gateways: ['mesh', 'shop/edge'], tcp: [{ route: [{ destination: { host: 'api.payments.example.com' } }] }] }),
];

test('nodes: gateways, services (short hosts resolved in their namespace), external services, subsets', (t) => {
  const g = meshGraph(config);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  t.like(byId.get('gw:shop/edge'), { kind: 'gateway', detail: 'shop.example.com' });
  t.like(byId.get('svc:cart.shop.svc.cluster.local'), { kind: 'service', detail: '80/HTTP', namespace: 'shop' });
  t.like(byId.get('svc:api.payments.example.com'), { kind: 'external' });
  t.like(byId.get('sub:cart.shop.svc.cluster.local#v1'), { kind: 'subset', unrouted: false });
  t.like(byId.get('sub:cart.shop.svc.cluster.local#v3'), { kind: 'subset', unrouted: true }, 'v3: a subset no route leads to');
});

test('edges: a route per destination with its weight, from the gateway or the VirtualService host; match flagged', (t) => {
  const g = meshGraph(config);
  const edge = (vs: string, route: string, to: string) => g.edges.find((e) => e.virtualService === vs && e.route === route && e.to === to);
  t.like(edge('shop/front', 'all', 'svc:cart.shop.svc.cluster.local'), { from: 'gw:shop/edge', protocol: 'http', matched: false });
  t.is(edge('shop/front', 'all', 'svc:cart.shop.svc.cluster.local')!.weight, undefined, 'a single destination has no weight');
  t.like(edge('shop/cart', 'split', 'sub:cart.shop.svc.cluster.local#v1'), { from: 'svc:cart.shop.svc.cluster.local', weight: 75 });
  t.like(edge('shop/cart', 'split', 'sub:cart.shop.svc.cluster.local#v2'), { weight: 25 });
  t.like(edge('shop/cart', 'testers', 'sub:cart.shop.svc.cluster.local#v2'), { matched: true });
  // Bound to the mesh and a gateway: both are entries.
  const both = g.edges.filter((e) => e.virtualService === 'shop/both');
  t.deepEqual(both.map((e) => e.from).sort(), ['gw:shop/edge', 'svc:cart-alias.shop.svc.cluster.local']);
  t.true(both.every((e) => e.protocol === 'tcp' && e.route === 'tcp[0]'));
  // The unrouted subset still hangs under its service.
  t.truthy(g.edges.find((e) => e.from === 'svc:cart.shop.svc.cluster.local' && e.to === 'sub:cart.shop.svc.cluster.local#v3' && e.route === ''));
});

test('a Rollout in flight marks its route with its canary weight; finished ones do not', (t) => {
  const ro = (phase: string) => [{ namespace: 'shop', name: 'cart', phase, canaryWeight: 40, target: { virtualService: 'cart', route: 'split' } }];
  const marked = meshGraph(config, ro('Paused')).edges.filter((e) => e.rollout);
  t.deepEqual(marked.map((e) => [e.route, e.rollout, e.canaryWeight]), [['split', 'shop/cart', 40], ['split', 'shop/cart', 40]]);
  t.deepEqual(meshGraph(config, ro('Succeeded')).edges.filter((e) => e.rollout), []);
});

test('bad shapes are skipped, a gateway named but not defined is still drawn, another cluster domain is honoured', (t) => {
  const g = meshGraph([r('VirtualService', 'a', 'x', { hosts: ['svc'], gateways: ['b/missing'], http: [{ route: [{ destination: {} }, { destination: { host: 'svc', subset: 's' } }] }, 'junk'] }), r('DestinationRule', 'a', 'y', null)], [], 'svc.corp');
  t.like(g.nodes.find((n) => n.id === 'gw:b/missing'), { kind: 'gateway', detail: 'not in the config' });
  t.truthy(g.nodes.find((n) => n.id === 'sub:svc.a.svc.corp#s'));
  t.is(g.edges.length, 1);
});

test('where a Rollout\'s overrides replace a route, each edge has the weight in force now beside Git\'s; destinations only the overlay names get edges', (t) => {
  const rollout = {
    namespace: 'shop',
    name: 'cart',
    phase: 'Paused',
    canaryWeight: 80,
    target: { virtualService: 'cart', route: 'split' },
    // Git: v1 75 / v2 25 (route index 1); in force now: v1 20 / v2 50 / v3 30, a header route to v2, a 10% mirror to v3.
    overrides: [
      {
        routeIndex: 1,
        destinations: [
          { host: 'cart', subset: 'v1', weight: 20 },
          { host: 'cart.shop.svc.cluster.local', subset: 'v2', weight: 50 },
          { host: 'cart', subset: 'v3', weight: 30 },
        ],
        headerRoute: { destinations: [{ host: 'cart', subset: 'v2', weight: 100 }] },
        mirror: { host: 'cart', subset: 'v3', percent: 10 },
      },
    ],
  };
  const g = meshGraph(config, [rollout]);
  const split = g.edges.filter((e) => e.virtualService === 'shop/cart' && e.route === 'split');
  const at = (subset: string, mirror = false) => split.find((e) => e.to === `sub:cart.shop.svc.cluster.local#${subset}` && (e.mirror !== undefined) === mirror);
  t.like(at('v1'), { weight: 75, inForce: 20, rollout: 'shop/cart', canaryWeight: 80 });
  t.like(at('v2'), { weight: 25, inForce: 50 });
  t.like(at('v3'), { notInGit: true, inForce: 30, rollout: 'shop/cart' });
  t.like(at('v3', true), { mirror: 10, notInGit: true });
  t.like(g.edges.find((e) => e.route === 'split-canary'), { to: 'sub:cart.shop.svc.cluster.local#v2', inForce: 100, matched: true, notInGit: true });
  // The route the overrides do not touch keeps Git's weights, not marked with an in-force weight.
  t.is(g.edges.find((e) => e.route === 'testers')!.inForce, undefined);
  t.is(new Set(g.edges.map((e) => e.id)).size, g.edges.length, 'edge ids are unique');
  // The v3 subset is routed now (by the overlay), so it is no longer drawn as unrouted.
  t.false(g.nodes.find((n) => n.id === 'sub:cart.shop.svc.cluster.local#v3')!.unrouted);
});

test('a finished Rollout whose rollback Git does not state yet (drift) still shows the routing in force', (t) => {
  const failed = { namespace: 'shop', name: 'cart', phase: 'Failed', canaryWeight: 0, target: { virtualService: 'cart', route: 'split' }, overrides: [{ routeIndex: 1, destinations: [{ host: 'cart', subset: 'v1', weight: 100 }] }] };
  const split = meshGraph(config, [failed]).edges.filter((e) => e.route === 'split');
  t.deepEqual(split.map((e) => [e.to.split('#')[1], e.weight, e.inForce]), [['v1', 75, 100], ['v2', 25, 0]]);
  // Without overrides a finished Rollout marks nothing (as before).
  t.deepEqual(meshGraph(config, [{ ...failed, overrides: [] }]).edges.filter((e) => e.rollout), []);
});
