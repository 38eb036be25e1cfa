// The one admin-token reader (src/admin/token.ts) that serve and the CLI clients share.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientToken, MAX_TOKEN_BYTES, readAdminToken, readTokenFile } from '../../../src/admin/token.js';

test('readTokenFile: one trimmed line; unreadable, empty, several words or oversized files named with the flag, never the content', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  t.is(await readTokenFile(await file('ok', '  s3cret-token-0123456789\n'), '--token-file'), 's3cret-token-0123456789');
  await t.throwsAsync(readTokenFile(join(dir, 'nope'), '--token-file'), { message: /^--token-file \S+nope: cannot read it \(ENOENT\)$/ });
  await t.throwsAsync(readTokenFile(await file('empty', '\n'), 'MESHCD_TOKEN_FILE'), { message: /^MESHCD_TOKEN_FILE \S+empty: the file is empty$/ });
  const words = await t.throwsAsync(readTokenFile(await file('words', 'two words-secret\n'), '--token-file'));
  t.regex(words!.message, /must hold one token on one line/);
  t.notRegex(words!.message, /words-secret/);
  await t.throwsAsync(readTokenFile(await file('big', 'x'.repeat(MAX_TOKEN_BYTES + 1)), '--token-file'), { message: /larger than 4096 bytes/ });
});

test('readAdminToken: a file or a variable, not both, at least 16 characters; clientToken: --token-file before MESHCD_TOKEN_FILE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a'), 'admin-token-aaaaaaaaaaaa\n');
  await writeFile(join(dir, 'b'), 'admin-token-bbbbbbbbbbbb\n');
  await writeFile(join(dir, 'short'), 'abc123\n');
  t.is(await readAdminToken({}), undefined);
  t.is(await readAdminToken({ file: join(dir, 'a') }), 'admin-token-aaaaaaaaaaaa');
  await t.throwsAsync(readAdminToken({ file: join(dir, 'short') }), { message: /^--admin-token-file \S+short: the token must be at least 16 characters/ });
  await t.throwsAsync(readAdminToken({ file: join(dir, 'a'), env: 'X' }), { message: /give one of them/ });
  process.env.MESHCD_TEST_ADMIN_TOKEN = 'admin-token-from-the-env-0';
  t.teardown(() => delete process.env.MESHCD_TEST_ADMIN_TOKEN);
  t.is(await readAdminToken({ env: 'MESHCD_TEST_ADMIN_TOKEN' }), 'admin-token-from-the-env-0');
  await t.throwsAsync(readAdminToken({ env: 'MESHCD_TEST_NO_SUCH_VARIABLE' }), { message: /the variable is not set or empty/ });

  const saved = process.env.MESHCD_TOKEN_FILE;
  t.teardown(() => (saved === undefined ? delete process.env.MESHCD_TOKEN_FILE : (process.env.MESHCD_TOKEN_FILE = saved)));
  delete process.env.MESHCD_TOKEN_FILE;
  t.is(await clientToken(undefined), undefined);
  process.env.MESHCD_TOKEN_FILE = join(dir, 'b');
  t.is(await clientToken(undefined), 'admin-token-bbbbbbbbbbbb');
  t.is(await clientToken(join(dir, 'a')), 'admin-token-aaaaaaaaaaaa', '--token-file wins');
  process.env.MESHCD_TOKEN_FILE = join(dir, 'nope');
  await t.throwsAsync(clientToken(undefined), { message: /^MESHCD_TOKEN_FILE \S+nope: cannot read it/ });
});
