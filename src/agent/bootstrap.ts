// xDS bootstrap files the agent writes for its workload: the gRPC one
// (GRPC_XDS_BOOTSTRAP, read by @grpc/grpc-js-xds / grpc-go / grpc-java) and
// Envoy's. Node id and metadata follow Istio's conventions so meshcd's xDS
// server (src/xds/node.ts) recognises the proxy.

import { isIP } from 'node:net';
import { GRPC_SERVER_LISTENER_TEMPLATE, IDENTITY_SECRET, ROOT_SECRET } from '../xds/names.js';

export interface BootstrapOptions {
  kind: 'grpc' | 'sidecar';
  /** host:port of meshcd's xDS server. */
  xdsAddress: string;
  /**
   * The address is meshcd's TLS port (15012): connect with TLS and present
   * the agent's own certificate, so the server can tie the node to its
   * identity (and serve a gateway its credentials). Otherwise plaintext
   * (15010: config and the ROOTCA trust bundle only).
   */
  xdsTls?: boolean;
  /** Name to check on meshcd's TLS certificate (default: the address's host when it is a name). */
  xdsServerName?: string;
  namespace: string;
  serviceAccount: string;
  podName: string;
  ip: string;
  labels: Record<string, string>;
  clusterDomain?: string;
  /** Folder with cert-chain.pem, key.pem, root-cert.pem (gRPC file watcher). */
  certDir: string;
  /** How often gRPC re-reads the certificate files. */
  refreshIntervalSeconds?: number;
  /** Envoy: the agent's SDS Unix socket. */
  sdsSocket?: string;
  /** Envoy admin port (default 15000). */
  envoyAdminPort?: number;
}

export function nodeId(o: Pick<BootstrapOptions, 'kind' | 'ip' | 'podName' | 'namespace' | 'clusterDomain'>): string {
  // Istio uses `sidecar~` for proxyless gRPC too; GENERATOR=grpc tells them apart.
  return `sidecar~${o.ip}~${o.podName}.${o.namespace}~${o.namespace}.${o.clusterDomain ?? 'svc.cluster.local'}`;
}

function nodeMetadata(o: BootstrapOptions): Record<string, unknown> {
  return {
    NAMESPACE: o.namespace,
    SERVICE_ACCOUNT: o.serviceAccount,
    LABELS: o.labels,
    INSTANCE_IPS: o.ip,
    POD_NAME: o.podName,
    ...(o.kind === 'grpc' ? { GENERATOR: 'grpc' } : {}),
  };
}

export const SERVER_LISTENER_TEMPLATE = GRPC_SERVER_LISTENER_TEMPLATE;

/**
 * gRFC A65 `tls` channel credentials from the agent's files (grpc-go,
 * grpc-java, grpc-core). @grpc/grpc-js-xds 1.14 accepts only `insecure` and
 * `google_default` in its bootstrap parser: point it at the plaintext port,
 * which is enough for proxyless clients (their certificates come from the
 * files, never over SDS).
 */
function xdsChannelCreds(o: BootstrapOptions): Record<string, unknown>[] {
  if (!o.xdsTls) return [{ type: 'insecure' }];
  return [{ type: 'tls', config: { certificate_file: `${o.certDir}/cert-chain.pem`, private_key_file: `${o.certDir}/key.pem`, ca_certificate_file: `${o.certDir}/root-cert.pem`, refresh_interval: `${o.refreshIntervalSeconds ?? 60}s` } }];
}

export function grpcBootstrap(o: BootstrapOptions): Record<string, unknown> {
  return {
    xds_servers: [{ server_uri: o.xdsAddress, channel_creds: xdsChannelCreds(o), server_features: ['xds_v3'] }],
    node: { id: nodeId(o), metadata: nodeMetadata(o), locality: {} },
    certificate_providers: {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: `${o.certDir}/cert-chain.pem`,
          private_key_file: `${o.certDir}/key.pem`,
          ca_certificate_file: `${o.certDir}/root-cert.pem`,
          refresh_interval: `${o.refreshIntervalSeconds ?? 60}s`,
        },
      },
    },
    server_listener_resource_name_template: SERVER_LISTENER_TEMPLATE,
  };
}

function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`"${addr}" is not host:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

export function envoyBootstrap(o: BootstrapOptions): Record<string, unknown> {
  if (!o.sdsSocket) throw new Error('an Envoy bootstrap needs the SDS socket path');
  const xds = splitHostPort(o.xdsAddress);
  const h2 = {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
  const endpoint = (address: Record<string, unknown>) => ({ lb_endpoints: [{ endpoint: { address } }] });
  // Over TLS, Envoy presents the workload certificate the agent serves it over SDS (`default`) and checks meshcd's against ROOTCA, as Istio's bootstrap does.
  const agentSds = { api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] }, resource_api_version: 'V3' };
  const sni = o.xdsServerName ?? (isIP(xds.host) ? undefined : xds.host);
  const xdsTls = o.xdsTls
    ? {
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
            ...(sni ? { sni } : {}),
            common_tls_context: {
              alpn_protocols: ['h2'],
              tls_certificate_sds_secret_configs: [{ name: IDENTITY_SECRET, sds_config: agentSds }],
              validation_context_sds_secret_config: { name: ROOT_SECRET, sds_config: agentSds },
            },
          },
        },
      }
    : {};
  return {
    node: { id: nodeId(o), cluster: `${o.labels.app ?? o.serviceAccount}.${o.namespace}`, metadata: nodeMetadata(o) },
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'xds-grpc',
          type: isIP(xds.host) ? 'STATIC' : 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: h2,
          load_assignment: { cluster_name: 'xds-grpc', endpoints: [endpoint({ socket_address: { address: xds.host, port_value: xds.port } })] },
          ...xdsTls,
        },
        {
          name: 'sds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: h2,
          load_assignment: { cluster_name: 'sds-grpc', endpoints: [endpoint({ pipe: { path: o.sdsSocket } })] },
        },
      ],
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.envoyAdminPort ?? 15000 } } },
  };
}
