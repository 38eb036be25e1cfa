// The CA's files under `<state-dir>/ca/`. Every write is atomic (temp file,
// fsync, rename; keys 0600) and all writes go through one queue, so two
// quick changes land on disk in the order they happened.
//
//   roots.json              the commit point: active root, pending rotation, retired roots
//   roots/<fp>-{cert,key}.pem  every root this CA generated
//   root-cert.pem, root-key.pem  copies of the active root (Istio's names, for people and tools)
//   trust-bundle.pem        every root in the bundle (agents' --ca-root-cert)
//   issued.json             newest certificate per public key (rotation progress)
//
// A read-only store (`meshcd ca status`) never creates or writes a file.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeSecretFile } from '../util/fs.js';
import type { IssuedEntry, RootRecord, RotationState } from './rotation.js';

export interface RootsFile {
  version: 1;
  /** Self-signed mode: fingerprint of the root that signs. */
  active?: string;
  pending?: string;
  pendingSince?: string;
  roots: RootRecord[];
}

export interface IssuedFile {
  version: 2;
  /** Public key (sha256 of SPKI, 32 hex) → its newest certificate. */
  certs: Record<string, IssuedEntry>;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export class CaStore {
  readonly dir: string;
  private queue: Promise<void> = Promise.resolve();

  constructor(stateDir: string, readonly readOnly: boolean) {
    this.dir = join(stateDir, 'ca');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  rootKeyPath(fingerprint: string): string {
    return join(this.dir, 'roots', `${fingerprint.slice(0, 16)}-key.pem`);
  }

  async ensureDir(): Promise<void> {
    if (!this.readOnly) await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Runs `write` after every write queued before it; a no-op when read-only. */
  private enqueue(write: () => Promise<void>): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    const next = this.queue.catch(() => undefined).then(write);
    this.queue = next;
    return next;
  }

  /** issued.json, or an empty record (with `problem` set when the file was there but unreadable). */
  async readIssued(): Promise<{ file: IssuedFile; problem?: string }> {
    const empty: IssuedFile = { version: 2, certs: {} };
    try {
      const v = JSON.parse(await readFile(this.path('issued.json'), 'utf8')) as IssuedFile;
      return v && v.version === 2 && typeof v.certs === 'object' && v.certs !== null ? { file: v } : { file: empty, problem: 'unexpected content' };
    } catch (err) {
      return isMissing(err) ? { file: empty } : { file: empty, problem: (err as Error).message };
    }
  }

  writeIssued(file: IssuedFile): Promise<void> {
    const text = JSON.stringify(file);
    return this.enqueue(() => writeFileAtomic(this.path('issued.json'), text));
  }

  /** roots.json checked (every record a certificate), or undefined when absent. */
  async readRoots(): Promise<RootsFile | undefined> {
    const path = this.path('roots.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw new Error(`${path}: ${(err as Error).message}`);
    }
    try {
      const v = JSON.parse(text) as RootsFile;
      if (v.version !== 1 || !Array.isArray(v.roots)) throw new Error('unexpected content');
      for (const r of v.roots) new X509Certificate(r.certPem);
      return v;
    } catch (err) {
      throw new Error(`${path}: not a valid meshcd roots file (${(err as Error).message})`);
    }
  }

  /** The content is taken now; the write happens in queue order. */
  writeRoots(state: RotationState, selfSigned: boolean): Promise<void> {
    const file: RootsFile = {
      version: 1,
      ...(selfSigned ? { active: state.active } : {}),
      ...(state.pending ? { pending: state.pending.fingerprint, pendingSince: state.pending.since } : {}),
      roots: [...state.roots],
    };
    const text = JSON.stringify(file, null, 2) + '\n';
    return this.enqueue(() => writeFileAtomic(this.path('roots.json'), text));
  }

  /** Keeps a generated root under roots/ (key first, 0600). */
  storeRoot(fp: string, certPem: string, keyPem: string): Promise<void> {
    return this.enqueue(async () => {
      await mkdir(join(this.dir, 'roots'), { recursive: true, mode: 0o700 });
      await writeSecretFile(this.rootKeyPath(fp), keyPem);
      await writeFileAtomic(join(this.dir, 'roots', `${fp.slice(0, 16)}-cert.pem`), certPem);
    });
  }

  /** The key of a root kept under roots/; the error names the file. */
  async readRootKey(fingerprint: string): Promise<{ key: KeyObject; keyPem: string }> {
    const keyPath = this.rootKeyPath(fingerprint);
    const keyPem = await readFile(keyPath, 'utf8').catch(() => {
      throw new Error(`${keyPath}: the root's key is missing`);
    });
    try {
      return { key: createPrivateKey(keyPem), keyPem };
    } catch {
      throw new Error(`${keyPath}: not a PEM private key`);
    }
  }

  /** A root put in place by hand with Istio's names (root-cert.pem + root-key.pem), if any. */
  async readCompatRoot(): Promise<{ certPem: string; keyPem: string } | undefined> {
    const certPath = this.path('root-cert.pem');
    const keyPath = this.path('root-key.pem');
    const certPem = await readFile(certPath, 'utf8').then((c) => c, () => undefined);
    if (!certPem) return undefined;
    const keyPem = await readFile(keyPath, 'utf8').catch(() => {
      throw new Error(`${keyPath}: missing (${certPath} exists)`);
    });
    return { certPem, keyPem };
  }

  /** root-cert.pem / root-key.pem: copies of the active root, rewritten only when it changed. */
  writeCompatCopies(certPem: string, keyPem: string): Promise<void> {
    return this.enqueue(async () => {
      const certPath = this.path('root-cert.pem');
      if ((await readFile(certPath, 'utf8').catch(() => '')) === certPem) return;
      await writeSecretFile(this.path('root-key.pem'), keyPem);
      await writeFileAtomic(certPath, certPem);
    });
  }

  /** trust-bundle.pem, rewritten only when it changed. */
  writeBundle(text: string): Promise<void> {
    return this.enqueue(async () => {
      const path = this.path('trust-bundle.pem');
      if ((await readFile(path, 'utf8').catch(() => '')) === text) return;
      await writeFileAtomic(path, text);
    });
  }

  /** Waits for every write queued so far. */
  async settle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }
}

/** Lists files in the CA state folder (for status output). */
export async function stateFiles(stateDir: string): Promise<string[]> {
  return readdir(join(stateDir, 'ca')).catch(() => []);
}
