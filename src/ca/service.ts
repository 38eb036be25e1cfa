// Istio's CSR API, `istio.v1.auth.IstioCertificateService/CreateCertificate`,
// on a gRPC server: standalone (`startCaServer`) or added to the xDS server's
// TLS port 15012 (`registerCertificateService` + `createCaServerCredentials`).
//
// Response chain: leaf, intermediates, then the signing root last, as istiod
// does (Istio's agent takes the last element as the root). The whole trust
// bundle (several roots during a rotation) rides in the trailing metadata
// `meshcd-trust-bundle-bin` so meshcd's agent can keep old and new roots.

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { logger } from '../util/log.js';
import { CaRequestError, countRefusal, type CertificateAuthority } from './authority.js';
import { AuthError, ChainAuthenticator, ClientCertAuthenticator, type Authenticator, type Credentials } from './auth.js';

const CA_PROTO = `
syntax = "proto3";
package istio.v1.auth;
import "google/protobuf/struct.proto";
message IstioCertificateRequest {
  string csr = 1;
  int64 validity_duration = 3;
  google.protobuf.Struct metadata = 4;
}
message IstioCertificateResponse {
  repeated string cert_chain = 1;
}
service IstioCertificateService {
  rpc CreateCertificate(IstioCertificateRequest) returns (IstioCertificateResponse) {}
}
`;

export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';
export const TRUST_BUNDLE_TRAILER = 'meshcd-trust-bundle-bin';

export interface CertificateRequestMessage {
  csr: string;
  validity_duration: number;
  metadata?: Record<string, unknown>;
}

export interface CertificateResponseMessage {
  cert_chain: string[];
}

let types: { req: protobuf.Type; res: protobuf.Type } | undefined;

function protoTypes(): { req: protobuf.Type; res: protobuf.Type } {
  if (!types) {
    const root = new protobuf.Root();
    protobuf.parse(CA_PROTO, root, { keepCase: true });
    root.addJSON(protobuf.common.get('google/protobuf/struct.proto')!.nested!);
    root.resolveAll();
    types = { req: root.lookupType('istio.v1.auth.IstioCertificateRequest'), res: root.lookupType('istio.v1.auth.IstioCertificateResponse') };
  }
  return types;
}

/** The gRPC service definition (usable by clients via makeGenericClientConstructor too). */
export function certificateServiceDefinition(): grpc.ServiceDefinition {
  const { req, res } = protoTypes();
  return {
    CreateCertificate: {
      path: CREATE_CERTIFICATE_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: CertificateRequestMessage) => Buffer.from(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { longs: Number, defaults: true }) as CertificateRequestMessage,
      responseSerialize: (v: CertificateResponseMessage) => Buffer.from(res.encode(res.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { defaults: true }) as CertificateResponseMessage,
    },
  };
}

/** Authenticators for a CA: client certificates from this CA first, then the given ones (tokens, TokenReview). */
export function defaultAuth(ca: CertificateAuthority, others: readonly Authenticator[]): ChainAuthenticator {
  return new ChainAuthenticator([new ClientCertAuthenticator(ca), ...others]);
}

/**
 * What a gRPC call presents: `authorization: Bearer …` metadata and the TLS
 * client certificate. Shared with the xDS server's TLS port, which
 * authenticates ADS streams with the same authenticators.
 */
export function callCredentials(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'metadata' | 'getPeer' | 'getAuthContext'>): Credentials {
  const peer = call.getPeer();
  const authz = call.metadata.get('authorization')[0];
  let bearerToken: string | undefined;
  if (typeof authz === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(authz.trim());
    bearerToken = m ? m[1]! : '';
  }
  let peerCertificate: X509Certificate | undefined;
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (raw) {
    try {
      peerCertificate = new X509Certificate(raw);
    } catch {
      // An unparsable certificate is treated as no certificate.
    }
  }
  return { ...(bearerToken !== undefined ? { bearerToken } : {}), ...(peerCertificate ? { peerCertificate } : {}), peer };
}

/** Adds CreateCertificate to `server`. `auth` decides the caller's identity. */
export function registerCertificateService(server: grpc.Server, ca: CertificateAuthority, auth: ChainAuthenticator): void {
  server.addService(certificateServiceDefinition(), certificateServiceImplementation(ca, auth));
}

/**
 * The handlers alone, for a server that wraps grpc.Server (the xDS server's
 * `addService(def, impl)`): `xds.addService(certificateServiceDefinition(), certificateServiceImplementation(ca, auth))`.
 */
