// Outbound config is shared by proxies of one scope, but with locality LB a
// proxy's endpoints depend on where its own workload runs: two sidecars of
// one namespace in different zones get their own priorities (the first
// translated must not decide for the other); without locality LB they share
// one outbound part.

import test from 'ava';
import type { AnyResource, ProxyInfo } from '../../../../src/api/types.js';
import { TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildMeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { translateParts, translateWithDiagnostics } from '../../../../src/xds/translate/index.js';

const resource = (kind: string, name: string, spec: Record<string, unknown>) =>
  ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: 'ns', labels: {}, annotations: {} }, spec, origin: { file: `${name}.yaml`, line: 1 }, raw: {}, digest: '' }) as unknown as AnyResource;

function mesh(localityLb: boolean) {
  const config = makeConfigSet([
    resource('ServiceEntry', 'api', { hosts: ['api.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.0.1.1', locality: 'r1/z1' }, { address: '10.0.2.1', locality: 'r1/z2' }] }),
    resource('ServiceEntry', 'client', { hosts: ['client.ns.svc.cluster.local'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }], endpoints: [{ address: '10.0.1.9', locality: 'r1/z1', labels: { app: 'client' } }, { address: '10.0.2.9', locality: 'r1/z2', labels: { app: 'client' } }] }),
    resource('DestinationRule', 'api', { host: 'api.ns.svc.cluster.local', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 }, ...(localityLb ? { loadBalancer: { localityLbSetting: { enabled: true } } } : {}) } }),
  ]);
  return buildMeshModel(config, buildServiceIndex(config));
}

const sidecar = (ip: string): ProxyInfo => ({ id: `sidecar~${ip}~c.ns~ns.svc.cluster.local`, kind: 'sidecar', namespace: 'ns', labels: { app: 'client' }, ips: [ip] });

function priorities(p: ProxyInfo, m: ReturnType<typeof mesh>): string[] {
  const cla = translateWithDiagnostics(p, m).resources.get(TYPE_URL.endpoint)!.get('outbound|80||api.ns.svc.cluster.local')!.value as { endpoints: { priority?: number; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
  return cla.endpoints.map((g) => `${g.priority ?? 0}:${g.lb_endpoints[0]!.endpoint.address.socket_address.address}`).sort();
}

test('with locality LB each zone\'s sidecar prefers its own zone, whichever is translated first', (t) => {
  const m = mesh(true);
  t.deepEqual(priorities(sidecar('10.0.1.9'), m), ['0:10.0.1.1', '1:10.0.2.1']);
  t.deepEqual(priorities(sidecar('10.0.2.9'), m), ['0:10.0.2.1', '1:10.0.1.1']);
  t.not(translateParts(sidecar('10.0.1.9'), m).shared, translateParts(sidecar('10.0.2.9'), m).shared);
});

test('without locality LB the two share one outbound part', (t) => {
  const m = mesh(false);
  t.is(translateParts(sidecar('10.0.1.9'), m).shared, translateParts(sidecar('10.0.2.9'), m).shared);
});
