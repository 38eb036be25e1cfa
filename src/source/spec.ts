// What a source is (SourceSpec) and how users write it: repeated `--source`
// flags or a `meshcd.yaml` file. Bad specs are SpecErrors naming the flag or
// file:line; no secret is ever part of a spec, only where to read it.
//
// Flag form:   [NAME=]LOCATION[;key=value]...
//   LOCATION   a folder (`./mesh`, `dir:./mesh`) or a Git URL with optional
//              `#REF` and `:PATH` after it: `https://git.example/platform.git#main:mesh`
//              (a ref cannot contain `:`, so `#REF:PATH` is unambiguous)
//   keys       namespaces=a,b  poll=30s  token-file=F  token-env=V  username=U
//              password-file=F  password-env=V  webhook-secret-file=F
//              webhook-secret-env=V  verify-pgp=KEYS.asc

import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument, isMap, LineCounter } from 'yaml';
import { lineOfPath, isRecord } from '../config/parse.js';
import { isCredentialParam, redact, safeUrl, type SecretRef } from './secret.js';

export interface SourceAuth {
  /** Basic-auth user name; with a token, defaults to `x-access-token`. */
  username?: string;
  password?: SecretRef;
  token?: SecretRef;
}

export interface SourceSpec {
  name: string;
  kind: 'git' | 'dir';
  /** Git URL (no credentials in it). */
  url?: string;
  /** Folder, for `dir` sources (absolute). */
  dir?: string;
  /** Branch, tag or 40-hex commit for git; `dir` for folders. */
  ref: string;
  /** Sub-folder inside the repository or folder; '' for the root. */
  path: string;
  /** When set, resources of this source must be in one of these namespaces. */
  namespaces?: string[];
  pollIntervalMs: number;
  auth?: SourceAuth;
  webhookSecret?: SecretRef;
  verify?: { kind: 'pgp'; keysFile: string };
  /** Where the spec was written (`--source #2`, `meshcd.yaml:7`), for messages. */
  origin: string;
}

export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

export const DEFAULT_POLL_MS = 30_000;
export const DEFAULT_REF = 'main';
const NAME_RE = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

/** `30s`, `500ms`, `2m`, `1h` or a number of seconds → milliseconds. */
export function parseDuration(value: unknown, where: string): number {
  if (typeof value === 'number' && value > 0) return Math.round(value * 1000);
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim()) : null;
  if (!m) throw new SpecError(`${where}: "${String(value)}" is not a duration (e.g. 30s, 500ms, 2m)`);
  const n = Number(m[1]);
  const ms = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (ms < 50) throw new SpecError(`${where}: poll interval ${value} is too short (at least 50ms)`);
  return Math.round(ms);
}

function isGitUrl(loc: string): boolean {
  // Any scheme counts as a URL, so ssh:// or ftp:// get a clear "not supported" rather than being taken for a folder.
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(loc);
}

function checkUrl(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SpecError(`${where}: "${redact(url)}" is not a valid URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new SpecError(`${where}: only http(s) Git URLs are supported, got ${u.protocol}`);
  if (u.password || u.username) {
    u.username = '';
    u.password = '';
    // The URL may be in argv or a committed file: refuse rather than use it.
    throw new SpecError(`${where}: credentials in the URL are not accepted (${safeUrl(u.toString())}); use token-file/token-env or username + password-file/password-env`);
  }
  const credential = [...u.searchParams.keys()].find(isCredentialParam);
  if (credential !== undefined) {
    // Named, never echoed: the value is the secret.
    throw new SpecError(`${where}: a credential in the URL's query string is not accepted (parameter "${redact(credential)}" in ${safeUrl(u.toString())}); use token-file/token-env or username + password-file/password-env`);
  }
  return u.toString().replace(/\/$/, '');
}

function checkRef(ref: string, where: string): string {
  if (!ref || /[\s~^:?*[\\]|\.\.|@\{|\/$|^\/|\.lock$/.test(ref)) throw new SpecError(`${where}: "${ref}" is not a valid branch, tag or commit`);
  return ref;
}

function checkSubPath(p: string, where: string): string {
  const clean = p.replace(/^\/+|\/+$/g, '');
  if (clean.split('/').some((s) => s === '..' || s === '.')) throw new SpecError(`${where}: path "${p}" may not contain . or .. segments`);
  return clean;
}

function nameFromUrl(url: string): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'git';
  return sanitizeName(last.replace(/\.git$/, ''));
}

function sanitizeName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'source';
}

interface Defaults {
  ref?: string;
  path?: string;
  pollIntervalMs?: number;
  auth?: SourceAuth;
  webhookSecret?: SecretRef;
}