export function certificateServiceImplementation(ca: CertificateAuthority, auth: ChainAuthenticator): grpc.UntypedServiceImplementation {
  const log = logger('ca-api');
  return {
    CreateCertificate: (call: grpc.ServerUnaryCall<CertificateRequestMessage, CertificateResponseMessage>, callback: grpc.sendUnaryData<CertificateResponseMessage>) => {
      void handle(call).then(
        ({ value, trailer }) => callback(null, value, trailer),
        (err: { code: grpc.status; details: string }) => callback({ code: err.code, details: err.details, metadata: new grpc.Metadata() }),
      );
    },
  };

  async function handle(call: grpc.ServerUnaryCall<CertificateRequestMessage, CertificateResponseMessage>): Promise<{ value: CertificateResponseMessage; trailer: grpc.Metadata }> {
    const peer = call.getPeer();
    let caller;
    try {
      caller = await auth.authenticate(callCredentials(call));
    } catch (err) {
      if (err instanceof AuthError) {
        countRefusal(err.reason);
        log.warn({ audit: 'cert_refused', reason: err.reason, peer }, err.message);
        throw { code: grpc.status.UNAUTHENTICATED, details: err.message };
      }
      countRefusal('internal');
      log.error({ err: (err as Error).message, peer }, 'authenticator failed');
      throw { code: grpc.status.UNAVAILABLE, details: 'authentication backend failed; retry later' };
    }
    const ttl = Number(call.request.validity_duration ?? 0);
    if (!Number.isFinite(ttl) || ttl < 0) {
      countRefusal('bad_ttl');
      throw { code: grpc.status.INVALID_ARGUMENT, details: `validity_duration ${call.request.validity_duration} is not a non-negative number of seconds` };
    }
    try {
      const issued = await ca.issueAsync({
        csrPem: call.request.csr,
        namespace: caller.namespace,
        serviceAccount: caller.serviceAccount,
        ttlSeconds: ttl,
        caller: `${caller.method}:${caller.principal}@${peer}`,
      });
      const trailer = new grpc.Metadata();
      trailer.set(TRUST_BUNDLE_TRAILER, Buffer.from(ca.trustBundle().rootsPem.join(''), 'utf8'));
      return { value: { cert_chain: issued.responseChainPem }, trailer };
    } catch (err) {
      if (err instanceof CaRequestError) {
        countRefusal(err.reason);
        log.warn({ audit: 'cert_refused', reason: err.reason, peer, caller: `${caller.method}:${caller.principal}` }, err.message);
        throw { code: err.reason === 'bad_identity' ? grpc.status.PERMISSION_DENIED : grpc.status.INVALID_ARGUMENT, details: err.message };
      }
      countRefusal('internal');
      log.error({ err: (err as Error).message, peer }, 'certificate issuance failed');
      throw { code: grpc.status.INTERNAL, details: 'internal CA error (see the CA log)' };
    }
  }
}

/**
 * TLS server credentials for the CA port: a server certificate from the CA
 * itself, client certificates requested but optional (token callers have
 * none), verified against the current trust bundle. Renewed at half life and
 * whenever the CA's roots change.
 */
export class CaServerCredentials extends grpc.ServerCredentials {
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: () => void;
  private readonly names: { dns: string[]; ips: string[] };

  constructor(private readonly ca: CertificateAuthority, opts: { namespace?: string; dnsNames?: string[]; ips?: string[] } = {}) {
    super({ requestCert: true, rejectUnauthorized: false }, undefined);
    this.names = {
      dns: [...new Set(['istiod.istio-system.svc', `meshcd.${opts.namespace ?? 'meshcd-system'}.svc`, 'localhost', ...(opts.dnsNames ?? [])])],
      ips: [...new Set(['127.0.0.1', ...(opts.ips ?? [])])],
    };
    this.refresh();
    this.unsubscribe = ca.onChange(() => this.refresh());
  }

  private refresh(): void {
    const cert = this.ca.issueServerCert(this.names);
    const options: SecureContextOptions = {
      ca: this.ca.trustBundle().rootsPem.join(''),
      cert: cert.certChainPem,
      key: cert.keyPem,
    };
    this.updateSecureContextOptions(options);
    if (this.timer) clearTimeout(this.timer);
    const half = Math.max(1000, (cert.notAfter.getTime() - Date.now()) / 2);
    this.timer = setTimeout(() => this.refresh(), Math.min(half, 2 ** 31 - 1));
    this.timer.unref();
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }

  close(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
  }
}

export function createCaServerCredentials(ca: CertificateAuthority, opts: { namespace?: string; dnsNames?: string[]; ips?: string[] } = {}): CaServerCredentials {
  return new CaServerCredentials(ca, opts);
}

export interface CaServerHandle {
  port: number;
  server: grpc.Server;
  close(): Promise<void>;
}

/** A standalone CA gRPC server (TLS) on host:port (port 0 picks a free one). */
export async function startCaServer(opts: { port: number; host?: string; ca: CertificateAuthority; auth: ChainAuthenticator; namespace?: string }): Promise<CaServerHandle> {
  const server = new grpc.Server();
  registerCertificateService(server, opts.ca, opts.auth);
  const creds = createCaServerCredentials(opts.ca, { ...(opts.namespace ? { namespace: opts.namespace } : {}) });
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${opts.port}`, creds, (err, p) => (err ? reject(new Error(`cannot listen on ${host}:${opts.port}: ${err.message}`)) : resolve(p)));
  });
  return {
    port,
    server,
    close: () => new Promise<void>((resolve) => {
      creds.close();
      server.tryShutdown(() => resolve());
      // Long-lived client connections must not keep a shutdown waiting.
      setTimeout(() => server.forceShutdown(), 2000).unref();
    }),
  };
}
