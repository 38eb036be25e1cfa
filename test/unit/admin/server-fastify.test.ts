import test from 'ava';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServer, formatEvent, json, staticCacheControl, text, type ServerEvent } from '../../../src/admin/server.js';

async function started(t: import('ava').ExecutionContext, admin: AdminServer): Promise<string> {
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  return `http://127.0.0.1:${port}`;
}

/** A request with an exact (not re-encoded) path, which fetch() would normalize. */
function rawGet(base: string, path: string, method = 'GET', body?: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, method, path, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: b, headers: res.headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

test('bad percent-encoding is a 400, a long parameter a 4xx, and the handler never runs', async (t) => {
  const admin = new AdminServer();
  let calls = 0;
  admin.route('POST', '/hooks/:name', () => (calls++, json(202, {})));
  const base = await started(t, admin);
  for (const p of ['/hooks/%ff', '/hooks/%E0%A4%A', '/hooks/%', '/%zz/x']) {
    const r = await rawGet(base, p, 'POST', '{}');
    t.true(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
  }
  t.is((await rawGet(base, '/hooks/%ff', 'POST', '{}')).status, 400);
  t.true((await rawGet(base, `/hooks/${'a'.repeat(1000)}`, 'POST')).status >= 400);
  t.is(calls, 0);
  t.is((await rawGet(base, '/hooks/caf%C3%A9', 'POST', '{}')).status, 202);
  t.is(calls, 1);
});

test('routes registered after listen() are served; re-registration replaces; 405 names the allowed methods; HEAD follows GET', async (t) => {
  const admin = new AdminServer();
  const base = await started(t, admin);
  admin.route('GET', '/late/:x', (r) => text(200, `one ${r.params.x} ${r.query.get('q')}\n`));
  t.is(await (await fetch(`${base}/late/a?q=1`)).text(), 'one a 1\n');
  admin.route('GET', '/late/:x', (r) => text(200, `two ${r.params.x}\n`));
  t.is(await (await fetch(`${base}/late/b/`)).text(), 'two b\n');
  const r = await fetch(`${base}/late/b`, { method: 'DELETE' });
  t.is(r.status, 405);
  t.is(r.headers.get('allow'), 'GET, HEAD');
  t.is((await fetch(`${base}/late/b`, { method: 'HEAD' })).status, 200);
  t.is((await fetch(`${base}//late//b`)).status, 200);
});

test('a per-route body limit is enforced for declared and chunked bodies', async (t) => {
  const admin = new AdminServer(16);
  admin.route('POST', '/small', (r) => json(200, { n: r.body.length }));
  admin.route('POST', '/big', (r) => json(200, { n: r.body.length }), { bodyLimit: 1000 });
  const base = await started(t, admin);
  t.is((await fetch(`${base}/small`, { method: 'POST', body: 'x'.repeat(17) })).status, 413);
  t.is((await fetch(`${base}/big`, { method: 'POST', body: 'x'.repeat(999) })).status, 200);
  t.is((await fetch(`${base}/big`, { method: 'POST', body: 'x'.repeat(1001) })).status, 413);
  const chunked = new ReadableStream({
    start(c) {
      for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('y'.repeat(100)));
      c.close();
    },
  });
  t.is((await fetch(`${base}/big`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit)).status, 413);
  const ok = await fetch(`${base}/big`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
  t.deepEqual(await ok.json(), { n: 7 }, 'raw bytes whatever the content type');
});

test('admin-token routes: a cross-origin browser request is refused even with the token (CSRF)', async (t) => {
  const admin = new AdminServer();
  let calls = 0;
  admin.route('POST', '/api/v1/x', () => (calls++, json(200, {})), { auth: 'admin-token' });
  admin.setAdminToken('tok');
  const base = await started(t, admin);
  const auth = { authorization: 'Bearer tok' };
  t.is((await fetch(`${base}/api/v1/x`, { method: 'POST', headers: { ...auth, origin: 'https://evil.example' } })).status, 403);
  t.is((await fetch(`${base}/api/v1/x`, { method: 'POST', headers: { ...auth, 'sec-fetch-site': 'cross-site' } })).status, 403);
  t.is((await fetch(`${base}/api/v1/x`, { method: 'POST', headers: { ...auth, origin: 'null' } })).status, 403);
  t.is(calls, 0);
  t.is((await fetch(`${base}/api/v1/x`, { method: 'POST', headers: { ...auth, origin: base } })).status, 200);
  t.is((await fetch(`${base}/api/v1/x`, { method: 'POST', headers: { cookie: 'token=tok', origin: base } })).status, 401, 'a cookie is never a credential');
  t.is(calls, 1);
});

test('server-sent events: frames, heartbeats, bounded clients, unsubscribe on disconnect and on close', async (t) => {
  const admin = new AdminServer();
  const sinks = new Set<(e: ServerEvent) => void>();
  let unsubscribed = 0;
  admin.events('/api/v1/events', (send) => {
    sinks.add(send);
    send({ event: 'hello', data: { n: sinks.size } });
    return () => {
      sinks.delete(send);
      unsubscribed++;
    };
  }, { maxClients: 2, heartbeatMs: 20 });
  const base = await started(t, admin);
  const a = new AbortController();
  const r1 = await fetch(`${base}/api/v1/events`, { signal: a.signal });
  t.is(r1.status, 200);
  t.regex(r1.headers.get('content-type') ?? '', /^text\/event-stream/);
  t.is(r1.headers.get('cache-control'), 'no-cache');
  const reader = r1.body!.getReader();
  let got = '';
  const until = async (re: RegExp) => {
    while (!re.test(got)) {
      const { value, done } = await reader.read();
      if (done) break;
      got += new TextDecoder().decode(value);
    }
    return got;
  };
  t.regex(await until(/event: hello\ndata: \{"n":1\}\n\n/), /retry: 3000/);
  for (const s of sinks) s({ id: 'x\ny', event: 'change', data: 'multi\nline' });
  t.regex(await until(/event: change/), /id: x y\nevent: change\ndata: "multi\\nline"\n\n/);
  t.regex(await until(/: heartbeat\n\n/), /: heartbeat/);
  const r2 = await fetch(`${base}/api/v1/events`);
  t.is(r2.status, 200);
  t.is((await fetch(`${base}/api/v1/events`)).status, 503, 'a third client is refused');
  a.abort();
  await reader.cancel().catch(() => undefined);
  while (unsubscribed < 1) await new Promise((r) => setTimeout(r, 10));
  t.is(sinks.size, 1);
  await admin.close();
  t.is(unsubscribed, 2, 'close() ends every stream');
  const r2reader = r2.body!.getReader();
  let ended = false;
  while (!ended) ended = await r2reader.read().then((x) => x.done, () => true);
  t.true(ended, 'the second client saw its stream end');
});

test('formatEvent keeps a field on one line', (t) => {
  t.is(formatEvent({ data: { a: 1 } }), 'data: {"a":1}\n\n');
  t.is(formatEvent({ event: 'a\r\nb', data: null }), 'event: a  b\ndata: null\n\n');
});

test('static files: content types, cache headers, index, no escape and no dotfiles', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-static-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>meshcd</title>');
  await writeFile(join(dir, 'assets', 'app-3f9a1c2b.js'), 'console.log(1)');
  await writeFile(join(dir, 'assets', 'style.css'), 'body{}');
  await writeFile(join(dir, '.env'), 'SECRET=1');
  await writeFile(join(tmpdir(), 'meshcd-static-outside.txt'), 'outside');
  const admin = new AdminServer();
  admin.staticFiles('/ui', dir);
  const base = await started(t, admin);
  const index = await fetch(`${base}/ui/`);
  t.is(index.status, 200);
  t.regex(index.headers.get('content-type') ?? '', /^text\/html/);
  t.is(index.headers.get('cache-control'), 'no-cache');
  const js = await fetch(`${base}/ui/assets/app-3f9a1c2b.js`);
  t.regex(js.headers.get('content-type') ?? '', /javascript/);
  t.is(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.is(js.headers.get('x-content-type-options'), 'nosniff');
  const css = await fetch(`${base}/ui/assets/style.css`);
  t.regex(css.headers.get('content-type') ?? '', /^text\/css/);
  t.is(css.headers.get('cache-control'), 'public, max-age=300');
  t.is((await fetch(`${base}/ui/.env`)).status, 404);
  for (const p of ['/ui/../meshcd-static-outside.txt', '/ui/%2e%2e/meshcd-static-outside.txt', '/ui/..%2fmeshcd-static-outside.txt', '/ui/assets/..%2f..%2fmeshcd-static-outside.txt']) {
    const r = await rawGet(base, p);
    t.not(r.body, 'outside', p);
    t.true(r.status >= 400 || r.status === 200, p);
  }
  t.is((await rawGet(base, '/ui/assets/style.css', 'POST', 'x')).status >= 400, true);
  t.is((await fetch(`${base}/ready`)).status, 200, 'routes still served beside the bundle');
  t.is(staticCacheControl('a/b.html'), 'no-cache');
  const bare = await fetch(`${base}/ui`, { redirect: 'manual' });
  t.is(bare.status, 308);
  t.is(bare.headers.get('location'), '/ui/');
});
