// Local repository reading for diff/history: resolve refs (branches, tags,
// remote branches, full or short ids, `REF~N`, `REF^N`), find merge bases,
// and read a commit as a Revision straight from the object store.

import * as fs from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import git from 'isomorphic-git';
import type { Revision } from '../api/types.js';

/** A problem with the repository or a ref the user named; message names both. */
export class GitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitError';
  }
}

export interface LocalRepo {
  /** Work tree root (or the git dir of a bare repository), as the user named it. */
  dir: string;
  gitdir: string;
  /** Absolute path of the work tree's top folder; undefined for a bare repository. */
  workTree?: string;
  /** isomorphic-git's pack/object cache, shared by every call on this repo. */
  cache: object;
  /** Tree id → files below it (relative path, blob id). */
  trees: Map<string, readonly TreeFile[]>;
}

export interface TreeFile {
  path: string;
  oid: string;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Opens the repository containing `dir` (a work tree, a `.git` file of a worktree, or a bare repo). */
export async function openRepo(dir: string): Promise<LocalRepo> {
  const abs = resolve(dir);
  if (!(await isDir(abs))) throw new GitError(`${dir}: no such folder`);
  let root: string;
  try {
    root = await git.findRoot({ fs, filepath: abs });
  } catch {
    // Not inside a work tree: a bare repository has HEAD and objects/ at its top.
    if ((await isFile(join(abs, 'HEAD'))) && (await isDir(join(abs, 'objects')))) return makeRepo(dir, abs);
    throw new GitError(`${dir}: not a Git repository (no .git found here or above)`);
  }
  const dotgit = join(root, '.git');
  if (await isFile(dotgit)) {
    // Linked worktrees and submodules: `.git` is a file naming the real git dir.
    const m = /^gitdir:\s*(.+)\s*$/m.exec(await readFile(dotgit, 'utf8'));
    if (!m) throw new GitError(`${dotgit}: not a gitdir pointer`);
    const gd = resolve(root, m[1]!);
    // A linked worktree's objects and refs live in its common dir.
    const common = (await isFile(join(gd, 'commondir'))) ? resolve(gd, (await readFile(join(gd, 'commondir'), 'utf8')).trim()) : gd;
    return makeRepo(dir, common, root);
  }
  return makeRepo(dir, dotgit, root);
}

function makeRepo(dir: string, gitdir: string, workTree?: string): LocalRepo {
  return { dir, gitdir, ...(workTree ? { workTree } : {}), cache: {}, trees: new Map() };
}

function where(repo: LocalRepo): string {
  return repo.dir === '.' ? `the repository at ${resolve(repo.dir)}` : `repository ${repo.dir}`;
}

/**
 * The commit id a ref names: `HEAD`, a branch, tag (annotated tags peeled),
 * remote branch (`origin/main`), a full or abbreviated commit id, each
 * optionally followed by `~N`, `^` or `^N` (as git rev-parse).
 */
export async function resolveCommit(repo: LocalRepo, ref: string): Promise<string> {
  const m = /^(.*?)((?:[~^]\d*)*)$/.exec(ref.trim())!;
  const baseName = m[1]!;
  if (baseName === '') throw new GitError(`"${ref}" is not a branch, tag or commit in ${where(repo)}`);
  let oid = await resolveName(repo, baseName, ref);
  for (const step of m[2]!.matchAll(/([~^])(\d*)/g)) {
    const n = step[2] === '' ? 1 : Number(step[2]);
    if (step[1] === '~') {
      for (let i = 0; i < n; i++) oid = await parentOf(repo, oid, 0, ref);
    } else if (n > 0) {
      oid = await parentOf(repo, oid, n - 1, ref);
    }
  }
  // A parent named by a commit may be missing from a shallow clone.
  return m[2] ? peelToCommit(repo, oid, ref) : oid;
}

async function resolveName(repo: LocalRepo, name: string, full: string): Promise<string> {
  let oid: string | undefined;
  try {
    oid = await git.resolveRef({ fs, gitdir: repo.gitdir, ref: name });
  } catch {
    if (/^[0-9a-f]{4,40}$/i.test(name)) {
      try {
        oid = await git.expandOid({ fs, gitdir: repo.gitdir, oid: name.toLowerCase(), cache: repo.cache });
      } catch (err) {
        if ((err as { code?: string }).code === 'AmbiguousError') throw new GitError(`"${full}" is an ambiguous commit id prefix in ${where(repo)}`);
      }
    }
  }
  if (!oid) throw new GitError(`"${full}" is not a branch, tag or commit in ${where(repo)}`);
  return peelToCommit(repo, oid, full);
}

async function peelToCommit(repo: LocalRepo, oid: string, ref: string): Promise<string> {
  for (let i = 0; i < 10; i++) {
    let obj;
    try {
      obj = await git.readObject({ fs, gitdir: repo.gitdir, oid, cache: repo.cache, format: 'parsed' });
    } catch {
      throw new GitError(`"${ref}" names object ${oid.slice(0, 12)}, which is missing from ${where(repo)} (a shallow clone? fetch with full history)`);
    }
    if (obj.type === 'commit') return oid;
    if (obj.type === 'tag') {
      oid = (obj.object as { object: string }).object;
      continue;
    }
    throw new GitError(`"${ref}" names a ${obj.type}, not a commit, in ${where(repo)}`);
  }
  throw new GitError(`"${ref}": tag chain too long in ${where(repo)}`);
}

async function parentOf(repo: LocalRepo, oid: string, index: number, ref: string): Promise<string> {
  const c = await readCommitInfo(repo, oid).catch(() => undefined);
  const p = c?.parents[index];
  if (!p) throw new GitError(`"${ref}" goes past the history of ${where(repo)} (commit ${oid.slice(0, 12)} has ${c?.parents.length ?? 0} parent(s))`);
  return p;
}

/** True when `name` resolves to a commit. */
export async function refExists(repo: LocalRepo, name: string): Promise<boolean> {
  try {
    await resolveCommit(repo, name);
    return true;
  } catch {
    return false;
  }
}

/** The default branch: origin/HEAD, else main, else master (local or origin/). */
export async function defaultBranch(repo: LocalRepo): Promise<{ name: string; oid: string } | undefined> {
  for (const name of ['origin/HEAD', 'main', 'origin/main', 'master', 'origin/master']) {
    try {
      return { name, oid: await resolveCommit(repo, name) };
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

export async function mergeBase(repo: LocalRepo, a: string, b: string): Promise<string | undefined> {
  if (a === b) return a;
  const bases = (await git.findMergeBase({ fs, gitdir: repo.gitdir, oids: [a, b], cache: repo.cache })) as string[];
  return bases.slice().sort()[0];
}

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: string[];
  author: { name: string; email: string; timestamp: number; timezoneOffset: number };
  committer: { name: string; email: string; timestamp: number; timezoneOffset: number };
  message: string;
}

export async function readCommitInfo(repo: LocalRepo, oid: string): Promise<CommitInfo> {
  let commit;
  try {
    ({ commit } = await git.readCommit({ fs, gitdir: repo.gitdir, oid, cache: repo.cache }));
  } catch (err) {
    throw new GitError(`commit ${oid.slice(0, 12)} cannot be read from ${where(repo)}: ${(err as Error).message} (a shallow clone? fetch with full history)`);
  }
  return { oid, tree: commit.tree, parents: commit.parent, author: commit.author, committer: commit.committer, message: commit.message };
}

/** Commits reachable from `oid`, newest first (by committer date, as isomorphic-git's log). */
export async function logCommits(repo: LocalRepo, oid: string, depth?: number): Promise<CommitInfo[]> {
  const entries = await git.log({ fs, gitdir: repo.gitdir, ref: oid, cache: repo.cache, ...(depth ? { depth } : {}) });
  return entries.map((e) => ({ oid: e.oid, tree: e.commit.tree, parents: e.commit.parent, author: e.commit.author, committer: e.commit.committer, message: e.commit.message }));
}

/** Files below a tree, recursively, cached by tree id (unchanged sub-trees are never re-read). */
export async function listTree(repo: LocalRepo, treeOid: string): Promise<readonly TreeFile[]> {
  const hit = repo.trees.get(treeOid);
  if (hit) return hit;
  const { tree } = await git.readTree({ fs, gitdir: repo.gitdir, oid: treeOid, cache: repo.cache });
  const out: TreeFile[] = [];
  for (const e of tree) {
    if (e.type === 'blob' && e.mode !== '120000') out.push({ path: e.path, oid: e.oid });
    else if (e.type === 'tree') for (const f of await listTree(repo, e.oid)) out.push({ path: `${e.path}/${f.path}`, oid: f.oid });
    // Symlinks and submodules (type commit) are not config files.
  }
  repo.trees.set(treeOid, out);
  return out;
}

/** The tree id of `sub` inside `treeOid`, or undefined when it is absent. */
export async function subTree(repo: LocalRepo, treeOid: string, sub: string): Promise<string | undefined> {
  let oid = treeOid;
  for (const part of sub.split('/').filter((p) => p !== '' && p !== '.')) {
    const { tree } = await git.readTree({ fs, gitdir: repo.gitdir, oid, cache: repo.cache });
    const e = tree.find((x) => x.path === part);
    if (!e || e.type !== 'tree') return undefined;
    oid = e.oid;
  }
  return oid;
}

export interface CommitRevisionOptions {
  /** Sub-folder of the repository holding the config. */
  path?: string;
  /** The ref as the user named it, for the revision id (`main@sha1:…`). */
  ref?: string;
  /** Source name; the repository folder's name by default. */
  source?: string;
  /** The commit's tree id when already known (e.g. from a log), to skip reading the commit. */
  tree?: string;
}

export interface CommitRevision extends Revision {
  /** Whether `path` exists in this commit (an empty Revision otherwise). */
  pathExists: boolean;
  /** Tree id of the config root (sub-folder applied); equal ids mean equal content. */
  tree?: string;
}

/** A commit's files (below `path`) as a Revision, read from the object store. */
export async function commitRevision(repo: LocalRepo, commitOid: string, opts: CommitRevisionOptions = {}): Promise<CommitRevision> {
  const tree = opts.tree ?? (await readCommitInfo(repo, commitOid)).tree;
  const sub = normalizeSubPath(opts.path);
  const root = sub ? await subTree(repo, tree, sub) : tree;
  const files = root ? await listTree(repo, root) : [];
  const byPath = new Map(files.map((f) => [f.path, f.oid]));
  const ref = opts.ref ?? commitOid.slice(0, 12);
  return {
    source: opts.source ?? (basename(resolve(repo.dir)) || 'repo'),
    ref,
    commit: commitOid,
    id: `${ref}@sha1:${commitOid}`,
    paths: files.map((f) => f.path),
    pathExists: root !== undefined,
    ...(root ? { tree: root } : {}),
    async read(path: string) {
      const oid = byPath.get(path);
      if (!oid) throw new GitError(`${path}: not in commit ${commitOid.slice(0, 12)}`);
      const { blob } = await git.readBlob({ fs, gitdir: repo.gitdir, oid, cache: repo.cache });
      return blob;
    },
    blobId: (path: string) => byPath.get(path),
  };
}

/** `./a/b/` → `a/b`; refuses paths that climb out of the repository. */
export function normalizeSubPath(path: string | undefined): string {
  if (!path) return '';
  const parts = path.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || path.startsWith('/')) throw new GitError(`--path ${path}: must be a folder inside the repository, relative to its root`);
  return parts.join('/');
}

/**
 * The config folder inside the repository: `path` is relative to the folder
 * the user named, so `meshcd diff mesh` (inside a work tree) means `--path mesh`.
 */
export function configPath(repo: LocalRepo, path: string | undefined): string {
  const sub = normalizeSubPath(path);
  if (!repo.workTree) return sub;
  const named = relative(repo.workTree, resolve(repo.dir)).split(sep).join('/');
  return normalizeSubPath([named, sub].filter((p) => p !== '').join('/'));
}