/** Parses one `--source` value. `where` names it in errors, e.g. `--source #1`. */
export function parseSourceFlag(value: string, where: string, defaults: Defaults = {}, cwd = process.cwd()): SourceSpec {
  const [head, ...opts] = value.split(';');
  let loc = head!.trim();
  let name: string | undefined;
  const eq = /^([A-Za-z0-9._-]+)=(.*)$/.exec(loc);
  if (eq && !isGitUrl(loc)) {
    name = eq[1]!;
    loc = eq[2]!;
  }
  if (!loc) throw new SpecError(`${where}: no folder or URL given`);
  if (/^[\w.-]+@[\w.-]+:/.test(loc)) throw new SpecError(`${where}: SSH Git URLs are not supported; use the https:// URL with token-file or token-env`);
  const fields: Record<string, unknown> = {};
  for (const opt of opts) {
    if (!opt.trim()) continue;
    const i = opt.indexOf('=');
    if (i <= 0) throw new SpecError(`${where}: option "${opt}" is not key=value`);
    fields[opt.slice(0, i).trim()] = opt.slice(i + 1).trim();
  }
  const raw: Record<string, unknown> = {};
  if (isGitUrl(loc)) {
    // `#ref:path` after the URL; a URL's own path has no `#`.
    const hash = loc.indexOf('#');
    let url = loc, ref: string | undefined, path: string | undefined;
    if (hash >= 0) {
      url = loc.slice(0, hash);
      const frag = loc.slice(hash + 1);
      const colon = frag.indexOf(':');
      if (colon >= 0) {
        ref = frag.slice(0, colon) || undefined;
        path = frag.slice(colon + 1);
      } else ref = frag || undefined;
    }
    raw.git = url;
    if (ref !== undefined) raw.ref = ref;
    if (path !== undefined) raw.path = path;
  } else {
    raw.dir = loc.startsWith('dir:') ? loc.slice(4) : loc;
  }
  if (name) raw.name = name;
  const flagKeys: Record<string, string> = {
    namespaces: 'namespaces',
    poll: 'pollInterval',
    'poll-interval': 'pollInterval',
    ref: 'ref',
    path: 'path',
    username: 'auth.username',
    'token-file': 'auth.tokenFile',
    'token-env': 'auth.tokenEnv',
    'password-file': 'auth.passwordFile',
    'password-env': 'auth.passwordEnv',
    'webhook-secret-file': 'webhook.secretFile',
    'webhook-secret-env': 'webhook.secretEnv',
    'verify-pgp': 'verify.pgp',
  };
  for (const [k, v] of Object.entries(fields)) {
    const target = flagKeys[k];
    if (!target) throw new SpecError(`${where}: unknown option "${k}" (known: ${Object.keys(flagKeys).join(', ')})`);
    if (k === 'namespaces') raw.namespaces = String(v).split(',').map((s) => s.trim()).filter(Boolean);
    else {
      const [a, b] = target.split('.');
      if (b) raw[a!] = { ...(raw[a!] as object | undefined), [b]: v };
      else raw[a!] = v;
    }
  }
  return specFromObject(raw, (p) => `${where}${p.length ? ` (${p.join('.')})` : ''}`, defaults, cwd);
}

const KNOWN_KEYS = new Set(['name', 'git', 'url', 'dir', 'ref', 'path', 'namespaces', 'pollInterval', 'auth', 'webhook', 'verify']);

