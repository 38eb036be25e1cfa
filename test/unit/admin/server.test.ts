import test from 'ava';
import { AdminServer, json } from '../../../src/admin/server.js';

test('routes with params, readiness, metrics and errors', async (t) => {
  const admin = new AdminServer(64);
  let ready = false;
  admin.setReadyCheck(() => ready);
  admin.route('POST', '/api/v1/sources/:name/refresh', (req) => json(202, { name: req.params.name, body: req.body.toString() }));
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const base = `http://127.0.0.1:${port}`;
  t.is((await fetch(`${base}/ready`)).status, 503);
  ready = true;
  t.is((await fetch(`${base}/ready`)).status, 200);
  const r = await fetch(`${base}/api/v1/sources/platform/refresh`, { method: 'POST', body: 'x' });
  t.is(r.status, 202);
  t.deepEqual(await r.json(), { name: 'platform', body: 'x' });
  t.is((await fetch(`${base}/api/v1/sources/platform/refresh`)).status, 405);
  t.is((await fetch(`${base}/nope`)).status, 404);
  t.is((await fetch(`${base}/api/v1/sources/p/refresh`, { method: 'POST', body: 'x'.repeat(100) })).status, 413);
  const m = await fetch(`${base}/metrics`);
  t.is(m.status, 200);
  t.regex(m.headers.get('content-type') ?? '', /text\/plain/);
});

test('routes with auth: admin-token need the bearer token; none configured is 403', async (t) => {
  const admin = new AdminServer();
  let calls = 0;
  admin.route('POST', '/api/v1/things/:name/poke', () => (calls++, json(200, { ok: true })), { auth: 'admin-token' });
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const url = `http://127.0.0.1:${port}/api/v1/things/a/poke`;
  t.is((await fetch(url, { method: 'POST' })).status, 403);
  admin.setAdminToken('s3cret-token');
  t.is((await fetch(url, { method: 'POST' })).status, 401);
  t.is((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.is(calls, 0);
  const ok = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer s3cret-token' } });
  t.is(ok.status, 200);
  t.is(calls, 1);
});
