// Models chained the way serve chains them (meshTranslator's model() with
// the previous model: the overlay-only path of buildMeshModel, and
// followModel, which lets a scope keep its outbound config when nothing it
// reads changed) translate exactly as a model built from scratch: seeded
// random meshes changed by random edits and random rollout overlays, every
// proxy kind's resources (shared and own part) and diagnostics equal both
// ways. And a rollback (one VirtualService's overlay) gives a new outbound
// part to the scopes that see it and the very same object to the others.

import test from 'ava';
import type { AnyResource, ConfigSet, ProxyInfo, RolloutOverlay, RouteOverride, ServiceIndex } from '../../../../src/api/types.js';
import { DEFAULT_MESH_SETTINGS } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildMeshModel, type MeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { meshTranslator } from '../../../../src/xds/server/translator.js';
import { translateParts, translateWithDiagnostics } from '../../../../src/xds/translate/index.js';
import { RANDOM_MESH_PROXIES, randomMesh } from '../../../helpers/random-mesh.js';
import { mutate, rng } from './mutate.js';

const outputs = (m: MeshModel) => RANDOM_MESH_PROXIES.map((p) => {
  const r = translateWithDiagnostics(p, m);
  return JSON.stringify({ resources: [...r.resources].map(([t, byName]) => [t, [...byName.values()].map((x) => [x.name, x.version, x.value])]), diagnostics: r.diagnostics });
});

/** A random overlay: for one or two VirtualServices with http routes, one route's destinations with new weights (sometimes a VirtualService that does not exist). */
function randomOverlay(resources: AnyResource[], r: (n: number) => number): RolloutOverlay {
  const vss = resources.filter((x) => x.kind === 'VirtualService' && ((x.spec as { http?: unknown[] }).http ?? []).length > 0);
  const overrides: RouteOverride[] = [];
  for (let n = r(3); n > 0 && vss.length; n--) {
    const vs = vss[r(vss.length)]!;
    const http = (vs.spec as { http: { route?: { destination: { host: string; subset?: string } }[] }[] }).http;
    const routeIndex = r(http.length);
    const dests = http[routeIndex]!.route ?? [];
    if (!dests.length) continue;
    const first = r(101);
    overrides.push({ virtualService: `VirtualService/${vs.metadata.namespace}/${r(8) === 0 ? 'nope' : vs.metadata.name}`, routeIndex, destinations: dests.map((d, i) => ({ host: d.destination.host, ...(d.destination.subset ? { subset: d.destination.subset } : {}), weight: i === 0 ? first : i === 1 ? 100 - first : 0 })) });
  }
  return { overrides };
}

const SEEDS = Array.from({ length: 24 }, (_, i) => 7000 + i * 7919);

test('random meshes, random edits and overlays, chained as serve chains them: equal to translation from scratch', (t) => {
  const translator = meshTranslator();
  let overlaySteps = 0;
  for (const seed of SEEDS) {
    const r = rng(seed);
    let resources = randomMesh(seed);
    let config: ConfigSet = makeConfigSet(resources);
    let index: ServiceIndex = buildServiceIndex(config);
    let overlay: RolloutOverlay = { overrides: [] };
    let chained = translator.model({ config, index, overlay });
    outputs(chained);
    for (let step = 1; step <= 6; step++) {
      if (r(3) === 0) {
        resources = mutate(resources, r);
        config = makeConfigSet(resources);
        index = buildServiceIndex(config);
      } else {
        overlay = randomOverlay(resources, r);
        overlaySteps++;
      }
      chained = translator.model({ config, index, overlay }, chained);
      const got = outputs(chained);
      const fresh = outputs(buildMeshModel(config, index, overlay));
      RANDOM_MESH_PROXIES.forEach((p, i) => t.is(got[i], fresh[i], `seed ${seed} step ${step}: ${p.kind} ${p.namespace} differs from a fresh translation`));
    }
  }
  t.true(overlaySteps > 50, `overlay-only steps: ${overlaySteps}`);
});

