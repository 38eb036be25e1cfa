// The commits that changed one resource, newest first. Each commit's config is
// loaded from the object store; parsed files are cached by blob id and whole
// results by config-tree id, so a commit that did not touch the config costs
// one tree read.

import type { AnyResource, Origin, ResourceKey, Revision } from '../api/types.js';
import { isConfigPath, loadRevision, ParseCache } from '../config/load.js';
import { decodeText, isRecord, parseConfigText } from '../config/parse.js';
import { yamlDiff, type ChangeKind } from '../diff/resources.js';
import { commitRevision, logCommits, type CommitInfo, type LocalRepo } from './repo.js';

/** Keeps every parsed blob: history walks back and forth over the same files. */
class KeepAllParseCache extends ParseCache {
  override retain(): void {}
}

export interface HistoryEntry {
  commit: string;
  author: { name: string; email: string };
  /** Author date, ISO 8601 UTC. */
  date: string;
  subject: string;
  change: ChangeKind;
  /** Where the resource is after this commit (before it, when removed). */
  origin?: Origin;
  /** Unified YAML diff against the commit's first parent. */
  diff: string;
}

export interface HistoryOptions {
  path?: string;
  /** Stop after this many entries. */
  maxCount?: number;
  /** Lines of context in each diff. */
  context?: number;
}

export interface HistoryResult {
  entries: HistoryEntry[];
  /** Commits looked at. */
  walked: number;
  /** True when the walk stopped at a commit whose parent is missing (shallow clone). */
  truncated: boolean;
}

export async function resourceHistory(repo: LocalRepo, start: string, key: ResourceKey, opts: HistoryOptions = {}): Promise<HistoryResult> {
  const commits = await logCommits(repo, start);
  const treeOf = new Map(commits.map((c) => [c.oid, c.tree]));
  const cache = new KeepAllParseCache();
  const byTree = new Map<string, Promise<AnyResource | undefined>>();
  const byCommit = new Map<string, Promise<State>>();
  let truncated = false;

  // Memoised per commit and per config tree: a parent is usually the next commit walked.
  const stateOf = (oid: string): Promise<State> => {
    let p = byCommit.get(oid);
    if (!p) {
      p = (async (): Promise<State> => {
        let rev;
        try {
          const tree = treeOf.get(oid);
          rev = await commitRevision(repo, oid, { ...(opts.path ? { path: opts.path } : {}), ...(tree ? { tree } : {}), ref: oid.slice(0, 12) });
        } catch {
          return MISSING; // parent not in this clone (shallow)
        }
        if (!rev.tree) return undefined;
        let t = byTree.get(rev.tree);
        if (!t) {
          t = candidates(rev).then((sub) => loadRevision(sub, { cache })).then((l) => l.config.byKey.get(key));
          byTree.set(rev.tree, t);
        }
        return t;
      })();
      byCommit.set(oid, p);
    }
    return p;
  };

  // Only files that could hold the resource (a document of its kind and name)
  // or change its namespace default (MeshConfig) are loaded per commit; each
  // blob is parsed once, and its documents go to the loader's cache.
  const [kind, , name] = key.split('/');
  const relevant = new Map<string, boolean>();
  const isRelevant = async (rev: Revision, path: string): Promise<boolean> => {
    const oid = rev.blobId(path)!;
    let r = relevant.get(oid);
    if (r === undefined) {
      const decoded = decodeText(path, await rev.read(path));
      if (decoded.text === undefined) r = false;
      // A name can only be hidden from a plain text search by an escape sequence
      // (names have no spaces, so folding cannot split them): skip parsing the rest.
      else if (!decoded.text.includes(name!) && !decoded.text.includes('MeshConfig') && !decoded.text.includes('\\')) r = false;
      else {
        const parsed = parseConfigText(path, decoded.text);
        cache.set(oid, { text: decoded.text, documents: parsed.documents, diagnostics: parsed.diagnostics });
        r = parsed.documents.some(({ value: v }) => isRecord(v) && (v.kind === 'MeshConfig' || (v.kind === kind && isRecord(v.metadata) && v.metadata.name === name)));
      }
      relevant.set(oid, r);
    }
    return r;
  };
  const candidates = async (rev: Revision): Promise<Revision> => {
    const paths: string[] = [];
    for (const p of rev.paths) {
      if (!isConfigPath(p)) continue;
      // Most blobs were seen in a newer commit: answer without an await.
      const known = relevant.get(rev.blobId(p)!);
      if (known ?? (await isRelevant(rev, p))) paths.push(p);
    }
    return { ...rev, paths };
  };

  const entries: HistoryEntry[] = [];
  let walked = 0;
  for (const c of commits) {
    walked++;
    const cur = await stateOf(c.oid);
    if (cur === MISSING) continue;
    const parents: (AnyResource | undefined)[] = [];
    for (const p of c.parents) {
      const s = await stateOf(p);
      if (s === MISSING) {
        truncated = true;
        continue;
      }
      parents.push(s);
    }
    if (c.parents.length > 0 && parents.length === 0) continue; // cannot tell what this commit changed
    const digest = cur?.digest;
    const first = parents[0];
    // A merge is listed only when it differs from every parent (e.g. a conflict
    // resolution); otherwise the commit on the merged branch is the one listed.
    const changed = parents.length === 0 ? cur !== undefined : parents.every((p) => p?.digest !== digest);
    if (!changed) continue;
    const change: ChangeKind = !first ? 'added' : !cur ? 'removed' : 'changed';
    entries.push({
      commit: c.oid,
      author: { name: c.author.name, email: c.author.email },
      date: new Date(c.author.timestamp * 1000).toISOString().replace('.000Z', 'Z'),
      subject: subjectOf(c),
      change,
      ...(cur ? { origin: cur.origin } : first ? { origin: first.origin } : {}),
      diff: yamlDiff(key, first?.raw, cur?.raw, opts.context ?? 2),
    });
    if (opts.maxCount !== undefined && entries.length >= opts.maxCount) break;
  }
  return { entries, walked, truncated };
}

const MISSING = Symbol('missing commit');
type State = AnyResource | undefined | typeof MISSING;

function subjectOf(c: CommitInfo): string {
  return c.message.split('\n')[0]!.trim();
}
