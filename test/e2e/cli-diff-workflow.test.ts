// Runs the reusable workflow's own shell steps (validate, diff, gate) and its
// comment script against a real pull-request-shaped repository: a clone of an
// "origin" with the PR branch checked out. GitHub's API is replaced by an
// in-memory list of comments, to prove the job keeps ONE comment up to date.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { BIN, TempRepo } from '../golden/diff/_repo.js';

interface Step {
  name?: string;
  id?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
  uses?: string;
}
const steps = (parse(readFileSync('.github/workflows/meshcd-pr.yml', 'utf8')) as { jobs: { meshcd: { steps: Step[] } } }).jobs.meshcd.steps;
const step = (id: string) => steps.find((s) => s.id === id || s.name?.startsWith(id))!;

function runStep(s: Step, cwd: string, env: Record<string, string>, bin: string): { code: number; out: Record<string, string>; stdout: string } {
  const output = join(bin, `out-${Math.random().toString(36).slice(2)}`);
  writeFileSync(output, '');
  const r = spawnSync('bash', ['-e', '-c', s.run!], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: join(bin, 'summary.md'), ...env },
  });
  const out = Object.fromEntries(readFileSync(output, 'utf8').split('\n').filter(Boolean).map((l) => l.split('=', 2) as [string, string]));
  return { code: r.status ?? -1, out, stdout: r.stdout + r.stderr };
}

test('validate → diff → one comment, updated on the next push; gate follows fail-on', async (t) => {
  const origin = new TempRepo('meshcd-wf-origin-');
  const pr = new TempRepo('meshcd-wf-pr-', false);
  const bin = mkdtempSync(join(tmpdir(), 'meshcd-wf-bin-'));
  t.teardown(() => {
    origin.cleanup();
    pr.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });
  // `meshcd` on PATH is this build.
  writeFileSync(join(bin, 'meshcd'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'meshcd'), 0o755);

  origin.copy('base', 'mesh');
  origin.commit('base');
  pr.git('clone', '-q', origin.dir, '.');
  pr.git('checkout', '-q', '-b', 'feature');
  pr.copy('cases/change-weight', 'mesh');
  pr.commit('50/50');

  const env = { CONFIG_PATH: 'mesh', POLICIES: '', BASE_REF: 'main', FAIL_ON: 'errors', HEAD_SHA: 'abc123', REPO_URL: 'https://github.example/o/r' };
  const v = runStep(step('validate'), pr.dir, env, bin);
  t.is(v.code, 0, v.stdout);
  t.is(v.out.errors, 'false');
  const sarif = JSON.parse(readFileSync(join(pr.dir, 'meshcd.sarif'), 'utf8')) as { version: string };
  t.is(sarif.version, '2.1.0');

  const d = runStep(step('diff'), pr.dir, env, bin);
  t.is(d.code, 0, d.stdout);
  t.is(d.out.changes, 'true');
  const md = readFileSync(join(pr.dir, 'meshcd-diff.md'), 'utf8');
  t.true(md.startsWith('<!-- meshcd-diff -->'));
  t.regex(md, /VirtualService\/bookinfo\/reviews/);
  t.true(md.includes('<a href="https://github.example/o/r/blob/abc123/mesh/virtual-services.yaml#L1">virtual-services.yaml:1</a>'));
  t.is(readFileSync(join(bin, 'summary.md'), 'utf8'), md);

  // The comment script, with GitHub's API as an in-memory list.
  const comments: { id: number; body: string; user: { type: string } }[] = [{ id: 1, body: 'LGTM', user: { type: 'User' } }];
  const github = {
    paginate: async (fn: (a: unknown) => Promise<{ data: unknown[] }>, args: unknown) => (await fn(args)).data,
    rest: {
      issues: {
        listComments: async () => ({ data: comments.map((c) => ({ ...c })) }),
        updateComment: async (a: { comment_id: number; body: string }) => void (comments.find((c) => c.id === a.comment_id)!.body = a.body),
        createComment: async (a: { body: string }) => void comments.push({ id: comments.length + 1, body: a.body, user: { type: 'Bot' } }),
      },
    },
  };
  const context = { repo: { owner: 'o', repo: 'r' }, payload: { pull_request: { number: 7 } } };
  const script = step('Create or update').with!.script as string;
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...a: string[]) => (...v: unknown[]) => Promise<void>;
  const cwd = process.cwd();
  const runComment = async () => {
    process.chdir(pr.dir);
    try {
      await new AsyncFunction('github', 'context', 'require', script)(github, context, createRequire(resolve('package.json')));
    } finally {
      process.chdir(cwd);
    }
  };
  await runComment();
  t.is(comments.length, 2);
  // Next push: the PR goes invalid; the same comment is updated.
  pr.copy('cases/invalid-head', 'mesh');
  pr.commit('v3 subset');
  const v2 = runStep(step('validate'), pr.dir, env, bin);
  t.is(v2.out.errors, 'true');
  const d2 = runStep(step('diff'), pr.dir, env, bin);
  t.is(d2.code, 0, d2.stdout);
  t.is(d2.out.changes, 'true');
  await runComment();
  t.is(comments.length, 2);
  t.regex(comments[1]!.body, /❌ failed/);

  const gate = (FAIL_ON: string, ERRORS: string, CHANGES: string) => runStep(step('Gate'), pr.dir, { FAIL_ON, ERRORS, CHANGES }, bin).code;
  t.is(gate('errors', 'true', 'true'), 1);
  t.is(gate('errors', 'false', 'true'), 0);
  t.is(gate('changes', 'false', 'true'), 1);
  t.is(gate('changes', 'false', 'false'), 0);
  t.is(gate('never', 'true', 'true'), 0);
});
