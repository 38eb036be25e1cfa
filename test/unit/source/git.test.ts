import test from 'ava';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitSource, GitFetchError, repairDanglingHead } from '../../../src/source/git.js';
import { parseSourceFlag } from '../../../src/source/spec.js';
import { gitCli, startGitServer } from '../../helpers/git-server.js';
import { makeRepo, serviceYaml, tempDir } from '../../helpers/git-repo.js';
import { loadRevision, ParseCache } from '../../../src/config/load.js';

test('fetches a branch incrementally, lists a sub-folder and reads blobs without a work tree', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'mesh');
  const c1 = await repo.commit({ 'mesh/a.yaml': serviceYaml('a'), 'mesh/sub/b.yaml': serviceYaml('b'), 'README.md': 'x' });
  await repo.push();
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')}#main:mesh`, 'test');
  const src = new GitSource(spec, join(root, 'state'));
  const u1 = await src.fetch();
  t.is(u1.revision.id, `main@sha1:${c1}`);
  t.deepEqual([...u1.revision.paths].sort(), ['a.yaml', 'sub/b.yaml']);
  t.true(u1.changed);
  t.deepEqual(u1.diagnostics, []);
  const cache = new ParseCache();
  const l1 = await loadRevision(u1.revision, { cache });
  t.truthy(l1.config.get('ServiceEntry', 'default', 'b'));

  // Unchanged: no new revision.
  const same = await src.fetch();
  t.false(same.changed);

  const c2 = await repo.commit({ 'mesh/a.yaml': serviceYaml('a2') });
  await repo.push();
  const u2 = await src.fetch();
  t.is(u2.revision.commit, c2);
  t.is(u2.revision.blobId('sub/b.yaml'), u1.revision.blobId('sub/b.yaml'), 'unchanged blob keeps its id');
  t.not(u2.revision.blobId('a.yaml'), u1.revision.blobId('a.yaml'));
  const l2 = await loadRevision(u2.revision, { cache });
  t.truthy(l2.config.get('ServiceEntry', 'default', 'a2'));
  t.deepEqual(u2.notices, []);

  // Force-push back to c1's tree from a diverging history.
  await repo.git('reset', '-q', '--hard', c1);
  const c3 = await repo.commit({ 'mesh/c.yaml': serviceYaml('c') }, 'diverge');
  await repo.push({ force: true });
  const u3 = await src.fetch();
  t.is(u3.revision.commit, c3);
  t.regex(u3.notices.join('\n'), /force-push on main/);
});

test('tags (annotated, moved), commit pins and a deleted branch', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'r');
  const c1 = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.git('tag', '-a', '-m', 'release', 'v1');
  await repo.push();
  await repo.push({ ref: 'refs/tags/v1' });
  await repo.push({ ref: 'HEAD:refs/heads/feature' });
  const tagged = new GitSource(parseSourceFlag(`${server.url('r.git')}#v1`, 'test'), join(root, 'state1'));
  const u1 = await tagged.fetch();
  t.is(u1.revision.commit, c1, 'annotated tag peeled to its commit');
  t.is(u1.revision.id, `v1@sha1:${c1}`);
  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') });
  await repo.git('tag', '-f', '-a', '-m', 'moved', 'v1');
  await repo.push({ ref: 'refs/tags/v1', force: true });
  const u2 = await tagged.fetch();
  t.is(u2.revision.commit, c2);
  t.regex(u2.notices.join(), /tag v1 moved/);

  const pinned = new GitSource(parseSourceFlag(`${server.url('r.git')}#${c1}`, 'test'), join(root, 'state2'));
  const p = await pinned.fetch();
  t.is(p.revision.id, `sha1:${c1}`);
  t.deepEqual(p.revision.paths, ['a.yaml']);

  const feature = new GitSource(parseSourceFlag(`${server.url('r.git')}#feature`, 'test'), join(root, 'state3'));
  await feature.fetch();
  await repo.git('push', '-q', 'origin', ':refs/heads/feature');
  const err = await t.throwsAsync(feature.fetch(), { instanceOf: GitFetchError });
  t.is((err as GitFetchError).reason, 'ref-missing');
  t.regex(err!.message, /ref "feature" not found/);
});

