import test from 'ava';
import { FIXTURES, meshcd, TempRepo } from '../golden/diff/_repo.js';

const gw = (name: string) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ${name}, namespace: bookinfo}\nspec: {selector: {istio: ingressgateway}}\n`;

interface Json {
  base: { revision: string };
  head: { revision: string };
  resources: { key: string; change: string; head?: { file: string } }[];
}

function repoWithHistory(): { repo: TempRepo; c1: string; c2: string } {
  const repo = new TempRepo();
  repo.copy('base', 'mesh');
  repo.write('README.md', 'config\n');
  const c1 = repo.commit('base');
  repo.write('mesh/gw.yaml', gw('public'));
  repo.write('not-config/gw.yaml', gw('elsewhere'));
  const c2 = repo.commit('add gateway');
  return { repo, c1, c2 };
}

test('refs: short ids, REF~N, annotated tags, branches; --path limits the config to a folder', (t) => {
  const { repo, c1, c2 } = repoWithHistory();
  t.teardown(() => repo.cleanup());
  repo.git('tag', '-a', 'v1', '-m', 'release 1', c1);
  for (const [base, head] of [['v1', c2.slice(0, 7)], ['HEAD~1', 'main'], [c1, 'HEAD']] as const) {
    const r = meshcd(['diff', '--no-envoy', '--path', 'mesh', '--base', base, '--head', head, '-o', 'json'], repo.dir);
    t.is(r.stderr, '', `${base}..${head}`);
    t.is(r.code, 1);
    const j = JSON.parse(r.stdout) as Json;
    t.is(j.base.revision, `${base}@sha1:${c1}`);
    t.is(j.head.revision, `${head}@sha1:${c2}`);
    t.deepEqual(j.resources.map((x) => [x.change, x.key, x.head?.file]), [['added', 'Gateway/bookinfo/public', 'gw.yaml']]);
  }
  // Naming a folder inside the work tree is the same as --path.
  const named = meshcd(['diff', '--no-envoy', '--base', 'v1', '-o', 'json', 'mesh'], repo.dir);
  t.deepEqual((JSON.parse(named.stdout) as Json).resources.map((x) => x.key), ['Gateway/bookinfo/public']);
  const inside = meshcd(['history', 'Gateway/bookinfo/public', '-o', 'json'], `${repo.dir}/mesh`);
  t.deepEqual((JSON.parse(inside.stdout) as { entries: { commit: string; origin: { file: string } }[] }).entries.map((e) => [e.commit, e.origin.file]), [[c2, 'gw.yaml']]);
  // Without --path both gateways count.
  const all = meshcd(['diff', '--no-envoy', '--base', 'v1', '-o', 'json'], repo.dir);
  t.deepEqual((JSON.parse(all.stdout) as Json).resources.map((x) => x.key), ['Gateway/bookinfo/elsewhere', 'Gateway/bookinfo/public']);
  // Same commit on both sides: exit 0.
  const same = meshcd(['diff', '--no-envoy', '--base', 'main', '--head', 'HEAD'], repo.dir);
  t.is(same.code, 0);
  t.regex(same.stdout, /no changes/);
});

test('default base: merge-base with origin/HEAD in a clone, after git gc packed everything', (t) => {
  const { repo } = repoWithHistory();
  const clone = new TempRepo('meshcd-diff-clone-', false);
  t.teardown(() => {
    repo.cleanup();
    clone.cleanup();
  });
  clone.git('clone', '-q', repo.dir, '.');
  clone.git('checkout', '-q', '-b', 'feature');
  clone.write('mesh/gw2.yaml', gw('second'));
  const head = clone.commit('second gateway');
  clone.git('gc', '-q');
  const r = meshcd(['diff', '--no-envoy', '-o', 'json', '.'], clone.dir);
  t.is(r.stderr, '');
  t.is(r.code, 1);
  const j = JSON.parse(r.stdout) as Json;
  t.is(j.head.revision, `HEAD@sha1:${head}`);
  t.deepEqual(j.resources.map((x) => x.key), ['Gateway/bookinfo/second']);
  const text = meshcd(['diff', '--no-envoy'], clone.dir);
  t.regex(text.stdout, /^base: merge-base of origin\/HEAD and HEAD/);
});

test('a linked worktree reads the shared object store', (t) => {
  const { repo } = repoWithHistory();
  const wt = `${repo.dir}-wt`;
  t.teardown(() => {
    repo.git('worktree', 'remove', '--force', wt);
    repo.cleanup();
  });
  repo.git('worktree', 'add', '-q', '-b', 'wt', wt);
  const r = meshcd(['diff', '--no-envoy', '--base', 'HEAD~1', '-o', 'json', wt], repo.dir);
  t.is(r.stderr, '');
  t.is(r.code, 1);
});

test('errors name the ref, flag and repository; exit 2 with one line', (t) => {
  const { repo } = repoWithHistory();
  const lonely = new TempRepo('meshcd-diff-lonely-');
  lonely.git('checkout', '-q', '-b', 'trunk');
  lonely.write('a.yaml', gw('a'));
  lonely.commit('first');
  t.teardown(() => {
    repo.cleanup();
    lonely.cleanup();
  });
  const cases: [string[], string, RegExp][] = [
    [['diff', '--base', 'no-such-branch'], repo.dir, /^error: --base: "no-such-branch" is not a branch, tag or commit in the repository at \/.*meshcd-diff-/],
    [['diff', '--head', 'HEAD~9'], repo.dir, /^error: --head: "HEAD~9" goes past the history/],
    [['diff', '--base', 'HEAD', '--path', 'nowhere'], repo.dir, /^error: --path nowhere: no such folder in HEAD/],
    [['diff', '--path', '/etc', '--base', 'HEAD'], repo.dir, /^error: --path \/etc: must be a folder inside the repository/],
    [['diff', '--base', 'main', 'base', 'cases/change-weight'], FIXTURES, /^error: --base\/--head\/--worktree are about a Git repository/],
    [['diff', 'base', 'no-such-folder'], FIXTURES, /^error: no-such-folder: no such folder/],
    [['diff', '--path', 'sub', 'base', 'cases/change-weight'], FIXTURES, /^error: base\/sub: no such folder/],
    [['diff', '-o', 'html'], repo.dir, /^error: --output: "html" is not one of text, markdown, json/],
    [['diff'], lonely.dir, /^error: no default branch \(origin\/HEAD, main or master\) in \.; name the base with --base REF/],
    [['diff', '--base', 'HEAD'], '/', /^error: \.: not a Git repository|^error: the repository/],
  ];
  for (const [args, cwd, re] of cases) {
    const r = meshcd(args, cwd);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line`);
    t.is(r.stdout, '');
  }
});

