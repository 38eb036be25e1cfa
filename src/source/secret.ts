// Secrets for sources (Git credentials, webhook secrets) are named by a file
// path or an environment variable, never given on the command line. They are
// read when needed (so a rotated token is picked up) and every message that
// leaves this folder passes through redact().

import { readFile } from 'node:fs/promises';
import { SourceError } from './folder.js';

export interface SecretRef {
  file?: string;
  env?: string;
}

export function describeSecret(ref: SecretRef): string {
  return ref.file ? `file ${ref.file}` : `environment variable ${ref.env}`;
}

/** Reads a secret; a missing file or empty variable is a SourceError naming where (not what). */
export async function readSecret(ref: SecretRef, what: string): Promise<string> {
  let value: string | undefined;
  if (ref.file) {
    try {
      value = await readFile(ref.file, 'utf8');
    } catch (err) {
      throw new SourceError(`${what}: cannot read ${describeSecret(ref)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else if (ref.env) {
    value = process.env[ref.env];
  }
  value = value?.trim();
  if (!value) throw new SourceError(`${what}: ${describeSecret(ref)} is empty or unset`);
  rememberSecret(value);
  return value;
}

// Every secret value read in this process, so redact() can remove it from
// any text (isomorphic-git errors, server responses) before it is shown.
const knownSecrets = new Set<string>();

export function rememberSecret(value: string): void {
  if (value.length >= 4) knownSecrets.add(value);
}

/** Removes URL userinfo and every known secret value from a message. */
export function redact(message: string): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
  for (const s of knownSecrets) out = out.split(s).join('[redacted]');
  return out;
}

/** A URL as it may be shown: no userinfo. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return redact(url);
  }
}
