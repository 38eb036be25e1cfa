// Git write-back against a real Git server (git http-backend, push with a
// token), on the bare clone GitSource keeps in the state directory.

import test from 'ava';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { GitSource } from '../../../src/source/git.js';
import { parseSourceFlag } from '../../../src/source/spec.js';
import type { SourceSpec } from '../../../src/source/spec.js';
import { GitWriteBack, rollbackBranch } from '../../../src/rollout/writeback.js';
import type { WriteBackRequest } from '../../../src/rollout/contracts.js';
import { gitCli, startGitServer } from '../../helpers/git-server.js';
import { makeRepo, tempDir, type TestRepo } from '../../helpers/git-repo.js';

const TOKEN = 'wb-token-7c1e55aa';
const V1 = 'route: {subset: v1}\n';
const V2 = 'route: {subset: v2}\n';

interface Setup {
  repo: TestRepo;
  spec: SourceSpec;
  stateDir: string;
  good: string;
  bad: string;
  lines: string[];
  writeBack: GitWriteBack;
  request(extra?: Partial<WriteBackRequest>): WriteBackRequest;
  show(ref: string, path: string): Promise<string>;
}

/** A repo with a good commit and a bad one (vs.yaml v1 → v2), both fetched by GitSource as the reconciler would. */
async function setup(t: { teardown(fn: () => Promise<void>): void }, opts: { token?: string } = {}): Promise<Setup> {
  const root = await tempDir('meshcd-wb-');
  const server = await startGitServer({ root, auth: { token: TOKEN } });
  t.teardown(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });
  const tokenFile = join(root, 'token');
  await writeFile(tokenFile, `${opts.token ?? TOKEN}\n`);
  const repo = await makeRepo(root, 'mesh');
  const good = await repo.commit({ 'mesh/reviews/vs.yaml': V1, 'mesh/other.yaml': 'a: 1\n', 'README.md': 'hi\n' }, 'good');
  await repo.push();
  const spec = parseSourceFlag(`mesh=${server.url('mesh.git')}#main:mesh;token-file=${tokenFile}`, 'test');
  const stateDir = join(root, 'state');
  const source = new GitSource({ ...spec, auth: { token: { file: join(root, 'fetch-token') } } }, stateDir);
  await writeFile(join(root, 'fetch-token'), TOKEN);
  await source.fetch();
  const bad = await repo.commit({ 'mesh/reviews/vs.yaml': V2 }, 'reviews: v2');
  await repo.push();
  await source.fetch();
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const writeBack = new GitWriteBack({ stateDir, source: (name) => (name === 'mesh' ? spec : undefined), log });
  return {
    repo, spec, stateDir, good, bad, lines, writeBack,
    request: (extra = {}) => ({
      mode: 'revert', rollout: 'bookinfo/reviews', source: 'mesh', badCommit: bad, goodCommit: good, paths: ['mesh/reviews/vs.yaml'],
      message: 'Roll back Rollout bookinfo/reviews: success-rate 0.8 < min 0.99 (values seen: 0.82, 0.8, 0.79)',
      author: { name: 'meshcd', email: 'meshcd@example.com' }, now: Date.parse('2026-02-01T00:00:00Z'), ...extra,
    }),
    show: (ref, path) => gitCli(root, ['--git-dir', repo.bare, 'show', `${ref}:${path}`]),
  };
}

function noToken(t: { false(v: boolean, m?: string): void }, s: Setup, ...texts: string[]) {
  for (const text of [...texts, ...s.lines]) t.false(text.includes(TOKEN), 'token leaked');
}

