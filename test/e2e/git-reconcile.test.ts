// The reconcile loop against a real Git server (git http-backend on
// loopback): poll, webhook, rejection, revert, restart, outage, credentials.

import test from 'ava';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Reconciler, type AcceptedEvent, type FetchFailedEvent, type RecoveredEvent, type RejectedEvent, type SourceStatus } from '../../src/source/reconcile.js';
import { parseSourceFlag } from '../../src/source/spec.js';
import { hmacSignature } from '../../src/source/webhook.js';
import { AdminServer } from '../../src/admin/server.js';
import { registry } from '../../src/util/metrics.js';
import { setRootLogger } from '../../src/util/log.js';
import { startGitServer } from '../helpers/git-server.js';
import { makeRepo, serviceYaml, tempDir } from '../helpers/git-repo.js';
import { nextEvent } from '../helpers/git-wait.js';

// Every log line of this process, to check that no secret is ever logged.
const logLines: string[] = [];
setRootLogger(pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } })));

const BAD = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: bad
spec:
  hosts: [bad.default.svc.cluster.local]
  resolution: BOGUS
`;

async function setup(t: import('ava').ExecutionContext, auth?: { user: string; password: string } | { token: string }) {
  const root = await tempDir();
  const server = await startGitServer({ root, ...(auth ? { auth } : {}) });
  const admin = new AdminServer();
  const port = await admin.listen(0);
  const cleanups: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const c of cleanups.reverse()) await c();
    await admin.close();
    await server.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'mesh');
  const api = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);
  return { root, server, admin, repo, api, cleanups };
}

function sourceStatus(r: Reconciler, name = 'mesh'): SourceStatus {
  return r.status().find((s) => s.name === name)!;
}

test('first sync, poll, invalid commit rejected and previous kept, revert applied, restart serves the persisted revision', async (t) => {
  const { root, server, admin, repo, api, cleanups } = await setup(t);
  const c1 = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')};poll=150ms`, 'test');
  const stateDir = join(root, 'state');
  const rec = new Reconciler({ sources: [spec], stateDir });
  cleanups.push(() => rec.stop());
  rec.registerAdmin(admin);
  t.is((await api('/ready')).status, 503);
  const first = nextEvent<AcceptedEvent>(rec, 'accepted');
  await rec.start();
  const a1 = await first;
  t.is(a1.revisions[0]!.id, `main@sha1:${c1}`);
  t.truthy(a1.config.get('ServiceEntry', 'default', 'a'));
  t.is((await api('/ready')).status, 200);

  // New commit, picked up by polling.
  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') });
  const polled = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c2);
  await repo.push();
  t.truthy((await polled).config.get('ServiceEntry', 'default', 'b'));

  // Invalid commit: rejected whole; b stays, bad never appears.
  const c3 = await repo.commit({ 'c.yaml': serviceYaml('c'), 'bad.yaml': BAD }, 'break it');
  const rejected = nextEvent<RejectedEvent>(rec, 'rejected');
  await repo.push();
  const rj = await rejected;
  t.is(rj.revision, `main@sha1:${c3}`);
  t.true(rj.diagnostics.some((d) => d.code === 'MCD0103' && d.origin?.file === 'bad.yaml' && d.origin.source === 'mesh'));
  t.is(rec.desired()!.revisions[0]!.commit, c2);
  t.falsy(rec.desired()!.config.get('ServiceEntry', 'default', 'c'));
  const st = (await (await api('/api/v1/sources')).json()) as { sources: SourceStatus[] };
  t.is(st.sources[0]!.revision, `main@sha1:${c2}`);
  t.is(st.sources[0]!.fetchedRevision, `main@sha1:${c3}`);
  t.is(st.sources[0]!.lastRejected!.revision, `main@sha1:${c3}`);
  t.true(st.sources[0]!.lastRejected!.diagnostics.some((d) => d.code === 'MCD0103'));
  const metrics = await registry.metrics();
  t.regex(metrics, /meshcd_source_rejected_revisions_total\{source="mesh"\} [1-9]/);
  t.regex(metrics, new RegExp(`meshcd_source_revision_info\\{source="mesh",revision="main@sha1:${c2}"\\} 1`));

  // git revert: applied.
  await repo.git('revert', '--no-edit', 'HEAD');
  const c4 = await repo.head();
  const reverted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c4);
  await repo.push();
  const rv = await reverted;
  t.truthy(rv.config.get('ServiceEntry', 'default', 'b'));
  t.falsy(rv.config.get('ServiceEntry', 'default', 'c'));

  // Force-push is reported, and applied when valid.
  await repo.git('reset', '-q', '--hard', c1);
  const c5 = await repo.commit({ 'd.yaml': serviceYaml('d') }, 'rewrite');
  const notice = nextEvent<{ message: string }>(rec, 'notice');
  const forced = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c5);
  await repo.push({ force: true });
  t.regex((await notice).message, /force-push on main/);
  await forced;
  t.regex(sourceStatus(rec).notices.map((n) => n.message).join(), /force-push/);
  await rec.stop();

  // Restart with the server gone: the persisted revision is served from the local clone.
  await server.close();
  const again = new Reconciler({ sources: [spec], stateDir, maxBackoffMs: 200 });
  cleanups.push(() => again.stop());
  const restored = nextEvent<AcceptedEvent>(again, 'accepted');
  await again.start();
  t.is((await restored).revisions[0]!.commit, c5);
  const s2 = sourceStatus(again);
  t.is(s2.lastError?.reason, 'network');
  t.is(s2.revision, `main@sha1:${c5}`);
});

