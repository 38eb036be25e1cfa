// The CA as the control plane embeds it: one call gives the authority, the
// authenticators, the TLS credentials for port 15012 and the CSR service
// handlers to put on the xDS server, plus a trust-bundle feed for SDS ROOTCA.
//
//   const emb = await openEmbeddedCa({ stateDir, tokenFile });
//   xds.addService(emb.definition, emb.implementation);
//   emb.onTrustBundle((b) => xds.setTrustBundle(b));
//   bind 15012 with emb.credentials

import type * as grpc from '@grpc/grpc-js';
import type { TrustBundle } from '../api/types.js';
import { CertificateAuthority, type CaOptions } from './authority.js';
import { TokenFileAuthenticator, type Authenticator, type ChainAuthenticator } from './auth.js';
import { CaServerCredentials, certificateServiceDefinition, certificateServiceImplementation, defaultAuth } from './service.js';
import { loadPluginSigner } from './signer.js';

export { CertificateAuthority, CaRequestError, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, type CaOptions, type CaStatus, type IssueRequest, type IssuedWorkloadCert } from './authority.js';
export { AuthError, ChainAuthenticator, ClientCertAuthenticator, TokenFileAuthenticator, parseSpiffeId, type Authenticator, type Caller, type Credentials } from './auth.js';
export { CaServerCredentials, callCredentials, certificateServiceDefinition, certificateServiceImplementation, createCaServerCredentials, defaultAuth, registerCertificateService, startCaServer } from './service.js';
export { requestCertificate, CaCallError } from './client.js';
export { hasPluginFiles } from './signer.js';
export { DEFAULT_TOKEN_AUDIENCE, TokenReviewAuthenticator, inClusterTokenReviewOptions, type TokenReviewOptions } from './tokenreview.js';
export { registerCaAdminRoutes } from './admin.js';

export interface EmbeddedCaOptions extends CaOptions {
  /** Bootstrap tokens file (watched). */
  tokenFile?: string;
  /** More authenticators after client certificates and tokens (e.g. Kubernetes TokenReview). */
  authenticators?: Authenticator[];
  /** Namespace meshcd runs in: the TLS certificate carries meshcd.<ns>.svc. */
  namespace?: string;
  dnsNames?: string[];
  ips?: string[];
}

export interface EmbeddedCa {
  ca: CertificateAuthority;
  auth: ChainAuthenticator;
  /** For the TLS port (15012): server certificate from this CA, client certificates optional and checked. */
  credentials: CaServerCredentials;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Calls `fn` now and after every change of the trust bundle (rotation, plug-in reload). */
  onTrustBundle(fn: (b: TrustBundle) => void): () => void;
  close(): Promise<void>;
}

/** A bad input of openEmbeddedCa(), found before anything was created; `input` names the option at fault. */
export class CaInputError extends Error {
  constructor(readonly input: 'tokenFile' | 'pluginDir', message: string) {
    super(message);
    this.name = 'CaInputError';
  }
}

export async function openEmbeddedCa(o: EmbeddedCaOptions): Promise<EmbeddedCa> {
  // Every input is checked before the CA creates a root or a folder.
  let tokens: TokenFileAuthenticator | undefined;
  if (o.tokenFile) {
    try {
      tokens = await TokenFileAuthenticator.load(o.tokenFile);
    } catch (err) {
      throw new CaInputError('tokenFile', (err as Error).message);
    }
  }
  if (o.pluginDir) {
    try {
      await loadPluginSigner(o.pluginDir, o.now?.() ?? new Date());
    } catch (err) {
      throw new CaInputError('pluginDir', (err as Error).message);
    }
  }
  const ca = await CertificateAuthority.open({ watch: true, ...o });
  tokens?.watch();
  const auth = defaultAuth(ca, [...(tokens ? [tokens] : []), ...(o.authenticators ?? [])]);
  const credentials = new CaServerCredentials(ca, { ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.dnsNames ? { dnsNames: o.dnsNames } : {}), ...(o.ips ? { ips: o.ips } : {}) });
  return {
    ca,
    auth,
    credentials,
    definition: certificateServiceDefinition(),
    implementation: certificateServiceImplementation(ca, auth),
    onTrustBundle(fn) {
      fn(ca.trustBundle());
      let last = ca.trustBundle().rootsPem.join('');
      return ca.onChange(() => {
        const b = ca.trustBundle();
        if (b.rootsPem.join('') === last) return;
        last = b.rootsPem.join('');
        fn(b);
      });
    },
    async close() {
      credentials.close();
      tokens?.close();
      await ca.close();
    },
  };
}
