// Persisted state: small JSON documents in `<state-dir>/state/`, written
// atomically, so a restart knows what it served. Imports only util/.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';

export class StateStore {
  constructor(readonly stateDir: string) {}

  private file(name: string): string {
    return join(this.stateDir, 'state', `${name}.json`);
  }

  /** The stored document, or undefined when there is none (or it is unreadable, which is logged by the caller). */
  async read<T>(name: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(name), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  }

  async write(name: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.file(name), JSON.stringify(value, null, 2) + '\n', 0o600);
  }
}
