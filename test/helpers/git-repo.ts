// A bare repository served by test/helpers/git-server.ts plus a work clone to
// commit into with the git CLI (fixed identity; each commit gets a later date
// so ids are reproducible but distinct).

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gitCli } from './git-server.js';

export interface TestRepo {
  root: string;
  bare: string;
  work: string;
  /** Writes (string) or deletes (null) files, commits all, returns the commit id. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  push(opts?: { force?: boolean; ref?: string }): Promise<void>;
  git(...args: string[]): Promise<string>;
  head(): Promise<string>;
}

let clock = 0;

export async function makeRepo(root: string, name: string): Promise<TestRepo> {
  const bare = join(root, `${name}.git`);
  const work = join(root, `${name}-work`);
  await gitCli(root, ['init', '--bare', '-q', bare]);
  await gitCli(root, ['init', '-q', work]);
  await gitCli(work, ['remote', 'add', 'origin', bare]);
  const git = (...args: string[]) => {
    const t = `2026-01-01T00:00:00Z`;
    const date = new Date(Date.parse(t) + ++clock * 1000).toISOString();
    return gitCli(work, args, { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  };
  return {
    root,
    bare,
    work,
    git,
    async commit(files, message = 'change') {
      for (const [p, content] of Object.entries(files)) {
        const full = join(work, p);
        if (content === null) await rm(full, { force: true });
        else {
          await mkdir(dirname(full), { recursive: true });
          await writeFile(full, content);
        }
      }
      await git('add', '-A');
      await git('commit', '-q', '--allow-empty', '-m', message);
      return git('rev-parse', 'HEAD');
    },
    async push(opts = {}) {
      await git('push', '-q', ...(opts.force ? ['--force'] : []), 'origin', opts.ref ?? 'HEAD:refs/heads/main');
    },
    head: () => git('rev-parse', 'HEAD'),
  };
}

export async function tempDir(prefix = 'meshcd-git-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A minimal valid VirtualService + ServiceEntry pair in `ns`, named `name`. */
export function serviceYaml(name: string, ns = 'default', extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 80
    name: http
    protocol: HTTP
  endpoints:
  - address: 10.0.0.1
${extra}`;
}
