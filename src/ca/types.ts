// The CA's public shapes: options, requests, issued certificates, status,
// and the refusal error. `authority.ts` re-exports them.

import type { IssuedCert } from '../api/types.js';

export const DEFAULT_TTL_SECONDS = 24 * 3600;
export const MAX_TTL_SECONDS = 90 * 24 * 3600;

export interface CaOptions {
  /** meshcd's state directory; the CA keeps its files in `<stateDir>/ca/`. */
  stateDir: string;
  trustDomain?: string;
  /** Key type of a generated root: RSA 2048 (default) or ECDSA P-256. */
  rootKeyAlgorithm?: 'rsa' | 'ec';
  /** Plug-in CA folder (`ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`, `root-cert.pem`). */
  pluginDir?: string;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
  /** Shortest certificate issued; requests below are raised to it. Tests use 1. */
  minTtlSeconds?: number;
  /** Watch the plug-in folder and `roots.json` for changes made by other processes. */
  watch?: boolean;
  /** Inspect only (`meshcd ca status`): never create a root or write a file. */
  readOnly?: boolean;
  now?: () => Date;
}

/** A request the CA refuses; `reason` is the metric label, `message` is safe for the requester. */
export class CaRequestError extends Error {
  constructor(readonly reason: 'invalid_csr' | 'ttl_too_long' | 'bad_identity', message: string) {
    super(message);
    this.name = 'CaRequestError';
  }
}

export interface IssueRequest {
  /** PEM PKCS#10 request; only its key is used. */
  csrPem: string;
  /** The authenticated caller's identity: what goes into the certificate. */
  namespace: string;
  serviceAccount: string;
  /** 0 or absent: the default TTL. */
  ttlSeconds?: number;
  /** Who asked, for the audit log (never a token). */
  caller?: string;
}

export interface IssuedWorkloadCert extends IssuedCert {
  /** Leaf first, intermediates, then the signing root last (Istio's CreateCertificate response). */
  responseChainPem: string[];
}

export interface RootInfo {
  fingerprint: string;
  subject: string;
  notAfter: string;
  active: boolean;
  /** Identities whose newest, still valid certificate chains to this root. */
  activeCerts: number;
  /** When a retired root leaves the bundle at the latest. */
  retireAfter?: string;
}

export interface CaStatus {
  mode: 'self-signed' | 'plugin';
  trustDomain: string;
  signer: { subject: string; notAfter: string; fingerprint: string };
  roots: RootInfo[];
  rotation: {
    /** idle; distributing (new root in the bundle, old root signs); overlap (new root signs, old still trusted). */
    phase: 'idle' | 'distributing' | 'overlap';
    inProgress: boolean;
    /** distributing: live certificates issued before the rotation began (their holders lack the new root). */
    awaitingNewBundle: number;
    /** overlap: live certificates still chaining to an old root. */
    remainingOnOldRoots: number;
    /** The latest time the current phase can last. */
    completesBy?: string;
  };
}