function specFromObject(o: Record<string, unknown>, at: (path: (string | number)[]) => string, defaults: Defaults, base: string): SourceSpec {
  for (const k of Object.keys(o)) if (!KNOWN_KEYS.has(k)) throw new SpecError(`${at([k])}: unknown field "${k}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  const str = (k: string, v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') throw new SpecError(`${at([k])}: must be a non-empty string`);
    return v;
  };
  const gitUrl = str('git', o.git) ?? str('url', o.url);
  const dir = str('dir', o.dir);
  if (gitUrl && dir) throw new SpecError(`${at(['dir'])}: a source is either git or dir, not both`);
  if (!gitUrl && !dir) throw new SpecError(`${at([])}: a source needs "git: <url>" or "dir: <folder>"`);
  const kind = gitUrl ? 'git' : 'dir';
  const url = gitUrl ? checkUrl(gitUrl, at(['git'])) : undefined;
  const absDir = dir ? (isAbsolute(dir) ? dir : resolve(base, dir)) : undefined;
  const name = str('name', o.name) ?? (url ? nameFromUrl(url) : sanitizeName(basename(absDir!)));
  if (!NAME_RE.test(name)) throw new SpecError(`${at(['name'])}: "${name}" is not a valid source name (lower-case letters, digits, . _ -; at most 63)`);
  const refRaw = str('ref', o.ref);
  if (kind === 'dir' && refRaw) throw new SpecError(`${at(['ref'])}: a folder source has no ref`);
  const ref = kind === 'git' ? checkRef(refRaw ?? defaults.ref ?? DEFAULT_REF, at(['ref'])) : 'dir';
  const path = checkSubPath(str('path', o.path) ?? defaults.path ?? '', at(['path']));
  let namespaces: string[] | undefined;
  if (o.namespaces !== undefined) {
    if (!Array.isArray(o.namespaces) || o.namespaces.length === 0 || !o.namespaces.every((n) => typeof n === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n))) {
      throw new SpecError(`${at(['namespaces'])}: must be a non-empty list of namespace names`);
    }
    namespaces = o.namespaces as string[];
  }
  const pollIntervalMs = o.pollInterval !== undefined ? parseDuration(o.pollInterval, at(['pollInterval'])) : defaults.pollIntervalMs ?? DEFAULT_POLL_MS;
  const secretRef = (obj: Record<string, unknown>, fileKey: string, envKey: string, parent: string): SecretRef | undefined => {
    const file = obj[fileKey], env = obj[envKey];
    if (file !== undefined && env !== undefined) throw new SpecError(`${at([parent, envKey])}: give ${fileKey} or ${envKey}, not both`);
    if (file !== undefined) {
      if (typeof file !== 'string' || !file) throw new SpecError(`${at([parent, fileKey])}: must be a file path`);
      return { file: isAbsolute(file) ? file : resolve(base, file) };
    }
    if (env !== undefined) {
      if (typeof env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new SpecError(`${at([parent, envKey])}: must be an environment variable name`);
      return { env };
    }
    return undefined;
  };
  let auth: SourceAuth | undefined = defaults.auth;
  if (o.auth !== undefined) {
    if (!isRecord(o.auth)) throw new SpecError(`${at(['auth'])}: must be a mapping`);
    for (const k of Object.keys(o.auth)) {
      if (!['username', 'tokenFile', 'tokenEnv', 'passwordFile', 'passwordEnv', 'token', 'password'].includes(k)) throw new SpecError(`${at(['auth', k])}: unknown field "${k}"`);
      if (k === 'token' || k === 'password') throw new SpecError(`${at(['auth', k])}: secrets are not written in the config; use ${k}File or ${k}Env`);
    }
    const username = o.auth.username;
    if (username !== undefined && (typeof username !== 'string' || !username)) throw new SpecError(`${at(['auth', 'username'])}: must be a string`);
    auth = {
      ...(username ? { username: username as string } : {}),
      ...(secretRef(o.auth, 'tokenFile', 'tokenEnv', 'auth') ? { token: secretRef(o.auth, 'tokenFile', 'tokenEnv', 'auth')! } : {}),
      ...(secretRef(o.auth, 'passwordFile', 'passwordEnv', 'auth') ? { password: secretRef(o.auth, 'passwordFile', 'passwordEnv', 'auth')! } : {}),
    };
    if (auth.token && auth.password) throw new SpecError(`${at(['auth'])}: give a token or a password, not both`);
    if (auth.password && !auth.username) throw new SpecError(`${at(['auth', 'username'])}: a password needs a username`);
  }
  if (auth && kind === 'dir' && o.auth !== undefined) throw new SpecError(`${at(['auth'])}: a folder source takes no credentials`);
  let webhookSecret: SecretRef | undefined = defaults.webhookSecret;
  if (o.webhook !== undefined) {
    if (!isRecord(o.webhook)) throw new SpecError(`${at(['webhook'])}: must be a mapping with secretFile or secretEnv`);
    for (const k of Object.keys(o.webhook)) if (k !== 'secretFile' && k !== 'secretEnv') throw new SpecError(`${at(['webhook', k])}: unknown field "${k}" (secretFile, secretEnv)`);
    webhookSecret = secretRef(o.webhook, 'secretFile', 'secretEnv', 'webhook');
  }
  let verify: SourceSpec['verify'];
  if (o.verify !== undefined) {
    if (!isRecord(o.verify) || typeof o.verify.pgp !== 'string' || Object.keys(o.verify).length !== 1) {
      throw new SpecError(`${at(['verify'])}: must be "verify: {pgp: <file of trusted armored public keys>}"`);
    }
    if (kind !== 'git') throw new SpecError(`${at(['verify'])}: only git sources have signed commits`);
    verify = { kind: 'pgp', keysFile: isAbsolute(o.verify.pgp) ? o.verify.pgp : resolve(base, o.verify.pgp) };
  }
  return {
    name,
    kind,
    ...(url ? { url } : {}),
    ...(absDir ? { dir: absDir } : {}),
    ref,
    path,
    ...(namespaces ? { namespaces } : {}),
    pollIntervalMs,
    ...(auth && kind === 'git' ? { auth } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
    ...(verify ? { verify } : {}),
    origin: at([]),
  };
}

/** Parses a meshcd.yaml text: `sources: [...]`. Errors name file:line. */
export function parseSourcesConfig(text: string, file: string, defaults: Defaults = {}): SourceSpec[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new SpecError(`${file}:${e.linePos?.[0]?.line ?? 1}: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) throw new SpecError(`${file}:1: expected a mapping with "sources:"`);
  const value = doc.toJS({ maxAliasCount: 50 }) as Record<string, unknown>;
  const at = (path: (string | number)[]) => `${file}:${lineOfPath(text, 1, path)}`;
  for (const k of Object.keys(value)) if (k !== 'sources') throw new SpecError(`${at([k])}: unknown field "${k}" (expected "sources")`);
  if (!Array.isArray(value.sources) || value.sources.length === 0) throw new SpecError(`${at(['sources'])}: "sources" must be a non-empty list`);
  const base = dirname(resolve(file));
  const specs = value.sources.map((s, i) => {
    if (!isRecord(s)) throw new SpecError(`${at(['sources', i])}: each source must be a mapping`);
    return specFromObject(s, (p) => at(['sources', i, ...p]), defaults, base);
  });
  return checkUnique(specs);
}

