// One cluster's Kubernetes objects → the services and workloads meshcd
// serves, the way istiod reads them. Pure: the objects are inputs (as the
// informers hold them), nothing is fetched here.
//
// - A Service is `name.namespace.svc.<clusterDomain>`; its ports' protocols
//   are inferred as Istio does (appProtocol, else the port name's prefix,
//   else TCP for a few well-known server-first ports, else UNKNOWN).
// - Its endpoints are the ready endpoints of the EndpointSlices labelled
//   `kubernetes.io/service-name`; an endpoint backed by a Pod carries the
//   pod's labels and service account, and the locality of its Node
//   (topology.kubernetes.io/region, /zone, topology.istio.io/subzone; the
//   pod's `istio-locality` label wins).
// - A pod's labels are augmented as istiod's AugmentLabels does for
//   endpoints: `topology.istio.io/cluster` (the cluster id),
//   `topology.kubernetes.io/region`/`zone`, `topology.istio.io/subzone` (its
//   locality), `kubernetes.io/hostname` (its node) and
//   `topology.istio.io/network` — so subsets, failover priority and
//   selectors can name them.
// - Pods without an IP yet (Pending) and host-network pods are no
//   endpoints, but analyzers see them (`analysisPods`), as istioctl analyze
//   sees every pod of a cluster.

import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Protocol, Service, ServicePort, Workload } from '../../api/types.js';
import { resourceKey } from '../../api/types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const CLUSTER_LABEL = 'topology.istio.io/cluster';
export const NETWORK_LABEL = 'topology.istio.io/network';
export const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';
const REGION_LABEL = 'topology.kubernetes.io/region';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const SUBZONE_LABEL = 'topology.istio.io/subzone';
const LOCALITY_LABEL = 'istio-locality';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** The objects of one cluster, as its informers hold them now. */
export interface ClusterObjects {
  clusterId: string;
  services: readonly V1Service[];
  endpointSlices: readonly V1EndpointSlice[];
  pods: readonly V1Pod[];
  nodes: readonly V1Node[];
  namespaces: readonly V1Namespace[];
}

export interface ViewOptions {
  clusterDomain: string;
  /** The cluster's network (Istio's topology.istio.io/network), when set. */
  network?: string;
}

/** One cluster's services, their endpoints, and every pod as a workload. */
export interface ClusterView {
  clusterId: string;
  services: Service[];
  /** Endpoints per service (the same objects as in `services`). */
  endpoints: Map<Service, Workload[]>;
  /** Every pod with an IP, as a workload (for DestinationRule subsets, Gateway and ServiceEntry selectors). */
  pods: Workload[];
  /** Pods that are no endpoint (no IP yet, or host network), address '': analyzers only. */
  analysisPods: Workload[];
  /** Pod selector of each service that has one (a Service also selects WorkloadEntries, as in Istio). */
  selectors: Map<Service, Record<string, string>>;
  namespaceLabels: Map<string, Record<string, string>>;
}

const PROTOCOL_NAMES: Record<string, Protocol> = {
  tcp: 'TCP', http: 'HTTP', http2: 'HTTP2', https: 'HTTPS', grpc: 'GRPC', 'grpc-web': 'GRPC-WEB', tls: 'TLS', mongo: 'MONGO', redis: 'REDIS', mysql: 'MYSQL',
};
/** Server-first protocols on their usual ports: Istio treats them as TCP when the port name says nothing. */
const WELL_KNOWN_TCP_PORTS = new Set([22, 25, 465, 587, 3306, 27017]);

/**
 * Istio's protocol inference for a Service port (pkg/config/kube ConvertProtocol):
 * `appProtocol` first (with Kubernetes' h2c/ws/wss names), else the port
 * name's prefix before `-` (`grpc-web` whole), case-insensitive. UDP and SCTP
 * ports are not served (undefined).
 */
export function inferProtocol(port: number, name: string | undefined, protocol: string | undefined, appProtocol: string | undefined): Protocol | undefined {
  if (protocol === 'UDP' || protocol === 'SCTP') return undefined;
  let text = name ?? '';
  if (appProtocol) {
    if (appProtocol === 'kubernetes.io/h2c') return 'HTTP2';
    if (appProtocol === 'kubernetes.io/ws') return 'HTTP';
    if (appProtocol === 'kubernetes.io/wss') return 'HTTPS';
    text = appProtocol;
  }
  const lower = text.toLowerCase();
  if (lower.startsWith('grpc-web')) return 'GRPC-WEB';
  const i = lower.indexOf('-');
  const p = PROTOCOL_NAMES[i >= 0 ? lower.slice(0, i) : lower];
  if (p) return p;
  return WELL_KNOWN_TCP_PORTS.has(port) ? 'TCP' : 'UNKNOWN';
}

