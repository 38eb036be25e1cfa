// Git write-back after a rollback, with isomorphic-git on the source's bare
// clone (`<stateDir>/sources/<name>.git`, the one src/source/git.ts keeps;
// never checked out). `revert` commits, on the branch's current head, the
// blobs of the good commit for the paths whose blobs are still the bad
// commit's, and pushes it with the source's credentials. If the branch has
// since changed those files too, that is a conflict and the revert goes to a
// branch instead. `branch` (and every fallback) pushes
// `meshcd/rollback/<rollout>-<shortsha>` for a person to merge. A rejected
// push (protected branch, or the branch moved during the push) is retried
// once after a fresh fetch, then falls back to the branch. Every message
// passes through redact(): no credential leaves this module.

import * as fs from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { HttpClient, TreeEntry } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import type { WriteBack, WriteBackRequest, WriteBackResult } from './contracts.js';
import type { SourceSpec } from '../source/spec.js';
import { readSecret, redact, safeUrl } from '../source/secret.js';
import { logger, type Logger } from '../util/log.js';

export const ROLLBACK_BRANCH_PREFIX = 'meshcd/rollback/';
const COMMIT_RE = /^[0-9a-f]{40}$/;

export interface GitWriteBackOptions {
  stateDir: string;
  /** The source's spec by name (its URL, branch and where its credentials are read from). */
  source(name: string): SourceSpec | undefined;
  /** Per HTTP request; default 60 s. */
  timeoutMs?: number;
  log?: Logger;
}

class WriteBackError extends Error {
  constructor(message: string, readonly rejected = false) {
    super(redact(message));
    this.name = 'WriteBackError';
  }
}

/** Outcome of restoring the paths on top of one commit. */
type Plan = { kind: 'commit'; tree: string } | { kind: 'unchanged' } | { kind: 'conflict'; paths: string[] };

type Blob = { oid: string; mode: string } | undefined;

/** `meshcd/rollback/<namespace>-<name>-<shortsha>`, with characters a ref cannot hold replaced. */
export function rollbackBranch(rollout: string | undefined, badCommit: string): string {
  const name = (rollout ?? 'rollout').replace(/\//g, '-').replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.+/g, '.').replace(/^[.-]+|[.]+$/g, '') || 'rollout';
  return `${ROLLBACK_BRANCH_PREFIX}${name}-${badCommit.slice(0, 7)}`;
}

export class GitWriteBack implements WriteBack {
  private readonly log: Logger;
  private readonly http: HttpClient;
  private readonly cache: object = {};

  constructor(private readonly opts: GitWriteBackOptions) {
    this.log = opts.log ?? logger('rollout');
    const timeoutMs = opts.timeoutMs ?? 60_000;
    this.http = { request: (req) => nodeHttp.request({ ...req, signal: AbortSignal.timeout(timeoutMs) }) };
  }

  async apply(req: WriteBackRequest): Promise<WriteBackResult> {
    try {
      return await this.run(req);
    } catch (err) {
      const error = err instanceof WriteBackError ? err.message : redact(`write-back to source ${req.source}: ${oneLine(err)}`);
      this.log.error({ source: req.source, rollout: req.rollout, badCommit: req.badCommit }, error);
      return { kind: 'failed', error };
    }
  }

  private async run(req: WriteBackRequest): Promise<WriteBackResult> {
    const spec = this.opts.source(req.source);
    if (!spec || spec.kind !== 'git' || !spec.url) return { kind: 'failed', error: `write-back: source ${req.source} is ${spec?.kind === 'dir' ? 'a folder' : 'not a Git source'}; there is no commit to revert`, notGit: true };
    for (const c of [req.badCommit, req.goodCommit]) if (!COMMIT_RE.test(c)) throw new WriteBackError(`write-back to ${req.source}: "${c}" is not a commit id`);
    if (!req.paths.length) throw new WriteBackError(`write-back to ${req.source}: no paths to revert`);
    const badPath = req.paths.find((p) => !p || p.startsWith('/') || p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..' || seg === '.git'));
    if (badPath !== undefined) throw new WriteBackError(`write-back to ${req.source}: "${badPath}" is not a path relative to the repository root`);
    const ctx = new Context(spec, join(this.opts.stateDir, 'sources', `${spec.name}.git`), this.http, this.cache);
    if (!fs.existsSync(join(ctx.gitdir, 'HEAD'))) throw new WriteBackError(`write-back to ${ctx.where}: no local clone at ${ctx.gitdir}`);
    for (const c of [req.badCommit, req.goodCommit]) {
      if (!(await ctx.hasCommit(c))) throw new WriteBackError(`write-back to ${ctx.where}: commit ${c} is not in the local clone`);
    }
    if (!(await ctx.changes(req))) throw new WriteBackError(`write-back to ${ctx.where}: ${req.badCommit.slice(0, 12)} does not change ${req.paths.join(', ')} since ${req.goodCommit.slice(0, 12)}; nothing to revert`);
    const branchMode = req.mode === 'branch' || COMMIT_RE.test(spec.ref);
    let reason: string | undefined = req.mode === 'branch' ? undefined : branchMode ? `the source follows commit ${spec.ref}, not a branch` : undefined;
    if (!branchMode) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const head = await ctx.fetchHead();
        const plan = await ctx.plan(head, req);
        if (plan.kind === 'unchanged') {
          this.log.info({ source: req.source, rollout: req.rollout, branch: spec.ref, commit: head }, 'write-back: the branch already has the good content; nothing to commit');
          return { kind: 'reverted', commit: head, branch: spec.ref };
        }
        if (plan.kind === 'conflict') {
          reason = `${spec.ref} changed ${plan.paths.join(', ')} since ${req.badCommit.slice(0, 12)}; the revert conflicts`;
          break;
        }
        const commit = await ctx.commit(plan.tree, head, req);
        try {
          await ctx.push(commit, `refs/heads/${spec.ref}`, false);
          this.log.info({ source: req.source, rollout: req.rollout, branch: spec.ref, commit }, 'write-back: revert committed');
          return { kind: 'reverted', commit, branch: spec.ref };
        } catch (err) {
          if (!(err instanceof WriteBackError && err.rejected)) throw err;
          reason = err.message;
          this.log.warn({ source: req.source, rollout: req.rollout, branch: spec.ref, attempt }, err.message);
        }
      }
    }
    // A branch with the revert: on the current head when that applies cleanly, else on the bad commit itself.
    const branch = rollbackBranch(req.rollout, req.badCommit);
    let commit: string | undefined;
    if (!COMMIT_RE.test(spec.ref)) {
      const head = await ctx.fetchHead();
      const plan = await ctx.plan(head, req);
      if (plan.kind === 'commit') commit = await ctx.commit(plan.tree, head, req);
    }
    if (!commit) {
      const plan = await ctx.plan(req.badCommit, req);
      if (plan.kind !== 'commit') throw new WriteBackError(`write-back to ${ctx.where}: ${req.badCommit.slice(0, 12)} does not change ${req.paths.join(', ')}; nothing to revert`);
      commit = await ctx.commit(plan.tree, req.badCommit, req);
    }
    await ctx.push(commit, `refs/heads/${branch}`, true);
    this.log.warn({ source: req.source, rollout: req.rollout, branch, commit, reason }, 'write-back: revert pushed to a branch; merge it to make Git state what runs');
    return { kind: 'branch', branch, commit, ...(reason ? { reason } : {}) };
  }
}

