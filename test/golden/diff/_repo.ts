// Temp Git repositories built with the git CLI, with fixed identities and
// dates so commit ids (which appear in meshcd's output) are the same on every
// run and every machine. Shared by the diff golden and e2e tests.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const FIXTURES = resolve('test/fixtures/diff');
export const BIN = resolve('dist/src/cli/bin.js');

export class TempRepo {
  readonly dir: string;
  private tick = 0;
  constructor(prefix = 'meshcd-diff-', init = true) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    if (init) this.git('init', '-q', '-b', 'main');
  }

  private env(): NodeJS.ProcessEnv {
    // 2026-01-01T12:00:00Z plus one hour per commit.
    const date = `${1767268800 + this.tick * 3600} +0000`;
    return {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Ada Mesh',
      GIT_AUTHOR_EMAIL: 'ada@example.com',
      GIT_COMMITTER_NAME: 'Ada Mesh',
      GIT_COMMITTER_EMAIL: 'ada@example.com',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    };
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: this.env(), encoding: 'utf8' });
  }

  /** Copies a fixture folder's files into `sub` of the work tree. */
  copy(fixture: string, sub = ''): void {
    cpSync(join(FIXTURES, fixture), join(this.dir, sub), { recursive: true });
  }

  write(path: string, text: string): void {
    mkdirSync(dirname(join(this.dir, path)), { recursive: true });
    writeFileSync(join(this.dir, path), text);
  }

  remove(path: string): void {
    rmSync(join(this.dir, path));
  }

  commit(subject: string, author?: string): string {
    this.tick++;
    this.git('add', '-A');
    const extra = author ? [`--author=${author}`] : [];
    this.git('commit', '-q', '--allow-empty', '-m', subject, ...extra);
    return this.git('rev-parse', 'HEAD').trim();
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function meshcd(args: string[], cwd: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