test('webhooks: GitHub, GitLab and generic signatures trigger a fetch; forged ones do not', async (t) => {
  const { root, server, admin, repo, api, cleanups } = await setup(t);
  await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const secret = 'hook-secret-123';
  await writeFile(join(root, 'hook'), secret);
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')};poll=1h;webhook-secret-file=${join(root, 'hook')}`, 'test');
  const rec = new Reconciler({ sources: [spec], stateDir: join(root, 'state') });
  cleanups.push(() => rec.stop());
  rec.registerAdmin(admin);
  await rec.start();
  t.true(rec.hasAccepted());

  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') });
  await repo.push();
  const body = JSON.stringify({ ref: 'refs/heads/main', after: c2 });
  const before = server.requests();
  const forged = await api('/hooks/mesh', { method: 'POST', body, headers: { 'x-hub-signature-256': hmacSignature('wrong', Buffer.from(body)) } });
  t.is(forged.status, 401);
  t.is((await api('/hooks/mesh', { method: 'POST', body })).status, 401, 'no signature header');
  t.is((await api('/hooks/mesh', { method: 'POST', body, headers: { 'x-gitlab-token': 'nope' } })).status, 401);
  t.is((await api('/hooks/nosuch', { method: 'POST', body })).status, 404);
  t.is(server.requests(), before, 'nothing fetched on forged webhooks');
  t.is(sourceStatus(rec).revision!.includes(c2), false);

  const other = JSON.stringify({ ref: 'refs/heads/feature' });
  const ignored = await api('/hooks/mesh', { method: 'POST', body: other, headers: { 'x-hub-signature-256': hmacSignature(secret, Buffer.from(other)) } });
  t.is(ignored.status, 202);
  t.is(((await ignored.json()) as { status: string }).status, 'ignored');

  let accepted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c2);
  const gh = await api('/hooks/mesh', { method: 'POST', body, headers: { 'x-hub-signature-256': hmacSignature(secret, Buffer.from(body)) } });
  t.is(gh.status, 202);
  await accepted;
  t.regex(await registry.metrics(), /meshcd_source_webhook_to_applied_seconds_count\{source="mesh"\} [1-9]/);

  const c3 = await repo.commit({ 'c.yaml': serviceYaml('c') });
  await repo.push();
  accepted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c3);
  t.is((await api('/hooks/mesh', { method: 'POST', body: '{}', headers: { 'x-gitlab-token': secret } })).status, 202);
  await accepted;

  const c4 = await repo.commit({ 'd.yaml': serviceYaml('d') });
  await repo.push();
  accepted = nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c4);
  const generic = Buffer.from('anything');
  t.is((await api('/hooks/mesh', { method: 'POST', body: generic, headers: { 'x-meshcd-signature': hmacSignature(secret, generic) } })).status, 202);
  await accepted;

  // Manual refresh through the admin API: a mutating route, so it needs the admin token (issue 9).
  const c5 = await repo.commit({ 'e.yaml': serviceYaml('e') });
  await repo.push();
  const fetchesBefore = server.requests();
  t.is((await api('/api/v1/sources/mesh/refresh', { method: 'POST' })).status, 403, 'no admin token configured: refused');
  const adminToken = 'refresh-admin-token-0123456789';
  admin.setAdminToken(adminToken);
  t.is((await api('/api/v1/sources/mesh/refresh', { method: 'POST' })).status, 401, 'no bearer token: refused');
  t.is((await api('/api/v1/sources/mesh/refresh', { method: 'POST', headers: { authorization: 'Bearer not-the-admin-token-at-all' } })).status, 401);
  t.is(server.requests(), fetchesBefore, 'nothing fetched on refused refreshes');
  const bearer = { authorization: `Bearer ${adminToken}` };
  const res = await api('/api/v1/sources/mesh/refresh', { method: 'POST', headers: bearer });
  t.is(res.status, 200);
  t.is(((await res.json()) as SourceStatus).revision, `main@sha1:${c5}`);
  t.is((await api('/api/v1/sources/nosuch/refresh', { method: 'POST', headers: bearer })).status, 404);
  t.false(logLines.join('').includes(secret));
});