/** `region/zone/subzone` from a pod's `istio-locality` label (dots) or its node's topology labels; undefined when none is set. */
export function localityOf(pod: V1Pod | undefined, node: V1Node | undefined, sliceZone?: string): string | undefined {
  const own = pod?.metadata?.labels?.[LOCALITY_LABEL];
  if (own) return own.replace(/\./g, '/');
  const l = node?.metadata?.labels ?? {};
  const region = l[REGION_LABEL] ?? '';
  const zone = l[ZONE_LABEL] ?? sliceZone ?? '';
  const subzone = l[SUBZONE_LABEL] ?? '';
  if (!region && !zone && !subzone) return undefined;
  return `${region}/${zone}/${subzone}`;
}

export function serviceHostname(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

function servicePorts(ports: readonly V1ServicePort[] | undefined): ServicePort[] {
  const out: ServicePort[] = [];
  for (const p of ports ?? []) {
    const protocol = inferProtocol(p.port, p.name, p.protocol, p.appProtocol);
    if (!protocol) continue;
    const target = typeof p.targetPort === 'number' ? p.targetPort : /^\d+$/.test(String(p.targetPort ?? '')) ? Number(p.targetPort) : undefined;
    out.push({ number: p.port, protocol, name: p.name ?? '', ...(target !== undefined && target !== p.port ? { targetPort: target } : {}) });
  }
  return out;
}

function exportToOf(svc: V1Service, namespace: string): string[] {
  const a = svc.metadata?.annotations?.[EXPORT_TO_ANNOTATION];
  if (!a) return ['*'];
  const list = a.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) return ['*'];
  if (list.includes('~')) return [];
  return [...new Set(list.map((e) => (e === '.' ? namespace : e)))];
}

/** istiod's AugmentLabels: the pod's labels plus its cluster, locality parts, node and network (a pod's own network label stays). */
export function augmentLabels(own: Readonly<Record<string, string>>, clusterId: string, locality: string | undefined, nodeName: string | undefined, network: string | undefined): Record<string, string> {
  const out: Record<string, string> = { ...own };
  const [region = '', zone = '', subzone = ''] = (locality ?? '').split('/');
  if (region) out[REGION_LABEL] = region;
  if (zone) out[ZONE_LABEL] = zone;
  if (subzone) out[SUBZONE_LABEL] = subzone;
  if (clusterId) out[CLUSTER_LABEL] = clusterId;
  if (nodeName) out[HOSTNAME_LABEL] = nodeName;
  if (network && !out[NETWORK_LABEL]) out[NETWORK_LABEL] = network;
  return out;
}

function podWorkload(pod: V1Pod, node: V1Node | undefined, opts: ViewOptions, clusterId: string, address: string, sliceZone?: string, nodeName?: string): Workload {
  const ns = pod.metadata!.namespace!;
  const locality = localityOf(pod, node, sliceZone);
  const network = pod.metadata?.labels?.[NETWORK_LABEL] ?? opts.network;
  const labels = augmentLabels(pod.metadata?.labels ?? {}, clusterId, locality, nodeName ?? pod.spec?.nodeName, network);
  return {
    id: `Pod/${ns}/${pod.metadata!.name}@${clusterId}`,
    namespace: ns,
    address,
    ports: {},
    labels,
    ...(locality ? { locality } : {}),
    serviceAccount: pod.spec?.serviceAccountName || 'default',
    ...(network ? { network } : {}),
  };
}