function oneLine(err: unknown): string {
  return (err as Error)?.message?.split('\n')[0] ?? String(err);
}

/** One write-back's view of the clone: fetch, plan, commit, push. */
class Context {
  readonly where: string;

  constructor(readonly spec: SourceSpec, readonly gitdir: string, private readonly http: HttpClient, private readonly cache: object) {
    this.where = `${spec.name} (${safeUrl(spec.url!)})`;
  }

  private async headers(): Promise<Record<string, string>> {
    const auth = this.spec.auth;
    if (!auth || (!auth.token && !auth.password)) return {};
    const secret = auth.token ? await readSecret(auth.token, `${this.spec.name}: token`) : await readSecret(auth.password!, `${this.spec.name}: password`);
    return { authorization: `Basic ${Buffer.from(`${auth.username ?? 'x-access-token'}:${secret}`).toString('base64')}` };
  }

  async hasCommit(oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  /** The branch's head on the server now (fetched into the clone). */
  async fetchHead(): Promise<string> {
    let res;
    try {
      res = await git.fetch({ fs, http: this.http, gitdir: this.gitdir, url: this.spec.url!, ref: this.spec.ref, singleBranch: true, tags: false, headers: await this.headers(), cache: this.cache });
    } catch (err) {
      throw new WriteBackError(`write-back to ${this.where}: fetch of ${this.spec.ref} failed: ${describeGitError(err)}`);
    }
    if (!res.fetchHead) throw new WriteBackError(`write-back to ${this.where}: branch ${this.spec.ref} not found`);
    return res.fetchHead;
  }

  /** The path's blob in a commit; undefined when the path is not there. An unreadable object throws (never taken for a deletion). */
  private async blobAt(commit: string, path: string): Promise<Blob> {
    const { commit: c } = await git.readCommit({ fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    let tree = c.tree;
    const segs = path.split('/');
    for (let i = 0; i < segs.length; i++) {
      const { tree: entries } = await git.readTree({ fs, gitdir: this.gitdir, oid: tree, cache: this.cache });
      const e = entries.find((x) => x.path === segs[i]);
      if (!e) return undefined;
      if (i === segs.length - 1) return e.type === 'blob' ? { oid: e.oid, mode: e.mode } : undefined;
      if (e.type !== 'tree') return undefined;
      tree = e.oid;
    }
    return undefined;
  }

  /** Whether the bad commit differs from the good one in any of the paths (a revert of nothing is a mistake, never a success). */
  async changes(req: WriteBackRequest): Promise<boolean> {
    for (const path of req.paths) {
      const [good, bad] = await Promise.all([this.blobAt(req.goodCommit, path), this.blobAt(req.badCommit, path)]);
      if (good?.oid !== bad?.oid) return true;
    }
    return false;
  }

  /**
   * The tree of `base` with each path set back to the good commit's blob,
   * where `base` still has the bad commit's blob. A path that `base` has
   * changed to something else is a conflict; one already good is left.
   */
  async plan(base: string, req: WriteBackRequest): Promise<Plan> {
    const changes = new Map<string, Blob>();
    const conflicts: string[] = [];
    for (const path of req.paths) {
      const [good, bad, now] = await Promise.all([this.blobAt(req.goodCommit, path), this.blobAt(req.badCommit, path), this.blobAt(base, path)]);
      if (now?.oid === good?.oid) continue;
      if (now?.oid === bad?.oid) changes.set(path, good);
      else conflicts.push(path);
    }
    if (conflicts.length) return { kind: 'conflict', paths: conflicts };
    if (!changes.size) return { kind: 'unchanged' };
    const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid: base, cache: this.cache });
    return { kind: 'commit', tree: (await this.rewrite(commit.tree, changes)) ?? (await git.writeTree({ fs, gitdir: this.gitdir, tree: [] })) };
  }

  /** Writes the tree with `changes` (path → blob, undefined = delete) applied; undefined when it ends up empty. */
  private async rewrite(treeOid: string | undefined, changes: Map<string, Blob>): Promise<string | undefined> {
    const entries: TreeEntry[] = treeOid ? (await git.readTree({ fs, gitdir: this.gitdir, oid: treeOid, cache: this.cache })).tree : [];
    const byName = new Map(entries.map((e) => [e.path, e]));
    const sub = new Map<string, Map<string, Blob>>();
    for (const [path, blob] of changes) {
      const slash = path.indexOf('/');
      if (slash < 0) {
        if (blob) byName.set(path, { path, oid: blob.oid, mode: blob.mode, type: 'blob' });
        else byName.delete(path);
        continue;
      }
      const dir = path.slice(0, slash);
      if (!sub.has(dir)) sub.set(dir, new Map());
      sub.get(dir)!.set(path.slice(slash + 1), blob);
    }
    for (const [dir, inner] of sub) {
      const existing = byName.get(dir);
      const oid = await this.rewrite(existing?.type === 'tree' ? existing.oid : undefined, inner);
      if (oid) byName.set(dir, { path: dir, oid, mode: '040000', type: 'tree' });
      else byName.delete(dir);
    }
    if (!byName.size) return undefined;
    return git.writeTree({ fs, gitdir: this.gitdir, tree: [...byName.values()] });
  }

  async commit(tree: string, parent: string, req: WriteBackRequest): Promise<string> {
    const when = { name: req.author.name, email: req.author.email, timestamp: Math.floor(req.now / 1000), timezoneOffset: 0 };
    const message = `${req.message.trim()}\n\nThis reverts commit ${req.badCommit} for ${req.paths.join(', ')},\nrestoring them as of ${req.goodCommit}.\n`;
    return git.commit({ fs, gitdir: this.gitdir, message, author: when, committer: when, tree, parent: [parent], noUpdateBranch: true, cache: this.cache });
  }

  /** Pushes `commit` to `remoteRef`. A refusal by the server or a non-fast-forward is `rejected`. */
  async push(commit: string, remoteRef: string, force: boolean): Promise<void> {
    // isomorphic-git pushes a local ref: one under meshcd's own namespace, never the source's branch.
    const local = `refs/meshcd/writeback/${commit}`;
    await git.writeRef({ fs, gitdir: this.gitdir, ref: local, value: commit, force: true });
    try {
      const res = await git.push({ fs, http: this.http, gitdir: this.gitdir, url: this.spec.url!, ref: local, remoteRef, force, headers: await this.headers(), cache: this.cache });
      const status = res.refs?.[remoteRef];
      if (!res.ok || (status && !status.ok)) {
        throw new WriteBackError(`write-back to ${this.where}: push to ${remoteRef} refused: ${res.error ?? status?.error ?? 'rejected'}`, true);
      }
    } catch (err) {
      if (err instanceof WriteBackError) throw err;
      const e = err as { code?: string; data?: { statusCode?: number; reason?: string } };
      const rejected = e.code === 'PushRejectedError' || e.code === 'GitPushError';
      throw new WriteBackError(`write-back to ${this.where}: push to ${remoteRef} ${rejected ? 'refused' : 'failed'}: ${describeGitError(err)}`, rejected);
    } finally {
      await git.deleteRef({ fs, gitdir: this.gitdir, ref: local }).catch(() => undefined);
    }
  }
}

function describeGitError(err: unknown): string {
  const e = err as { code?: string; data?: { statusCode?: number; statusMessage?: string; reason?: string }; cause?: { code?: string } };
  if (e.code === 'HttpError' && e.data?.statusCode) {
    const s = e.data.statusCode;
    return s === 401 || s === 403 ? `authentication failed (HTTP ${s})` : `HTTP ${s} ${e.data.statusMessage ?? ''}`.trim();
  }
  if (e.code === 'PushRejectedError') return `rejected (${e.data?.reason ?? 'not a fast-forward'})`;
  return oneLine(err);
}