export function checkUnique(specs: SourceSpec[]): SourceSpec[] {
  const seen = new Map<string, SourceSpec>();
  for (const s of specs) {
    const prior = seen.get(s.name);
    if (prior) throw new SpecError(`${s.origin}: source name "${s.name}" is also used at ${prior.origin}; give each source a distinct name=`);
    seen.set(s.name, s);
  }
  return specs;
}

/** Command-line options that produce source specs (shared by `serve` and friends). */
export interface SourceFlags {
  source?: string[];
  config?: string;
  ref?: string;
  path?: string;
  pollInterval?: string;
  tokenFile?: string;
  tokenEnv?: string;
  username?: string;
  passwordFile?: string;
  passwordEnv?: string;
  webhookSecretFile?: string;
  webhookSecretEnv?: string;
}

/** Flags `--ref` etc. are defaults for every `--source`/config entry that does not set its own. */
export function resolveSourceSpecs(flags: SourceFlags, cwd = process.cwd()): SourceSpec[] {
  const defaults: Defaults = {};
  if (flags.ref) defaults.ref = checkRef(flags.ref, '--ref');
  if (flags.path) defaults.path = flags.path;
  if (flags.pollInterval) defaults.pollIntervalMs = parseDuration(flags.pollInterval, '--poll-interval');
  if (flags.tokenFile && flags.tokenEnv) throw new SpecError('--token-file and --token-env: give one');
  if ((flags.passwordFile || flags.passwordEnv) && !flags.username) throw new SpecError('--password-file/--password-env need --username');
  if (flags.tokenFile || flags.tokenEnv || flags.username) {
    defaults.auth = {
      ...(flags.username ? { username: flags.username } : {}),
      ...(flags.tokenFile ? { token: { file: resolve(cwd, flags.tokenFile) } } : flags.tokenEnv ? { token: { env: flags.tokenEnv } } : {}),
      ...(flags.passwordFile ? { password: { file: resolve(cwd, flags.passwordFile) } } : flags.passwordEnv ? { password: { env: flags.passwordEnv } } : {}),
    };
  }
  if (flags.webhookSecretFile) defaults.webhookSecret = { file: resolve(cwd, flags.webhookSecretFile) };
  else if (flags.webhookSecretEnv) defaults.webhookSecret = { env: flags.webhookSecretEnv };
  const specs: SourceSpec[] = [];
  if (flags.config) {
    let text: string;
    try {
      text = readFileSync(resolve(cwd, flags.config), 'utf8');
    } catch (err) {
      throw new SpecError(`--config ${flags.config}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    specs.push(...parseSourcesConfig(text, flags.config, defaults));
  }
  (flags.source ?? []).forEach((v, i) => specs.push(parseSourceFlag(v, `--source #${i + 1} "${redact(v.split(';')[0]!)}"`, defaults, cwd)));
  if (specs.length === 0) throw new SpecError('no source given: use --source <folder|git-url> or --config meshcd.yaml');
  return checkUnique(specs);
}