test('credentials from a file: sent to the server, never in errors', async (t) => {
  const root = await tempDir();
  const secret = 's3cr3t-token-value';
  const server = await startGitServer({ root, auth: { token: secret } });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'p');
  await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const tokenFile = join(root, 'token');
  await writeFile(tokenFile, `${secret}\n`);
  const ok = new GitSource(parseSourceFlag(`${server.url('p.git')};token-file=${tokenFile}`, 'test'), join(root, 's1'));
  t.truthy((await ok.fetch()).revision.commit);

  await writeFile(tokenFile, 'wrong-token-value');
  const bad = new GitSource(parseSourceFlag(`${server.url('p.git')};token-file=${tokenFile}`, 'test'), join(root, 's2'));
  const err = await t.throwsAsync(bad.fetch(), { instanceOf: GitFetchError });
  t.is((err as GitFetchError).reason, 'auth');
  t.regex(err!.message, /authentication failed \(HTTP 401\) \(token from file .*token\)/);
  t.false(err!.message.includes('wrong-token-value'));
  t.false(err!.message.includes(secret));

  const none = new GitSource(parseSourceFlag(`${server.url('p.git')}`, 'test'), join(root, 's3'));
  const e2 = await t.throwsAsync(none.fetch());
  t.regex(e2!.message, /no credentials configured/);
});

test('a missing sub-folder is a diagnostic, an unreachable server a network error', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'm');
  const c = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const src = new GitSource(parseSourceFlag(`${server.url('m.git')}#main:nope`, 'test'), join(root, 's'));
  const u = await src.fetch();
  t.is(u.diagnostics[0]?.code, 'MCD3007');
  t.regex(u.diagnostics[0]!.message, new RegExp(`folder "nope" does not exist in commit ${c}`));
  await server.close();
  const err = await t.throwsAsync(src.fetch(), { instanceOf: GitFetchError });
  t.is((err as GitFetchError).reason, 'network');
  t.regex(err!.message, /cannot reach the server \(ECONNREFUSED\)/);
});

test('many fetches: the clone is re-taken once it holds too many pack files', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'packs');
  await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  const src = new GitSource(parseSourceFlag(server.url('packs.git'), 'test'), join(root, 'state'), { maxPacks: 2 });
  const packs = async () => (await readdir(join(src.gitdir, 'objects', 'pack'))).filter((f) => f.endsWith('.pack')).length;
  let last = '';
  let most = 0;
  for (let i = 0; i < 5; i++) {
    last = await repo.commit({ [`f${i}.yaml`]: serviceYaml(`f${i}`) });
    await repo.push();
    const u = await src.fetch();
    t.is(u.revision.commit, last);
    most = Math.max(most, await packs());
  }
  t.true(most <= 3, `at most maxPacks + 1 packs, saw ${most}`);
  const u = await src.fetch();
  t.is(u.revision.paths.length, 6);
});

test('a dangling HEAD on the server: the ref is resolved from the ref advertisement', async (t) => {
  const root = await tempDir();
  const server = await startGitServer({ root });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const repo = await makeRepo(root, 'mesh');
  const c1 = await repo.commit({ 'a.yaml': serviceYaml('a') });
  await repo.push();
  await gitCli(repo.bare, ['symbolic-ref', 'HEAD', 'refs/heads/missing']);
  const src = new GitSource(parseSourceFlag(`mesh=${server.url('mesh.git')}`, 'test'), join(root, 'state'));
  const u1 = await src.fetch();
  t.is(u1.revision.id, `main@sha1:${c1}`);
  t.deepEqual(u1.revision.paths, ['a.yaml']);
  const c2 = await repo.commit({ 'b.yaml': serviceYaml('b') });
  await repo.push();
  t.is((await src.fetch()).revision.commit, c2, 'incremental fetches work too');

  const gone = new GitSource(parseSourceFlag(`other=${server.url('mesh.git')}#nosuch`, 'test'), join(root, 'state'));
  const err = await t.throwsAsync(gone.fetch(), { instanceOf: GitFetchError });
  t.is(err!.reason, 'ref-missing');
  t.regex(err!.message, /ref "nosuch" not found on the server/);
});

test('repairDanglingHead: adds HEAD at the ref when the advertisement has none; otherwise leaves it unchanged', (t) => {
  const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
  const a = '1'.repeat(40), b = '2'.repeat(40);
  const without = Buffer.from(pkt('# service=git-upload-pack\n') + '0000' + pkt(`${a} refs/heads/dev\0shallow ofs-delta\n`) + pkt(`${b} refs/heads/main\n`) + '0000', 'latin1');
  const repaired = repairDanglingHead(without, 'main').toString('latin1');
  t.is(repaired, pkt('# service=git-upload-pack\n') + '0000' + pkt(`${b} HEAD\0shallow ofs-delta\n`) + pkt(`${a} refs/heads/dev\n`) + pkt(`${b} refs/heads/main\n`) + '0000');
  const withHead = Buffer.from(pkt('# service=git-upload-pack\n') + '0000' + pkt(`${a} HEAD\0caps\n`) + pkt(`${a} refs/heads/main\n`) + '0000', 'latin1');
  t.is(repairDanglingHead(withHead, 'main'), withHead);
  const garbage = Buffer.from('zzzz not pkt-lines');
  t.is(repairDanglingHead(garbage, 'main'), garbage);
});
