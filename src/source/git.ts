// A Git repository over HTTP(S) as a stream of Revisions, with
// isomorphic-git. The clone is bare, in `<state-dir>/sources/<name>.git`, and
// is never checked out: a revision lists the tree (subtrees reused by object
// id) and reads blobs lazily from the object store, so an unchanged file
// costs nothing and a new commit costs one incremental fetch.

import * as fs from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import type { Diagnostic, Revision } from '../api/types.js';
import { SourceError } from './folder.js';
import type { SourceSpec } from './spec.js';
import { describeSecret, readSecret, redact, safeUrl } from './secret.js';
import { checkCommitSignature, loadTrustedKeys } from './verify.js';
import { logger } from '../util/log.js';

const progressLog = logger('source');

/** isomorphic-git progress for long fetches (a first clone): a log line per phase, and at most every 2 s within one. */
function fetchProgress(source: string): (p: { phase: string; loaded: number; total?: number }) => void {
  let phase = '';
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase === phase && now - last < 2000) return;
    phase = p.phase;
    last = now;
    progressLog.info({ source, phase: p.phase, loaded: p.loaded, ...(p.total ? { total: p.total, percent: Math.floor((100 * p.loaded) / p.total) } : {}) }, 'fetching');
  };
}

export type FetchFailure = 'auth' | 'repo-not-found' | 'ref-missing' | 'network' | 'commit-missing' | 'other';

export class GitFetchError extends SourceError {
  constructor(message: string, readonly reason: FetchFailure) {
    super(redact(message));
    this.name = 'GitFetchError';
  }
}

/** What one fetch found. `diagnostics` reject the revision before it is loaded (signature, missing path). */
export interface SourceUpdate {
  revision: Revision;
  /** True when the commit differs from the previous fetch. */
  changed: boolean;
  diagnostics: Diagnostic[];
  /** Things worth reporting that are not errors: force-push, tag moved. */
  notices: string[];
}

const COMMIT_RE = /^[0-9a-f]{40}$/;

/** Where a Git source's bare clone lives (read by the admin's commit, history and diff routes too). */
export function clonePath(stateDir: string, source: string): string {
  return join(stateDir, 'sources', `${source}.git`);
}

const HTTP_TIMEOUT_MS = 120_000;

/** A ref advertisement larger than this is passed on as it is (no HEAD repair). */
const MAX_ADVERTISEMENT_BYTES = 16 * 1024 * 1024;

function pktLines(buf: Buffer): (Buffer | null)[] | undefined {
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < buf.length; ) {
    const len = parseInt(buf.subarray(i, i + 4).toString('latin1'), 16);
    if (Number.isNaN(len) || (len > 0 && len < 4) || i + Math.max(len, 4) > buf.length) return undefined;
    out.push(len === 0 ? null : buf.subarray(i + 4, i + len));
    i += len === 0 ? 4 : len;
  }
  return out;
}

function pkt(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'latin1'), body]);
}

/**
 * A smart-HTTP v1 ref advertisement without a HEAD line (the server's HEAD
 * names a missing branch) gets one pointing at `ref`'s commit as advertised.
 * isomorphic-git's fetch otherwise fails after downloading, looking up the
 * remote's default branch, which meshcd never uses: refs are resolved from
 * the advertisement, never from HEAD. Anything unexpected passes unchanged.
 */
export function repairDanglingHead(advertisement: Buffer, ref: string): Buffer {
  const lines = pktLines(advertisement);
  if (!lines) return advertisement;
  const firstRef = lines.findIndex((l, i) => l !== null && i > 0 && lines[i - 1] === null);
  if (firstRef < 0) return advertisement;
  const refs: { oid: string; name: string }[] = [];
  for (let i = firstRef; i < lines.length && lines[i] !== null; i++) {
    const text = lines[i]!.toString('latin1');
    const [oid, name] = text.split('\0')[0]!.trim().split(' ');
    if (oid && name) refs.push({ oid, name });
  }
  if (refs.length === 0 || refs.some((r) => r.name === 'HEAD')) return advertisement;
  // A commit pin names no ref: any advertised ref will do (HEAD is only used as a label).
  const target = refs.find((r) => r.name === `refs/heads/${ref}`) ?? refs.find((r) => r.name === `refs/tags/${ref}`) ?? refs[0]!;
  const first = lines[firstRef]!.toString('latin1');
  const nul = first.indexOf('\0');
  if (nul < 0) return advertisement;
  const caps = first.slice(nul + 1).replace(/\n$/, '');
  const out: Buffer[] = [];
  lines.forEach((l, i) => {
    if (i === firstRef) {
      out.push(pkt(`${target.oid} HEAD\0${caps}\n`), pkt(`${first.slice(0, nul)}\n`));
    } else out.push(l === null ? Buffer.from('0000', 'latin1') : pkt(l));
  });
  return Buffer.concat(out);
}

