// The default ingress gateway `istioctl analyze` assumes when it reads files
// (pkg/config/analysis/local/defaults.go): a workload labelled
// `istio: ingressgateway` in the root namespace behind the service
// `istio-ingressgateway` with ports 80, 443, 31400 and 15443. With it, a
// Gateway selecting `istio: ingressgateway` is not IST0101 in a repository
// that does not declare the gateway's workloads. Added only when no workload
// carries that label already. Pure: wraps a ServiceIndex.

import type { Service, ServiceIndex, Workload } from '../api/types.js';

export const DEFAULT_INGRESS_LABELS: Readonly<Record<string, string>> = { istio: 'ingressgateway' };

export function withDefaultIngressGateway(index: ServiceIndex, rootNamespace: string, clusterDomain: string): ServiceIndex {
  if (index.workloads().some((w) => w.labels.istio === 'ingressgateway')) return index;
  const workload: Workload = {
    id: `default-ingress-gateway/${rootNamespace}/istio-ingressgateway`,
    namespace: rootNamespace,
    address: '0.0.0.0',
    ports: {},
    labels: { ...DEFAULT_INGRESS_LABELS },
  };
  const hostname = `istio-ingressgateway.${rootNamespace}.svc.${clusterDomain}`;
  const service: Service = {
    hostname,
    namespace: rootNamespace,
    ports: [
      { number: 80, name: 'http2', protocol: 'HTTP2' },
      { number: 443, name: 'https', protocol: 'HTTPS' },
      { number: 31400, name: 'tcp', protocol: 'TCP' },
      { number: 15443, name: 'tls', protocol: 'TLS' },
    ],
    resolution: 'STATIC',
    location: 'MESH_INTERNAL',
    addresses: [],
    exportTo: ['*'],
  };
  const services = [...index.services(), service];
  const workloads = [...index.workloads(), workload];
  return {
    services: () => services,
    service: (h, ns) => (h === hostname ? service : index.service(h, ns)),
    workloadsFor: (h, ns) => (h === hostname ? [workload] : index.workloadsFor(h, ns)),
    workloads: () => workloads,
  };
}
