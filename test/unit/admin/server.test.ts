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
