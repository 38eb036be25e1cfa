// `meshcd history KIND/NAMESPACE/NAME [REPO_DIR]`: the commits that changed
// one resource (added, changed, removed), newest first, with a short diff.

import type { Command } from 'commander';
import { MESH_KINDS, CLUSTER_SCOPED_KINDS, type MeshKind } from '../api/istio.js';
import { resourceKey, type ResourceKey } from '../api/types.js';
import { fmtOrigin } from '../config/load.js';
import { resourceHistory, type HistoryResult } from '../git/history.js';
import { configPath, GitError, openRepo, resolveCommit } from '../git/repo.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';

interface HistoryOptions {
  path?: string;
  ref: string;
  maxCount?: string;
  output: string;
}

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('List the commits that added, changed or removed one resource, newest first, with a short diff')
    .argument('<resource>', 'KIND/NAMESPACE/NAME, e.g. VirtualService/bookinfo/reviews (KIND/NAME for MeshConfig)')
    .argument('[repo]', 'Git repository', '.')
    .option('--path <subdir>', 'config folder inside the repository')
    .option('--ref <ref>', 'where to start walking back from', 'HEAD')
    .option('-n, --max-count <n>', 'list at most N commits')
    .option('-o, --output <format>', 'text|json|yaml', 'text')
    .addHelpText('after', '\nExit codes: 0 listed (or none found), 2 error (bad resource name, ref or repository).')
    .action(async (resource: string, dir: string, opts: HistoryOptions) => {
      const format = checkOutput(opts.output, ['text', 'json', 'yaml'] as const);
      const key = parseResourceKey(resource);
      const maxCount = opts.maxCount === undefined ? undefined : parseCount(opts.maxCount);
      let result: HistoryResult;
      try {
        const repo = await openRepo(dir);
        const path = configPath(repo, opts.path);
        const start = await resolveCommit(repo, opts.ref).catch((err: unknown) => {
          throw err instanceof GitError ? new GitError(`--ref: ${err.message}`) : err;
        });
        result = await resourceHistory(repo, start, key, { ...(path ? { path } : {}), ...(maxCount !== undefined ? { maxCount } : {}) });
      } catch (err) {
        if (err instanceof GitError) throw new UserError(err.message);
        throw err;
      }
      if (format !== 'text') printStructured(format, { resource: key, ...result });
      else process.stdout.write(renderHistoryText(key, result));
      process.exitCode = EXIT.OK;
    });
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--max-count: "${v}" is not a positive whole number`);
  return n;
}

/** `VirtualService/bookinfo/reviews` (kind matched case-insensitively) → its ResourceKey. */
export function parseResourceKey(text: string): ResourceKey {
  const parts = text.split('/');
  const kind = MESH_KINDS.find((k) => k.toLowerCase() === parts[0]?.toLowerCase());
  if (!kind) throw new UserError(`${text}: "${parts[0]}" is not a mesh kind (one of ${MESH_KINDS.join(', ')})`);
  if (CLUSTER_SCOPED_KINDS.has(kind as MeshKind)) {
    const name = parts.length === 2 ? parts[1] : parts.length === 3 && parts[1] === '' ? parts[2] : undefined;
    if (!name) throw new UserError(`${text}: ${kind} is mesh-wide; write ${kind}/NAME`);
    return resourceKey(kind, '', name);
  }
  if (parts.length !== 3 || parts.some((p) => p === '')) throw new UserError(`${text}: expected KIND/NAMESPACE/NAME, e.g. VirtualService/bookinfo/reviews`);
  return resourceKey(kind, parts[1]!, parts[2]!);
}

const MAX_DIFF_LINES = 30;

export function renderHistoryText(key: ResourceKey, r: HistoryResult): string {
  const out: string[] = [];
  if (r.entries.length === 0) out.push(`no commit changed ${key} (${r.walked} commit${r.walked === 1 ? '' : 's'} looked at)`);
  for (const e of r.entries) {
    out.push(`${e.commit.slice(0, 12)}  ${e.date}  ${e.change.padEnd(7)}  ${e.author.name} <${e.author.email}>  ${e.subject}`);
    if (e.origin) out.push(`  at ${fmtOrigin(e.origin)}`);
    // Skip the ---/+++ headers: the key is already known; keep the hunks.
    const lines = e.diff.replace(/\n$/, '').split('\n').filter((l) => !l.startsWith('--- ') && !l.startsWith('+++ '));
    for (const l of lines.slice(0, MAX_DIFF_LINES)) out.push(`  ${l}`);
    if (lines.length > MAX_DIFF_LINES) out.push(`  … ${lines.length - MAX_DIFF_LINES} more lines (see --output json)`);
    out.push('');
  }
  if (r.truncated) out.push('(history stops at a commit whose parent is not in this clone; fetch full history to see more)');
  return out.join('\n').replace(/\n*$/, '\n');
}