test('revert on an unchanged branch: a commit on main restoring the good blob, authored and described', async (t) => {
  const s = await setup(t);
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'reverted', JSON.stringify(res));
  if (res.kind !== 'reverted') return;
  const head = await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main']);
  t.is(res.commit, head);
  t.is(res.branch, 'main');
  t.is(await s.show('main', 'mesh/reviews/vs.yaml'), V1.trim());
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main^']), s.bad);
  const log = await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'log', '-1', '--format=%an <%ae>|%cn|%at|%B', 'main']);
  t.true(log.startsWith(`meshcd <meshcd@example.com>|meshcd|${Date.parse('2026-02-01T00:00:00Z') / 1000}|Roll back Rollout bookinfo/reviews: success-rate 0.8 < min 0.99 (values seen: 0.82, 0.8, 0.79)`), log);
  t.true(log.includes(`This reverts commit ${s.bad} for mesh/reviews/vs.yaml`));
  // Only the reverted file differs from the bad commit.
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'diff', '--name-only', s.bad, 'main']), 'mesh/reviews/vs.yaml');
  // No meshcd ref left behind on the server.
  t.false((await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'for-each-ref'])).includes('meshcd'));
  // Applying it again finds Git already good: nothing new.
  const again = await s.writeBack.apply(s.request());
  t.deepEqual(again, { kind: 'reverted', commit: head, branch: 'main' });
  noToken(t, s, JSON.stringify(res));
});

test('revert after the branch moved on (other files): onto the new head, keeping the newer change', async (t) => {
  const s = await setup(t);
  const later = await s.repo.commit({ 'mesh/other.yaml': 'a: 2\n' }, 'other change');
  await s.repo.push();
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'reverted', JSON.stringify(res));
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main^']), later);
  t.is(await s.show('main', 'mesh/reviews/vs.yaml'), V1.trim());
  t.is(await s.show('main', 'mesh/other.yaml'), 'a: 2');
});

test('a file the bad commit added is deleted by the revert', async (t) => {
  const s = await setup(t);
  const bad2 = await s.repo.commit({ 'mesh/reviews/dr.yaml': 'new: file\n' }, 'add dr');
  await s.repo.push();
  await new GitSource({ ...s.spec, auth: s.spec.auth }, s.stateDir).fetch();
  const res = await s.writeBack.apply(s.request({ badCommit: bad2, goodCommit: s.bad, paths: ['mesh/reviews/dr.yaml'] }));
  t.is(res.kind, 'reverted', JSON.stringify(res));
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'ls-tree', '-r', '--name-only', 'main']), 'README.md\nmesh/other.yaml\nmesh/reviews/vs.yaml');
});

test('conflict (the branch changed the same file since) → a rollback branch with the revert on the bad commit', async (t) => {
  const s = await setup(t);
  await s.repo.commit({ 'mesh/reviews/vs.yaml': 'route: {subset: v3}\n' }, 'v3');
  await s.repo.push();
  const mainBefore = await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main']);
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'branch', JSON.stringify(res));
  if (res.kind !== 'branch') return;
  t.is(res.branch, `meshcd/rollback/bookinfo-reviews-${s.bad.slice(0, 7)}`);
  t.regex(res.reason!, /^main changed mesh\/reviews\/vs\.yaml since [0-9a-f]{12}; the revert conflicts$/);
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main']), mainBefore);
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', res.branch]), res.commit);
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', `${res.branch}^`]), s.bad);
  t.is(await s.show(res.branch, 'mesh/reviews/vs.yaml'), V1.trim());
});

test('push refused (protected branch) → retried once after a fetch, then the rollback branch on the current head', async (t) => {
  const s = await setup(t);
  const hook = join(s.repo.bare, 'hooks', 'pre-receive');
  await writeFile(hook, '#!/bin/sh\nwhile read old new ref; do\n  if [ "$ref" = refs/heads/main ]; then echo "main is protected" >&2; exit 1; fi\ndone\nexit 0\n');
  await chmod(hook, 0o755);
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'branch', JSON.stringify(res));
  if (res.kind !== 'branch') return;
  t.regex(res.reason!, /push to refs\/heads\/main refused/);
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', `${res.branch}^`]), s.bad);
  t.is(await s.show(res.branch, 'mesh/reviews/vs.yaml'), V1.trim());
  t.is(s.lines.filter((l) => l.includes('refused') && l.includes('"attempt"')).length, 2);
  // mode: branch pushes the branch straight away.
  const direct = await s.writeBack.apply(s.request({ mode: 'branch' }));
  t.like(direct, { kind: 'branch', branch: res.branch });
  noToken(t, s, JSON.stringify(res));
});

