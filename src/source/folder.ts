// A folder on disk as a Revision: every file below it (skipping dot-folders
// and node_modules), its revision id a sha256 digest of paths and contents.
// Watching the folder for changes (chokidar) lives beside this in watch code.

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Revision } from '../api/types.js';

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

export interface FolderRevisionOptions {
  name?: string;
  /** Only files accepted by this filter are part of the revision. */
  filter?: (path: string) => boolean;
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
  const paths = (await listFiles(root)).filter((p) => !opts.filter || opts.filter(p));
  const contents = new Map<string, Uint8Array>();
  const blobIds = new Map<string, string>();
  const digest = createHash('sha256');
  for (const p of paths) {
    const bytes = await readFile(join(root, p));
    contents.set(p, bytes);
    const id = createHash('sha256').update(bytes).digest('hex');
    blobIds.set(p, id);
    digest.update(p).update('\0').update(id).update('\n');
  }
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
