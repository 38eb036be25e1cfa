// `meshcd sources list` and `meshcd sources refresh [NAME]`: clients of a
// running `meshcd serve`'s admin API (GET /api/v1/sources, POST
// /api/v1/sources/NAME/refresh), like `flux get sources` / `flux reconcile
// source`. Exit 0 all good, 1 a source is failing or its newest revision is
// rejected, 2 the server cannot be reached, the source is unknown, or the
// admin token (refresh makes serve fetch, so it needs it) is missing or refused.

import { clientToken, TOKEN_FILE_ENV } from '../admin/token.js';
import type { Command } from 'commander';
import { EXIT, UserError } from '../cli/exit.js';
import { checkOutput, printStructured } from '../cli/output.js';
import { redact, safeUrl } from './secret.js';
import type { SourceStatus } from './status.js';

const DEFAULT_SERVER = 'http://127.0.0.1:15014';
const TIMEOUT_MS = 130_000; // a refresh waits for a fetch, which may take up to the Git timeout
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

interface ClientFlags {
  server: string;
  tokenFile?: string;
  output: string;
}

function serverUrl(value: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(`--server: "${redact(value)}" is not a URL (e.g. ${DEFAULT_SERVER})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--server: ${safeUrl(value)} is not an http(s) URL`);
  if (u.username || u.password || u.search) throw new UserError(`--server: give the admin address only (no credentials or query string); use --token-file for the admin token`);
  return u;
}

async function call(flags: ClientFlags, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: unknown }> {
  const base = serverUrl(flags.server);
  const url = new URL(path, base);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method === 'POST') {
    const token = await clientToken(flags.tokenFile).catch((err: Error) => Promise.reject(new UserError(err.message)));
    if (token) headers.authorization = `Bearer ${token}`;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? ((err as Error).name === 'TimeoutError' ? 'timeout' : 'network error');
    throw new UserError(`--server ${safeUrl(base.toString())}: cannot reach meshcd serve's admin API (${cause})`);
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new UserError(`--server ${safeUrl(base.toString())}: response to ${method} ${path} is larger than ${MAX_RESPONSE_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UserError(`--server ${safeUrl(base.toString())}: ${method} ${path} answered HTTP ${res.status} with no JSON (is this meshcd's admin port?)`);
  }
  return { status: res.status, body };
}

function errorOf(body: unknown): string {
  const e = (body as { error?: unknown } | undefined)?.error;
  return typeof e === 'string' ? e : 'unexpected answer';
}

/** Why a source is not healthy, or undefined when it is. */
export function sourceProblem(s: SourceStatus): string | undefined {
  if (s.lastError) return `fetch failing (${s.lastError.consecutiveFailures}x): ${s.lastError.message}`;
  if (s.lastRejected && s.lastRejected.revision === s.fetchedRevision && s.lastRejected.revision !== s.revision) {
    const first = s.lastRejected.diagnostics.find((d) => d.severity === 'error');
    const where = first?.origin ? `${first.origin.file}:${first.origin.line} ` : '';
    return `rejected ${s.lastRejected.revision}${first ? `: ${where}${first.code} ${first.message}` : ''}`;
  }
  if (!s.revision) return 'no revision accepted yet';
  return undefined;
}

function printTable(sources: SourceStatus[]): void {
  const rows = [['NAME', 'KIND', 'REVISION', 'READY', 'MESSAGE'], ...sources.map((s) => {
    const problem = sourceProblem(s);
    return [s.name, s.kind, s.revision ?? s.restoredRevision ?? '-', problem ? 'False' : 'True', problem ?? `fetched ${s.lastFetchTime ?? '-'}`];
  })];
  const widths = rows[0]!.slice(0, -1).map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.slice(0, -1).map((c, i) => c.padEnd(widths[i]!)).join('  ')}  ${r[r.length - 1]}\n`);
}

function statusList(body: unknown, server: string): SourceStatus[] {
  const list = (body as { sources?: unknown }).sources;
  if (!Array.isArray(list)) throw new UserError(`--server ${safeUrl(server)}: /api/v1/sources did not list sources`);
  return list as SourceStatus[];
}

function addClientOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', "meshcd serve's admin address", DEFAULT_SERVER)
    .option('--token-file <file>', `file holding the admin token (serve --admin-token-file), which refresh needs; default: the file named by ${TOKEN_FILE_ENV}`)
    .option('-o, --output <format>', 'text|json|yaml', 'text');
}

export function registerSourceClients(sources: Command): void {
  addClientOptions(sources.command('list').description("the sources of a running meshcd serve: revision served, fetch and rejection state (exit 0 all ready, 1 a source failing or rejected, 2 server unreachable)"))
    .action(async (flags: ClientFlags) => {
      const format = checkOutput(flags.output, ['text', 'json', 'yaml'] as const);
      const { status, body } = await call(flags, 'GET', '/api/v1/sources');
      if (status !== 200) throw new UserError(`--server ${safeUrl(flags.server)}: GET /api/v1/sources answered HTTP ${status}: ${errorOf(body)}`);
      const list = statusList(body, flags.server);
      if (format === 'text') printTable(list);
      else printStructured(format, { sources: list });
      process.exitCode = list.some((s) => sourceProblem(s)) ? EXIT.FINDINGS : EXIT.OK;
    });

  addClientOptions(sources.command('refresh [name]').description('fetch a source (or every source) of a running meshcd serve now and report what it found (exit 0 ready, 1 failing or rejected, 2 unknown source, server unreachable, or the admin token missing or refused)'))
    .action(async (name: string | undefined, flags: ClientFlags) => {
      const format = checkOutput(flags.output, ['text', 'json', 'yaml'] as const);
      let names: string[];
      if (name !== undefined) names = [name];
      else {
        const { status, body } = await call(flags, 'GET', '/api/v1/sources');
        if (status !== 200) throw new UserError(`--server ${safeUrl(flags.server)}: GET /api/v1/sources answered HTTP ${status}: ${errorOf(body)}`);
        names = statusList(body, flags.server).map((s) => s.name);
      }
      const results: SourceStatus[] = [];
      for (const n of names) {
        const path = `/api/v1/sources/${encodeURIComponent(n)}/refresh`;
        const { status, body } = await call(flags, 'POST', path);
        if (status === 404) throw new UserError(`source "${n}": unknown to meshcd serve at ${safeUrl(flags.server)}`);
        if (status === 401 || status === 403) throw new UserError(`sources refresh ${n}: ${errorOf(body)}${flags.tokenFile || process.env[TOKEN_FILE_ENV] ? '' : ` (give --token-file or set ${TOKEN_FILE_ENV})`}`);
        if (status !== 200) throw new UserError(`--server ${safeUrl(flags.server)}: POST ${path} answered HTTP ${status}: ${errorOf(body)}`);
        results.push(body as SourceStatus);
      }
      if (format === 'text') {
        for (const s of results) {
          const problem = sourceProblem(s);
          process.stdout.write(`${s.name}: ${problem ?? `ready, serving ${s.revision}`}${problem && s.revision ? `; still serving ${s.revision}` : ''}\n`);
        }
      } else printStructured(format, { sources: results });
      process.exitCode = results.some((s) => sourceProblem(s)) ? EXIT.FINDINGS : EXIT.OK;
    });
}
