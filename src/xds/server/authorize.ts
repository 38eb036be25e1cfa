// Who may be served what, decided from plain values: the proxy a stream's
// node claims to be, the identity its TLS client certificate or bearer token
// proved (if any), and the port it came in on. Pure; table-tested in
// test/unit/xds/server/authorize.test.ts. The server enforces these
// decisions per stream; the cache asks `credentialsFor` which gateway
// credentials go into a proxy class's snapshot at all.
//
// The rules follow istiod (pilot/pkg/xds/authentication.go and the SDS
// authorization of gateway credentials):
// - a claimed namespace (and service account, when the node states one)
//   must equal the authenticated identity's;
// - private keys go only to an authenticated identity of the credential's
//   namespace, over TLS; the plaintext port serves config and the ROOTCA
//   trust bundle, nothing else secret.
// Imports: src/api only.

import type { ProxyInfo, TrustBundle, XdsResource } from '../../api/types.js';

/** The SDS secret every proxy may read: the CA's trust bundle (public). */
export const TRUST_BUNDLE_SECRET = 'ROOTCA';

/** The CA's roots as the SDS secret every proxy may read. */
export function trustBundleSecret(b: TrustBundle): XdsResource {
  const pem = b.rootsPem.join('\n');
  return { name: TRUST_BUNDLE_SECRET, value: { name: TRUST_BUNDLE_SECRET, validation_context: { trusted_ca: { inline_string: pem } } }, version: '' };
}

/** An authenticated caller, as src/ca's authenticators return it (structurally the same as `Caller`). */
export interface ProvenIdentity {
  namespace: string;
  serviceAccount: string;
  /** `client-certificate`, `bootstrap-token`, … */
  method: string;
  /** SPIFFE id or token entry name; never a secret. */
  principal: string;
}

/**
 * How a stream came in:
 * - `plaintext`: the config-only port (15010), nobody is authenticated;
 * - `tls` with an identity: authenticated;
 * - `tls` without one: admitted by `--xds-allow-unauthenticated`.
 */
export interface StreamAccess {
  port: 'plaintext' | 'tls';
  identity?: ProvenIdentity;
}

/** Which SDS secrets a stream may receive: every one its snapshot holds, or only the trust bundle. */
export type SecretScope = 'authorized' | 'trust-bundle';

export type IdentityDecision = { ok: true } | { ok: false; reason: string };

/** `spiffe://…/ns/NS/sa/SA`-like text for logs: what a node claims. */
export function describeClaim(proxy: Pick<ProxyInfo, 'namespace' | 'serviceAccount'>): string {
  return `ns/${proxy.namespace}/sa/${proxy.serviceAccount ?? '*'}`;
}

/** Does the node's claim match the proved identity? Unauthenticated access has no identity to contradict. */
export function checkIdentity(proxy: Pick<ProxyInfo, 'id' | 'namespace' | 'serviceAccount'>, access: StreamAccess): IdentityDecision {
  const id = access.identity;
  if (!id) return { ok: true };
  if (proxy.namespace !== id.namespace) return { ok: false, reason: `node ${proxy.id} claims namespace "${proxy.namespace}" but the caller is ${id.principal} (namespace "${id.namespace}")` };
  if (proxy.serviceAccount !== undefined && proxy.serviceAccount !== id.serviceAccount) {
    return { ok: false, reason: `node ${proxy.id} claims service account "${proxy.serviceAccount}" but the caller is ${id.principal} (service account "${id.serviceAccount}")` };
  }
  return { ok: true };
}

/** Secrets beyond the trust bundle only over TLS, to an identity of the proxy's own namespace (checkIdentity already held). */
export function secretScope(proxy: Pick<ProxyInfo, 'namespace'>, access: StreamAccess): SecretScope {
  if (access.port !== 'tls' || !access.identity) return 'trust-bundle';
  return access.identity.namespace === proxy.namespace ? 'authorized' : 'trust-bundle';
}

/** May a stream with this scope receive the secret `name`? */
export function maySendSecret(scope: SecretScope, name: string): boolean {
  return scope === 'authorized' || name === TRUST_BUNDLE_SECRET;
}

/**
 * Gateway credentials that go into a proxy class's snapshot: only for
 * gateways (`router`), only their own namespace's, only those their
 * listeners or clusters reference. Sidecars and proxyless clients never
 * get a credential's private key. Whether a given stream then receives
 * them is `secretScope`'s decision.
 */
export function credentialsFor(proxy: Pick<ProxyInfo, 'kind' | 'namespace'>, referenced: ReadonlySet<string>, byNamespace: ReadonlyMap<string, ReadonlyMap<string, XdsResource>>): XdsResource[] {
  if (proxy.kind !== 'router') return [];
  const available = byNamespace.get(proxy.namespace);
  if (!available) return [];
  return [...referenced].sort().flatMap((n) => {
    const s = available.get(n);
    return s ? [s] : [];
  });
}
