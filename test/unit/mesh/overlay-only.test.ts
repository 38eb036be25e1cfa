// A rollout step or rollback changes only the overlay: buildMeshModel given
// the previous model built from the same ConfigSet and ServiceIndex builds
// only the VirtualServices whose overrides changed. Table: each step of a
// walk gives what a build from scratch (interned against the previous model)
// gives — the same model, the same diagnostics in the same order — and every
// untouched part is the previous object.

import test from 'ava';
import type { RolloutOverlay, RouteOverride } from '../../../src/api/types.js';
import { buildMeshModel, type MeshModel } from '../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { configOf } from './config-of.js';

const svc = (n: string) => `
kind: ServiceEntry
metadata: { name: ${n}, namespace: ns }
spec:
  hosts: [${n}.ns.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1, labels: { v: one } }, { address: 10.0.0.2, labels: { v: two } }]
---
kind: DestinationRule
metadata: { name: ${n}, namespace: ns }
spec:
  host: ${n}
  trafficPolicy: { connectionPool: { tcp: { connectTimeout: nonsense } } }
  subsets: [{ name: one, labels: { v: one } }, { name: two, labels: { v: two } }]
---
kind: VirtualService
metadata: { name: ${n}, namespace: ns }
spec:
  hosts: [${n}]
  http:
  - name: primary
    timeout: also-nonsense
    route: [{ destination: { host: ${n}, subset: one }, weight: 100 }, { destination: { host: ${n}, subset: two }, weight: 0 }]
`;

const config = configOf([svc('a'), svc('b'), svc('c')].join('---\n'));
const index = buildServiceIndex(config);
const override = (vs: string, one: number): RouteOverride => ({ virtualService: `VirtualService/ns/${vs}`, routeIndex: 0, destinations: [{ host: vs, subset: 'one', weight: one }, { host: vs, subset: 'two', weight: 100 - one }] });
const overlay = (...o: RouteOverride[]): RolloutOverlay => ({ overrides: o });

const walk: { name: string; overlay: RolloutOverlay; changed: string[] }[] = [
  { name: 'a walks to 50', overlay: overlay(override('a', 50)), changed: ['a'] },
  { name: 'a at 50 again (nothing changes)', overlay: overlay(override('a', 50)), changed: [] },
  { name: 'b starts while a stays', overlay: overlay(override('a', 50), override('b', 90)), changed: ['b'] },
  { name: 'an override of a VirtualService that does not exist (MCD4001)', overlay: overlay(override('a', 50), override('b', 90), override('zz', 10)), changed: [] },
  { name: 'a rolled back, b promoted to what Git says', overlay: overlay(override('b', 100)), changed: ['a', 'b'] },
  { name: 'no overlay (b at 100 was what Git says: an equal model keeps the object)', overlay: overlay(), changed: [] },
];

test('overlay-only: each step equals a build from scratch; only the VirtualServices whose overrides changed are new objects', (t) => {
  let previous: MeshModel = buildMeshModel(config, index);
  for (const step of walk) {
    const fast = buildMeshModel(config, index, step.overlay, previous);
    const scratch = buildMeshModel(configOf([svc('a'), svc('b'), svc('c')].join('---\n')), index, step.overlay);
    t.deepEqual(JSON.parse(JSON.stringify(fast)), JSON.parse(JSON.stringify(scratch)), step.name);
    t.deepEqual(fast.diagnostics.map((d) => `${d.code} ${d.resource} ${d.path}`), scratch.diagnostics.map((d) => `${d.code} ${d.resource} ${d.path}`), `${step.name}: diagnostics`);
    for (const part of ['settings', 'services', 'destinationRules', 'gateways', 'sidecars', 'peerAuthentications', 'authorizationPolicies'] as const) t.is(fast[part], previous[part], `${step.name}: ${part} kept`);
    const changed = fast.virtualServices.filter((v, i) => v !== previous.virtualServices[i]).map((v) => v.name);
    t.deepEqual(changed, step.changed, `${step.name}: rebuilt VirtualServices`);
    if (step.changed.length === 0) t.is(fast.virtualServices, previous.virtualServices, `${step.name}: the list kept`);
    previous = fast;
  }
  t.true(previous.diagnostics.some((d) => d.code === 'MCD4002' && d.resource === 'DestinationRule/ns/a'), 'DestinationRule diagnostics carried over');
});

test('overlay-only: another ConfigSet or ServiceIndex builds from scratch (interned)', (t) => {
  const first = buildMeshModel(config, index, overlay(override('a', 50)));
  const other = configOf([svc('a'), svc('b'), svc('c')].join('---\n'));
  const again = buildMeshModel(other, buildServiceIndex(other), overlay(override('a', 50)), first);
  t.is(again.services, first.services);
  t.is(again.virtualServices, first.virtualServices);
  const moved = buildMeshModel(config, buildServiceIndex(config), overlay(override('a', 40)), first);
  t.deepEqual(moved.virtualServices.map((v) => v === first.virtualServices.find((f) => f.key === v.key)), [false, true, true]);
});