test('server down then back: backoff, last good revision kept, then the new one applied', async (t) => {
  const { root, server, repo, cleanups } = await setup(t);
  const c1 = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')};poll=100ms`, 'test');
  const rec = new Reconciler({ sources: [spec], stateDir: join(root, 'state'), maxBackoffMs: 300 });
  cleanups.push(() => rec.stop());
  await rec.start();
  await server.close();
  await nextEvent<FetchFailedEvent>(rec, 'fetch-failed', (e) => e.consecutiveFailures >= 3);
  const st = sourceStatus(rec);
  t.is(st.revision, `main@sha1:${c1}`, 'last good revision still serving');
  t.is(st.lastError!.reason, 'network');
  t.regex(st.lastError!.message, /cannot reach the server/);
  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') });
  await repo.push();
  const recovered = nextEvent<RecoveredEvent>(rec, 'recovered', (e) => e.from === 'fetch-failure');
  const back = await startGitServer({ root, port: server.port });
  cleanups.push(() => back.close());
  const accepted = await nextEvent<AcceptedEvent>(rec, 'accepted', (e) => e.revisions[0]!.commit === c2);
  t.truthy(accepted.config.get('ServiceEntry', 'default', 'b'));
  t.is(sourceStatus(rec).lastError, undefined);
  const r = await recovered;
  t.is(r.source, 'mesh');
  t.true(r.failures! >= 3);
});

test('wrong credentials: a clear error naming where the secret came from, never the secret', async (t) => {
  const password = 'correct-horse-battery';
  const { root, server, admin, repo, api, cleanups } = await setup(t, { user: 'meshcd', password });
  await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const pwFile = join(root, 'pw');
  const wrong = 'wrong-password-value';
  await writeFile(pwFile, wrong);
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')};poll=1h;username=meshcd;password-file=${pwFile}`, 'test');
  const rec = new Reconciler({ sources: [spec], stateDir: join(root, 'state') });
  cleanups.push(() => rec.stop());
  rec.registerAdmin(admin);
  const failed = nextEvent<FetchFailedEvent>(rec, 'fetch-failed');
  await rec.start();
  const f = await failed;
  t.is(f.reason, 'auth');
  t.regex(f.message, /authentication failed \(HTTP 401\) \(user meshcd, password from file .*pw\)/);
  t.false(rec.hasAccepted());
  t.is((await api('/ready')).status, 503);
  const statusText = await (await api('/api/v1/sources')).text();
  t.regex(statusText, /authentication failed/);
  for (const text of [statusText, f.message, logLines.join(''), await registry.metrics()]) {
    t.false(text.includes(wrong));
    t.false(text.includes(password));
  }
  await writeFile(pwFile, password);
  await rec.refresh('mesh');
  t.true(rec.hasAccepted());
  t.false(logLines.join('').includes(password));
});

test('stop() aborts a fetch stuck on a server that never answers', async (t) => {
  const root = await tempDir();
  const hanging = createServer(() => undefined); // accepts, never responds
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
  t.teardown(async () => {
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
    await rm(root, { recursive: true, force: true });
  });
  const port = (hanging.address() as AddressInfo).port;
  const rec = new Reconciler({ sources: [parseSourceFlag(`mesh=http://127.0.0.1:${port}/mesh.git`, 'test')], stateDir: join(root, 'state') });
  let failures = 0;
  rec.on('fetch-failed', () => failures++);
  const started = rec.start();
  await new Promise((r) => setTimeout(r, 200));
  await rec.stop();
  await started;
  t.false(rec.hasAccepted());
  t.is(failures, 0, 'an aborted fetch at shutdown is not reported as a failure');
});