const resource = (kind: string, ns: string, name: string, spec: Record<string, unknown>) =>
  ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec, origin: { file: `${name}.yaml`, line: 1 }, raw: {}, digest: '' }) as unknown as AnyResource;

test('a rollback: only the scopes that see the VirtualService get a new outbound part; the others keep the same object', (t) => {
  const list: AnyResource[] = [];
  for (const ns of ['n1', 'n2', 'n3']) {
    for (let i = 0; i < 5; i++) {
      const host = `s${i}.${ns}.svc.cluster.local`;
      list.push(resource('ServiceEntry', ns, `s${i}`, { hosts: [host], exportTo: ['.'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: `10.1.${i}.1`, labels: { v: 'one' } }, { address: `10.1.${i}.2`, labels: { v: 'two' } }] }));
      list.push(resource('DestinationRule', ns, `s${i}`, { host, exportTo: ['.'], subsets: [{ name: 'one', labels: { v: 'one' } }, { name: 'two', labels: { v: 'two' } }] }));
      list.push(resource('VirtualService', ns, `s${i}`, { hosts: [host], exportTo: ['.'], http: [{ route: [{ destination: { host, subset: 'one' }, weight: 100 }] }] }));
    }
  }
  // n3 also sees n1's s0 (exported to it).
  list.push(resource('ServiceEntry', 'n1', 'shared', { hosts: ['shared.n1.svc.cluster.local'], exportTo: ['.', 'n3'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.2.0.1', labels: { v: 'one' } }, { address: '10.2.0.2', labels: { v: 'two' } }] }));
  list.push(resource('DestinationRule', 'n1', 'shared', { host: 'shared.n1.svc.cluster.local', exportTo: ['*'], subsets: [{ name: 'one', labels: { v: 'one' } }, { name: 'two', labels: { v: 'two' } }] }));
  list.push(resource('VirtualService', 'n1', 'shared', { hosts: ['shared.n1.svc.cluster.local'], exportTo: ['*'], http: [{ route: [{ destination: { host: 'shared.n1.svc.cluster.local', subset: 'one' }, weight: 100 }] }] }));
  const config = makeConfigSet(list);
  const index = buildServiceIndex(config);
  const walk = (one: number): RolloutOverlay => ({ overrides: [{ virtualService: 'VirtualService/n1/shared', routeIndex: 0, destinations: [{ host: 'shared.n1.svc.cluster.local', subset: 'one', weight: one }, { host: 'shared.n1.svc.cluster.local', subset: 'two', weight: 100 - one }] }] });
  const translator = meshTranslator();
  const proxies: ProxyInfo[] = ['n1', 'n2', 'n3'].flatMap((ns) => [
    { id: `s-${ns}`, kind: 'sidecar' as const, namespace: ns, labels: {}, ips: [] },
    { id: `g-${ns}`, kind: 'grpc' as const, namespace: ns, labels: {}, ips: [] },
  ]);
  const canary = translator.model({ config, index, overlay: walk(50) });
  const before = proxies.map((p) => translateParts(p, canary).shared!);
  const rolledBack = translator.model({ config, index, overlay: walk(100) }, canary);
  const after = proxies.map((p) => translateParts(p, rolledBack).shared!);
  t.deepEqual(proxies.map((p, i) => `${p.id} ${before[i] === after[i] ? 'kept' : 'new'}`), ['s-n1 new', 'g-n1 new', 's-n2 kept', 'g-n2 kept', 's-n3 new', 'g-n3 new']);
  // A scope that was not translated under the model in between still finds its part (carried one revision further).
  const again = translator.model({ config, index, overlay: walk(100) }, translator.model({ config, index, overlay: walk(100) }, rolledBack));
  t.is(translateParts(proxies[2]!, again).shared, after[2]);
});

/** A VirtualService to `host` with routes `[prefix?, destination host, subset, weight][]`. */
const routes = (list: [string | undefined, string, string | undefined, number][][]) =>
  list.map((dests) => ({
    ...(dests[0]![0] ? { match: [{ uri: { prefix: dests[0]![0] } }] } : {}),
    route: dests.map(([, host, subset, weight]) => ({ destination: { host, ...(subset ? { subset } : {}) }, weight })),
  }));

function scriptedMesh(o: { newRoute?: boolean; bSubset?: string; xHeader?: string; sidecarN2?: string[]; withB?: boolean; plaintextN1?: boolean; trustDomain?: string }): AnyResource[] {
  const se = (ns: string, name: string, exportTo: string[]) => resource('ServiceEntry', ns, name, { hosts: [`${name}.${ns}.svc.cluster.local`], exportTo, location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: `10.3.${name.charCodeAt(0)}.1`, labels: { version: 'v1' }, serviceAccount: name }, { address: `10.3.${name.charCodeAt(0)}.2`, labels: { version: 'v2' } }, { address: `10.3.${name.charCodeAt(0)}.3`, labels: { version: 'v3' } }] });
  const dr = (ns: string, name: string, v2: string, extra: Record<string, unknown> = {}) => resource('DestinationRule', ns, name, { host: `${name}.${ns}.svc.cluster.local`, exportTo: ['*'], subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: v2 } }], ...extra });
  const A = 'a.n1.svc.cluster.local';
  const X = 'x.n3.svc.cluster.local';
  const list = [
    se('n1', 'a', ['*']),
    se('n1', 'c', ['.']),
    se('n2', 'd', ['.']),
    // x is visible only in n3, but its DestinationRule (consistent hash) is exported everywhere.
    se('n3', 'x', ['.']),
    dr('n1', 'a', 'v2'),
    dr('n3', 'x', 'v2', { trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: o.xHeader ?? 'x-user' } } } }),
    resource('VirtualService', 'n1', 'a', { hosts: [A], exportTo: ['*'], http: routes([...(o.newRoute ? [[['/new', 'b.n1.svc.cluster.local', 'v2', 100]] as [string, string, string, number][]] : []), [[undefined, A, 'v1', 100], [undefined, A, 'v2', 0]]]) }),
    resource('VirtualService', 'n2', 'd', { hosts: ['d.n2.svc.cluster.local'], exportTo: ['.'], http: routes([[[undefined, X, undefined, 100]]]) }),
  ];
  if (o.withB !== false) list.push(se('n1', 'b', ['*']), dr('n1', 'b', o.bSubset ?? 'v2'));
  if (o.sidecarN2) list.push(resource('Sidecar', 'n2', 'default', { egress: [{ hosts: o.sidecarN2 }] }));
  if (o.plaintextN1) list.push(resource('PeerAuthentication', 'n1', 'default', { mtls: { mode: 'DISABLE' } }));
  return list;
}

