// The analyzers that read workloads and services, against a cluster as
// `meshcd serve --kubeconfig` hands them one (the Reconciler's indexFor →
// MergedServiceIndex), as istioctl analyze does against a cluster. Each row:
// cluster objects + config → the codes every analyzer reports (on top of
// BASE, a small clean mesh). The pod data they need: pods that are no
// endpoint yet (Pending, host network), a Service's pods by its selector
// whatever their readiness, the pod labels augmented with topology labels
// (as istiod's AugmentLabels), and the cluster's namespaces.

import test from 'ava';
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { analyze, ANALYZERS } from '../../../src/validate/analyzers/index.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { buildClusterView, type ClusterObjects } from '../../../src/registry/kubernetes/view.js';
import { MergedServiceIndex } from '../../../src/registry/kubernetes/merged.js';
import { BASE, brief, loadFiles } from '../validate/analyzers/_helpers.js';

const service = (name: string, ports: { name: string; port: number }[], selector: Record<string, string> = { app: name }, ns = 'web'): V1Service => ({ metadata: { namespace: ns, name }, spec: { clusterIP: '10.96.0.20', selector, ports: ports.map((p) => ({ protocol: 'TCP', ...p })) } });
const pod = (name: string, labels: Record<string, string>, o: { ip?: string; node?: string; hostNetwork?: boolean; phase?: string; ns?: string } = {}): V1Pod => ({
  metadata: { namespace: o.ns ?? 'web', name, labels },
  spec: { containers: [], nodeName: o.node ?? 'node-a', ...(o.hostNetwork ? { hostNetwork: true } : {}) },
  status: { phase: o.phase ?? (o.ip ? 'Running' : 'Pending'), ...(o.ip ? { podIP: o.ip } : {}) },
});
const slice = (svc: string, eps: { ip: string; pod: string; ready?: boolean }[], port = 8080): V1EndpointSlice => ({
  metadata: { namespace: 'web', name: `${svc}-a`, labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, targetRef: { kind: 'Pod', namespace: 'web', name: e.pod } })),
});
const NODES: V1Node[] = [{ metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1a' } } }];
const NAMESPACES: V1Namespace[] = [{ metadata: { name: 'web' } }, { metadata: { name: 'batch', labels: { team: 'data' } } }];

/** The frontend Service: one ready pod (v1) and one whose readiness probe fails (v2). */
const FRONTEND: Partial<ClusterObjects> = {
  services: [service('frontend', [{ name: 'http', port: 80 }])],
  pods: [pod('frontend-v1', { app: 'frontend', version: 'v1' }, { ip: '10.244.0.5' }), pod('frontend-v2', { app: 'frontend', version: 'v2' }, { ip: '10.244.0.6' })],
  endpointSlices: [slice('frontend', [{ ip: '10.244.0.5', pod: 'frontend-v1' }, { ip: '10.244.0.6', pod: 'frontend-v2', ready: false }])],
};

interface Row {
  name: string;
  cluster: Partial<ClusterObjects>;
  yaml: string;
  expect: string[];
}

const DR = (subsets: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: frontend, namespace: web}
spec:
  host: frontend
  subsets:
${subsets}`;

const rows: Row[] = [
  { name: 'IST0174: a DestinationRule for a Kubernetes Service is known', cluster: FRONTEND, yaml: DR('  - {name: v1, labels: {version: v1}}\n'), expect: [] },
  { name: 'IST0174: … and one for no service is reported', cluster: FRONTEND, yaml: DR('  - {name: v1, labels: {version: v1}}\n').replace('host: frontend', 'host: backend'), expect: ['IST0174 t.yaml:5'] },
  { name: 'IST0173: a subset whose pod is not ready still selects it (Istio counts pods, not ready endpoints)', cluster: FRONTEND, yaml: DR('  - {name: v2, labels: {version: v2}}\n'), expect: [] },
  { name: 'IST0173: a subset whose only pod is Pending (no IP yet) selects it', cluster: { ...FRONTEND, pods: [...FRONTEND.pods!, pod('frontend-v3', { app: 'frontend', version: 'v3' })] }, yaml: DR('  - {name: v3, labels: {version: v3}}\n'), expect: [] },
  { name: 'IST0173: a subset by topology label matches pods by their node (augmented labels)', cluster: FRONTEND, yaml: DR('  - {name: zone-a, labels: {topology.kubernetes.io/zone: eu-1a}}\n  - {name: host-a, labels: {kubernetes.io/hostname: node-a}}\n'), expect: [] },
  { name: 'IST0173: a subset no pod of the Service carries is reported', cluster: FRONTEND, yaml: DR('  - {name: v9, labels: {version: v9}}\n  - {name: zone-b, labels: {topology.kubernetes.io/zone: eu-1b}}\n'), expect: ['IST0173 t.yaml:7', 'IST0173 t.yaml:8'] },
  {
    name: 'IST0101: a VirtualService to a Kubernetes Service port that exists; IST0101 for one that does not',
    cluster: FRONTEND,
    yaml: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend, namespace: web}
spec:
  hosts: [frontend]
  http:
  - route: [{destination: {host: frontend, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontend-bad, namespace: web}
spec:
  hosts: [frontend-canary.web.svc.cluster.local]
  http:
  - route: [{destination: {host: frontend, port: {number: 81}}}]
`,
    expect: ['IST0101 t.yaml:15'],
  },
  {
    name: 'IST0101: an AuthorizationPolicy source namespace that exists only in the cluster (no service, no config) is known',
    cluster: { ...FRONTEND, namespaces: NAMESPACES },
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-batch, namespace: web}
spec:
  selector: {matchLabels: {app: frontend}}
  rules: [{from: [{source: {namespaces: [batch]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: from-nowhere, namespace: web}
spec:
  selector: {matchLabels: {app: frontend}}
  rules: [{from: [{source: {namespaces: [nowhere]}}]}]
`,
    expect: ['IST0101 t.yaml:13'],
  },
  {
    name: 'IST0101/IST0127: selectors match Pending pods and host-network gateway pods',
    cluster: { ...FRONTEND, pods: [...FRONTEND.pods!, pod('worker-0', { app: 'worker' }), pod('gw-0', { istio: 'edge' }, { ip: '192.168.1.10', hostNetwork: true, ns: 'istio-system' })] },
    yaml: `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: worker, namespace: web}
spec:
  workloadSelector: {labels: {app: worker}}
  egress: [{hosts: [./*]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: worker, namespace: web}
spec:
  selector: {matchLabels: {app: worker}}
  action: ALLOW
  rules: [{}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: edge}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
`,
    expect: [],
  },
  {
    name: 'IST0101/IST0127: … and a Succeeded pod is no workload',
    cluster: { ...FRONTEND, pods: [...FRONTEND.pods!, pod('job-0', { app: 'job' }, { phase: 'Succeeded' })] },
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: job, namespace: web}
spec:
  selector: {matchLabels: {app: job}}
  action: ALLOW
  rules: [{}]
`,
    expect: ['IST0127 t.yaml:5'],
  },
  {
    name: 'IST0118: a Kubernetes Service port named for no protocol',
    cluster: { ...FRONTEND, services: [service('frontend', [{ name: 'http', port: 80 }, { name: 'metrics', port: 9102 }])] },
    yaml: '',
    expect: ['IST0118 undefined:undefined'],
  },
  {
    name: 'MCD0310: a WorkloadEntry selected by a Kubernetes Service (not by a ServiceEntry) is not orphaned',
    cluster: FRONTEND,
    yaml: `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: frontend-vm, namespace: web}
spec: {address: 10.0.9.9, labels: {app: frontend, version: vm}}
`,
    expect: [],
  },
];

for (const r of rows) {
  test(r.name, async (t) => {
    const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': r.yaml });
    t.deepEqual(load.diagnostics, []);
    const view = buildClusterView({ clusterId: 'c1', services: [], endpointSlices: [], pods: [], nodes: NODES, namespaces: [], ...r.cluster }, { clusterDomain: 'cluster.local' });
    const index = new MergedServiceIndex(load.config, buildServiceIndex(load.config), [view]);
    const diags = analyze(load, index, ANALYZERS);
    t.deepEqual(brief(diags), r.expect, diags.map((d) => `${d.code} ${d.resource} ${d.message}`).join('\n'));
  });
}

test('the IST0118 finding names the Service, its port and targetPort', async (t) => {
  const load = await loadFiles({ 'base.yaml': BASE });
  const view = buildClusterView({ clusterId: 'c1', services: [{ metadata: { namespace: 'web', name: 'api' }, spec: { clusterIP: '10.96.0.30', ports: [{ name: 'metrics', port: 9102, targetPort: 19102, protocol: 'TCP' }] } } as unknown as V1Service], endpointSlices: [], pods: [], nodes: [], namespaces: [] }, { clusterDomain: 'cluster.local' });
  const d = analyze(load, new MergedServiceIndex(load.config, buildServiceIndex(load.config), [view]), ANALYZERS).find((x) => x.code === 'IST0118');
  t.like(d, { resource: 'Service/web/api', severity: 'info', path: 'spec.ports[0].name', message: "Port name metrics (port: 9102, targetPort: 19102) doesn't follow the naming convention of Istio port." });
  t.is(d?.origin, undefined);
});
