// A local folder as a source: readFolderRevision (folder.ts) for the content,
// chokidar to notice changes. Editors write files in bursts, so changes are
// debounced: fire after ~100 ms of quiet, but at most 1 s after the first
// change of a burst, so a steady stream of writes still gets applied.

import { join, basename, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isConfigPath } from '../config/load.js';
import { FolderIndex, readFolderRevision } from './folder.js';
import type { SourceUpdate } from './git.js';
import type { SourceSpec } from './spec.js';

export const DEBOUNCE_QUIET_MS = 100;
export const DEBOUNCE_MAX_MS = 1000;

/** Calls `fn` after `quietMs` without calls, or `maxMs` after the first call of a burst. */
export function debounce(fn: () => void, quietMs = DEBOUNCE_QUIET_MS, maxMs = DEBOUNCE_MAX_MS): { trigger(): void; cancel(): void } {
  let quiet: NodeJS.Timeout | undefined;
  let cap: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(quiet);
    clearTimeout(cap);
    quiet = cap = undefined;
    fn();
  };
  return {
    trigger() {
      clearTimeout(quiet);
      quiet = setTimeout(fire, quietMs);
      cap ??= setTimeout(fire, maxMs);
    },
    cancel() {
      clearTimeout(quiet);
      clearTimeout(cap);
      quiet = cap = undefined;
    },
  };
}

export class DirSource {
  private watcher: FSWatcher | undefined;
  private debouncer: ReturnType<typeof debounce> | undefined;
  private lastId: string | undefined;
  /** What the last read found: a change to one file reads and hashes that file, not the folder. */
  private readonly index = new FolderIndex();
  /** Told about watcher failures (the Reconciler logs them). */
  onError: ((err: Error) => void) | undefined;

  constructor(readonly spec: SourceSpec) {}

  get root(): string {
    return this.spec.path ? join(this.spec.dir!, this.spec.path) : this.spec.dir!;
  }

  async fetch(): Promise<SourceUpdate> {
    const revision = await readFolderRevision(this.root, { name: this.spec.name, filter: isConfigPath, index: this.index });
    const changed = revision.id !== this.lastId;
    this.lastId = revision.id;
    return { revision, changed, diagnostics: [], notices: [] };
  }

  /** Starts watching; resolves once the initial scan is done so no change is missed after it. */
  async watch(onChange: () => void): Promise<void> {
    if (this.watcher) return;
    const root = this.root;
    this.debouncer = debounce(onChange);
    this.watcher = watch(root, {
      ignoreInitial: true,
      // Same skips as readFolderRevision: dot-folders/files and node_modules.
      ignored: (p: string) => {
        const rel = relative(root, p);
        return rel !== '' && rel.split(sep).some((s) => s.startsWith('.') || s === 'node_modules');
      },
    });
    // An unhandled 'error' would crash the process; the next fetch reports a vanished folder.
    this.watcher.on('error', (err) => this.onError?.(err as Error));
    this.watcher.on('all', (_event, path) => {
      if (typeof path === 'string' && basename(path) && !path.endsWith('~')) this.debouncer!.trigger();
    });
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.debouncer?.cancel();
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
