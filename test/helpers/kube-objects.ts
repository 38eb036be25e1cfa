// Writing the objects a real cluster's controllers would write, for tests
// against the test API server: namespaces, nodes with topology labels, pods
// with an IP in their status (the kubelet's part), Services, and
// EndpointSlices (the EndpointSlice controller's part).

import type { TestCluster } from './kube-cluster.js';

async function must(p: Promise<{ status: number; body: any }>, what: string, ok = [200, 201]): Promise<any> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body;
}

export function createNamespace(c: TestCluster, name: string, labels: Record<string, string> = {}): Promise<any> {
  return must(c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }), `namespace ${name}`);
}

export function createNode(c: TestCluster, name: string, region: string, zone: string): Promise<any> {
  return must(c.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/region': region, 'topology.kubernetes.io/zone': zone } } }), `node ${name}`);
}

/** A pod object and its status (Running, with `ip`), as the kubelet would report it. */
export async function createPod(c: TestCluster, ns: string, name: string, ip: string, labels: Record<string, string>, opts: { serviceAccount?: string; node?: string } = {}): Promise<any> {
  await must(
    c.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: { containers: [{ name: 'app', image: 'example.invalid/app:1' }], serviceAccountName: opts.serviceAccount ?? 'default', ...(opts.node ? { nodeName: opts.node } : {}) },
    }),
    `pod ${ns}/${name}`,
  );
  return must(c.request('PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }), `pod ${ns}/${name} status`);
}

export function deletePod(c: TestCluster, ns: string, name: string): Promise<any> {
  return must(c.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}?gracePeriodSeconds=0`), `delete pod ${ns}/${name}`);
}

export function createService(c: TestCluster, ns: string, name: string, ports: { name?: string; port: number; targetPort?: number; appProtocol?: string }[], selector: Record<string, string> = { app: name }): Promise<any> {
  return must(
    c.request('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector, ports: ports.map((p) => ({ protocol: 'TCP', ...p })) } }),
    `service ${ns}/${name}`,
  );
}

export interface SliceEndpoint {
  ip: string;
  pod?: string;
  node?: string;
  ready?: boolean;
}

/** Creates or replaces the EndpointSlice `name` of a service. */
export async function putEndpointSlice(c: TestCluster, ns: string, service: string, name: string, ports: { name: string; port: number }[], endpoints: SliceEndpoint[]): Promise<any> {
  const body = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  };
  const path = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
  const existing = await c.request('GET', `${path}/${name}`);
  if (existing.status === 200) return must(c.request('PUT', `${path}/${name}`, { ...body, metadata: { ...body.metadata, resourceVersion: existing.body.metadata.resourceVersion } }), `endpointslice ${ns}/${name}`);
  return must(c.request('POST', path, body), `endpointslice ${ns}/${name}`);
}
