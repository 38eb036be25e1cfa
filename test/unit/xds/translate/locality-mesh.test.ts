// Istio's mesh-wide locality LB (MeshConfig localityLbSetting) with a
// DestinationRule's setting replacing it, and the proxy's locality from its
// xDS node (Envoy's and gRPC's bootstrap `node.locality`), which wins over
// the locality of the workload it runs, as in istiod.

import test from 'ava';
import type { AnyResource, MeshSettings, ProxyInfo } from '../../../../src/api/types.js';
import { DEFAULT_MESH_SETTINGS, TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet, meshSettingsFrom } from '../../../../src/config/load.js';
import { buildMeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { proxyFromNode } from '../../../../src/xds/node.js';
import { translateParts, translateWithDiagnostics, translationKey } from '../../../../src/xds/translate/index.js';
import { effectiveLocalitySetting } from '../../../../src/xds/translate/locality.js';

const resource = (kind: string, name: string, spec: Record<string, unknown>) =>
  ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: 'ns', labels: {}, annotations: {} }, spec, origin: { file: `${name}.yaml`, line: 1 }, raw: {}, digest: '' }) as unknown as AnyResource;

const API = resource('ServiceEntry', 'api', { hosts: ['api.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'grpc', protocol: 'GRPC' }], endpoints: [{ address: '10.0.1.1', locality: 'r1/z1' }, { address: '10.0.2.1', locality: 'r1/z2' }, { address: '10.0.3.1', locality: 'r2/z1' }] });
const CLIENT = resource('ServiceEntry', 'client', { hosts: ['client.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.0.1.9', locality: 'r1/z1', labels: { app: 'client' } }] });
const dr = (trafficPolicy: Record<string, unknown>) => resource('DestinationRule', 'api', { host: 'api.ns.svc.cluster.local', trafficPolicy });
const OUTLIER = { outlierDetection: { consecutive5xxErrors: 3 } };

function model(resources: AnyResource[], meshLb?: Record<string, unknown>) {
  const settings: MeshSettings = { ...DEFAULT_MESH_SETTINGS, ...(meshLb ? { localityLbSetting: meshLb } : {}) };
  const config = makeConfigSet([API, CLIENT, ...resources], settings);
  return buildMeshModel(config, buildServiceIndex(config));
}

const grpcClient = (locality?: string): ProxyInfo => ({ id: `c-${locality ?? 'none'}`, kind: 'grpc', namespace: 'ns', labels: { app: 'caller' }, ips: [], ...(locality ? { locality } : {}) });
const sidecar = (ip: string, locality?: string): ProxyInfo => ({ id: `sidecar~${ip}~c.ns~ns.svc.cluster.local`, kind: 'sidecar', namespace: 'ns', labels: { app: 'client' }, ips: [ip], ...(locality ? { locality } : {}) });

/** `priority:address` and the locality weight of each group of outbound|80||api. */
function groups(p: ProxyInfo, m: ReturnType<typeof model>): string[] {
  const cla = translateWithDiagnostics(p, m).resources.get(TYPE_URL.endpoint)!.get('outbound|80||api.ns.svc.cluster.local')!.value as { endpoints: { priority?: number; load_balancing_weight?: { value: number }; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
  return cla.endpoints.map((g) => `${g.priority ?? 0}:${g.lb_endpoints[0]!.endpoint.address.socket_address.address}:${g.load_balancing_weight?.value}`).sort();
}

test('the xDS node\'s locality: region/zone/sub_zone, none when empty; bounded', (t) => {
  t.is(proxyFromNode({ id: 'a', locality: { region: 'us-east', zone: 'us-east-1a', sub_zone: 'rack1' } }).locality, 'us-east/us-east-1a/rack1');
  t.is(proxyFromNode({ id: 'a', locality: { region: 'us-east' } }).locality, 'us-east//');
  t.is(proxyFromNode({ id: 'a', locality: {} }).locality, undefined);
  t.is(proxyFromNode({ id: 'a' }).locality, undefined);
  t.throws(() => proxyFromNode({ id: 'a', locality: { region: 'x'.repeat(600) } }), { message: /node locality longer than 512 characters/ });
});

test('MeshConfig localityLbSetting is read; a DestinationRule\'s setting replaces it whole, enabled: false on either turns it off', (t) => {
  t.deepEqual(meshSettingsFrom({ localityLbSetting: { enabled: true, failover: [{ from: 'r1', to: 'r2' }] } }).localityLbSetting, { enabled: true, failover: [{ from: 'r1', to: 'r2' }] });
  t.is(meshSettingsFrom({}).localityLbSetting, undefined);
  const mesh = { failover: [{ from: 'r1', to: 'r2' }] };
  t.is(effectiveLocalitySetting(mesh, undefined), mesh);
  t.deepEqual(effectiveLocalitySetting(mesh, { distribute: [] }), { distribute: [] });
  t.is(effectiveLocalitySetting(mesh, { enabled: false }), undefined);
  t.is(effectiveLocalitySetting({ enabled: false }, undefined), undefined);
  t.deepEqual(effectiveLocalitySetting({ enabled: false }, { enabled: true }), { enabled: true });
  t.is(effectiveLocalitySetting(undefined, undefined), undefined);
});

test('mesh-wide failover applies to a DestinationRule with outlier detection only; the rule can turn it off or replace it', (t) => {
  const p = grpcClient('r1/z1/');
  t.deepEqual(groups(p, model([dr(OUTLIER)])), ['0:10.0.1.1:1', '0:10.0.2.1:1', '0:10.0.3.1:1'], 'no setting anywhere: one priority');
  t.deepEqual(groups(p, model([dr(OUTLIER)], { enabled: true })), ['0:10.0.1.1:1', '1:10.0.2.1:1', '2:10.0.3.1:1'], 'the mesh\'s setting');
  t.deepEqual(groups(p, model([], { enabled: true })), ['0:10.0.1.1:1', '0:10.0.2.1:1', '0:10.0.3.1:1'], 'failover needs outlier detection');
  t.deepEqual(groups(p, model([dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { enabled: false } } })], { enabled: true })), ['0:10.0.1.1:1', '0:10.0.2.1:1', '0:10.0.3.1:1'], 'the rule turns it off');
  t.deepEqual(groups(p, model([dr({ ...OUTLIER, loadBalancer: { localityLbSetting: { distribute: [{ from: 'r1/z1/*', to: { 'r2/*': 100 } }] } } })], { enabled: true })), ['0:10.0.3.1:100'], 'the rule\'s distribute replaces the mesh\'s failover');
  t.deepEqual(groups(p, model([], { distribute: [{ from: 'r1/*', to: { 'r1/z2/*': 75, 'r2/*': 25 } }] })), ['0:10.0.2.1:75', '0:10.0.3.1:25'], 'mesh-wide distribute without any rule');
});

test('the node\'s locality decides for a proxyless client with no workload; two clients of one scope in different localities do not share endpoints', (t) => {
  const m = model([dr(OUTLIER)], { enabled: true });
  t.deepEqual(groups(grpcClient('r1/z2/'), m), ['0:10.0.2.1:1', '1:10.0.1.1:1', '2:10.0.3.1:1']);
  t.deepEqual(groups(grpcClient('r2/z1/'), m), ['0:10.0.3.1:1', '1:10.0.1.1:1', '1:10.0.2.1:1']);
  t.deepEqual(groups(grpcClient(), m), ['0:10.0.1.1:1', '0:10.0.2.1:1', '0:10.0.3.1:1'], 'no locality at all: one priority');
  t.not(translationKey(grpcClient('r1/z2/')), translationKey(grpcClient('r2/z1/')));
  t.is(translationKey(grpcClient()), 'grpc|ns|app=caller|', 'unchanged without a node locality');
  t.not(translateParts(grpcClient('r1/z2/'), m).shared, translateParts(grpcClient('r2/z1/'), m).shared);
  // Without any locality LB, localities still share one outbound part.
  const plain = model([dr(OUTLIER)]);
  t.is(translateParts(grpcClient('r1/z2/'), plain).shared, translateParts(grpcClient('r2/z1/'), plain).shared);
});

test('a sidecar\'s node locality wins over its workload\'s', (t) => {
  const m = model([dr(OUTLIER)], { enabled: true });
  t.deepEqual(groups(sidecar('10.0.1.9'), m), ['0:10.0.1.1:1', '1:10.0.2.1:1', '2:10.0.3.1:1'], 'its workload is in r1/z1');
  t.deepEqual(groups(sidecar('10.0.1.9', 'r2/z1/'), m), ['0:10.0.3.1:1', '1:10.0.1.1:1', '1:10.0.2.1:1']);
});

test('failoverPriority on labels needs no proxy locality (a client that only says its cluster)', (t) => {
  const m = model([
    resource('ServiceEntry', 'two', { hosts: ['two.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'grpc', protocol: 'GRPC' }], endpoints: [{ address: '10.1.0.1', labels: { 'topology.istio.io/cluster': 'east' } }, { address: '10.2.0.1', labels: { 'topology.istio.io/cluster': 'west' } }] }),
    resource('DestinationRule', 'two', { host: 'two.ns.svc.cluster.local', trafficPolicy: { ...OUTLIER, loadBalancer: { localityLbSetting: { failoverPriority: ['topology.istio.io/cluster'] } } } }),
  ]);
  const p: ProxyInfo = { id: 'c', kind: 'grpc', namespace: 'ns', labels: { 'topology.istio.io/cluster': 'west' }, ips: [] };
  const cla = translateWithDiagnostics(p, m).resources.get(TYPE_URL.endpoint)!.get('outbound|80||two.ns.svc.cluster.local')!.value as { endpoints: { priority?: number; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
  t.deepEqual(cla.endpoints.map((g) => `${g.priority ?? 0}:${g.lb_endpoints[0]!.endpoint.address.socket_address.address}`).sort(), ['0:10.2.0.1', '1:10.1.0.1']);
});
