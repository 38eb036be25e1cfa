// Kubernetes service-account tokens as CA credentials: the token is sent to
// the API server's TokenReview (authentication.k8s.io/v1) with the audience
// the CA expects (istiod's `istio-ca` by default); the service account it
// names becomes the caller's identity. The token itself is never logged nor
// put into an error: API failures carry the HTTP status only, because a
// TokenReview body echoes the token it reviewed.
//
// Plain node:https, so that src/ca needs no Kubernetes client: a caller with
// a kubeconfig passes its TLS and auth settings as `requestOptions`
// (src/cluster/tokenreview.ts builds them with @kubernetes/client-node).

import { readFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { AuthError, type Authenticator, type Caller, type Credentials } from './auth.js';

export const DEFAULT_TOKEN_AUDIENCE = 'istio-ca';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface TokenReviewOptions {
  /** The API server, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** PEM roots for the API server's certificate (in a pod: the service account's ca.crt). */
  caPem?: string;
  /** meshcd's own credential to the API server, read on every review (projected tokens rotate). */
  bearerToken?: () => Promise<string>;
  /** Audiences the token must be for (default `istio-ca`). */
  audiences?: string[];
  timeoutMs?: number;
  /** TLS and auth settings of the request (CA, client certificate, Authorization header), read on every review; wins over caPem/bearerToken. */
  requestOptions?: () => Promise<RequestOptions>;
}

/** Options for a pod: KUBERNETES_SERVICE_HOST/PORT and the mounted service account. */
export async function inClusterTokenReviewOptions(audiences?: string[]): Promise<TokenReviewOptions> {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set');
  const caPath = `${SA_DIR}/ca.crt`;
  const caPem = await readFile(caPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${caPath}: ${err.code ?? err.message}`);
  });
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem,
    bearerToken: async () => (await readFile(`${SA_DIR}/token`, 'utf8')).trim(),
    ...(audiences ? { audiences } : {}),
  };
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string };
  audiences?: string[];
  error?: string;
}

const SA_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9.]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
/** Service-account tokens are JWTs of a few hundred bytes to a few KB; anything far larger is not sent on. */
const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export class TokenReviewAuthenticator implements Authenticator {
  readonly name = 'kubernetes-tokenreview';
  readonly audiences: string[];

  constructor(private readonly o: TokenReviewOptions) {
    this.audiences = o.audiences?.length ? [...o.audiences] : [DEFAULT_TOKEN_AUDIENCE];
    const u = new URL(o.server);
    if (u.protocol !== 'https:') throw new Error(`TokenReview: ${o.server} is not an https:// URL`);
  }

  async authenticate(creds: Credentials): Promise<Caller | undefined> {
    const token = creds.bearerToken;
    if (token === undefined) return undefined;
    if (!token || Buffer.byteLength(token) > MAX_TOKEN_BYTES) return undefined;
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: this.audiences } });
    const s = await this.review(body);
    if (!s?.authenticated) throw new AuthError('bad_token', `service-account token rejected by Kubernetes TokenReview${s?.error ? ` (${redact(s.error, token)})` : ''}`);
    const granted = s.audiences ?? [];
    if (granted.length && !granted.some((a) => this.audiences.includes(a))) {
      throw new AuthError('bad_token', `service-account token is for audience ${granted.join(', ')}, not ${this.audiences.join(', ')}`);
    }
    const user = s.user?.username ?? '';
    const m = SA_USER.exec(user);
    if (!m) throw new AuthError('bad_token', `token authenticates "${user}", not a service account`);
    return { namespace: m[1]!, serviceAccount: m[3]!, method: this.name, principal: user };
  }

  /** POST /apis/authentication.k8s.io/v1/tokenreviews; errors carry the HTTP status only (the body echoes the token). */
  private async review(body: string): Promise<TokenReviewStatus | undefined> {
    const where = `TokenReview at ${this.o.server}`;
    const auth = this.o.bearerToken ? await this.o.bearerToken().catch(() => {
      throw new Error(`${where}: cannot read meshcd's own service-account token`);
    }) : undefined;
    const extra = this.o.requestOptions ? await this.o.requestOptions().catch(() => {
      throw new Error(`${where}: cannot load meshcd's own credentials for the API server`);
    }) : {};
    const url = new URL('/apis/authentication.k8s.io/v1/tokenreviews', this.o.server);
    return new Promise((resolve, reject) => {
      const req = request(url, {
        ...extra,
        method: 'POST',
        headers: { ...(extra.headers as Record<string, string> | undefined), 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        ...(this.o.caPem ? { ca: this.o.caPem } : {}),
        timeout: this.o.timeoutMs ?? 10_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`${where}: response over ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(d);
        });
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code < 200 || code > 299) return reject(new Error(`${where} failed with HTTP ${code}`));
          try {
            resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: TokenReviewStatus }).status);
          } catch {
            reject(new Error(`${where}: the answer is not JSON`));
          }
        });
        res.on('error', () => reject(new Error(`${where}: connection lost`)));
      });
      req.on('timeout', () => req.destroy(new Error(`${where}: no answer in ${this.o.timeoutMs ?? 10_000} ms`)));
      req.on('error', (err) => reject(new Error(err.message.startsWith(where) ? err.message : `${where} failed: ${(err as NodeJS.ErrnoException).code ?? 'connection error'}`)));
      req.end(body);
    });
  }
}

function redact(text: string, token: string): string {
  return text.split(token).join('[token]').slice(0, 200);
}
