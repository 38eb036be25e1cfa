// serve's rollout flags: the webhook HMAC secret from a file or an
// environment variable (never a flag value), the write-back author.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AUTHOR, parseAuthor, repositoryPath, rolloutFlags } from '../../../src/rollout/wire.js';
import { parseSourceFlag } from '../../../src/source/spec.js';

test('parseAuthor reads "Name <email>" and names the flag on anything else', (t) => {
  t.deepEqual(parseAuthor('Release Bot <release-bot@example.com>'), { name: 'Release Bot', email: 'release-bot@example.com' });
  t.deepEqual(parseAuthor('  meshcd   <m@x>  '), { name: 'meshcd', email: 'm@x' });
  for (const bad of ['nobody@example.com', '<a@b>', 'Name <not-an-email>', 'Name <a@b> trailing', 'Na<me <a@b>']) {
    t.throws(() => parseAuthor(bad), { message: /^--write-back-author: ".*" is not "Name <email@host>"$/ }, bad);
  }
});

test('rolloutFlags: secret from a file or an env var, read at start; errors name the flag, never the secret', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-wire-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'hook-secret');
  await writeFile(file, 'rollout-hook-secret-0123456789\n', { mode: 0o600 });
  t.deepEqual(await rolloutFlags({}), { author: DEFAULT_AUTHOR });
  t.deepEqual(await rolloutFlags({ rolloutWebhookSecretFile: file, writeBackAuthor: 'Bot <bot@example.com>' }), { webhookSecret: { file }, author: { name: 'Bot', email: 'bot@example.com' } });
  process.env.MESHCD_TEST_HOOK_SECRET = 'from-the-environment-0123';
  t.teardown(() => void delete process.env.MESHCD_TEST_HOOK_SECRET);
  t.deepEqual((await rolloutFlags({ rolloutWebhookSecretEnv: 'MESHCD_TEST_HOOK_SECRET' })).webhookSecret, { env: 'MESHCD_TEST_HOOK_SECRET' });

  await t.throwsAsync(rolloutFlags({ rolloutWebhookSecretFile: file, rolloutWebhookSecretEnv: 'X' }), { message: /give one of them/ });
  await t.throwsAsync(rolloutFlags({ rolloutWebhookSecretFile: join(dir, 'missing') }), { message: /--rollout-webhook-secret-file .*missing: cannot read file .*\(ENOENT\)/ });
  await t.throwsAsync(rolloutFlags({ rolloutWebhookSecretEnv: 'MESHCD_TEST_UNSET_VARIABLE' }), { message: /--rollout-webhook-secret-env MESHCD_TEST_UNSET_VARIABLE: .* is empty or unset/ });
  await writeFile(file, 'short\n');
  const err = await t.throwsAsync(rolloutFlags({ rolloutWebhookSecretFile: file }), { message: /at least 16 characters/ });
  t.false(err!.message.includes('short'));
  await t.throwsAsync(rolloutFlags({ writeBackAuthor: 'bot' }), { message: /--write-back-author/ });
});

test('repositoryPath: a file named relative to a source\'s folder is reverted at its path in the repository', (t) => {
  t.is(repositoryPath(parseSourceFlag('mesh=https://git.example/r.git#main:config/mesh', 'test'), 'reviews/vs.yaml'), 'config/mesh/reviews/vs.yaml');
  t.is(repositoryPath(parseSourceFlag('mesh=https://git.example/r.git', 'test'), 'reviews/vs.yaml'), 'reviews/vs.yaml');
  t.is(repositoryPath(undefined, 'vs.yaml'), 'vs.yaml');
});

test('rolloutFlags: --canary-reconnect-grace in whole seconds (0–3600) becomes the runner\'s resumeGraceMs; anything else names the flag', async (t) => {
  t.is((await rolloutFlags({})).resumeGraceMs, undefined, 'unset: the runner\'s default (30 s)');
  t.is((await rolloutFlags({ canaryReconnectGrace: '30' })).resumeGraceMs, 30_000);
  t.is((await rolloutFlags({ canaryReconnectGrace: '120' })).resumeGraceMs, 120_000);
  t.is((await rolloutFlags({ canaryReconnectGrace: '0' })).resumeGraceMs, 0);
  for (const bad of ['', '-1', '1.5', '30s', '3601', '99999', 'abc']) {
    await t.throwsAsync(rolloutFlags({ canaryReconnectGrace: bad }), { message: /^--canary-reconnect-grace: ".*" is not a whole number of seconds from 0 to 3600$/ }, bad);
  }
});
