// Client side of the CSR API, used by the agent, the CLI and tests.

import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import { certificateServiceDefinition, TRUST_BUNDLE_TRAILER, type CertificateRequestMessage, type CertificateResponseMessage } from './service.js';
import { splitPemCerts } from './x509.js';

export interface CertificateRequestOptions {
  /** host:port of the CA's TLS port. */
  address: string;
  /** Roots that validate the CA's server certificate. */
  caRootsPem: string;
  csrPem: string;
  ttlSeconds?: number;
  /** Bootstrap or service-account token, sent as `authorization: Bearer …`. */
  token?: string;
  /** mTLS renewal with the current certificate. */
  clientCert?: { certChainPem: string; keyPem: string };
  /** TLS name to check on the CA's certificate when `address` is not one of its names. */
  serverName?: string;
  timeoutMs?: number;
}

export interface CertificateResult {
  /** Leaf first, intermediates, root last (as returned). */
  certChainPem: string[];
  /** The CA's whole trust bundle (all roots during a rotation). */
  trustBundlePem: string[];
}

/** A gRPC failure with its status code (UNAUTHENTICATED, INVALID_ARGUMENT, UNAVAILABLE…). */
export class CaCallError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
    this.name = 'CaCallError';
  }
}

const Client = grpc.makeGenericClientConstructor(certificateServiceDefinition(), 'IstioCertificateService');

/** The host of `host:port` or `[v6]:port`. */
function hostOf(address: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (m) return m[1]!;
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/**
 * SNI sent when the CA is dialled by IP address. grpc-js puts the target host
 * into the TLS ServerName even when it is an IP literal, which RFC 6066
 * forbids and Node warns about (DEP0123; grpc/grpc-node#1919). So for an IP
 * we give grpc-js a name to send (`.invalid` is reserved, RFC 2606: it names
 * nothing) and check the server certificate against the IP ourselves.
 */
export const SNI_FOR_IP_TARGETS = 'meshcd-ca.invalid';

/** Channel options and verify options that check the CA's certificate for `name` without an IP in the ServerName. */
export function tlsNameOptions(address: string, serverName: string | undefined): { options: grpc.ChannelOptions; verify: grpc.VerifyOptions } {
  const name = serverName ?? hostOf(address);
  if (isIP(name)) {
    return {
      options: { 'grpc.ssl_target_name_override': SNI_FOR_IP_TARGETS },
      verify: { checkServerIdentity: (_sni, cert) => checkServerIdentity(name, cert) },
    };
  }
  return { options: serverName ? { 'grpc.ssl_target_name_override': serverName } : {}, verify: {} };
}

export async function requestCertificate(o: CertificateRequestOptions): Promise<CertificateResult> {
  const tlsName = tlsNameOptions(o.address, o.serverName);
  let creds = grpc.credentials.createSsl(
    Buffer.from(o.caRootsPem),
    o.clientCert ? Buffer.from(o.clientCert.keyPem) : null,
    o.clientCert ? Buffer.from(o.clientCert.certChainPem) : null,
    tlsName.verify,
  );
  if (o.token !== undefined) {
    const token = o.token;
    creds = grpc.credentials.combineChannelCredentials(creds, grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      cb(null, md);
    }));
  }
  const options: grpc.ChannelOptions = { 'grpc.max_reconnect_backoff_ms': 1000, ...tlsName.options };
  const client = new Client(o.address, creds, options);
  try {
    return await new Promise<CertificateResult>((resolve, reject) => {
      let trailer: grpc.Metadata | undefined;
      const req: CertificateRequestMessage = { csr: o.csrPem, validity_duration: o.ttlSeconds ?? 0 };
      const call = (client as unknown as {
        CreateCertificate(r: CertificateRequestMessage, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: CertificateResponseMessage) => void): grpc.ClientUnaryCall;
      }).CreateCertificate(req, new grpc.Metadata(), { deadline: Date.now() + (o.timeoutMs ?? 10_000) }, (err, value) => setImmediate(() => {
        // grpc-js emits 'status' (with the trailers) right after this callback.
        if (err) return reject(new CaCallError(err.code, `CA ${o.address}: ${grpc.status[err.code] ?? err.code}: ${err.details}`));
        const bundleRaw = trailer?.get(TRUST_BUNDLE_TRAILER)[0];
        const chain = value?.cert_chain ?? [];
        const bundle = bundleRaw ? splitPemCerts(Buffer.isBuffer(bundleRaw) ? bundleRaw.toString('utf8') : String(bundleRaw)) : chain.slice(-1);
        resolve({ certChainPem: chain, trustBundlePem: bundle });
      }));
      call.on('status', (s: grpc.StatusObject) => {
        trailer = s.metadata;
      });
    });
  } finally {
    client.close();
  }
}
