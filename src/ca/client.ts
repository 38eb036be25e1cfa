// Client side of the CSR API, used by the agent, the CLI and tests.

import * as grpc from '@grpc/grpc-js';
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

export async function requestCertificate(o: CertificateRequestOptions): Promise<CertificateResult> {
  let creds = grpc.credentials.createSsl(
    Buffer.from(o.caRootsPem),
    o.clientCert ? Buffer.from(o.clientCert.keyPem) : null,
    o.clientCert ? Buffer.from(o.clientCert.certChainPem) : null,
  );
  if (o.token !== undefined) {
    const token = o.token;
    creds = grpc.credentials.combineChannelCredentials(creds, grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      cb(null, md);
    }));
  }
  const options: grpc.ChannelOptions = { 'grpc.max_reconnect_backoff_ms': 1000 };
  if (o.serverName) options['grpc.ssl_target_name_override'] = o.serverName;
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
