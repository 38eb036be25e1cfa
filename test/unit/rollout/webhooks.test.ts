import test from 'ava';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { isGating, WebhookSender, type WebhookEvent } from '../../../src/rollout/webhooks.js';
import type { WebhookSpec } from '../../../src/rollout/contracts.js';
import { freePort } from '../../helpers/prometheus.js';

interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(t: { teardown(fn: () => Promise<void>): void }, answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end('ok')) {
  const received: Received[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, received };
}

const SECRET = 'wh-secret-9f3a1c';

async function secretFile(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-wh-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'secret');
  await writeFile(f, `${SECRET}\n`);
  return f;
}

function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  return { log, lines };
}

const event: WebhookEvent = { name: 'reviews', namespace: 'bookinfo', phase: 'Progressing', checksum: 'main@sha1:abc', stepIndex: 2, canaryWeight: 50 };

test('gating types', (t) => {
  t.deepEqual(
    (['pre-rollout', 'rollout', 'confirm-promotion', 'post-rollout', 'rollback', 'event'] as const).filter(isGating),
    ['pre-rollout', 'rollout', 'confirm-promotion'],
  );
});

test('POSTs the Flagger-compatible payload with step and weight, signed with HMAC-SHA256 of the body', async (t) => {
  const r = await receiver(t);
  const sender = new WebhookSender({ secret: { file: await secretFile(t) } });
  const hook: WebhookSpec = { name: 'load-test', type: 'pre-rollout', url: `${r.url}/start?token=q1`, metadata: { cmd: 'hey -z 1m' } };
  const res = await sender.send(hook, event, 1234);
  t.deepEqual(res, { ok: true, status: 200 });
  t.is(r.received.length, 1);
  const got = r.received[0]!;
  t.is(got.url, '/start?token=q1');
  t.is(got.headers['content-type'], 'application/json');
  t.deepEqual(JSON.parse(got.body), { name: 'reviews', namespace: 'bookinfo', phase: 'Progressing', type: 'pre-rollout', checksum: 'main@sha1:abc', metadata: { cmd: 'hey -z 1m' }, stepIndex: 2, canaryWeight: 50 });
  t.is(got.headers['x-meshcd-signature'], `sha256=${createHmac('sha256', SECRET).update(got.body).digest('hex')}`);
});

test('no secret configured: no signature header', async (t) => {
  const r = await receiver(t);
  await new WebhookSender().send({ name: 'x', type: 'rollout', url: r.url }, event);
  t.is(r.received[0]!.headers['x-meshcd-signature'], undefined);
});

test('event hooks carry eventMessage/eventType/timestamp in metadata, as Flagger does', async (t) => {
  const r = await receiver(t);
  await new WebhookSender().send({ name: 'n', type: 'event', url: r.url }, { ...event, message: 'step 2: weight 50' }, 99);
  t.deepEqual(JSON.parse(r.received[0]!.body).metadata, { eventMessage: 'step 2: weight 50', eventType: 'Normal', timestamp: '99' });
});

test('a non-2xx answer fails the gate with the status and the start of the answer; URL shown without query', async (t) => {
  const r = await receiver(t, (_q, res) => {
    res.writeHead(503);
    res.end(`load test not ready\n${'x'.repeat(100_000)}`);
  });
  const res = await new WebhookSender({ secret: { file: await secretFile(t) } }).send({ name: 'gate', type: 'confirm-promotion', url: `${r.url}/gate?token=q1` }, event);
  t.false(res.ok);
  if (res.ok) return;
  t.is(res.status, 503);
  t.true(res.error.startsWith(`webhook gate (confirm-promotion, ${r.url}/gate) of Rollout bookinfo/reviews: HTTP 503: load test not ready x`));
  t.true(res.error.length < 600);
  t.false(res.error.includes('token=q1'));
  t.false(res.error.includes(SECRET));
});

test('a redirect is not followed and fails', async (t) => {
  const r = await receiver(t, (_q, res) => {
    res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
    res.end();
  });
  const res = await new WebhookSender().send({ name: 'g', type: 'rollout', url: r.url }, event);
  t.like(res, { ok: false, status: 302 });
});

test('timeout and unreachable fail the gate', async (t) => {
  const r = await receiver(t, () => undefined);
  const slow = await new WebhookSender().send({ name: 'slow', type: 'rollout', url: r.url, timeout: '300ms' }, event);
  t.like(slow, { ok: false, error: `webhook slow (rollout, ${r.url}/) of Rollout bookinfo/reviews: no answer within 300 ms` });
  const down = await new WebhookSender().send({ name: 'down', type: 'rollout', url: `http://127.0.0.1:${await freePort()}/x` }, event);
  t.false(down.ok);
  t.regex(down.ok ? '' : down.error, /unreachable \(ECONNREFUSED\)$/);
  const bad = await new WebhookSender().send({ name: 'bad', type: 'rollout', url: r.url, timeout: 'soon' }, event);
  t.regex(bad.ok ? '' : bad.error, /timeout "soon" is not a duration/);
});

test('a missing secret file fails the gate naming the file, not sending unsigned', async (t) => {
  const r = await receiver(t);
  const res = await new WebhookSender({ secret: { file: '/nonexistent/meshcd-secret' } }).send({ name: 'g', type: 'pre-rollout', url: r.url }, event);
  t.regex(res.ok ? '' : res.error, /rollout webhook secret: cannot read file \/nonexistent\/meshcd-secret \(ENOENT\)/);
  t.is(r.received.length, 0);
});

test('run(): gating hooks are awaited (first failure returned); fire-and-forget hooks log failures without the secret', async (t) => {
  const ok = await receiver(t);
  const failing = await receiver(t, (_q, res) => {
    res.writeHead(500);
    res.end(`echo ${SECRET}`);
  });
  const { log, lines } = capture();
  const sender = new WebhookSender({ secret: { file: await secretFile(t) }, log });
  const hooks: WebhookSpec[] = [
    { name: 'a', type: 'rollout', url: ok.url },
    { name: 'b', type: 'rollout', url: `${failing.url}/b` },
    { name: 'c', type: 'rollback', url: `${failing.url}/c` },
  ];
  const gate = await sender.run(hooks, 'rollout', event);
  t.like(gate, { ok: false, status: 500 });
  t.true(!gate!.ok && gate!.error.includes('[redacted]'));
  t.is(await sender.run(hooks, 'post-rollout', event), undefined);
  await sender.notify(hooks[2]!, { ...event, phase: 'Failed', message: 'success-rate 0.8 < min 0.99' });
  const line = lines.find((l) => l.includes('"webhook":"c"'));
  t.truthy(line);
  t.regex(line!, /"level":40/);
  t.false(lines.join('').includes(SECRET));
  t.deepEqual(JSON.parse(failing.received.at(-1)!.body).metadata.eventType, 'Warning');
});
