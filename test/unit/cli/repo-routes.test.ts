import test from 'ava';
import { join } from 'node:path';
import { AdminServer } from '../../../src/admin/server.js';
import { diffRevisions } from '../../../src/cli/diff.js';
import { registerRepoRoutes } from '../../../src/cli/repo-routes.js';
import { renderJson } from '../../../src/diff/report.js';
import { commitRevision, openRepo } from '../../../src/git/repo.js';
import type { SourceSpec } from '../../../src/source/spec.js';
import { makeRepo, serviceYaml, tempDir } from '../../helpers/git-repo.js';
import { gitCli } from '../../helpers/git-server.js';

const spec = (name: string, kind: 'git' | 'dir', path = 'mesh'): SourceSpec => ({ name, kind, ref: 'main', path, pollIntervalMs: 30_000, origin: 'test', ...(kind === 'git' ? { url: 'http://127.0.0.1:1/x.git' } : { dir: '/tmp' }) });

test('commits, one commit, a resource\'s history and a diff from a source\'s clone; errors are 4xx with the reason', async (t) => {
  const root = await tempDir('meshcd-repo-routes-');
  const repo = await makeRepo(root, 'platform');
  const first = await repo.commit({ 'mesh/a.yaml': serviceYaml('a', 'shop') }, 'add a');
  const second = await repo.commit({ 'mesh/a.yaml': serviceYaml('a', 'shop', '  - address: 10.0.0.2\n'), 'mesh/b.yaml': serviceYaml('b', 'shop') }, 'change a, add b\n\nwith a body');
  await repo.push();
  // The clone where serve keeps it: <state-dir>/sources/<name>.git.
  const state = join(root, 'state');
  await gitCli(root, ['clone', '-q', '--bare', repo.bare, join(state, 'sources', 'platform.git')]);
  const admin = new AdminServer();
  registerRepoRoutes(admin, { stateDir: state, sources: [spec('platform', 'git'), spec('local', 'dir')], policies: [] });
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const text = await res.text();
    return { status: res.status, text, json: (() => { try { return JSON.parse(text) as Record<string, unknown>; } catch { return undefined; } })() };
  };

  const list = await get('/api/v1/sources/platform/commits');
  t.is(list.status, 200);
  t.deepEqual((list.json!.commits as { commit: string }[]).map((c) => c.commit), [second, first]);
  t.like((list.json!.commits as unknown[])[0], { subject: 'change a, add b', body: 'with a body', author: { name: 'Test Author', email: 'author@example.com' }, parents: [first] });
  t.is(((await get('/api/v1/sources/platform/commits?limit=1')).json!.commits as unknown[]).length, 1);
  t.like((await get(`/api/v1/sources/platform/commits/${first.slice(0, 10)}`)).json, { commit: first, subject: 'add a' });
  t.like((await get('/api/v1/sources/platform/commits/main~1')).json, { commit: first });

  const history = await get('/api/v1/sources/platform/history?resource=ServiceEntry/shop/a');
  t.is(history.status, 200);
  t.deepEqual((history.json!.entries as { commit: string; change: string }[]).map((e) => [e.commit, e.change]), [[second, 'changed'], [first, 'added']]);

  // The diff is `meshcd diff -o json` for the same two commits, byte for byte.
  const diff = await get(`/api/v1/sources/platform/diff?base=${first}&head=${second}`);
  t.is(diff.status, 200);
  const local = await openRepo(join(state, 'sources', 'platform.git'));
  const rev = (oid: string) => commitRevision(local, oid, { path: 'mesh', ref: oid, source: 'platform' });
  const [b, h] = [await rev(first), await rev(second)];
  t.is(diff.text, renderJson(await diffRevisions({ side: { label: first, revision: b.id }, rev: b }, { side: { label: second, revision: h.id }, rev: h }, { policies: [], envoy: true })));
  t.like(diff.json, { counts: { added: 1, changed: 1, removed: 0 } });
  const asText = await get(`/api/v1/sources/platform/diff?base=${first}&head=${second}&output=text`);
  t.regex(asText.text, /ServiceEntry\/shop\/b/);

  const refused: [string, number, RegExp][] = [
    ['/api/v1/sources/nope/commits', 404, /unknown source "nope"/],
    ['/api/v1/sources/local/commits', 400, /source local is a folder: it has no commits/],
    ['/api/v1/sources/platform/commits/no-such-branch', 404, /commit:/],
    ['/api/v1/sources/platform/commits/..%2F..%2Fetc', 400, /is not a commit id or ref/],
    ['/api/v1/sources/platform/commits?limit=0', 400, /limit=0: expected a number from 1 to 500/],
    ['/api/v1/sources/platform/history', 400, /resource=KIND\/NAMESPACE\/NAME is required/],
    ['/api/v1/sources/platform/history?resource=Nope/a/b', 400, /not a mesh kind/],
    [`/api/v1/sources/platform/diff?base=${first}`, 400, /base=REF and head=REF are required/],
    [`/api/v1/sources/platform/diff?base=${first}&head=${second}&output=html`, 400, /expected json, text or markdown/],
  ];
  for (const [path, status, message] of refused) {
    const r = await get(path);
    t.is(r.status, status, path);
    t.regex(String(r.json?.error ?? r.text), message, path);
  }
});

test('a source whose clone is not there yet answers 503', async (t) => {
  const admin = new AdminServer();
  registerRepoRoutes(admin, { stateDir: await tempDir('meshcd-repo-routes-empty-'), sources: [spec('platform', 'git')], policies: [] });
  const port = await admin.listen(0);
  t.teardown(() => admin.close());
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/sources/platform/commits`);
  t.is(res.status, 503);
  t.regex(((await res.json()) as { error: string }).error, /no local clone yet/);
});
