// Authenticating an ADS stream on the TLS port with the CA's own
// authenticators (client certificate from this CA → SPIFFE id; bearer token
// from `authorization` metadata; TokenReview when it lands), so a proxy is
// who the CA would issue a certificate to.
// Imports: src/ca (authenticators, callCredentials), src/xds/server/authorize.

import type * as grpc from '@grpc/grpc-js';
import { AuthError, callCredentials, type ChainAuthenticator } from '../../ca/index.js';
import type { ProvenIdentity } from './authorize.js';

/** Refused: the stream is ended with this status. `details` never holds a secret. */
export class StreamRefused extends Error {
  constructor(readonly code: grpc.status, readonly details: string) {
    super(details);
    this.name = 'StreamRefused';
  }
}

/**
 * The identity a call proved; undefined when it presented nothing at all
 * (no client certificate, no bearer token). A credential presented and not
 * accepted throws AuthError (UNAUTHENTICATED), whatever the flags say.
 */
export type StreamAuthenticator = (call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'metadata' | 'getPeer' | 'getAuthContext'>) => Promise<ProvenIdentity | undefined>;

export function streamAuthenticator(auth: ChainAuthenticator): StreamAuthenticator {
  return async (call) => {
    const creds = callCredentials(call);
    try {
      return await auth.authenticate(creds);
    } catch (err) {
      if (err instanceof AuthError && err.reason === 'no_credentials' && creds.bearerToken === undefined && !creds.peerCertificate) return undefined;
      throw err;
    }
  };
}

export { AuthError };
