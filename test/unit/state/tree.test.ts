// Saved file trees: written whole under their key, kept as they are, pruned
// when nothing names them; paths that would leave the tree are refused.

import test from 'ava';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TreeStore } from '../../../src/state/tree.js';

async function store(t: import('ava').ExecutionContext): Promise<{ dir: string; trees: TreeStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-trees-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, trees: new TreeStore(dir) };
}

const files: Record<string, string> = { 'a.yaml': 'a: 1\n', 'ns/b.yaml': 'b: 2\n' };
const read = async (p: string) => new TextEncoder().encode(files[p]!);

test('save writes every file under the key; a second save of the key keeps the first copy', async (t) => {
  const { trees } = await store(t);
  await trees.save('mesh@abc', Object.keys(files), read);
  t.is(await readFile(join(trees.path('mesh@abc'), 'ns/b.yaml'), 'utf8'), 'b: 2\n');
  await trees.save('mesh@abc', ['a.yaml'], async () => new TextEncoder().encode('changed'));
  t.is(await readFile(join(trees.path('mesh@abc'), 'a.yaml'), 'utf8'), 'a: 1\n');
});

test('a failed save leaves nothing under the key and no temporary folder', async (t) => {
  const { dir, trees } = await store(t);
  await t.throwsAsync(trees.save('mesh@bad', ['a.yaml', 'b.yaml'], async (p) => {
    if (p === 'b.yaml') throw new Error('read failed');
    return new Uint8Array([1]);
  }), { message: 'read failed' });
  t.false(await trees.has('mesh@bad'));
  t.deepEqual(await readdir(join(dir, 'state', 'trees')), []);
});

for (const bad of ['../escape.yaml', '/abs.yaml', 'a/../../b', 'a//b', '']) {
  test(`a path that leaves the tree is refused: ${JSON.stringify(bad)}`, async (t) => {
    const { trees } = await store(t);
    await t.throwsAsync(trees.save('k', [bad], read), { message: /not a relative path inside the tree/ });
    t.false(await trees.has('k'));
  });
}

test('keys are plain names', (t) => {
  const trees = new TreeStore('/x');
  t.throws(() => trees.path('../x'), { message: /not a valid name/ });
  t.throws(() => trees.path('.hidden'), { message: /not a valid name/ });
});

test('prune removes the copies not kept', async (t) => {
  const { dir, trees } = await store(t);
  await trees.save('mesh@1', ['a.yaml'], read);
  await trees.save('mesh@2', ['a.yaml'], read);
  await trees.prune(new Set(['mesh@2']));
  t.deepEqual(await readdir(join(dir, 'state', 'trees')), ['mesh@2']);
});

test('files the same in an earlier copy are hard-linked from it, not written again; they outlive its pruning', async (t) => {
  const { trees } = await store(t);
  await trees.save('mesh@one', Object.keys(files), read);
  const reads: string[] = [];
  const next: Record<string, string> = { 'a.yaml': 'a: 1\n', 'ns/b.yaml': 'b: 3\n', 'c.yaml': 'c: 1\n' };
  await trees.save('mesh@two', Object.keys(next), async (p) => (reads.push(p), new TextEncoder().encode(next[p]!)), { key: 'mesh@one', same: (p) => p === 'a.yaml' });
  t.deepEqual(reads.sort(), ['c.yaml', 'ns/b.yaml'], 'only the changed and new files are read and written');
  const a1 = await stat(join(trees.path('mesh@one'), 'a.yaml'));
  const a2 = await stat(join(trees.path('mesh@two'), 'a.yaml'));
  t.is(a2.ino, a1.ino, 'one file, two names');
  t.is(a2.mode & 0o777, 0o600);
  await trees.prune(new Set(['mesh@two']));
  t.false(await trees.has('mesh@one'));
  for (const [p, text] of Object.entries(next)) t.is(await readFile(join(trees.path('mesh@two'), p), 'utf8'), text);
  // The earlier copy gone: everything is written.
  await trees.save('mesh@three', ['a.yaml'], async () => new TextEncoder().encode('a: 1\n'), { key: 'mesh@one', same: () => true });
  t.is(await readFile(join(trees.path('mesh@three'), 'a.yaml'), 'utf8'), 'a: 1\n');
});
