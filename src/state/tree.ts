// Saved copies of file trees in `<state-dir>/state/trees/<key>/`: what a
// folder source last had accepted, so a restart can serve it even when the
// folder's content is now invalid. A copy is written in a temporary folder
// (every file fsynced) and renamed into place whole; it is never changed
// afterwards, only removed once nothing names it. A file that is the same
// in an earlier copy is hard-linked from it instead of written and fsynced
// again (copies are never changed, so they can share files): saving a
// revision that changed one file of 5,000 writes one file.
// Imports only node:.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,200}$/;

function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.includes('\0') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`tree entry "${path}": not a relative path inside the tree`);
  }
}

export class TreeStore {
  private readonly root: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, 'state', 'trees');
  }

  /** The folder holding the copy named `key` (which may not exist). */
  path(key: string): string {
    if (!KEY_RE.test(key)) throw new Error(`tree key "${key}": not a valid name`);
    return join(this.root, key);
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Saves the files under `key`, whole or not at all; an existing copy with
   * this key is kept as it is. `from` names an earlier copy and says which
   * files are the same there (by content): those are hard-linked from it.
   */
  async save(key: string, files: Iterable<string>, read: (path: string) => Promise<Uint8Array>, from?: { key: string; same: (path: string) => boolean }): Promise<void> {
    const dest = this.path(key);
    if (await this.has(key)) return;
    const earlier = from && from.key !== key && (await this.has(from.key)) ? this.path(from.key) : undefined;
    const tmp = join(this.root, `.tmp-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    const made = new Set<string>();
    try {
      for (const p of files) {
        checkPath(p);
        const full = join(tmp, p);
        const dir = dirname(full);
        if (!made.has(dir)) {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          made.add(dir);
        }
        if (earlier && from!.same(p)) {
          try {
            await link(join(earlier, p), full);
            continue;
          } catch {
            // Gone, or another file system: written below.
          }
        }
        const fh = await open(full, 'wx', 0o600);
        try {
          await fh.writeFile(await read(p));
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      // Another save of the same key won the race: its copy is just as good.
      if (await this.has(key)) return;
      throw err;
    }
  }

  /** Removes every copy (and leftover temporary folder) whose key is not in `keep`. */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return;
    }
    for (const n of names) if (!keep.has(n)) await rm(join(this.root, n), { recursive: true, force: true });
  }
}
