// The TokenReview authenticator against a local HTTPS server that speaks the
// real authentication.k8s.io/v1 TokenReview API (as kube-apiserver does:
// POST /apis/authentication.k8s.io/v1/tokenreviews, the reviewed object back
// with its status).
import test from 'ava';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { CertificateAuthority } from '../../../src/ca/authority.js';
import { AuthError, ChainAuthenticator } from '../../../src/ca/auth.js';
import { DEFAULT_TOKEN_AUDIENCE, TokenReviewAuthenticator } from '../../../src/ca/tokenreview.js';
import { setRootLogger } from '../../../src/util/log.js';
import { tempDir } from './_helpers.js';

const logs: string[] = [];
setRootLogger(pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }));

const MESHCD_SA_TOKEN = 'meshcd-own-service-account-token';
/** Tokens the fake API server knows: token → [user, audiences]. */
const TOKENS: Record<string, [string, string[]]> = {
  'jwt-reviews-istio-ca': ['system:serviceaccount:bookinfo:reviews', ['istio-ca']],
  'jwt-reviews-other-aud': ['system:serviceaccount:bookinfo:reviews', ['vault']],
  'jwt-human-user': ['alice@example.com', ['istio-ca']],
};

interface Seen {
  path: string;
  authorization: string | undefined;
  body: { apiVersion: string; kind: string; spec: { token: string; audiences?: string[] } };
}

async function apiServer(t: { teardown(fn: () => unknown): void }) {
  const { dir, cleanup } = tempDir();
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const cert = ca.issueServerCert({ dns: ['localhost'], ips: ['127.0.0.1'] });
  const seen: Seen[] = [];
  let failWith = 0;
  const server = createServer({ cert: cert.certChainPem, key: cert.keyPem }, (req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      const body = JSON.parse(data || '{}') as Seen['body'];
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (failWith) {
        res.statusCode = failWith;
        return res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'forbidden', code: failWith }));
      }
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/apis/authentication.k8s.io/v1/tokenreviews' || req.headers.authorization !== `Bearer ${MESHCD_SA_TOKEN}`) {
        res.statusCode = 403;
        return res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 403 }));
      }
      const known = TOKENS[body.spec.token];
      const wanted = body.spec.audiences ?? [];
      // kube-apiserver: authenticated only if the token is valid for one of the requested audiences.
      const audiences = known ? known[1].filter((a) => !wanted.length || wanted.includes(a)) : [];
      const ok = Boolean(known && audiences.length);
      res.statusCode = 201;
      res.end(JSON.stringify({
        kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: body.spec,
        status: ok ? { authenticated: true, user: { username: known![0], uid: 'u1', groups: ['system:serviceaccounts'] }, audiences } : { user: {}, error: known ? 'token audiences ["vault"] is invalid for the target audiences ["istio-ca"]' : 'invalid bearer token' },
      }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await new Promise((r) => server.close(r));
    await ca.close();
    cleanup();
  });
  const opts = { server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caPem: ca.trustBundle().rootsPem.join(''), bearerToken: async () => MESHCD_SA_TOKEN };
  return { opts, seen, fail: (code: number) => (failWith = code) };
}

test.serial('a service-account token for istio-ca becomes its namespace/service account; the review asks for the audience', async (t) => {
  const api = await apiServer(t);
  const a = new TokenReviewAuthenticator(api.opts);
  t.deepEqual(a.audiences, [DEFAULT_TOKEN_AUDIENCE]);
  t.deepEqual(await a.authenticate({ bearerToken: 'jwt-reviews-istio-ca' }), { namespace: 'bookinfo', serviceAccount: 'reviews', method: 'kubernetes-tokenreview', principal: 'system:serviceaccount:bookinfo:reviews' });
  const req = api.seen[0]!;
  t.is(req.path.split('?')[0], '/apis/authentication.k8s.io/v1/tokenreviews');
  t.is(req.authorization, `Bearer ${MESHCD_SA_TOKEN}`, 'meshcd authenticates with its own credentials');
  t.deepEqual(req.body, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'jwt-reviews-istio-ca', audiences: ['istio-ca'] } });
  t.is(await a.authenticate({}), undefined, 'no token: not this authenticator\'s business');
  t.is(api.seen.length, 1);
  // The API server's certificate is checked: without its root the review fails (an infrastructure error, not a refusal).
  const { caPem: _root, ...withoutRoot } = api.opts;
  const untrusted = new TokenReviewAuthenticator(withoutRoot);
  const err = await t.throwsAsync(untrusted.authenticate({ bearerToken: 'jwt-reviews-istio-ca' }));
  t.false(err instanceof AuthError);
  t.regex(err!.message, /^TokenReview at https:\/\/127\.0\.0\.1:\d+ failed: /);
  t.throws(() => new TokenReviewAuthenticator({ server: 'http://127.0.0.1:1' }), { message: /not an https:\/\/ URL/ });
});

test.serial('refusals: unknown token, another audience, a user that is not a service account; API failure is not a refusal; the token is never logged or in an error', async (t) => {
  const api = await apiServer(t);
  const a = new TokenReviewAuthenticator(api.opts);
  const cases: [string, RegExp][] = [
    ['jwt-unknown-0123456789', /rejected by Kubernetes TokenReview \(invalid bearer token\)/],
    ['jwt-reviews-other-aud', /rejected by Kubernetes TokenReview \(token audiences/],
    ['jwt-human-user', /authenticates "alice@example.com", not a service account/],
  ];
  for (const [token, re] of cases) {
    const err = await t.throwsAsync(a.authenticate({ bearerToken: token }), { instanceOf: AuthError }, token);
    t.is(err?.reason, 'bad_token');
    t.regex(err!.message, re);
    t.false(err!.message.includes(token), 'no token in the error');
  }
  // Another audience can be configured.
  const vault = new TokenReviewAuthenticator({ ...api.opts, audiences: ['vault'] });
  t.like(await vault.authenticate({ bearerToken: 'jwt-reviews-other-aud' }), { namespace: 'bookinfo', serviceAccount: 'reviews' });
  t.deepEqual(api.seen.at(-1)!.body.spec.audiences, ['vault']);

  // The API server refuses meshcd itself: an infrastructure error (the CA answers UNAVAILABLE), not bad_token.
  api.fail(403);
  const down = await t.throwsAsync(a.authenticate({ bearerToken: 'jwt-reviews-istio-ca' }));
  t.false(down instanceof AuthError);
  t.regex(down!.message, /^TokenReview at https:\/\/127\.0\.0\.1:\d+ failed with HTTP 403$/);
  t.false(down!.message.includes('jwt-reviews-istio-ca'));

  // Behind the chain, a refusal surfaces as bad_token; nothing logged carries a token.
  api.fail(0);
  const chain = new ChainAuthenticator([a]);
  await t.throwsAsync(chain.authenticate({ bearerToken: 'jwt-unknown-0123456789' }), { instanceOf: AuthError });
  const all = logs.join('');
  for (const token of [...Object.keys(TOKENS), 'jwt-unknown-0123456789', MESHCD_SA_TOKEN]) t.false(all.includes(token), `${token} not logged`);
});
