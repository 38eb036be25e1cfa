// `meshcd diff`: what a change (a pull request, two refs, two folders) does to
// the mesh before it is merged. Exit codes as `argocd app diff`: 0 no change,
// 1 changes, 2 meshcd could not compute the diff (bad ref, unreadable repo).
// Validation errors in the head are reported, not turned into exit 2: CI gates
// on them with `meshcd validate` (or the workflow's fail-on input).

import type { Command } from 'commander';
import { join } from 'node:path';
import type { Diagnostic, Revision } from '../api/types.js';
import { isConfigPath, loadRevision, ParseCache } from '../config/load.js';
import { annotateUnreadable, diffConfigSets } from '../diff/resources.js';
import { envoyImpact } from '../diff/envoy.js';
import { hasChanges, makeReport, renderJson, renderMarkdown, renderText, type DiffReport, type DiffSide, type EnvoySection } from '../diff/report.js';
import { commitRevision, configPath, defaultBranch, GitError, mergeBase, normalizeSubPath, openRepo, resolveCommit, type LocalRepo } from '../git/repo.js';
import { readFolderRevision } from '../source/folder.js';
import { sortDiagnostics, validate } from '../validate/index.js';
import { DEFAULT_POLICY_DIR, loadPolicies, PolicyDirError, type CompiledPolicy } from '../validate/policies.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput } from './output.js';
import { loadTranslator } from './translator.js';

interface DiffOptions {
  base?: string;
  head?: string;
  path?: string;
  output: string;
  envoy: boolean;
  worktree?: boolean;
  policies: string[];
  defaultPolicies: boolean;
  linkBase?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('Show what a change does to the mesh: resources added/changed/removed, validation of the head, Envoy config per proxy')
    .argument('[repo-or-dirs...]', 'a Git repository (default .), or two config folders to compare')
    .option('--base <ref>', 'base commit/branch/tag (default: merge-base of HEAD with the default branch)')
    .option('--head <ref>', 'head commit/branch/tag (default: HEAD)')
    .option('--worktree', 'use the work tree as it is on disk (uncommitted and untracked files too) as the head; base defaults to HEAD')
    .option('--path <subdir>', 'config folder inside the repository (or inside both folders)')
    .option('-o, --output <format>', 'text|markdown|json', 'text')
    .option('--link-base <url>', 'markdown: link head files, URL prefix of the config folder (e.g. https://github.com/o/r/blob/<sha>/mesh)')
    .option('--no-envoy', 'skip the Envoy-level impact (listeners/routes/clusters per proxy)')
    .option('--policies <dir>', 'extra policy folder for validating the head (repeatable), as `meshcd validate`', collect, [])
    .option('--no-default-policies', 'do not apply the shipped baseline policies when validating the head')
    .addHelpText(
      'after',
      '\nExit codes (as argocd app diff): 0 no change, 1 changes, 2 error (bad ref, unreadable repository or folder).\n' +
        'Validation errors in the head are reported but do not change the exit code; gate on them with `meshcd validate`.',
    )
    .action(async (args: string[], opts: DiffOptions) => {
      const format = checkOutput(opts.output, ['text', 'markdown', 'json'] as const);
      // The head is validated exactly as `meshcd validate` would, so the PR comment and the SARIF agree.
      const dirs = [...(opts.defaultPolicies ? [DEFAULT_POLICY_DIR] : []), ...opts.policies];
      let policies;
      try {
        policies = await loadPolicies(dirs);
      } catch (err) {
        if (err instanceof PolicyDirError) throw new UserError(`--policies ${err.message}`);
        throw new UserError(`cannot read policies: ${(err as Error).message}`);
      }
      const sides = args.length === 2 ? await folderSides(args[0]!, args[1]!, opts) : await repoSides(args, opts);
      const report = await diffRevisions(sides.base, sides.head, { policies: policies.policies, policyDiagnostics: policies.diagnostics, envoy: opts.envoy });
      const text = format === 'json' ? renderJson(report) : format === 'markdown' ? renderMarkdown(report, { ...(opts.linkBase ? { linkBase: opts.linkBase } : {}) }) : renderText(report);
      process.stdout.write(text);
      process.exitCode = hasChanges(report) ? EXIT.FINDINGS : EXIT.OK;
    });
}

export interface Side {
  side: DiffSide;
  rev: Revision;
}

/**
 * The report of `meshcd diff` for two revisions: resource diffs, the head
 * validated as `meshcd validate` would (findings new in the head marked), and
 * the per-proxy Envoy impact. The admin API's diff route runs the same.
 */
