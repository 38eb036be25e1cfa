// The mesh the dashboard tests serve from Git: a small bookinfo without mTLS
// (so grpc-js-xds clients ACK it), with an ingress gateway, reviews split
// between v1 and v2 (the `split` route a Rollout walks out), ratings and
// details. reviews' WorkloadEntries point at the test's gRPC backends.

export interface MeshPorts {
  v1: number;
  v2: number;
}

const workload = (name: string, version: string, port: number, protocol = 'http') => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-${version}, namespace: bookinfo}
spec:
  address: 127.0.0.1
  ports: {${protocol}: ${port}}
  labels: {app: ${name}, version: ${version}}
`;

const serviceEntry = (name: string, protocol: 'GRPC' | 'HTTP') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: bookinfo}
spec:
  hosts: [${name}.bookinfo.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 9080, name: ${protocol.toLowerCase()}, protocol: ${protocol}}
  workloadSelector:
    labels: {app: ${name}}
`;

const ingress = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ingressgateway, namespace: bookinfo}
spec:
  address: 127.0.0.1
  labels: {istio: ingressgateway}
`;

/** Files under mesh/ (the source's path): services, routes, the gateway. */
export function dashboardMesh(ports: MeshPorts, weights: { v1: number; v2: number }): Record<string, string> {
  return {
    'mesh/services.yaml': [serviceEntry('ingressgateway', 'HTTP').replace('app: ingressgateway', 'istio: ingressgateway'), serviceEntry('productpage', 'HTTP'), serviceEntry('reviews', 'GRPC'), serviceEntry('ratings', 'HTTP'), serviceEntry('details', 'HTTP')].join('---\n'),
    'mesh/workloads.yaml': [ingress, workload('productpage', 'v1', 19080), workload('reviews', 'v1', ports.v1, 'grpc'), workload('reviews', 'v2', ports.v2, 'grpc'), workload('ratings', 'v1', 19081), workload('details', 'v1', 19082)].join('---\n'),
    'mesh/destination-rules.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews.bookinfo.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: bookinfo}
spec:
  host: ratings.bookinfo.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
`,
    'mesh/gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9080, name: http, protocol: HTTP}
    hosts: [bookinfo.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http:
  - name: pages
    match:
    - uri: {prefix: /productpage}
    route:
    - destination: {host: productpage.bookinfo.svc.cluster.local}
    timeout: 10s
`,
    'mesh/virtual-services.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - name: testers
    match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}
    timeout: 3s
  - name: split
    route:
    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}
      weight: ${weights.v1}
    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}
      weight: ${weights.v2}
    timeout: 3s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - name: default
    route:
    - destination: {host: ratings.bookinfo.svc.cluster.local, subset: v1}
    timeout: 2s
`,
  };
}
