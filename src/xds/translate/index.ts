// xds/translate: MeshModel + one proxy → that proxy's Envoy resources. Pure
// (no clock, no I/O). One file per concern: view (what the proxy sees),
// listeners-{grpc,sidecar,gateway}, routes, clusters, endpoints, rbac, tls.
// May import src/api, src/mesh and src/config/load.ts (canonicalJson);
// never the xDS server or cache.

import type { Diagnostic, ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import type { MeshModel } from '../../mesh/model.js';
import { cmp, labelsKey } from '../../mesh/names.js';
import { envoyFixedClusters, outboundClusters } from './clusters.js';
import { gatewayResources } from './listeners-gateway.js';
import { grpcClientResources, grpcServerListeners } from './listeners-grpc.js';
import { sidecarResources } from './listeners-sidecar.js';
import { ProxyView } from './view.js';

export { GRPC_INBOUND_PREFIX, grpcListenerNames } from './listeners-grpc.js';
export { clusterName, versionOf } from './common.js';

export interface TranslateResult {
  resources: ProxyResources;
  /** Features this proxy's kind does not support, destinations that do not exist, … (deduplicated). */
  diagnostics: Diagnostic[];
}

/**
 * Two proxies with the same key receive identical resources: the view
 * depends only on kind, namespace, labels and IPs (inbound listeners and
 * workload matching). The service account is not used by translation.
 */
export function translationKey(proxy: ProxyInfo): string {
  return [proxy.kind, proxy.namespace, labelsKey(proxy.labels), [...proxy.ips].sort().join(',')].join('|');
}

function sorted(m: Map<string, XdsResource>): ReadonlyMap<string, XdsResource> {
  return new Map([...m.entries()].sort((a, b) => cmp(a[0], b[0])));
}

export function translateWithDiagnostics(proxy: ProxyInfo, model: MeshModel): TranslateResult {
  const view = new ProxyView(proxy, model);
  const cs = outboundClusters(view);
  let listeners = new Map<string, XdsResource>();
  let routes = new Map<string, XdsResource>();
  const secrets = new Map<string, XdsResource>();
  if (proxy.kind === 'grpc') {
    const client = grpcClientResources(view);
    listeners = client.listeners;
    routes = client.routes;
    for (const [k, v] of grpcServerListeners(view)) listeners.set(k, v);
  } else if (proxy.kind === 'sidecar') {
    envoyFixedClusters(cs, true);
    const r = sidecarResources(view, cs);
    listeners = r.listeners;
    routes = r.routes;
  } else {
    envoyFixedClusters(cs, false);
    const r = gatewayResources(view);
    listeners = r.listeners;
    routes = r.routes;
  }
  const resources = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>([
    [TYPE_URL.listener, sorted(listeners)],
    [TYPE_URL.route, sorted(routes)],
    [TYPE_URL.cluster, sorted(cs.clusters)],
    [TYPE_URL.endpoint, sorted(cs.endpoints)],
    [TYPE_URL.secret, sorted(secrets)],
  ]);
  return { resources, diagnostics: view.sink.list };
}

export function translate(proxy: ProxyInfo, model: MeshModel): ProxyResources {
  return translateWithDiagnostics(proxy, model).resources;
}

export function translateDiagnostics(proxy: ProxyInfo, model: MeshModel): Diagnostic[] {
  return translateWithDiagnostics(proxy, model).diagnostics;
}
