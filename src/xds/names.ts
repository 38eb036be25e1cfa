// The names of xDS resources and identities, in one place: listener, route
// configuration and cluster names, SNI, SPIFFE ids, SDS secret names and the
// proxyless gRPC listener names (client `host:port` aliases, server
// `xds.istio.io/grpc/lds/inbound/IP:PORT`). Istio's conventions throughout,
// since users and tools (istioctl, Kiali, dashboards) already know them.
// Pure; imports nothing. Used by xds/translate (which emits every name a
// client may ask for), xds/server, xds/node, ca (SPIFFE ids), agent and cli.

/** Prefix of the server-side listeners proxyless gRPC servers ask for (Istio's bootstrap template). */
export const GRPC_INBOUND_PREFIX = 'xds.istio.io/grpc/lds/inbound/';
/** `server_listener_resource_name_template` for gRPC bootstraps. */
export const GRPC_SERVER_LISTENER_TEMPLATE = `${GRPC_INBOUND_PREFIX}%s`;

/** SDS secret with the workload's own certificate and key (Istio's agent name). */
export const IDENTITY_SECRET = 'default';
/** SDS secret with the mesh trust bundle. */
export const ROOT_SECRET = 'ROOTCA';
/** The gRPC bootstrap's certificate provider instance meshcd's resources refer to. */
export const CERTIFICATE_PROVIDER = 'default';

export const BLACKHOLE = 'BlackHoleCluster';
export const PASSTHROUGH = 'PassthroughCluster';
export const INBOUND_PASSTHROUGH = 'InboundPassthroughCluster';
export const VIRTUAL_INBOUND = 'virtualInbound';
export const VIRTUAL_OUTBOUND = 'virtualOutbound';

/** Istio's cluster name, also the route configuration name for a service port: `outbound|9080|v1|reviews.bookinfo.svc.cluster.local`. */
export function clusterName(direction: 'outbound' | 'inbound', port: number, subset: string | undefined, host: string): string {
  return `${direction}|${port}|${subset ?? ''}|${host}`;
}

/** SNI for in-mesh mTLS to a cluster, also what AUTO_PASSTHROUGH gateways route on: `outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local`. */
export function clusterSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

/** Envoy's per-port listener (sidecar outbound, gateway): `0.0.0.0_8080`. */
export function portListenerName(port: number): string {
  return `0.0.0.0_${port}`;
}

/** The URI scheme of SPIFFE ids; Istio's AuthorizationPolicy principals leave it out (`<td>/ns/<ns>/sa/<sa>`). */
export const SPIFFE_SCHEME = 'spiffe://';

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${SPIFFE_SCHEME}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** A regex matching every SPIFFE id of a namespace, any trust domain and service account (`namespaceRegex` already escaped). */
export function spiffeNamespacePattern(namespaceRegex: string): string {
  return `^${SPIFFE_SCHEME}[^/]*/ns/${namespaceRegex}/sa/[^/]*$`;
}

const SPIFFE_RE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** The parts of a workload SPIFFE id (`spiffe://<td>/ns/<ns>/sa/<sa>`), or undefined for anything else. */
export function parseSpiffeId(id: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  const m = SPIFFE_RE.exec(id);
  return m ? { trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! } : undefined;
}

/**
 * Listener names a proxyless client in `clientNamespace` may dial to reach
 * `host` on `port` — the FQDN, and for `<name>.<ns>.<clusterDomain>` hosts
 * `name.ns`, `name.ns.svc` and (from the same namespace) `name` — as
 * Kubernetes DNS search paths would resolve them. First the canonical name.
 */
export function grpcClientListenerNames(host: string, port: number, clientNamespace: string, clusterDomain: string): string[] {
  const names = [`${host}:${port}`];
  const suffix = `.${clusterDomain}`;
  if (!host.endsWith(suffix)) return names;
  const labels = host.slice(0, -suffix.length).split('.');
  if (labels.length !== 2) return names;
  const [name, ns] = labels as [string, string];
  names.push(`${name}.${ns}:${port}`);
  names.push(`${name}.${ns}.svc:${port}`);
  if (ns === clientNamespace) names.push(`${name}:${port}`);
  return names;
}

/** Server-side listener name for an address a gRPC server may bind (`[v6]` bracketed). */
export function grpcServerListenerName(ip: string, port: number): string {
  return `${GRPC_INBOUND_PREFIX}${ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip}:${port}`;
}

/** Addresses a gRPC server bound to the workload's `port` may name besides the workload's own: any, and loopback. */
export const GRPC_SERVER_BIND_ALIASES: readonly string[] = ['0.0.0.0', '[::]', '127.0.0.1', '[::1]'];

/** Does this look like a name only a proxyless gRPC client asks for (Istio recognises it so)? */
export function isGrpcListenerName(name: string): boolean {
  return /^[A-Za-z0-9.-]+:\d+$/.test(name) || name.startsWith(GRPC_INBOUND_PREFIX);
}
