import test from 'ava';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServer } from '../../../src/admin/server.js';
import { wireDashboard } from '../../../src/dashboard/wire.js';

const TOKEN = 'unit-admin-token-0123456789';

async function bundle(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-bundle-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/app-abc123xy.js"></script>');
  await writeFile(join(dir, 'assets', 'app-abc123xy.js'), 'console.log(1)');
  return dir;
}

test('the bundle at / with its security headers, assets immutable, the auth check behind the admin token', async (t) => {
  const dir = await bundle();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const admin = new AdminServer();
  admin.setAdminToken(TOKEN);
  const d = wireDashboard(admin, { bundleDir: dir });
  t.true(d.bundled);
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const base = `http://127.0.0.1:${port}`;
  const page = await fetch(`${base}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'self';/);
  t.is(page.headers.get('x-frame-options'), 'DENY');
  t.is(page.headers.get('referrer-policy'), 'no-referrer');
  t.is(page.headers.get('cache-control'), 'no-cache');
  t.regex(await page.text(), /app-abc123xy\.js/);
  const js = await fetch(`${base}/assets/app-abc123xy.js`);
  t.is(js.status, 200);
  t.is(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.is((await fetch(`${base}/assets/%2e%2e/index.html`)).status, 404, 'nothing outside assets/ under /assets');
  t.is((await fetch(`${base}/api/v1/auth`)).status, 401);
  t.is((await fetch(`${base}/api/v1/auth`, { headers: { authorization: 'Bearer wrong-token-000000' } })).status, 401);
  t.is((await fetch(`${base}/api/v1/auth`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
});

test('without a built bundle / says how to build it; the event stream works all the same', async (t) => {
  const admin = new AdminServer();
  const reconciler = new EventEmitter();
  const d = wireDashboard(admin, { bundleDir: join(tmpdir(), 'meshcd-no-such-bundle'), reconciler });
  t.false(d.bundled);
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const res = await fetch(`http://127.0.0.1:${port}/`);
  t.is(res.status, 404);
  t.regex(await res.text(), /npm run build/);
  const ctl = new AbortController();
  const stream = await fetch(`http://127.0.0.1:${port}/api/v1/events`, { signal: ctl.signal });
  t.regex(stream.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = stream.body!.getReader();
  let text = '';
  const read = async (until: RegExp) => {
    while (!until.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  };
  await read(/event: hello/);
  reconciler.emit('notice', { source: 'platform', message: 'main was force-pushed' });
  await read(/event: source\ndata: .*force-pushed/);
  t.regex(text, /data: \{"kind":"notice","source":"platform","message":"main was force-pushed"\}/);
  ctl.abort();
  d.close();
  t.is(reconciler.listenerCount('notice'), 0);
});