test('scripted changes (rollout steps and rollback, a route added and removed, DestinationRule and Sidecar changes, a service removed), chained as serve chains them: equal to translation from scratch', (t) => {
  const A = 'a.n1.svc.cluster.local';
  const walk = (one: number): RolloutOverlay => ({ overrides: [{ virtualService: 'VirtualService/n1/a', routeIndex: 0, destinations: [{ host: A, subset: 'v1', weight: one }, { host: A, subset: 'v2', weight: 100 - one }] }] });
  const steps: { name: string; mesh: Parameters<typeof scriptedMesh>[0]; overlay: RolloutOverlay }[] = [
    { name: 'rollout step 10%', mesh: {}, overlay: walk(90) },
    { name: 'rollout step 50%', mesh: {}, overlay: walk(50) },
    { name: 'rollback', mesh: {}, overlay: { overrides: [] } },
    { name: 'a route added', mesh: { newRoute: true }, overlay: { overrides: [] } },
    { name: 'rollout step on the new route index', mesh: { newRoute: true }, overlay: { overrides: [{ ...walk(50).overrides[0]!, routeIndex: 1 }] } },
    { name: 'DestinationRule of a routed host changed', mesh: { newRoute: true, bSubset: 'v3' }, overlay: { overrides: [{ ...walk(50).overrides[0]!, routeIndex: 1 }] } },
    { name: 'DestinationRule of a host not visible, but routed to, changed', mesh: { newRoute: true, bSubset: 'v3', xHeader: 'x-other' }, overlay: { overrides: [] } },
    { name: 'Sidecar added', mesh: { newRoute: true, bSubset: 'v3', xHeader: 'x-other', sidecarN2: ['./*'] }, overlay: { overrides: [] } },
    { name: 'Sidecar changed', mesh: { newRoute: true, bSubset: 'v3', xHeader: 'x-other', sidecarN2: ['./*', 'n1/*'] }, overlay: walk(20) },
    { name: 'the route removed', mesh: { bSubset: 'v3', xHeader: 'x-other', sidecarN2: ['./*', 'n1/*'] }, overlay: walk(20) },
    { name: 'a routed service removed', mesh: { withB: false, sidecarN2: ['./*', 'n1/*'] }, overlay: walk(20) },
    { name: 'rollback again', mesh: { withB: false, sidecarN2: ['./*', 'n1/*'] }, overlay: { overrides: [] } },
    { name: 'PeerAuthentication added (auto mTLS off for n1)', mesh: { withB: false, sidecarN2: ['./*', 'n1/*'], plaintextN1: true }, overlay: { overrides: [] } },
    { name: 'mesh settings changed (trust domain)', mesh: { withB: false, sidecarN2: ['./*', 'n1/*'], plaintextN1: true, trustDomain: 'example.org' }, overlay: { overrides: [] } },
  ];
  const proxies: ProxyInfo[] = ['n1', 'n2', 'n3'].flatMap((ns) => [
    { id: `s-${ns}`, kind: 'sidecar' as const, namespace: ns, labels: { app: 'client' } as Record<string, string>, ips: [] },
    { id: `g-${ns}`, kind: 'grpc' as const, namespace: ns, labels: {}, ips: [] },
  ]);
  const out = (m: MeshModel) => proxies.map((p) => JSON.stringify(translateWithDiagnostics(p, m), (_k, v) => (v instanceof Map ? [...v].map(([k, x]) => [k, x.version ?? x, x.value]) : v)));
  const translator = meshTranslator();
  let resources = scriptedMesh({});
  const configOf = (list: AnyResource[], mesh: Parameters<typeof scriptedMesh>[0]) => makeConfigSet(list, { ...DEFAULT_MESH_SETTINGS, ...(mesh.trustDomain ? { trustDomain: mesh.trustDomain } : {}) });
  let config = configOf(resources, {});
  let chained = translator.model({ config, index: buildServiceIndex(config) });
  out(chained);
  const indexes = new WeakMap<ConfigSet, ServiceIndex>();
  let last = '';
  for (const step of steps) {
    const next = scriptedMesh(step.mesh);
    // Unchanged config is the same ConfigSet and ServiceIndex objects (as the rollout runner hands them), so the overlay-only path is taken.
    if (JSON.stringify(step.mesh) !== last) {
      resources = next;
      config = configOf(resources, step.mesh);
      last = JSON.stringify(step.mesh);
    }
    if (!indexes.has(config)) indexes.set(config, buildServiceIndex(config));
    const index = indexes.get(config)!;
    const before = out(chained);
    chained = translator.model({ config, index, overlay: step.overlay }, chained);
    const got = out(chained);
    const freshConfig = configOf(next, step.mesh);
    const fresh = out(buildMeshModel(freshConfig, buildServiceIndex(freshConfig), step.overlay));
    proxies.forEach((p, i) => t.is(got[i], fresh[i], `${step.name}: ${p.id} differs from a fresh translation`));
    t.notDeepEqual(got, before, `${step.name}: the step changes some proxy's config`);
  }
});
