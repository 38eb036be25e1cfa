// Fuzz: a bounded, seeded random generator of methods, paths, headers and
// bodies against the admin server with the routes of the real components
// (sources API and webhooks from the Reconciler, /debug/* from the xDS
// server), sent raw over node:net so that nothing normalizes them first; and
// the webhook verifier and push parser called directly. Nothing may throw,
// nothing may answer 500, and /ready must keep answering.

import test from 'ava';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServer } from '../../../src/admin/server.js';
import { Reconciler } from '../../../src/source/reconcile.js';
import { parseSourceFlag } from '../../../src/source/spec.js';
import { hmacSignature, pushedRef, verifyWebhook } from '../../../src/source/webhook.js';
import { XdsServer } from '../../../src/xds/server/index.js';
import { registerXdsDebugRoutes, xdsDebugSource } from '../../../src/xds/debug.js';
import { SnapshotCache, translatingBuilder } from '../../../src/xds/cache/index.js';
import { meshTranslator } from '../../../src/xds/server/translator.js';

/** mulberry32: small, seeded, good enough to pick from tables. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.MESHCD_FUZZ_SEED ?? 20261202);
const REQUESTS = 3000;
const SECRET = 'fuzz-webhook-secret-0123456789';

function generator(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const segment = () =>
    pick([
      'm', 'hooks', 'api', 'v1', 'sources', 'refresh', 'debug', 'syncz', 'config_dump', 'translation', 'ready', 'metrics', '..', '.', '',
      '%ff', '%E0%A4%A', '%', '%%', '%2f', '%00', '%C3%A9', '%2e%2e', 'caf%C3%A9', '\u00e9', '*', ':name', '~', 'a'.repeat(Math.floor(r() * 400)),
      encodeURIComponent(bytes(4).toString('latin1')),
    ]);
  const path = () => {
    const base = pick(['/hooks/m', '/hooks/', '/api/v1/sources', '/api/v1/sources/m/refresh', '/debug/syncz', '/debug/config_dump', '/ready', '/metrics', '/', '']);
    const extra = Array.from({ length: Math.floor(r() * 4) }, segment).join('/');
    const query = r() < 0.3 ? `?${pick(['proxy', 'limit', 'continue', '%ff', ''])}=${segment()}${r() < 0.3 ? '&proxy=%zz' : ''}` : '';
    return (r() < 0.5 ? base : `${base}/${extra}`) + query;
  };
  const body = () =>
    pick([
      () => Buffer.alloc(0),
      () => Buffer.from('{"ref":"refs/heads/main"}'),
      () => Buffer.from(`{"ref":${JSON.stringify(segment())}}`),
      () => Buffer.from('{"ref":'),
      () => Buffer.from('{'.repeat(Math.floor(r() * 5000))),
      () => bytes(Math.floor(r() * 2000)),
      () => Buffer.from('x'.repeat(Math.floor(r() * 3 * 1024 * 1024))),
    ])();
  const signature = (b: Buffer): string[] =>
    pick([
      () => [],
      () => [`X-Hub-Signature-256: ${hmacSignature(SECRET, b)}`],
      () => [`X-Hub-Signature-256: ${pick(['', 'sha256=', 'sha256=zz', hmacSignature('wrong', b), 'x'.repeat(300)])}`],
      () => [`X-Gitlab-Token: ${pick([SECRET, '', 'nope', '\u00ff'])}`],
      () => [`X-Meshcd-Signature: ${hmacSignature(SECRET, b).toUpperCase()}`],
      () => [`X-Hub-Signature-256: a`, `X-Hub-Signature-256: b`],
    ])();
  const headers = (): string[] =>
    Array.from({ length: Math.floor(r() * 4) }, () =>
      pick([
        `Content-Type: ${pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', '', '*/*; charset=zz'])}`,
        `Origin: ${pick(['http://evil', 'null', '', 'http://127.0.0.1'])}`,
        `Authorization: ${pick(['Bearer', 'Bearer x', 'Basic Zm9v', ''])}`,
        `Transfer-Encoding: ${pick(['chunked', 'gzip', 'identity'])}`,
        `X-Junk-${Math.floor(r() * 1000)}: ${'j'.repeat(Math.floor(r() * 200))}`,
        `Accept-Encoding: ${pick(['gzip', 'br', '*'])}`,
      ]),
    );
  const request = (): Buffer => {
    const method = pick(['GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'BREW', 'get', 'G ET']);
    const b = method === 'GET' && r() < 0.8 ? Buffer.alloc(0) : body();
    const hs = [...signature(b), ...headers()];
    const chunked = hs.some((h) => /^Transfer-Encoding: chunked/.test(h));
    const framing = chunked ? [] : r() < 0.05 ? [`Content-Length: ${pick(['-1', 'nope', String(b.length + 10), '99999999999999999999'])}`] : [`Content-Length: ${b.length}`];
    const head = `${method} ${path()} HTTP/1.1\r\nHost: 127.0.0.1\r\n${[...hs, ...framing, 'Connection: close'].map((h) => `${h}\r\n`).join('')}\r\n`;
    const payload = chunked ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]) : b;
    return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
  };
  return { request, headers, body, signature, r };
}