/** isomorphic-git HTTP client on Node's fetch: keep-alive connections and a timeout; `ref` names the ref a dangling HEAD is repaired to. */
function httpClient(timeoutMs: number, stop: AbortSignal, ref?: string): HttpClient {
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      let body: Uint8Array | undefined;
      if (req.body) {
        const chunks: Uint8Array[] = [];
        for await (const c of req.body) chunks.push(c);
        body = new Uint8Array(Buffer.concat(chunks));
      }
      const res = await fetch(req.url, {
        method: req.method ?? 'GET',
        headers: req.headers ?? {},
        ...(body ? { body: body as unknown as BodyInit } : {}),
        signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      const stream = res.body;
      if (ref && res.status === 200 && (req.method ?? 'GET') === 'GET' && /\/info\/refs\?service=git-upload-pack$/.test(req.url) && stream) {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          chunks.push(Buffer.from(chunk));
          size += chunk.byteLength;
        }
        const whole = Buffer.concat(chunks);
        const body = size <= MAX_ADVERTISEMENT_BYTES ? repairDanglingHead(whole, ref) : whole;
        async function* once(): AsyncGenerator<Uint8Array> {
          yield new Uint8Array(body);
        }
        return { url: res.url, method: 'GET', headers, body: once(), statusCode: res.status, statusMessage: res.statusText };
      }
      async function* iterate(): AsyncGenerator<Uint8Array> {
        if (!stream) return;
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) yield chunk;
      }
      return { url: res.url, method: req.method ?? 'GET', headers, body: iterate(), statusCode: res.status, statusMessage: res.statusText };
    },
  };
}

interface TreeEntry {
  path: string;
  oid: string;
}

export class GitSource {
  readonly gitdir: string;
  /** The commit of the last successful fetch (or the persisted one after a restart). */
  lastCommit: string | undefined;
  private readonly stopper = new AbortController();
  private readonly http: HttpClient;
  /** isomorphic-git's object cache (pack indexes), shared by all reads. */
  private cache: object = {};
  /** Flattened tree listings by tree oid, from the last revision built. */
  private trees = new Map<string, TreeEntry[]>();
  private lastRevision: SourceUpdate | undefined;
  private initialised = false;

  constructor(readonly spec: SourceSpec, stateDir: string, opts: { maxPacks?: number } = {}) {
    this.maxPacks = opts.maxPacks ?? GitSource.MAX_PACKS;
    this.http = httpClient(HTTP_TIMEOUT_MS, this.stopper.signal, spec.ref);
    if (spec.kind !== 'git' || !spec.url) throw new SourceError(`${spec.name}: not a git source`);
    this.gitdir = clonePath(stateDir, spec.name);
  }

  get url(): string {
    return safeUrl(this.spec.url!);
  }

  private get isCommitPin(): boolean {
    return COMMIT_RE.test(this.spec.ref);
  }

