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

/**
 * Query parameters that carry credentials on Git hosts and object stores
 * (GitLab `private_token`, OAuth `access_token`, signed URLs' `sig` and
 * `X-Amz-*`/`X-Goog-*`…): refused in a source URL like userinfo.
 */
const CREDENTIAL_PARAMS = new Set(['private_token', 'access_token', 'token', 'oauth_token', 'key', 'api_key', 'apikey', 'password', 'passwd', 'pass', 'secret', 'client_secret', 'auth', 'sig', 'signature', 'job_token', 'refresh_token', 'id_token']);

export function isCredentialParam(name: string): boolean {
  const n = name.toLowerCase();
  return CREDENTIAL_PARAMS.has(n) || n.startsWith('x-amz-') || n.startsWith('x-goog-') || n.endsWith('_token') || n.endsWith('-token');
}

/** Removes URL userinfo, URL query strings and every known secret value from a message. */
export function redact(message: string): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
  out = out.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]*)\?[^\s#"'<>]*/gi, '$1?[redacted]');
  for (const s of knownSecrets) out = out.split(s).join('[redacted]');
  return out;
}

/** A URL as it may be shown: no userinfo, and any query string replaced by `?[redacted]`. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    const query = u.search !== '';
    u.search = '';
    const hash = u.hash;
    u.hash = '';
    return `${u.toString()}${query ? '?[redacted]' : ''}${hash}`;
  } catch {
    return redact(url);
  }
}