export async function diffRevisions(base: Side, head: Side, opts: { policies: readonly CompiledPolicy[]; policyDiagnostics?: readonly Diagnostic[]; envoy: boolean }): Promise<DiffReport> {
  const cache = new ParseCache();
  const baseLoad = await loadRevision(base.rev, { cache });
  const headLoad = await loadRevision(head.rev, { cache });
  const diagnostics = sortDiagnostics([...(opts.policyDiagnostics ?? []), ...validate(headLoad, { policies: opts.policies })]);
  // The base's findings tell which of the head's are new in this change.
  const baseDiagnostics = validate(baseLoad, { policies: opts.policies });
  const resources = annotateUnreadable(diffConfigSets(baseLoad.config, headLoad.config), headLoad.diagnostics);
  let envoy: EnvoySection;
  if (!opts.envoy) envoy = { status: 'skipped', reason: 'disabled with --no-envoy' };
  else if (resources.length === 0) envoy = { status: 'skipped', reason: 'no resource changes' };
  else {
    const t = await loadTranslator();
    envoy = typeof t === 'string' ? { status: 'skipped', reason: t } : { status: 'computed', ...envoyImpact(baseLoad.config, headLoad.config, t) };
  }
  return makeReport(base.side, head.side, resources, diagnostics, envoy, baseDiagnostics);
}

async function folderSides(a: string, b: string, opts: DiffOptions): Promise<{ base: Side; head: Side }> {
  if (opts.base || opts.head || opts.worktree) throw new UserError('--base/--head/--worktree are about a Git repository; they cannot be used when comparing two folders');
  const sub = subPath(opts.path);
  const read = async (dir: string): Promise<Side> => {
    const full = sub ? join(dir, sub) : dir;
    try {
      const rev = await readFolderRevision(full);
      return { side: { label: full, revision: rev.id }, rev };
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  };
  return { base: await read(a), head: await read(b) };
}

function subPath(path: string | undefined): string {
  try {
    return normalizeSubPath(path);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

async function repoSides(args: string[], opts: DiffOptions): Promise<{ base: Side; head: Side }> {
  if (args.length > 2) throw new UserError(`diff takes one repository or two folders; got ${args.length} arguments`);
  const dir = args[0] ?? '.';
  try {
    const repo = await openRepo(dir);
    const sub = configPath(repo, opts.path);
    if (opts.worktree) return await worktreeSides(repo, dir, sub, opts);
    const headRef = opts.head ?? 'HEAD';
    const headOid = await resolveCommit(repo, headRef).catch(flag('--head'));
    let baseOid: string;
    let baseLabel: string;
    let baseRef: string;
    if (opts.base) {
      baseOid = await resolveCommit(repo, opts.base).catch(flag('--base'));
      baseLabel = baseRef = opts.base;
    } else {
      const db = await defaultBranch(repo);
      if (!db) throw new UserError(`no default branch (origin/HEAD, main or master) in ${dir}; name the base with --base REF`);
      const mb = await mergeBase(repo, db.oid, headOid);
      if (!mb) throw new UserError(`${db.name} and ${headRef} have no common ancestor in ${dir} (a shallow clone? fetch with full history); name the base with --base REF`);
      baseOid = mb;
      baseLabel = `merge-base of ${db.name} and ${headRef}`;
      baseRef = 'merge-base';
    }
    const base = await commitRevision(repo, baseOid, { path: sub, ref: baseRef });
    const head = await commitRevision(repo, headOid, { path: sub, ref: headRef });
    if (sub && !base.pathExists && !head.pathExists) throw new UserError(`--path ${sub}: no such folder in ${baseLabel} (${baseOid.slice(0, 12)}) nor in ${headRef} (${headOid.slice(0, 12)}) of ${dir}`);
    return { base: { side: { label: baseLabel, revision: base.id }, rev: base }, head: { side: { label: headRef, revision: head.id }, rev: head } };
  } catch (err) {
    if (err instanceof GitError) throw new UserError(err.message);
    throw err;
  }
}

/** Base: a commit (HEAD unless --base); head: the files on disk, as `git diff` without arguments. */
async function worktreeSides(repo: LocalRepo, dir: string, sub: string, opts: DiffOptions): Promise<{ base: Side; head: Side }> {
  if (opts.head) throw new UserError('--worktree is the head; it cannot be used with --head');
  if (!repo.workTree) throw new UserError(`--worktree: ${dir} is a bare repository (no work tree)`);
  const baseRef = opts.base ?? 'HEAD';
  const baseOid = await resolveCommit(repo, baseRef).catch(flag('--base'));
  const base = await commitRevision(repo, baseOid, { path: sub, ref: baseRef });
  let head: Revision;
  try {
    head = await readFolderRevision(sub ? join(repo.workTree, sub) : repo.workTree, { filter: (p) => isConfigPath(p) });
  } catch (err) {
    throw new UserError(`--worktree${sub ? ` --path ${sub}` : ''}: ${(err as Error).message}`);
  }
  return { base: { side: { label: baseRef, revision: base.id }, rev: base }, head: { side: { label: 'work tree', revision: head.id }, rev: head } };
}

function flag(name: string) {
  return (err: unknown): never => {
    if (err instanceof GitError) throw new UserError(`${name}: ${err.message}`);
    throw err;
  };
}