  private async init(): Promise<void> {
    if (this.initialised) return;
    await mkdir(this.gitdir, { recursive: true });
    if (!fs.existsSync(join(this.gitdir, 'HEAD'))) await git.init({ fs, gitdir: this.gitdir, bare: true, defaultBranch: 'meshcd' });
    await git.addRemote({ fs, gitdir: this.gitdir, remote: 'origin', url: this.spec.url!, force: true });
    this.initialised = true;
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const auth = this.spec.auth;
    if (!auth || (!auth.token && !auth.password)) return {};
    const secret = auth.token ? await readSecret(auth.token, `${this.spec.name}: token`) : await readSecret(auth.password!, `${this.spec.name}: password`);
    const user = auth.username ?? 'x-access-token';
    // Sent up front: saves the 401 round trip on every poll.
    return { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` };
  }

  private credentialSource(): string {
    const a = this.spec.auth;
    if (a?.token) return ` (token from ${describeSecret(a.token)})`;
    if (a?.password) return ` (user ${a.username}, password from ${describeSecret(a.password)})`;
    return ' (no credentials configured)';
  }

  private translate(err: unknown): GitFetchError {
    if (err instanceof GitFetchError) return err;
    if (err instanceof SourceError) return new GitFetchError(err.message, 'other');
    const e = err as { code?: string; data?: { statusCode?: number; statusMessage?: string; what?: string }; message?: string; cause?: { code?: string; message?: string } };
    const where = `${this.spec.name} (${this.url})`;
    if (e.code === 'HttpError' && e.data?.statusCode) {
      const s = e.data.statusCode;
      if (s === 401 || s === 403) return new GitFetchError(`${where}: authentication failed (HTTP ${s})${this.credentialSource()}`, 'auth');
      if (s === 404) return new GitFetchError(`${where}: repository not found (HTTP 404)`, 'repo-not-found');
      return new GitFetchError(`${where}: server answered HTTP ${s} ${e.data.statusMessage ?? ''}`.trim(), 'network');
    }
    if (e.code === 'NotFoundError') {
      return new GitFetchError(`${where}: ref "${this.spec.ref}" not found on the server (branch or tag deleted or renamed?)`, 'ref-missing');
    }
    const cause = e.cause?.code ?? (e.message?.includes('aborted') || (err as Error)?.name === 'TimeoutError' ? 'timeout' : undefined);
    if (cause || (err as Error)?.message === 'fetch failed') {
      return new GitFetchError(`${where}: cannot reach the server (${cause ?? e.cause?.message ?? 'network error'})`, 'network');
    }
    return new GitFetchError(`${where}: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`, 'other');
  }

  /**
   * Every fetch that brings new commits adds a pack file, and isomorphic-git
   * cannot repack; object lookups get slower with each pack. Past this many,
   * the clone is dropped and taken again (shallow, about a second).
   */
  static readonly MAX_PACKS = 100;
  private readonly maxPacks: number;

  private async compactIfNeeded(): Promise<void> {
    let packs = 0;
    try {
      packs = (await readdir(join(this.gitdir, 'objects', 'pack'))).filter((f) => f.endsWith('.pack')).length;
    } catch {
      return;
    }
    if (packs <= this.maxPacks) return;
    await this.reset();
  }

  /** Fetches the ref and returns the revision at its commit. Throws GitFetchError. */
  async fetch(): Promise<SourceUpdate> {
    let commit: string;
    let isTag = false;
    try {
      await this.compactIfNeeded();
      await this.init();
      const headers = await this.authHeaders();
      if (this.isCommitPin) {
        commit = this.spec.ref;
        if (!(await this.hasObject(commit))) {
          // A pinned commit needs everything reachable from branches and tags.
          await git.fetch({ fs, http: this.http, gitdir: this.gitdir, remote: 'origin', url: this.spec.url!, singleBranch: false, tags: true, headers, cache: this.cache, onProgress: fetchProgress(this.spec.name) });
          if (!(await this.hasObject(commit))) throw new GitFetchError(`${this.spec.name} (${this.url}): commit ${commit} is not reachable from any branch or tag`, 'commit-missing');
        }
      } else {
        // The first fetch is shallow: config needs the tree, not 5,000 commits of
        // history (isomorphic-git indexes packs in JS, so history is slow to take).
        // Later fetches are incremental from the local ref, and a shallow base
        // still lets isDescendent tell a fast-forward from a force-push.
        const first = !(await this.hasRef(`refs/heads/${this.spec.ref}`));
        const res = await git.fetch({ fs, http: this.http, gitdir: this.gitdir, remote: 'origin', url: this.spec.url!, ref: this.spec.ref, singleBranch: true, tags: false, headers, cache: this.cache, ...(first ? { depth: 1, onProgress: fetchProgress(this.spec.name) } : {}) });
        if (!res.fetchHead) throw new GitFetchError(`${this.spec.name} (${this.url}): the repository is empty`, 'ref-missing');
        isTag = (res.fetchHeadDescription ?? '').startsWith('tag');
        commit = await this.peel(res.fetchHead);
        // A local ref under the same short name makes the next fetch send it as a "have".
        await git.writeRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${this.spec.ref}`, value: commit, force: true });
      }
    } catch (err) {
      throw this.translate(err);
    }
    const prev = this.lastCommit;
    if (prev === commit && this.lastRevision) return { ...this.lastRevision, changed: false, notices: [] };
    const notices: string[] = [];
    if (prev && prev !== commit) {
      if (isTag) notices.push(`tag ${this.spec.ref} moved from ${prev} to ${commit}`);
      else if (!this.isCommitPin && !(await this.isAncestor(prev, commit))) {
        notices.push(`force-push on ${this.spec.ref}: ${commit} does not descend from the previously fetched ${prev}`);
      }
    }
    const update = await this.revisionAt(commit);
    update.notices.push(...notices);
    return update;
  }

  private async hasObject(oid: string): Promise<boolean> {
    try {
      await git.readObject({ fs, gitdir: this.gitdir, oid, format: 'deflated', cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  private async hasRef(ref: string): Promise<boolean> {
    try {
      await git.resolveRef({ fs, gitdir: this.gitdir, ref });
      return true;
    } catch {
      return false;
    }
  }

  private async isAncestor(ancestor: string, oid: string): Promise<boolean> {
    try {
      return await git.isDescendent({ fs, gitdir: this.gitdir, oid, ancestor, depth: -1, cache: this.cache });
    } catch {
      // The old commit is gone from the store (e.g. state dir replaced): nothing to compare.
      return true;
    }
  }

  /** An annotated tag → the commit it points at. */
  private async peel(oid: string): Promise<string> {
    for (let i = 0; i < 10; i++) {
      const obj = await git.readObject({ fs, gitdir: this.gitdir, oid, cache: this.cache });
      if (obj.type !== 'tag') return oid;
      oid = (obj.object as { object: string }).object;
    }
    return oid;
  }

  /** The revision at a commit already in the local store (also used after a restart). */
  async revisionAt(commit: string): Promise<SourceUpdate> {
    await this.init();
    const diagnostics: Diagnostic[] = [];
    let rc;
    try {
      rc = await git.readCommit({ fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    } catch {
      throw new GitFetchError(`${this.spec.name}: commit ${commit} is not in the local store`, 'commit-missing');
    }
    if (this.spec.verify) {
      const keys = await loadTrustedKeys(this.spec.verify.keysFile);
      const d = await checkCommitSignature(commit, rc.commit.gpgsig, rc.payload, keys);
      if (d) diagnostics.push({ ...d, origin: { file: '(commit)', line: 1, source: this.spec.name } });
    }
    let treeOid: string | undefined = rc.commit.tree;
    for (const seg of this.spec.path ? this.spec.path.split('/') : []) {
      const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid: treeOid!, cache: this.cache });
      const e = tree.find((t) => t.path === seg && t.type === 'tree');
      treeOid = e?.oid;
      if (!treeOid) break;
    }
    const next = new Map<string, TreeEntry[]>();
    let files: TreeEntry[] = [];
    if (!treeOid) {
      diagnostics.push({ code: 'MCD3007', severity: 'error', message: `folder "${this.spec.path}" does not exist in commit ${commit}`, origin: { file: this.spec.path, line: 1, source: this.spec.name } });
    } else {
      files = await this.listTree(treeOid, next);
    }
    this.trees = next;
    const blobs = new Map(files.map((f) => [f.path, f.oid]));
    const gitdir = this.gitdir;
    const cache = this.cache;
    const name = this.spec.name;
    const id = this.isCommitPin ? `sha1:${commit}` : `${this.spec.ref}@sha1:${commit}`;
    const revision: Revision = {
      source: name,
      ref: this.spec.ref,
      commit,
      id,
      paths: files.map((f) => f.path),
      async read(path: string) {
        const oid = blobs.get(path);
        if (!oid) throw new SourceError(`${path}: not in ${name} revision ${commit.slice(0, 12)}`);
        const { blob } = await git.readBlob({ fs, gitdir, oid, cache });
        return blob;
      },
      blobId: (path: string) => blobs.get(path),
    };
    const update: SourceUpdate = { revision, changed: commit !== this.lastCommit, diagnostics, notices: [] };
    this.lastCommit = commit;
    this.lastRevision = update;
    return update;
  }

  /** All blobs below a tree, paths relative to it; unchanged subtrees come from the previous listing. */
  private async listTree(oid: string, next: Map<string, TreeEntry[]>): Promise<TreeEntry[]> {
    const known = next.get(oid) ?? this.trees.get(oid);
    if (known) {
      next.set(oid, known);
      return known;
    }
    const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.cache });
    const out: TreeEntry[] = [];
    for (const e of tree) {
      if (e.type === 'blob' && e.mode !== '120000') out.push({ path: e.path, oid: e.oid });
      else if (e.type === 'tree') for (const sub of await this.listTree(e.oid, next)) out.push({ path: `${e.path}/${sub.path}`, oid: sub.oid });
      // Submodules (commit entries) and symlinks are not config.
    }
    next.set(oid, out);
    return out;
  }

  /** Aborts requests in flight (shutdown); the source is not used afterwards. */
  close(): void {
    this.stopper.abort();
  }

  /** Removes the local clone (e.g. when the URL changed). */
  async reset(): Promise<void> {
    await rm(this.gitdir, { recursive: true, force: true });
    this.initialised = false;
    this.trees.clear();
    this.cache = {};
  }
}
