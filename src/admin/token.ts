// The admin token, read one way everywhere: `serve --admin-token-file|env`
// (what mutating admin routes require) and the CLI clients that send it
// (`meshcd rollout …`, `meshcd sources refresh`, with --token-file or
// MESHCD_TOKEN_FILE). Errors name the flag or variable and the file, never
// the content.

import { readFile } from 'node:fs/promises';

export const MAX_TOKEN_BYTES = 4096;
/** The shortest admin token `serve` accepts. */
export const MIN_ADMIN_TOKEN_CHARS = 16;
/** The environment variable CLI clients read the admin token file's path from. */
export const TOKEN_FILE_ENV = 'MESHCD_TOKEN_FILE';

/** One token from a file: one line, trimmed, no whitespace inside, at most MAX_TOKEN_BYTES. */
export async function readTokenFile(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (Buffer.byteLength(text) > MAX_TOKEN_BYTES) throw new Error(`${flag} ${file}: larger than ${MAX_TOKEN_BYTES} bytes; it should hold one token`);
  const token = text.trim();
  if (!token) throw new Error(`${flag} ${file}: the file is empty`);
  if (/\s/.test(token)) throw new Error(`${flag} ${file}: it must hold one token on one line`);
  return token;
}

/**
 * The token `serve` requires on mutating admin routes, from a file or an
 * environment variable (never a flag value); undefined when neither is given.
 */
export async function readAdminToken(o: { file?: string | undefined; env?: string | undefined }): Promise<string | undefined> {
  if (o.file && o.env) throw new Error('--admin-token-file and --admin-token-env: give one of them');
  let token: string | undefined;
  let where: string;
  if (o.file) {
    where = `--admin-token-file ${o.file}`;
    token = await readTokenFile(o.file, '--admin-token-file');
  } else if (o.env) {
    where = `--admin-token-env ${o.env}`;
    token = process.env[o.env]?.trim();
    if (!token) throw new Error(`${where}: the variable is not set or empty`);
  } else return undefined;
  if (token.length < MIN_ADMIN_TOKEN_CHARS || /\s/.test(token)) throw new Error(`${where}: the token must be at least ${MIN_ADMIN_TOKEN_CHARS} characters with no whitespace`);
  return token;
}

/** A CLI client's token: --token-file, else the file MESHCD_TOKEN_FILE names; undefined when neither is set. */
export async function clientToken(tokenFile: string | undefined): Promise<string | undefined> {
  const file = tokenFile ?? process.env[TOKEN_FILE_ENV];
  if (!file) return undefined;
  return readTokenFile(file, tokenFile ? '--token-file' : TOKEN_FILE_ENV);
}