function send(port: number, raw: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve(m ? Number(m[1]) : 0);
    };
    sock.setTimeout(20_000, done);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(got)) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.end(raw);
  });
}

test(`fuzz: ${REQUESTS} random requests (seed ${SEED}) against the real routes: never a 500, never a crash, /ready keeps answering`, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'meshcd-fuzz-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  process.env.MESHCD_FUZZ_WEBHOOK_SECRET = SECRET;
  const rec = new Reconciler({ sources: [parseSourceFlag(`m=${join(process.cwd(), 'examples/mesh')};webhook-secret-env=MESHCD_FUZZ_WEBHOOK_SECRET`, 'test')], stateDir: join(root, 'state') });
  const cache = new SnapshotCache(translatingBuilder(meshTranslator()));
  const xds = new XdsServer({ watcher: cache });
  const admin = new AdminServer({ requestTimeoutMs: 20_000 });
  registerXdsDebugRoutes(admin, xdsDebugSource(xds, cache));
  rec.registerAdmin(admin);
  await rec.start();
  const port = await admin.listen(0);
  t.teardown(async () => {
    await admin.close();
    await rec.stop();
    await xds.close();
    cache.close();
  });
  t.true(rec.hasAccepted());
  const g = generator(SEED);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const pending = Array.from({ length: REQUESTS }, () => g.request());
  const worker = async () => {
    for (let raw = pending.pop(); raw; raw = pending.pop()) {
      const status = await send(port, raw);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500 && status !== 503) failures.push(`${status}: ${raw.subarray(0, 120).toString('latin1').split('\r\n')[0]}`);
      if (pending.length % 500 === 0 && (await send(port, Buffer.from('GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))) !== 200) failures.push(`/ready failed with ${pending.length} left`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  t.deepEqual(failures.slice(0, 10), []);
  t.log(`statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.true((statuses.get(202) ?? 0) > 0, 'some signed webhooks got through the verifier');
  t.true((statuses.get(400) ?? 0) > 0 && (statuses.get(401) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0);
  t.is((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
});

test('fuzz: the webhook verifier and push parser never throw, and accept only a correct signature', (t) => {
  const g = generator(SEED + 1);
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const body = g.r() < 0.1 ? Buffer.from('x'.repeat(Math.floor(g.r() * 100000))) : g.body().subarray(0, 200_000);
    const headers: Record<string, string | string[]> = {};
    for (const h of [...g.signature(body), ...g.headers()]) {
      const [k, ...v] = h.split(': ');
      const key = k!.toLowerCase();
      headers[key] = headers[key] === undefined ? v.join(': ') : [headers[key] as string, v.join(': ')].flat();
    }
    const verdict = verifyWebhook(headers, body, SECRET);
    const h = (n: string) => (Array.isArray(headers[n]) ? headers[n]![0] : (headers[n] as string | undefined));
    const shouldPass = h('x-hub-signature-256') !== undefined ? h('x-hub-signature-256')!.trim().toLowerCase() === hmacSignature(SECRET, body) : h('x-gitlab-token') !== undefined ? h('x-gitlab-token') === SECRET : h('x-meshcd-signature')?.trim().toLowerCase() === hmacSignature(SECRET, body);
    t.is(verdict.ok, shouldPass, JSON.stringify(headers).slice(0, 200));
    if (verdict.ok) accepted++;
    const ref = pushedRef(body);
    t.true(ref === undefined || typeof ref === 'string');
  }
  t.true(accepted > 0);
});
