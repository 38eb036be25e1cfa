// TLS transport sockets. Envoy gets SDS references (`default` identity,
// `ROOTCA` trust, or a Gateway's credentialName); proxyless gRPC gets the
// bootstrap's certificate provider instance `default` (file_watcher plugin),
// which is what grpc-js-xds accepts (it refuses SDS and inline certificates).

import type { ClientTLSSettings, ServerTLSSettings } from '../../api/istio.js';
import type { ProxyKind } from '../../api/types.js';
import type { CommonTlsContext, TransportSocket, envoy_extensions_transport_sockets_tls_v3_SdsSecretConfig as SdsSecretConfig, envoy_extensions_transport_sockets_tls_v3_TlsParameters_TlsProtocol as TlsProtocol, envoy_type_matcher_v3_StringMatcher as StringMatcher } from '../envoy-types.js';
import { ADS_SOURCE, T, any } from './common.js';

import { CERTIFICATE_PROVIDER, IDENTITY_SECRET, ROOT_SECRET } from '../names.js';

/** Istio's `TLSV1_2` is Envoy's `TLSv1_2`. */
const tlsProtocol = (v: string): TlsProtocol => v.replace('TLSV', 'TLSv') as TlsProtocol;

const PROVIDER = { instance_name: CERTIFICATE_PROVIDER, certificate_name: 'default' };

function sdsRef(name: string): SdsSecretConfig {
  return { name, sds_config: ADS_SOURCE };
}

function transportSocket(typeUrl: string, ctx: object): TransportSocket {
  return { name: 'envoy.transport_sockets.tls', typed_config: any(typeUrl, ctx) };
}

function sanMatchers(sans: readonly string[]): StringMatcher[] {
  return [...new Set(sans)].sort().map((s) => ({ exact: s }));
}

/** Upstream mesh mTLS (ISTIO_MUTUAL): our workload certificate, validated against the mesh root, peer SAN checked. */
export function istioMutualUpstream(kind: ProxyKind, sans: readonly string[], sni: string | undefined): TransportSocket {
  if (kind === 'grpc') {
    return transportSocket(T.upstreamTls, {
      common_tls_context: {
        tls_certificate_provider_instance: PROVIDER,
        validation_context: {
          ca_certificate_provider_instance: PROVIDER,
          ...(sans.length > 0 ? { match_subject_alt_names: sanMatchers(sans) } : {}),
        },
      },
    });
  }
  return transportSocket(T.upstreamTls, {
    common_tls_context: {
      alpn_protocols: ['istio-peer-exchange', 'istio'],
      tls_certificate_sds_secret_configs: [sdsRef(IDENTITY_SECRET)],
      combined_validation_context: {
        default_validation_context: sans.length > 0 ? { match_subject_alt_names: sanMatchers(sans) } : {},
        validation_context_sds_secret_config: sdsRef(ROOT_SECRET),
      },
    },
    ...(sni ? { sni } : {}),
  });
}

/** DestinationRule SIMPLE / MUTUAL for Envoy: files on the proxy, or a credentialName fetched by SDS. */
export function originatedTlsUpstream(settings: ClientTLSSettings, sni: string | undefined): TransportSocket {
  const common: CommonTlsContext = {};
  if (settings.credentialName) {
    if (settings.mode === 'MUTUAL') common.tls_certificate_sds_secret_configs = [sdsRef(settings.credentialName)];
    common.combined_validation_context = {
      default_validation_context: settings.subjectAltNames?.length ? { match_subject_alt_names: sanMatchers(settings.subjectAltNames) } : {},
      validation_context_sds_secret_config: sdsRef(`${settings.credentialName}-cacert`),
    };
  } else {
    if (settings.mode === 'MUTUAL' && settings.clientCertificate && settings.privateKey) {
      common.tls_certificates = [{ certificate_chain: { filename: settings.clientCertificate }, private_key: { filename: settings.privateKey } }];
    }
    if (settings.caCertificates || settings.subjectAltNames?.length) {
      common.validation_context = {
        ...(settings.caCertificates ? { trusted_ca: { filename: settings.caCertificates } } : {}),
        ...(settings.subjectAltNames?.length ? { match_subject_alt_names: sanMatchers(settings.subjectAltNames) } : {}),
      };
    }
  }
  const s = settings.sni ?? sni;
  return transportSocket(T.upstreamTls, { common_tls_context: common, ...(s ? { sni: s } : {}) });
}

/** Inbound mesh mTLS: present our workload certificate, require and verify the client's. */
export function istioMutualDownstream(kind: ProxyKind): TransportSocket {
  if (kind === 'grpc') {
    return transportSocket(T.downstreamTls, {
      common_tls_context: {
        tls_certificate_provider_instance: PROVIDER,
        validation_context: { ca_certificate_provider_instance: PROVIDER },
      },
      require_client_certificate: { value: true },
    });
  }
  return transportSocket(T.downstreamTls, {
    common_tls_context: {
      alpn_protocols: ['h2', 'http/1.1'],
      tls_certificate_sds_secret_configs: [sdsRef(IDENTITY_SECRET)],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: sdsRef(ROOT_SECRET) },
    },
    require_client_certificate: { value: true },
  });
}

/** Gateway server TLS termination (SIMPLE / MUTUAL / ISTIO_MUTUAL). */
export function gatewayDownstream(tls: ServerTLSSettings): TransportSocket {
  const common: CommonTlsContext = { alpn_protocols: ['h2', 'http/1.1'] };
  if (tls.mode === 'ISTIO_MUTUAL') return istioMutualDownstream('router');
  if (tls.credentialName) {
    common.tls_certificate_sds_secret_configs = [sdsRef(tls.credentialName)];
    if (tls.mode === 'MUTUAL') {
      common.combined_validation_context = {
        default_validation_context: tls.subjectAltNames?.length ? { match_subject_alt_names: sanMatchers(tls.subjectAltNames) } : {},
        validation_context_sds_secret_config: sdsRef(`${tls.credentialName}-cacert`),
      };
    }
  } else {
    if (tls.serverCertificate && tls.privateKey) {
      common.tls_certificates = [{ certificate_chain: { filename: tls.serverCertificate }, private_key: { filename: tls.privateKey } }];
    }
    if (tls.mode === 'MUTUAL' && tls.caCertificates) {
      common.validation_context = {
        trusted_ca: { filename: tls.caCertificates },
        ...(tls.subjectAltNames?.length ? { match_subject_alt_names: sanMatchers(tls.subjectAltNames) } : {}),
      };
    }
  }
  if (tls.minProtocolVersion || tls.maxProtocolVersion || tls.cipherSuites?.length) {
    common.tls_params = {
      ...(tls.minProtocolVersion ? { tls_minimum_protocol_version: tlsProtocol(tls.minProtocolVersion) } : {}),
      ...(tls.maxProtocolVersion ? { tls_maximum_protocol_version: tlsProtocol(tls.maxProtocolVersion) } : {}),
      ...(tls.cipherSuites?.length ? { cipher_suites: tls.cipherSuites } : {}),
    };
  }
  return transportSocket(T.downstreamTls, {
    common_tls_context: common,
    ...(tls.mode === 'MUTUAL' ? { require_client_certificate: { value: true } } : {}),
  });
}
