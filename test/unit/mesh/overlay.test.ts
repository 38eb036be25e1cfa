import test from 'ava';
import { join } from 'node:path';
import type { RolloutOverlay } from '../../../src/api/types.js';
import { loadRevision } from '../../../src/config/load.js';
import { buildMeshModel } from '../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { readFolderRevision } from '../../../src/source/folder.js';
import { translateWithDiagnostics } from '../../../src/xds/translate/index.js';
import { GOLDEN_ROOT } from '../../golden/harness.js';
import { simulate } from '../../simulation/simulator.js';
import { configOf } from './config-of.js';

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
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews]
  http:
    - name: main
      match: [{ uri: { prefix: /api } }]
      route:
        - { destination: { host: reviews, subset: v2 }, weight: 100, headers: { request: { set: { x-v: "2" } } } }
      mirror: { host: reviews, subset: v9 }
    - route: [{ destination: { host: reviews, subset: v1 } }]
`;
const KEY = 'VirtualService/bookinfo/reviews';

test('overlay: destinations and weights replace the route, header route before it (ANDed with its matches), mirror added', (t) => {
  const config = configOf(BASE);
  const overlay: RolloutOverlay = {
    overrides: [
      {
        virtualService: KEY,
        routeIndex: 0,
        destinations: [{ host: 'reviews', subset: 'v1', weight: 70 }, { host: 'reviews', subset: 'v2', weight: 30 }],
        headerRoute: { matches: [{ headers: { 'X-Canary': { exact: '1' } } }, { queryParams: { canary: { prefix: 'y' } } }], destinations: [{ host: 'reviews', subset: 'v2', weight: 100 }] },
        mirror: { host: 'reviews', subset: 'v2', percent: 20 },
      },
    ],
  };
  const m = buildMeshModel(config, buildServiceIndex(config), overlay);
  const http = m.virtualServices[0]!.http;
  t.deepEqual(http.map((r) => [r.name, r.index]), [['main-canary', 0], ['main', 0], [undefined, 1]]);
  t.deepEqual(http[0]!.matches.map((x) => [x.uri?.value, x.headers, x.queryParams]), [
    ['/api', [{ name: 'x-canary', match: { kind: 'exact', value: '1' } }], []],
    ['/api', [], [{ name: 'canary', match: { kind: 'prefix', value: 'y' } }]],
  ]);
  t.deepEqual(http[0]!.destinations.map((d) => [d.host, d.subset, d.weight]), [['reviews.bookinfo.svc.cluster.local', 'v2', 100]]);
  t.deepEqual(http[0]!.destinations[0]!.headers, { request: { set: { 'x-v': '2' } } }, 'per-destination headers kept');
  t.deepEqual(http[0]!.mirrors, []);
  t.deepEqual(http[1]!.destinations.map((d) => [d.subset, d.weight]), [['v1', 70], ['v2', 30]]);
  t.deepEqual(http[1]!.mirrors.map((x) => [x.destination.subset, x.percent]), [['v9', 100], ['v2', 20]]);
  t.deepEqual(http[2]!.destinations.map((d) => [d.subset, d.weight]), [['v1', 100]]);
  t.deepEqual(m.diagnostics.filter((d) => d.code === 'MCD4001'), []);
});

test('overlay naming what does not exist is diagnosed (MCD4001) and ignored', (t) => {
  const config = configOf(BASE);
  const one = [{ host: 'reviews', weight: 100 }];
  const overlay: RolloutOverlay = {
    overrides: [
      { virtualService: 'VirtualService/bookinfo/nope', routeIndex: 0, destinations: one },
      { virtualService: KEY, routeIndex: 7, destinations: one },
      { virtualService: KEY, routeIndex: 1, destinations: [] },
    ],
  };
  const m = buildMeshModel(config, buildServiceIndex(config), overlay);
  t.deepEqual(m.diagnostics.filter((d) => d.code === 'MCD4001').map((d) => d.message), [
    'rollout overlay names http route 7 of VirtualService/bookinfo/reviews, which does not exist; override ignored',
    'rollout overlay has no destinations for VirtualService/bookinfo/reviews http[1]; override ignored',
    'rollout overlay names VirtualService/bookinfo/nope, which does not exist; override ignored',
  ]);
  t.deepEqual(m.virtualServices[0]!.http[1]!.destinations.map((d) => d.weight), [100]);
});

// Simulation: the bookinfo fixture's `split` route (v1 90 / v3 10) mid-rollout toward v3.
const R = (s: string) => `outbound|9080|${s}|reviews.bookinfo.svc.cluster.local`;
const overlay: RolloutOverlay = {
  overrides: [
    {
      virtualService: KEY,
      routeIndex: 2,
      destinations: [{ host: 'reviews', subset: 'v1', weight: 45 }, { host: 'reviews', subset: 'v3', weight: 55 }],
      headerRoute: { matches: [{ headers: { 'x-canary': { exact: '1' } } }], destinations: [{ host: 'reviews', subset: 'v3', weight: 100 }] },
      mirror: { host: 'reviews', subset: 'v3', percent: 20 },
    },
  ],
};

const cases: { name: string; proxy: string; req: Parameters<typeof simulate>[1]; route: string; clusters: { name: string; weight: number }[] }[] = [
  { name: 'sidecar: the split follows the overlay', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews:9080', path: '/' }, route: 'bookinfo/reviews/split', clusters: [{ name: R('v1'), weight: 45 }, { name: R('v3'), weight: 55 }] },
  { name: 'sidecar: the header route sends x-canary to the new destinations', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews:9080', path: '/', headers: { 'x-canary': '1' } }, route: 'bookinfo/reviews/split-canary', clusters: [{ name: R('v3'), weight: 100 }] },
  { name: 'sidecar: routes before the target keep their order', proxy: 'sidecar-reviews-v1', req: { port: 9080, host: 'reviews:9080', path: '/', headers: { 'end-user': 'jason', 'x-canary': '1' } }, route: 'bookinfo/reviews/jason', clusters: [{ name: R('v2'), weight: 100 }] },
  { name: 'grpc: the split follows the overlay', proxy: 'grpc-productpage', req: { target: 'reviews:9080', path: '/reviews.Reviews/Get' }, route: 'bookinfo/reviews/split', clusters: [{ name: R('v1'), weight: 45 }, { name: R('v3'), weight: 55 }] },
  { name: 'grpc: the header route', proxy: 'grpc-productpage', req: { target: 'reviews:9080', path: '/reviews.Reviews/Get', headers: { 'x-canary': '1' } }, route: 'bookinfo/reviews/split-canary', clusters: [{ name: R('v3'), weight: 100 }] },
];

async function bookinfoModel() {
  const dir = join(GOLDEN_ROOT, 'bookinfo');
  const load = await loadRevision(await readFolderRevision(join(dir, 'input')));
  const { readFileSync } = await import('node:fs');
  const proxies = JSON.parse(readFileSync(join(dir, 'proxies.json'), 'utf8')) as Record<string, Parameters<typeof translateWithDiagnostics>[0]>;
  return { model: buildMeshModel(load.config, buildServiceIndex(load.config), overlay), proxies };
}

for (const c of cases) {
  test(`simulation with an overlay: ${c.name}`, async (t) => {
    const { model, proxies } = await bookinfoModel();
    const got = simulate(translateWithDiagnostics(proxies[c.proxy]!, model).resources, c.req);
    t.is(got.route, c.route, JSON.stringify(got));
    t.deepEqual(got.clusters, c.clusters);
  });
}

test('simulation with an overlay: the mirror reaches sidecars; proxyless gRPC says it cannot (MCD4113)', async (t) => {
  const { model, proxies } = await bookinfoModel();
  const sidecar = translateWithDiagnostics(proxies['sidecar-reviews-v1']!, model);
  t.true(JSON.stringify([...sidecar.resources.values()].flatMap((m) => [...m.values()].map((r) => r.value))).includes(`"request_mirror_policies":[{"cluster":"${R('v3')}"`));
  const grpc = translateWithDiagnostics(proxies['grpc-productpage']!, model);
  t.true(grpc.diagnostics.some((d) => d.code === 'MCD4113'));
});
