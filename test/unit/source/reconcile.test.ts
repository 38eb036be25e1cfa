// Scheduling arithmetic of the Reconciler with an injected clock and jitter
// source: poll interval ±10%, exponential backoff from min(poll, 1 s), capped.

import test from 'ava';
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Reconciler } from '../../../src/source/reconcile.js';
import { parseSourceFlag } from '../../../src/source/spec.js';
import { startGitServer } from '../../helpers/git-server.js';
import { makeRepo, serviceYaml, tempDir } from '../../helpers/git-repo.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('failed fetches back off exponentially up to the cap; status names the next attempt', async (t) => {
  const root = await tempDir();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const port = await freePort();
  const NOW = Date.parse('2026-01-01T00:00:00Z');
  const rec = new Reconciler({ sources: [parseSourceFlag(`m=http://127.0.0.1:${port}/m.git;poll=1h`, 'test')], stateDir: join(root, 'state'), now: () => NOW, maxBackoffMs: 5000 });
  t.teardown(() => rec.stop());
  await rec.start();
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const st = rec.status()[0]!;
    t.is(st.lastError?.consecutiveFailures, i + 1);
    delays.push(Date.parse(st.nextFetchAt!) - NOW);
    await rec.refresh('m');
  }
  t.deepEqual(delays, [1000, 2000, 4000, 5000, 5000]);
});

test('polls every interval with ±10% jitter once a fetch succeeds', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'm');
  await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const NOW = Date.parse('2026-01-01T00:00:00Z');
  let r = 0;
  const rec = new Reconciler({ sources: [parseSourceFlag(`m=${server.url('m.git')};poll=1h`, 'test')], stateDir: join(root, 'state'), now: () => NOW, random: () => r });
  t.teardown(() => rec.stop());
  await rec.start();
  t.is(Date.parse(rec.status()[0]!.nextFetchAt!) - NOW, 0.9 * 3_600_000);
  r = 0.5;
  await rec.refresh('m');
  t.is(Date.parse(rec.status()[0]!.nextFetchAt!) - NOW, 3_600_000);
  t.true(rec.hasAccepted());
  t.is(rec.status()[0]!.lastFetchTime, new Date(NOW).toISOString());
});

test('an exception inside validation rejects the revision with MCD3000 instead of stopping the loop', async (t) => {
  const root = await tempDir();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(root, 'a.yaml'), serviceYaml('a'));
  const exploding = {
    name: 'boom',
    code: 'ORG001',
    severity: 'error',
    origin: { file: 'policy.yaml', line: 1 },
    get validations(): never {
      throw new Error('policy engine exploded');
    },
  } as unknown as import('../../../src/validate/policies.js').CompiledPolicy;
  const rec = new Reconciler({ sources: [parseSourceFlag(`local=${root}`, 'test')], stateDir: join(root, '.state'), policies: [exploding] });
  t.teardown(() => rec.stop());
  const rejected: { diagnostics: { code: string; message: string }[] }[] = [];
  rec.on('rejected', (e) => rejected.push(e));
  await rec.start();
  t.false(rec.hasAccepted());
  t.is(rejected[0]?.diagnostics[0]?.code, 'MCD3000');
  t.regex(rejected[0]!.diagnostics[0]!.message, /internal error while loading or validating dir@sha256:[0-9a-f]+: policy engine exploded/);
  await writeFile(join(root, 'b.yaml'), serviceYaml('b'));
  await t.notThrowsAsync(rec.refresh('local'));
  t.is(rejected.length, 2, 'the next revision is evaluated (and fails the same way)');
});

test('a query string in a Git URL never shows: status, errors and events carry it redacted', async (t) => {
  const root = await tempDir();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const port = await freePort();
  const hint = 'qq-77-not-for-eyes';
  const rec = new Reconciler({ sources: [parseSourceFlag(`m=http://127.0.0.1:${port}/m.git?hint=${hint};poll=1h`, 'test')], stateDir: join(root, 'state') });
  t.teardown(() => rec.stop());
  const messages: string[] = [];
  rec.on('fetch-failed', (e: { message: string }) => messages.push(e.message));
  await rec.start();
  const st = rec.status()[0]!;
  t.is(st.url, `http://127.0.0.1:${port}/m.git?[redacted]`);
  t.regex(st.lastError!.message, /cannot reach the server/);
  t.true(messages.length > 0);
  t.false(JSON.stringify({ st, messages }).includes(hint));
});