export function buildClusterView(objs: ClusterObjects, opts: ViewOptions): ClusterView {
  const nodes = new Map(objs.nodes.map((n) => [n.metadata?.name ?? '', n]));
  const pods = new Map<string, V1Pod>();
  const podWorkloads: Workload[] = [];
  const analysisPods: Workload[] = [];
  for (const p of objs.pods) {
    const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
    pods.set(key, p);
    const ip = p.status?.podIP;
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || !p.metadata?.namespace || !p.metadata.name) continue;
    const node = nodes.get(p.spec?.nodeName ?? '');
    if (ip && !p.spec?.hostNetwork) podWorkloads.push(podWorkload(p, node, opts, objs.clusterId, ip));
    else analysisPods.push(podWorkload(p, node, opts, objs.clusterId, ''));
  }
  const slicesByService = new Map<string, V1EndpointSlice[]>();
  for (const s of objs.endpointSlices) {
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc || (s.addressType !== 'IPv4' && s.addressType !== 'IPv6')) continue;
    const key = `${s.metadata?.namespace}/${svc}`;
    let l = slicesByService.get(key);
    if (!l) slicesByService.set(key, (l = []));
    l.push(s);
  }
  const services: Service[] = [];
  const endpoints = new Map<Service, Workload[]>();
  const selectors = new Map<Service, Record<string, string>>();
  const sorted = [...objs.services].sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
  for (const svc of sorted) {
    const ns = svc.metadata?.namespace;
    const name = svc.metadata?.name;
    if (!ns || !name) continue;
    const externalName = svc.spec?.type === 'ExternalName' ? svc.spec.externalName : undefined;
    const service: Service = {
      hostname: serviceHostname(name, ns, opts.clusterDomain),
      namespace: ns,
      ports: servicePorts(svc.spec?.ports),
      resolution: externalName ? 'DNS' : 'STATIC',
      location: 'MESH_INTERNAL',
      addresses: (svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None'),
      exportTo: exportToOf(svc, ns),
      resource: resourceKey('Service', ns, name),
    };
    services.push(service);
    if (svc.spec?.selector && Object.keys(svc.spec.selector).length > 0) selectors.set(service, { ...svc.spec.selector });
    if (externalName) {
      endpoints.set(service, [{ id: `Service/${ns}/${name}@${objs.clusterId}#external`, namespace: ns, address: externalName, ports: {}, labels: { [CLUSTER_LABEL]: objs.clusterId } }]);
      continue;
    }
    endpoints.set(service, sliceWorkloads(slicesByService.get(`${ns}/${name}`) ?? [], pods, nodes, opts, objs.clusterId));
  }
  const namespaceLabels = new Map(objs.namespaces.map((n) => [n.metadata?.name ?? '', { ...(n.metadata?.labels ?? {}) }]));
  podWorkloads.sort((a, b) => a.id.localeCompare(b.id));
  analysisPods.sort((a, b) => a.id.localeCompare(b.id));
  return { clusterId: objs.clusterId, services, endpoints, pods: podWorkloads, analysisPods, selectors, namespaceLabels };
}

/** Ready endpoints of a service's slices, one workload per address (ports by the slices' port names). */
function sliceWorkloads(slices: readonly V1EndpointSlice[], pods: ReadonlyMap<string, V1Pod>, nodes: ReadonlyMap<string, V1Node>, opts: ViewOptions, clusterId: string): Workload[] {
  const byAddress = new Map<string, Workload>();
  for (const slice of [...slices].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    const ports: Record<string, number> = {};
    for (const p of slice.ports ?? []) if (typeof p.port === 'number' && p.protocol !== 'UDP' && p.protocol !== 'SCTP') ports[p.name ?? ''] = p.port;
    for (const ep of slice.endpoints ?? []) {
      // `ready` unset means ready (the API's own rule); terminating endpoints are not ready.
      if (ep.conditions?.ready === false) continue;
      const address = ep.addresses?.[0];
      if (!address) continue;
      const seen = byAddress.get(address);
      if (seen) {
        Object.assign(seen.ports, ports);
        continue;
      }
      const ref = ep.targetRef?.kind === 'Pod' ? ep.targetRef : undefined;
      const pod = ref ? pods.get(`${ref.namespace ?? slice.metadata?.namespace}/${ref.name}`) : undefined;
      const node = nodes.get(ep.nodeName ?? pod?.spec?.nodeName ?? '');
      const ns = slice.metadata!.namespace!;
      if (pod) {
        const w = podWorkload(pod, node, opts, clusterId, address, ep.zone, ep.nodeName);
        w.ports = { ...ports };
        byAddress.set(address, w);
      } else {
        const locality = localityOf(undefined, node, ep.zone);
        byAddress.set(address, {
          id: ref ? `Pod/${ref.namespace ?? ns}/${ref.name}@${clusterId}` : `EndpointSlice/${ns}/${slice.metadata?.name}@${clusterId}#${address}`,
          namespace: ns,
          address,
          ports: { ...ports },
          labels: augmentLabels({}, clusterId, locality, ep.nodeName ?? undefined, opts.network),
          ...(locality ? { locality } : {}),
          ...(opts.network ? { network: opts.network } : {}),
        });
      }
    }
  }
  return [...byAddress.values()];
}