test('--worktree compares the files on disk (uncommitted and untracked) with HEAD or --base', (t) => {
  const { repo, c1 } = repoWithHistory();
  t.teardown(() => repo.cleanup());
  const clean = meshcd(['diff', '--no-envoy', '--worktree', '--path', 'mesh'], repo.dir);
  t.is(clean.code, 0, clean.stderr);
  repo.write('mesh/new.yaml', gw('untracked'));
  repo.remove('mesh/gw.yaml');
  const r = meshcd(['diff', '--no-envoy', '--worktree', '--path', 'mesh', '-o', 'json'], repo.dir);
  t.is(r.code, 1, r.stderr);
  const j = JSON.parse(r.stdout) as Json;
  t.regex(j.head.revision, /^dir@sha256:/);
  t.deepEqual(j.resources.map((x) => [x.change, x.key]), [['removed', 'Gateway/bookinfo/public'], ['added', 'Gateway/bookinfo/untracked']]);
  const vsBase = meshcd(['diff', '--no-envoy', '--worktree', '--path', 'mesh', '--base', c1, '-o', 'json'], repo.dir);
  t.deepEqual((JSON.parse(vsBase.stdout) as Json).resources.map((x) => x.key), ['Gateway/bookinfo/untracked']);
  const bad = meshcd(['diff', '--worktree', '--head', 'HEAD'], repo.dir);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--worktree is the head; it cannot be used with --head/);
});

test('a shallow clone: a base beyond its history is a clear error, not a crash', (t) => {
  const { repo } = repoWithHistory();
  const shallow = new TempRepo('meshcd-diff-shallow-', false);
  t.teardown(() => {
    repo.cleanup();
    shallow.cleanup();
  });
  shallow.git('clone', '-q', '--depth', '1', `file://${repo.dir}`, '.');
  const r = meshcd(['diff', '--no-envoy', '--base', 'HEAD~1'], shallow.dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error: --base: "HEAD~1" names object \w{12}, which is missing from the repository at .*\(a shallow clone\? fetch with full history\)\n$/);
  const h = meshcd(['history', 'Gateway/bookinfo/public', '--path', 'mesh'], shallow.dir);
  t.is(h.code, 0);
  t.regex(h.stdout, /history stops at a commit whose parent is not in this clone/);
});
