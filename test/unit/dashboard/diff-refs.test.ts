// The Diff page lets a person paste a commit id or ref for either side; the
// server resolves it with the same code as the diff (src/cli/repo-routes.ts)
// and says clearly why a pasted value names no commit — naming the source,
// never the clone's path under the state dir.

import test from 'ava';
import { join } from 'node:path';
import { AdminServer } from '../../../src/admin/server.js';
import { registerRepoRoutes } from '../../../src/cli/repo-routes.js';
import type { SourceSpec } from '../../../src/source/spec.js';
import { makeRepo, serviceYaml, tempDir } from '../../helpers/git-repo.js';
import { gitCli } from '../../helpers/git-server.js';

test('pasted refs (main~1, a short id, a tag) resolve; an unknown one is a 404 naming the source and what its clone holds; junk is a 400', async (t) => {
  const root = await tempDir('meshcd-dash-refs-');
  const repo = await makeRepo(root, 'platform');
  const first = await repo.commit({ 'mesh/a.yaml': serviceYaml('a', 'shop') }, 'add a');
  const second = await repo.commit({ 'mesh/b.yaml': serviceYaml('b', 'shop') }, 'add b');
  await repo.git('tag', 'v1.0', first);
  await repo.push();
  await repo.push({ ref: 'refs/tags/v1.0' });
  const state = join(root, 'state');
  const clone = join(state, 'sources', 'platform.git');
  await gitCli(root, ['clone', '-q', '--bare', repo.bare, clone]);
  const admin = new AdminServer();
  const spec: SourceSpec = { name: 'platform', kind: 'git', url: 'http://127.0.0.1:1/platform.git', ref: 'main', path: 'mesh', pollIntervalMs: 30_000, origin: 'test' };
  registerRepoRoutes(admin, { stateDir: state, sources: [spec], policies: [] });
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  for (const [ref, commit] of [['main~1', first], [second.slice(0, 8), second], ['v1.0', first], ['main', second]] as const) {
    const r = await get(`/api/v1/sources/platform/commits/${encodeURIComponent(ref)}`);
    t.is(r.status, 200, ref);
    t.is(r.body.commit, commit, ref);
  }
  // The same two commits asked for by id, then by ref: each report names its sides as asked (a kept report is not reused under other names).
  t.like((await get(`/api/v1/sources/platform/diff?base=${first}&head=${second}`)).body, { base: { label: first }, head: { label: second } });
  const diff = await get(`/api/v1/sources/platform/diff?base=${encodeURIComponent('main~1')}&head=main`);
  t.is(diff.status, 200);
  t.like(diff.body, { base: { label: 'main~1' }, head: { label: 'main' }, counts: { added: 1 } });

  const unknown = await get('/api/v1/sources/platform/diff?base=main~1&head=no-such-branch');
  t.is(unknown.status, 404);
  t.is(unknown.body.error, `head: "no-such-branch" is not a branch, tag or commit in source platform (meshcd's clone holds what it fetched of main since its first fetch)`);
  t.false(String(unknown.body.error).includes(state), 'the state dir is not in the error');
  const tooFar = await get('/api/v1/sources/platform/commits/main~5');
  t.is(tooFar.status, 404);
  t.regex(String(tooFar.body.error), /^commit: "main~5" goes past the history of source platform/);
  const junk = await get(`/api/v1/sources/platform/diff?base=${encodeURIComponent('main; rm -rf /')}&head=main`);
  t.is(junk.status, 400);
  t.regex(String(junk.body.error), /^base: "main; rm -rf \/" is not a commit id or ref/);
});
