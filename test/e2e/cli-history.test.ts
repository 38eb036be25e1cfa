import test from 'ava';
import { meshcd, TempRepo } from '../golden/diff/_repo.js';

const vs = (weight: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}
      weight: ${weight}
    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}
      weight: ${100 - weight}
`;

interface Entry {
  commit: string;
  subject: string;
  change: string;
  date: string;
  author: { name: string; email: string };
  diff: string;
  origin?: { file: string; line: number };
}

test('a resource changed in 3 of 5 commits is listed 3 times, newest first, with author, date and diff', (t) => {
  const repo = new TempRepo('meshcd-history-');
  t.teardown(() => repo.cleanup());
  const ids: string[] = [];
  repo.write('mesh/vs.yaml', vs(100));
  ids.push(repo.commit('add reviews'));
  repo.write('README.md', 'docs\n');
  ids.push(repo.commit('docs only'));
  repo.write('mesh/vs.yaml', vs(90));
  ids.push(repo.commit('canary 10%', 'Bo Route <bo@example.com>'));
  // Moving the resource to another file without changing it is not a change.
  repo.remove('mesh/vs.yaml');
  repo.write('mesh/routes/reviews.yaml', '# moved\n' + vs(90));
  ids.push(repo.commit('move reviews to routes/'));
  repo.write('mesh/routes/reviews.yaml', vs(50));
  ids.push(repo.commit('canary 50%'));

  const r = meshcd(['history', 'VirtualService/bookinfo/reviews', '--path', 'mesh', '-o', 'json'], repo.dir);
  t.is(r.stderr, '');
  t.is(r.code, 0);
  const out = JSON.parse(r.stdout) as { entries: Entry[]; walked: number };
  t.deepEqual(out.entries.map((e) => [e.commit, e.subject, e.change]), [
    [ids[4], 'canary 50%', 'changed'],
    [ids[2], 'canary 10%', 'changed'],
    [ids[0], 'add reviews', 'added'],
  ]);
  t.deepEqual(out.entries[1]!.author, { name: 'Bo Route', email: 'bo@example.com' });
  t.is(out.entries[2]!.date, '2026-01-01T13:00:00Z');
  t.deepEqual(out.entries[0]!.origin, { file: 'routes/reviews.yaml', line: 1 });
  t.regex(out.entries[0]!.diff, /-\s+weight: 90\n\+\s+weight: 50/);

  const text = meshcd(['history', 'virtualservice/bookinfo/reviews', '--path', 'mesh', '--max-count', '2'], repo.dir);
  t.is(text.code, 0);
  const heads = text.stdout.split('\n').filter((l) => /^[0-9a-f]{12}  /.test(l));
  t.deepEqual(heads.map((l) => l.slice(0, 12)), [ids[4]!.slice(0, 12), ids[2]!.slice(0, 12)]);
  t.regex(heads[1]!, /^\w{12}  2026-01-01T15:00:00Z  changed  Bo Route <bo@example.com>  canary 10%$/);
});

test('removal and re-adding are listed; --ref starts the walk elsewhere', (t) => {
  const repo = new TempRepo('meshcd-history-');
  t.teardown(() => repo.cleanup());
  repo.write('vs.yaml', vs(100));
  const a = repo.commit('add');
  repo.remove('vs.yaml');
  const b = repo.commit('remove');
  repo.write('vs.yaml', vs(80));
  const c = repo.commit('add again');
  const r = meshcd(['history', 'VirtualService/bookinfo/reviews', '-o', 'json'], repo.dir);
  const entries = (JSON.parse(r.stdout) as { entries: Entry[] }).entries;
  t.deepEqual(entries.map((e) => [e.commit, e.change]), [[c, 'added'], [b, 'removed'], [a, 'added']]);
  t.is(entries[1]!.origin?.file, 'vs.yaml');
  const older = meshcd(['history', 'VirtualService/bookinfo/reviews', '--ref', 'HEAD~1', '-o', 'json'], repo.dir);
  t.deepEqual((JSON.parse(older.stdout) as { entries: Entry[] }).entries.map((e) => e.commit), [b, a]);
});

test('a merge is listed only when it differs from every parent', (t) => {
  const repo = new TempRepo('meshcd-history-');
  t.teardown(() => repo.cleanup());
  repo.write('vs.yaml', vs(100));
  const a = repo.commit('add');
  repo.git('checkout', '-q', '-b', 'feature');
  repo.write('vs.yaml', vs(70));
  const f = repo.commit('feature: 30% canary');
  repo.git('checkout', '-q', 'main');
  repo.write('other.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: bookinfo}\nspec: {selector: {istio: ingress}}\n');
  repo.commit('main: gateway');
  repo.git('merge', '-q', '--no-ff', '-m', 'merge feature', 'feature');
  const r = meshcd(['history', 'VirtualService/bookinfo/reviews', '-o', 'json'], repo.dir);
  t.deepEqual((JSON.parse(r.stdout) as { entries: Entry[] }).entries.map((e) => e.commit), [f, a]);
});

test('bad input is one clear line on stderr and exit 2', (t) => {
  const repo = new TempRepo('meshcd-history-');
  t.teardown(() => repo.cleanup());
  repo.write('vs.yaml', vs(100));
  repo.commit('add');
  const cases: [string[], RegExp][] = [
    [['history', 'Deployment/default/x'], /"Deployment" is not a mesh kind/],
    [['history', 'VirtualService/reviews'], /expected KIND\/NAMESPACE\/NAME/],
    [['history', 'VirtualService/a/b', '--ref', 'nope'], /--ref: "nope" is not a branch, tag or commit in the repository at /],
    [['history', 'VirtualService/a/b', '--max-count', '0'], /--max-count: "0" is not a positive whole number/],
    [['history', 'VirtualService/a/b', '--path', '../x'], /--path \.\.\/x: must be a folder inside the repository/],
    [['history', 'VirtualService/a/b', '/nonexistent-meshcd-dir'], /\/nonexistent-meshcd-dir: no such folder/],
  ];
  for (const [args, re] of cases) {
    const r = meshcd(args, repo.dir);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  }
  const none = meshcd(['history', 'VirtualService/bookinfo/missing'], repo.dir);
  t.is(none.code, 0);
  t.regex(none.stdout, /no commit changed VirtualService\/bookinfo\/missing \(1 commit looked at\)/);
});

test('a name written with a YAML escape is still found', (t) => {
  const repo = new TempRepo('meshcd-history-');
  t.teardown(() => repo.cleanup());
  // Nothing else in the file spells the name: only parsing finds it.
  repo.write('vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: "canary\\x2dweb", namespace: bookinfo}\nspec: {hosts: [web.bookinfo.svc.cluster.local]}\n');
  const a = repo.commit('escaped name');
  repo.write('other.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: bookinfo}\nspec: {selector: {istio: ingress}}\n');
  repo.commit('unrelated');
  const r = meshcd(['history', 'VirtualService/bookinfo/canary-web', '-o', 'json'], repo.dir);
  t.deepEqual((JSON.parse(r.stdout) as { entries: Entry[] }).entries.map((e) => [e.commit, e.change]), [[a, 'added']]);
});
