// Who is asking for a certificate. The identity put into a certificate comes
// only from here, never from the CSR.
//
// Authenticators are tried in order; each either recognises the credential
// (returns a Caller), does not handle that kind of credential (undefined), or
// refuses it (throws AuthError). Kubernetes TokenReview plugs in as another
// Authenticator.

import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { timingSafeEqual, X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { logger } from '../util/log.js';
import { tokenDigest } from './authority.js';
import { uriSans } from './x509.js';
import { parseSpiffeId, spiffeId } from '../xds/names.js';

export interface Caller {
  namespace: string;
  serviceAccount: string;
  /** `client-certificate`, `bootstrap-token`, or an authenticator's name. */
  method: string;
  /** For the audit log: the certificate's SPIFFE id or the token entry's name; never a secret. */
  principal: string;
}

export interface Credentials {
  bearerToken?: string;
  /** The TLS client certificate, only when the handshake verified it against the trust bundle. */
  peerCertificate?: X509Certificate;
  /** The peer address, for the audit log. */
  peer?: string;
}

export type AuthFailure = 'no_credentials' | 'bad_token' | 'bad_certificate';

export class AuthError extends Error {
  constructor(readonly reason: AuthFailure, message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

export interface Authenticator {
  readonly name: string;
  authenticate(creds: Credentials): Promise<Caller | undefined>;
}

/** What the client-certificate authenticator needs from the CA. */
export interface CertificateIssuerView {
  readonly trustDomain: string;
  isIssuedByUs(cert: X509Certificate): boolean;
}

export { parseSpiffeId };

/** Renewal: the caller is the SPIFFE id of a still-valid certificate this CA issued. */
export class ClientCertAuthenticator implements Authenticator {
  readonly name = 'client-certificate';
  constructor(private readonly ca: CertificateIssuerView, private readonly now: () => Date = () => new Date()) {}

  async authenticate(creds: Credentials): Promise<Caller | undefined> {
    const cert = creds.peerCertificate;
    if (!cert) return undefined;
    const now = this.now().getTime();
    if (Date.parse(cert.validTo) <= now) throw new AuthError('bad_certificate', `client certificate expired at ${new Date(cert.validTo).toISOString()}`);
    if (Date.parse(cert.validFrom) > now) throw new AuthError('bad_certificate', 'client certificate is not valid yet');
    if (!this.ca.isIssuedByUs(cert)) throw new AuthError('bad_certificate', 'client certificate was not issued by this CA');
    const ids = uriSans(cert).map(parseSpiffeId).filter((x) => x !== undefined);
    if (ids.length !== 1) throw new AuthError('bad_certificate', 'client certificate does not carry exactly one SPIFFE id');
    const id = ids[0]!;
    if (id.trustDomain !== this.ca.trustDomain) throw new AuthError('bad_certificate', `client certificate is for trust domain "${id.trustDomain}", not "${this.ca.trustDomain}"`);
    return { namespace: id.namespace, serviceAccount: id.serviceAccount, method: this.name, principal: spiffeId(id.trustDomain, id.namespace, id.serviceAccount) };
  }
}

interface TokenEntry {
  digest: Buffer;
  namespace: string;
  serviceAccount: string;
  name: string;
}

/**
 * Bootstrap tokens from a YAML/JSON file:
 *
 *     tokens:
 *       - name: reviews-bootstrap        # optional, shown in the audit log
 *         token: "s3cr3t…"               # or tokenSha256: <hex>
 *         namespace: bookinfo
 *         serviceAccount: reviews
 *
 * A plain map `{ "<token>": { namespace, serviceAccount } }` is accepted too.
 * Tokens are kept only as SHA-256 digests and compared in constant time.
 */
export class TokenFileAuthenticator implements Authenticator {
  readonly name = 'bootstrap-token';
  private entries: TokenEntry[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log = logger('ca-auth');

  private constructor(readonly path: string) {}

  static async load(path: string): Promise<TokenFileAuthenticator> {
    const a = new TokenFileAuthenticator(path);
    a.entries = await parseTokenFile(path);
    return a;
  }

  /** Re-reads the file when it changes; a bad new file keeps the old tokens. */
  watch(): void {
    if (this.watcher) return;
    this.watcher = watch(this.path, { persistent: false }, () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        parseTokenFile(this.path).then((e) => {
          this.entries = e;
          this.log.info({ path: this.path, tokens: e.length }, 'token file reloaded');
        }, (err: Error) => this.log.error({ err: err.message }, 'token file reload rejected; previous tokens stay in use'));
      }, 200);
      this.timer.unref();
    });
  }

  close(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }

  async authenticate(creds: Credentials): Promise<Caller | undefined> {
    if (creds.bearerToken === undefined) return undefined;
    const d = tokenDigest(creds.bearerToken);
    let match: TokenEntry | undefined;
    // Every entry is compared so that timing does not reveal which one matched.
    for (const e of this.entries) if (timingSafeEqual(e.digest, d) && !match) match = e;
    if (!match) return undefined;
    return { namespace: match.namespace, serviceAccount: match.serviceAccount, method: this.name, principal: match.name };
  }
}

async function parseTokenFile(path: string): Promise<TokenEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'token file not found' : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new Error(`${path}${line ? `:${line}` : ''}: not valid YAML/JSON`);
  }
  const raw: { token?: unknown; tokenSha256?: unknown; namespace?: unknown; serviceAccount?: unknown; name?: unknown }[] = [];
  if (doc && typeof doc === 'object' && Array.isArray((doc as { tokens?: unknown }).tokens)) {
    raw.push(...((doc as { tokens: typeof raw }).tokens));
  } else if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    for (const [token, v] of Object.entries(doc as Record<string, unknown>)) raw.push({ token, ...(v && typeof v === 'object' ? v : {}) });
  } else {
    throw new Error(`${path}: expected "tokens:" list or a map of token → {namespace, serviceAccount}`);
  }
  const out: TokenEntry[] = [];
  raw.forEach((e, i) => {
    const where = `${path}: tokens[${i}]`;
    if (!e || typeof e !== 'object') throw new Error(`${where}: not an object`);
    if (typeof e.namespace !== 'string' || !e.namespace) throw new Error(`${where}: namespace missing`);
    if (typeof e.serviceAccount !== 'string' || !e.serviceAccount) throw new Error(`${where}: serviceAccount missing`);
    let digest: Buffer;
    if (typeof e.token === 'string' && e.token.length > 0) {
      if (e.token.length < 16) throw new Error(`${where}: token is shorter than 16 characters`);
      digest = tokenDigest(e.token);
    } else if (typeof e.tokenSha256 === 'string' && /^[0-9a-f]{64}$/i.test(e.tokenSha256)) {
      digest = Buffer.from(e.tokenSha256, 'hex');
    } else {
      throw new Error(`${where}: needs "token" (≥ 16 chars) or "tokenSha256" (64 hex digits)`);
    }
    out.push({ digest, namespace: e.namespace, serviceAccount: e.serviceAccount, name: typeof e.name === 'string' ? e.name : `${e.namespace}/${e.serviceAccount}#${i}` });
  });
  return out;
}

/**
 * Tries authenticators in order: the first that recognises a credential wins.
 * A presented bearer token that nobody recognises is `bad_token`; nothing at all is `no_credentials`.
 */
export class ChainAuthenticator {
  constructor(readonly authenticators: readonly Authenticator[]) {}

  async authenticate(creds: Credentials): Promise<Caller> {
    for (const a of this.authenticators) {
      const c = await a.authenticate(creds);
      if (c) return c;
    }
    if (creds.bearerToken !== undefined) throw new AuthError('bad_token', 'bearer token not recognised');
    throw new AuthError('no_credentials', 'no credentials: no valid client certificate from this CA (missing, expired or from another CA) and no "authorization: Bearer <token>" header');
  }
}
