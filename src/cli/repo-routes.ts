// The Git sources' local clones over the admin API, read-only, running the
// same code as `meshcd history` and `meshcd diff` (so the dashboard shows
// what the CLI prints):
//   GET /api/v1/sources/:name/commits?limit=N          newest first from the fetched ref (default 50, at most 500)
//   GET /api/v1/sources/:name/commits/:ref             one commit (id, parents, author, date, subject, body)
//   GET /api/v1/sources/:name/history?resource=KIND/NS/NAME&limit=N
//   GET /api/v1/sources/:name/diff?base=REF&head=REF&output=json|text|markdown
// A shallow first clone holds only what was fetched since: older commits are
// reported as missing, never fetched by these routes. Diffs run one at a
// time and are kept by commit pair (commits are immutable).
// `serve` registers these; imports cli/diff, cli/history, git/, source/ (clone path).

import { json, text, type AdminRequest, type AdminResponse, type AdminServer } from '../admin/server.js';
import { resourceHistory } from '../git/history.js';
import { commitRevision, GitError, logCommits, openRepo, readCommitInfo, resolveCommit, type CommitInfo, type LocalRepo } from '../git/repo.js';
import { renderJson, renderMarkdown, renderText } from '../diff/report.js';
import { clonePath } from '../source/git.js';
import type { SourceSpec } from '../source/spec.js';
import type { CompiledPolicy } from '../validate/policies.js';
import { diffRevisions } from './diff.js';
import { parseResourceKey } from './history.js';
import { UserError } from './exit.js';

export interface RepoRoutesOptions {
  stateDir: string;
  sources: readonly SourceSpec[];
  /** The policies serve validates with (the diff validates its head with them too). */
  policies: readonly CompiledPolicy[];
}

export interface CommitView {
  commit: string;
  parents: string[];
  author: { name: string; email: string };
  /** Author date, ISO 8601 UTC. */
  date: string;
  subject: string;
  body: string;
}

const REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/~^-]{0,199}$/;
const MAX_COMMITS = 500;
const MAX_DIFFS_KEPT = 16;

export function commitView(c: CommitInfo): CommitView {
  const [subject = '', ...rest] = c.message.replace(/\n+$/, '').split('\n');
  return { commit: c.oid, parents: c.parents, author: { name: c.author.name, email: c.author.email }, date: new Date(c.author.timestamp * 1000).toISOString(), subject, body: rest.join('\n').trim() };
}

function limitOf(req: AdminRequest, dflt: number): number | AdminResponse {
  const raw = req.query.get('limit');
  if (raw === null) return dflt;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_COMMITS) return json(400, { error: `limit=${raw.slice(0, 20)}: expected a number from 1 to ${MAX_COMMITS}` });
  return Number(raw);
}

