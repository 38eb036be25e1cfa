// Golden outputs of `meshcd diff` for representative pull requests, made with
// the git CLI in a temp repo at test time. `UPDATE_GOLDEN=1` rewrites them.
// The Envoy section is left out here (--no-envoy) so these files change only
// when the diff itself does; the Envoy impact has its own e2e test. Baseline
// policies are left out too: they are the validate engineer's to tune.

import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FIXTURES, meshcd, TempRepo } from './_repo.js';
import { renderMarkdown, renderText, type DiffReport } from '../../../src/diff/report.js';

const GOLDEN = resolve('test/fixtures/diff/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Case {
  name: string;
  /** Changes made on the `pr` branch, from test/fixtures/diff/cases/<name>/. */
  change(repo: TempRepo): void;
  exit: number;
}

const cases: Case[] = [
  { name: 'add-virtualservice', change: (r) => r.copy('cases/add-virtualservice'), exit: 1 },
  { name: 'change-weight', change: (r) => r.copy('cases/change-weight'), exit: 1 },
  { name: 'remove-destinationrule', change: (r) => r.copy('cases/remove-destinationrule'), exit: 1 },
  // Validation errors in the head are shown; the exit code stays about changes (1), as argocd's.
  { name: 'invalid-head', change: (r) => r.copy('cases/invalid-head'), exit: 1 },
  { name: 'no-change', change: (r) => r.copy('cases/no-change'), exit: 0 },
];

function check(t: { is(a: unknown, b: unknown, m?: string): void; pass(m?: string): void }, file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (UPDATE || !existsSync(path)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    if (!UPDATE) throw new Error(`golden file ${file} was missing and has been written; review it and re-run`);
    t.pass();
    return;
  }
  t.is(actual, readFileSync(path, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 to accept)`);
}

for (const c of cases) {
  test(`diff golden: ${c.name}`, (t) => {
    const repo = new TempRepo();
    try {
      repo.copy('base');
      repo.commit('bookinfo: reviews and ratings');
      repo.git('checkout', '-q', '-b', 'pr');
      c.change(repo);
      repo.commit(`pr: ${c.name}`);
      // main moves on after the branch point: the merge-base, not main's tip, is the base.
      repo.git('checkout', '-q', 'main');
      repo.write('unrelated.yaml', 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: later, namespace: bookinfo}\nspec: {selector: {istio: ingressgateway}}\n');
      repo.commit('main: a later change that is not part of the PR');
      repo.git('checkout', '-q', 'pr');
      // One run of the CLI; text and markdown are rendered from its JSON report
      // (plain data, so exactly what the CLI would print) to keep the suite fast.
      const r = meshcd(['diff', '--no-envoy', '--no-default-policies', '-o', 'json'], repo.dir);
      t.is(r.stderr, '', 'no stderr');
      t.is(r.code, c.exit, 'exit code');
      check(t, `${c.name}.json`, r.stdout);
      const report = JSON.parse(r.stdout) as DiffReport;
      check(t, `${c.name}.txt`, renderText(report));
      check(t, `${c.name}.md`, renderMarkdown(report));
      if (c.name === 'change-weight') {
        for (const [format, render] of [['markdown', renderMarkdown], ['text', renderText]] as const) {
          const direct = meshcd(['diff', '--no-envoy', '--no-default-policies', '-o', format], repo.dir);
          t.is(direct.code, c.exit);
          t.is(direct.stdout, render(report), `${format} from the CLI equals the rendering of its JSON`);
        }
      }
    } finally {
      repo.cleanup();
    }
  });
}

test('diff golden: two folders', (t) => {
  // Relative folder names keep absolute temp paths out of the output.
  const r = meshcd(['diff', '--no-envoy', '--no-default-policies', 'base', 'cases/change-weight-folder'], FIXTURES);
  t.is(r.stderr, '');
  t.is(r.code, 1);
  check(t, 'two-folders.txt', r.stdout);
});
