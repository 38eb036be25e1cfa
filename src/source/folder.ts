// A folder on disk as a Revision: every file below it (skipping dot-folders
// and node_modules), its revision id a sha256 digest of paths and contents.
// Watching the folder for changes (chokidar) lives beside this in watch code.

import * as crypto from 'node:crypto';
import { readdirSync, readFileSync, statSync, type Dirent, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Revision } from '../api/types.js';

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

function listFiles(root: string, sync: boolean): Promise<string[]> | string[] {
  const out: string[] = [];
  const add = (dir: string, entries: Dirent[]): string[] => {
    const dirs: string[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) dirs.push(full);
      else if (e.isFile()) out.push(relative(root, full).split(sep).join('/'));
    }
    return dirs;
  };
  if (sync) {
    const walk = (dir: string): void => add(dir, readdirSync(dir, { withFileTypes: true })).forEach(walk);
    walk(root);
    return out.sort();
  }
  const walk = async (dir: string): Promise<void> => {
    for (const d of add(dir, await readdir(dir, { withFileTypes: true }))) await walk(d);
  };
  return walk(root).then(() => out.sort());
}

export interface FolderRevisionOptions {
  name?: string;
  /** Only files accepted by this filter are part of the revision. */
  filter?: (path: string) => boolean;
  /** What the last read of this folder found: unchanged files are not read and hashed again. */
  index?: FolderIndex;
  /**
   * Read with synchronous calls: for a one-shot command with nothing else to
   * do meanwhile (`meshcd validate`), where thousands of small files read
   * through the thread pool cost several times more (four pool round trips
   * each).
   */
  sync?: boolean;
}

const { createHash } = crypto;
/** A file's blob id: sha256 in hex (one call where Node has crypto.hash, 20.12 and later). */
const sha256Hex: (bytes: Uint8Array) => string =
  typeof crypto.hash === 'function' ? (bytes) => crypto.hash('sha256', bytes, 'hex') : (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A file is trusted unchanged by its stat only when it was last modified this long before the read (Git's "racy" rule). */
const RACY_MS = 2000;

/**
 * Per file, the stat and content of the last read of a folder. A file whose
 * size, mtime, ctime and inode are the same, and that was not modified in
 * the last two seconds before that read (a second write within the file
 * system's timestamp resolution would not show), is taken as it was.
 */
export class FolderIndex {
  private files = new Map<string, { size: number; mtimeMs: number; ctimeMs: number; ino: number; id: string; bytes: Uint8Array }>();
  /** Files read and hashed by the last read (tests and logs). */
  hashed = 0;

  /** @internal */
  async entry(full: string, path: string, now: number): Promise<{ id: string; bytes: Uint8Array }> {
    const st = await stat(full);
    return this.unchanged(path, st, now) ?? this.record(path, st, await readFile(full));
  }

  /** @internal The same, with synchronous calls. */
  entrySync(full: string, path: string, now: number): { id: string; bytes: Uint8Array } {
    const st = statSync(full);
    return this.unchanged(path, st, now) ?? this.record(path, st, readFileSync(full));
  }

  private unchanged(path: string, st: Stats, now: number): { id: string; bytes: Uint8Array } | undefined {
    const known = this.files.get(path);
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ctimeMs === st.ctimeMs && known.ino === st.ino && now - st.mtimeMs > RACY_MS) return known;
    return undefined;
  }

  private record(path: string, st: Stats, bytes: Uint8Array): { id: string; bytes: Uint8Array } {
    this.hashed++;
    const e = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, id: sha256Hex(bytes), bytes };
    this.files.set(path, e);
    return e;
  }

  /** @internal Forget files that are gone. */
  keep(paths: readonly string[]): void {
    const set = new Set(paths);
    for (const p of this.files.keys()) if (!set.has(p)) this.files.delete(p);
  }
}

/** Reads a folder into a Revision with every file's content in memory (digest needs it anyway). */
export async function readFolderRevision(dir: string, opts: FolderRevisionOptions = {}): Promise<Revision> {
  const root = resolve(dir);
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new SourceError(`${dir}: no such folder`);
  }
  if (!st.isDirectory()) throw new SourceError(`${dir}: not a folder`);
  const paths = (await listFiles(root, opts.sync === true)).filter((p) => !opts.filter || opts.filter(p));
  const contents = new Map<string, Uint8Array>();
  const blobIds = new Map<string, string>();
  const digest = createHash('sha256');
  const index = opts.index ?? new FolderIndex();
  index.hashed = 0;
  const now = Date.now();
  const found: { id: string; bytes: Uint8Array }[] = new Array(paths.length);
  let next = 0;
  // A one-shot read with no index to keep needs no stats.
  if (opts.sync && !opts.index) paths.forEach((p, i) => {
    const bytes = readFileSync(join(root, p));
    found[i] = { id: sha256Hex(bytes), bytes };
  });
  else if (opts.sync) paths.forEach((p, i) => (found[i] = index.entrySync(join(root, p), p, now)));
  // Else a few files at a time: thousands of stats one after the other wait on each other for nothing.
  else await Promise.all(Array.from({ length: Math.min(16, paths.length) }, async () => {
    while (next < paths.length) {
      const i = next++;
      found[i] = await index.entry(join(root, paths[i]!), paths[i]!, now);
    }
  }));
  index.keep(paths);
  paths.forEach((p, i) => {
    const { id, bytes } = found[i]!;
    contents.set(p, bytes);
    blobIds.set(p, id);
    digest.update(p).update('\0').update(id).update('\n');
  });
  const commit = digest.digest('hex');
  const name = opts.name ?? (basename(root) || 'dir');
  return {
    source: name,
    ref: 'dir',
    commit,
    id: `dir@sha256:${commit}`,
    paths,
    async read(path: string) {
      const b = contents.get(path);
      if (!b) throw new SourceError(`${path}: not in revision ${commit.slice(0, 12)}`);
      return b;
    },
    blobId: (path: string) => blobIds.get(path),
  };
}
