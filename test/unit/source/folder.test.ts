// A folder read with the index of its last read: files whose stat is
// unchanged (and were not modified in the last two seconds) are not read and
// hashed again, yet the revision is the one a fresh read gives; a changed,
// added or removed file is seen; a file written just now is always read
// (a second write within the file system's timestamp resolution would not
// show in its stat).

import test from 'ava';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderIndex, readFolderRevision } from '../../../src/source/folder.js';

async function folder(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-folder-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Written with a modification time a minute ago (plus `s` seconds), as files untouched for a while are. */
async function old(path: string, text: string, s = 0): Promise<void> {
  await writeFile(path, text);
  const at = new Date(Date.now() - 60_000 + s * 1000);
  await utimes(path, at, at);
}

test('unchanged files are taken from the index; changes, additions and removals are seen; the revision is the one a fresh read gives', async (t) => {
  const dir = await folder(t);
  await old(join(dir, 'a.yaml'), 'a: 1\n');
  await old(join(dir, 'b.yaml'), 'b: 1\n');
  await old(join(dir, 'c.yaml'), 'c: 1\n');
  const index = new FolderIndex();
  const r1 = await readFolderRevision(dir, { index });
  t.is(index.hashed, 3);
  const r2 = await readFolderRevision(dir, { index });
  t.is(index.hashed, 0, 'nothing read again');
  t.is(r2.id, r1.id);
  t.is(new TextDecoder().decode(await r2.read('b.yaml')), 'b: 1\n');

  // Same size, another mtime: read again.
  await old(join(dir, 'b.yaml'), 'b: 2\n', 5);
  await rm(join(dir, 'c.yaml'));
  await old(join(dir, 'd.yaml'), 'd: 1\n');
  const r3 = await readFolderRevision(dir, { index });
  t.is(index.hashed, 2, 'b (changed) and d (new)');
  const fresh = await readFolderRevision(dir);
  t.is(r3.id, fresh.id);
  t.deepEqual(r3.paths, ['a.yaml', 'b.yaml', 'd.yaml']);
  t.is(new TextDecoder().decode(await r3.read('b.yaml')), 'b: 2\n');
  t.is(r3.blobId('a.yaml'), fresh.blobId('a.yaml'));
});

test('a file modified in the last two seconds is read every time, even with the same stat', async (t) => {
  const dir = await folder(t);
  await old(join(dir, 'a.yaml'), 'a: 1\n');
  await writeFile(join(dir, 'now.yaml'), 'x: 1\n');
  const index = new FolderIndex();
  await readFolderRevision(dir, { index });
  t.is(index.hashed, 2);
  // Nothing changed: the old file is taken from the index, the recent one read again (a second write within the timestamp resolution would not show).
  await readFolderRevision(dir, { index });
  t.is(index.hashed, 1, 'the recent file only');
});

test('a synchronous read gives the revision the asynchronous read gives, and uses the index the same way', async (t) => {
  const dir = await folder(t);
  await old(join(dir, 'a.yaml'), 'a: 1\n');
  await old(join(dir, 'b.json'), '{"b": 1}\n');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'sub'));
  await old(join(dir, 'sub', 'c.yaml'), 'c: 1\n');
  await mkdir(join(dir, '.hidden'));
  await old(join(dir, '.hidden', 'd.yaml'), 'd: 1\n');
  const asyncRead = await readFolderRevision(dir);
  const index = new FolderIndex();
  const syncRead = await readFolderRevision(dir, { sync: true, index });
  t.is(index.hashed, 3);
  t.is(syncRead.id, asyncRead.id);
  t.deepEqual(syncRead.paths, ['a.yaml', 'b.json', 'sub/c.yaml']);
  t.deepEqual(syncRead.paths, asyncRead.paths);
  for (const p of syncRead.paths) t.is(syncRead.blobId(p), asyncRead.blobId(p));
  t.is(new TextDecoder().decode(await syncRead.read('sub/c.yaml')), 'c: 1\n');
  await readFolderRevision(dir, { sync: true, index });
  t.is(index.hashed, 0, 'nothing read again');
  // without an index (validate's one-shot read, no stats taken): the same revision
  const oneShot = await readFolderRevision(dir, { sync: true });
  t.is(oneShot.id, asyncRead.id);
  t.deepEqual(oneShot.paths, asyncRead.paths);
  for (const p of oneShot.paths) t.is(oneShot.blobId(p), asyncRead.blobId(p));
});