test('non-fast-forward after a race (the branch moves during the push) → re-fetch and retry succeeds', async (t) => {
  const s = await setup(t);
  const hook = join(s.repo.bare, 'hooks', 'pre-receive');
  // On the first push only, another commit (to another file) lands on main while ours is being received.
  await writeFile(hook, [
    '#!/bin/sh',
    'cat >/dev/null',
    '[ -f "$GIT_DIR/raced" ] && exit 0',
    'touch "$GIT_DIR/raced"',
    'unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES',
    'old=$(git rev-parse refs/heads/main)',
    'blob=$(echo "b: 1" | git hash-object -w --stdin)',
    'tree=$( (git ls-tree $old | grep -v "	race.yaml$"; printf "100644 blob %s\\trace.yaml\\n" $blob) | git mktree)',
    'new=$(GIT_AUTHOR_NAME=r GIT_AUTHOR_EMAIL=r@x GIT_COMMITTER_NAME=r GIT_COMMITTER_EMAIL=r@x git commit-tree $tree -p $old -m race)',
    'git update-ref refs/heads/main $new $old',
    'exit 0',
    '',
  ].join('\n'));
  await chmod(hook, 0o755);
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'reverted', `${JSON.stringify(res)}\n${s.lines.join('')}`);
  t.is(await s.show('main', 'race.yaml'), 'b: 1');
  t.is(await s.show('main', 'mesh/reviews/vs.yaml'), V1.trim());
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'log', '-1', '--format=%s', 'main^']), 'race');
});

test('a wrong token fails without showing it; bad requests fail clearly', async (t) => {
  const s = await setup(t, { token: 'wrong-token-0000' });
  const res = await s.writeBack.apply(s.request());
  t.is(res.kind, 'failed');
  if (res.kind !== 'failed') return;
  t.regex(res.error, /^write-back to mesh \(http:\/\/127\.0\.0\.1:\d+\/mesh\.git\): fetch of main failed: authentication failed \(HTTP 401\)$/);
  t.false(res.error.includes('wrong-token-0000'));
  t.false(s.lines.join('').includes('wrong-token-0000'));
  t.like(await s.writeBack.apply(s.request({ source: 'nope' })), { kind: 'failed', error: 'write-back: source nope is not a Git source; there is no commit to revert', notGit: true });
  t.like(await s.writeBack.apply(s.request({ goodCommit: '0'.repeat(40) })), { kind: 'failed', error: `write-back to mesh (${s.spec.url}): commit ${'0'.repeat(40)} is not in the local clone` });
  t.like(await s.writeBack.apply(s.request({ paths: ['mesh/../etc/passwd'] })), { kind: 'failed', error: 'write-back to mesh: "mesh/../etc/passwd" is not a path relative to the repository root' });
  noToken(t, s);
});

test('a path the bad commit does not change (e.g. relative to the wrong folder) fails; it is never reported as reverted', async (t) => {
  const s = await setup(t);
  const before = await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main']);
  for (const paths of [['reviews/vs.yaml'], ['mesh/other.yaml']]) {
    const res = await s.writeBack.apply(s.request({ paths }));
    t.like(res, { kind: 'failed', error: `write-back to mesh (${s.spec.url}): ${s.bad.slice(0, 12)} does not change ${paths[0]} since ${s.good.slice(0, 12)}; nothing to revert` });
  }
  t.is(await gitCli(s.repo.root, ['--git-dir', s.repo.bare, 'rev-parse', 'main']), before, 'nothing pushed');
});

test('rollback branch names are valid refs', (t) => {
  t.is(rollbackBranch('bookinfo/reviews', 'abcdef0123456789'), 'meshcd/rollback/bookinfo-reviews-abcdef0');
  t.is(rollbackBranch('a b/..c~^:', 'abcdef0123456789'), 'meshcd/rollback/a_b-.c___-abcdef0');
  t.is(rollbackBranch(undefined, 'abcdef0123456789'), 'meshcd/rollback/rollout-abcdef0');
});