export function registerRepoRoutes(admin: AdminServer, opts: RepoRoutesOptions): void {
  const specs = new Map(opts.sources.map((s) => [s.name, s]));
  const diffs = new Map<string, AdminResponse>();
  let diffQueue: Promise<unknown> = Promise.resolve();

  /** The source's clone, or the refusal. */
  const repoOf = async (req: AdminRequest): Promise<{ repo: LocalRepo; spec: SourceSpec } | AdminResponse> => {
    const name = req.params.name!;
    const spec = specs.get(name);
    if (!spec) return json(404, { error: `unknown source "${name.slice(0, 100)}"` });
    if (spec.kind !== 'git') return json(400, { error: `source ${name} is a folder: it has no commits` });
    try {
      return { repo: await openRepo(clonePath(opts.stateDir, name)), spec };
    } catch (err) {
      return json(503, { error: `source ${name}: no local clone yet (${(err as Error).message})` });
    }
  };
  const resolve = async (repo: LocalRepo, param: string, what: string, spec?: SourceSpec): Promise<string | AdminResponse> => {
    if (!REF_RE.test(param)) return json(400, { error: `${what}: "${param.slice(0, 60)}" is not a commit id or ref (letters, digits and . _ / ~ ^ -, at most 200)` });
    try {
      return await resolveCommit(repo, param);
    } catch (err) {
      // Pasted by a person: name the source, not the clone's path under the state dir, and say what the clone holds.
      const message = spec ? (err as Error).message.split(`repository ${repo.dir}`).join(`source ${spec.name}`) : (err as Error).message;
      const hint = spec && err instanceof GitError && /is not a branch, tag or commit/.test(message) ? ` (meshcd's clone holds what it fetched of ${spec.ref} since its first fetch)` : '';
      return json(404, { error: `${what}: ${message}${hint}` });
    }
  };
  const guard = async (fn: () => Promise<AdminResponse>): Promise<AdminResponse> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GitError || err instanceof UserError) return json(404, { error: err.message });
      throw err;
    }
  };

  admin.route('GET', '/api/v1/sources/:name/commits', (req) =>
    guard(async () => {
      const r = await repoOf(req);
      if ('status' in r) return r;
      const limit = limitOf(req, 50);
      if (typeof limit !== 'number') return limit;
      const tip = await resolve(r.repo, req.query.get('ref') ?? r.spec.ref, 'ref');
      if (typeof tip !== 'string') return tip;
      const commits = await logCommits(r.repo, tip, limit);
      return json(200, { source: r.spec.name, ref: req.query.get('ref') ?? r.spec.ref, commits: commits.map(commitView) });
    }),
  );

  admin.route('GET', '/api/v1/sources/:name/commits/:ref', (req) =>
    guard(async () => {
      const r = await repoOf(req);
      if ('status' in r) return r;
      const oid = await resolve(r.repo, req.params.ref!, 'commit', r.spec);
      if (typeof oid !== 'string') return oid;
      return json(200, commitView(await readCommitInfo(r.repo, oid)));
    }),
  );

  admin.route('GET', '/api/v1/sources/:name/history', (req) =>
    guard(async () => {
      const r = await repoOf(req);
      if ('status' in r) return r;
      const resource = req.query.get('resource');
      if (!resource) return json(400, { error: 'query parameter resource=KIND/NAMESPACE/NAME is required' });
      let key;
      try {
        key = parseResourceKey(resource.slice(0, 400));
      } catch (err) {
        return json(400, { error: (err as Error).message });
      }
      const limit = limitOf(req, 20);
      if (typeof limit !== 'number') return limit;
      const tip = await resolve(r.repo, req.query.get('ref') ?? r.spec.ref, 'ref');
      if (typeof tip !== 'string') return tip;
      const result = await resourceHistory(r.repo, tip, key, { maxCount: limit, ...(r.spec.path ? { path: r.spec.path } : {}) });
      return json(200, { resource: key, ...result });
    }),
  );

  admin.route('GET', '/api/v1/sources/:name/diff', (req) =>
    guard(async () => {
      const r = await repoOf(req);
      if ('status' in r) return r;
      const output = req.query.get('output') ?? 'json';
      if (output !== 'json' && output !== 'text' && output !== 'markdown') return json(400, { error: `output=${output.slice(0, 20)}: expected json, text or markdown` });
      const baseRef = req.query.get('base');
      const headRef = req.query.get('head');
      if (!baseRef || !headRef) return json(400, { error: 'query parameters base=REF and head=REF are required' });
      const base = await resolve(r.repo, baseRef, 'base', r.spec);
      if (typeof base !== 'string') return base;
      const head = await resolve(r.repo, headRef, 'head', r.spec);
      if (typeof head !== 'string') return head;
      // The refs too: the report names each side as it was asked for (`main~1`, a commit id).
      const key = `${r.spec.name}\0${base}\0${head}\0${baseRef}\0${headRef}\0${output}`;
      const kept = diffs.get(key);
      if (kept) return kept;
      // One diff at a time: each loads, validates and translates two revisions.
      const run = diffQueue.then(async () => {
        const sub = { source: r.spec.name, ...(r.spec.path ? { path: r.spec.path } : {}) };
        const baseRev = await commitRevision(r.repo, base, { ...sub, ref: baseRef });
        const headRev = await commitRevision(r.repo, head, { ...sub, ref: headRef });
        const report = await diffRevisions({ side: { label: baseRef, revision: baseRev.id }, rev: baseRev }, { side: { label: headRef, revision: headRev.id }, rev: headRev }, { policies: opts.policies, envoy: true });
        if (output === 'json') return { ...json(200, {}), body: renderJson(report) };
        return text(200, output === 'text' ? renderText(report) : renderMarkdown(report));
      });
      diffQueue = run.catch(() => undefined);
      const out = await run;
      diffs.set(key, out);
      if (diffs.size > MAX_DIFFS_KEPT) diffs.delete(diffs.keys().next().value!);
      return out;
    }),
  );
}
