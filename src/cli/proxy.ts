// `meshcd proxy-status` and `meshcd proxy-config`, the istioctl tools, as
// clients of the admin API of a running `meshcd serve`: GET /debug/syncz
// (following `next` continuation tokens) and GET /debug/config_dump?proxy=ID
// (Envoy's config_dump shape). Secrets are shown by name, never by content.

import type { Command } from 'commander';
import { Option } from 'commander';
import { CONFIG_KINDS, configRows, dumpEntries, secretSummary, statusRow, XDS_TYPES, type ConfigKind, type ProxyStatusRow } from './proxy-view.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';

export { CONFIG_KINDS, configRows, dumpEntries, secretSummary, statusRow, typeSync, XDS_TYPES, type ConfigKind, type ProxyStatusRow, type TypeSync, type XdsShort } from './proxy-view.js';

export const DEFAULT_ADMIN_SERVER = 'http://127.0.0.1:15014';
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const MAX_PAGES = 1000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** The admin URL from --server: http(s), no credentials in it. */
export function adminBase(server: string): URL {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new UserError(`--server: "${server}" is not a URL (like ${DEFAULT_ADMIN_SERVER})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--server ${server}: only http and https URLs`);
  if (u.username || u.password) throw new UserError('--server: put no credentials in the URL');
  return u;
}

/** GET a JSON document from the admin API; every failure is one line naming the URL. */
export async function getJson(base: URL, path: string, timeoutMs = 15_000): Promise<unknown> {
  const url = new URL(path, base);
  const shown = `${url.origin}${url.pathname}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : e.cause?.code ?? e.cause?.message ?? e.message;
    throw new UserError(`${shown}: cannot reach the meshcd admin server (${why}); is meshcd serve running there (--server)?`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_RESPONSE_BYTES) throw new UserError(`${shown}: answer of ${declared} bytes is larger than ${MAX_RESPONSE_BYTES}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of res.body ?? []) {
    size += c.length;
    if (size > MAX_RESPONSE_BYTES) throw new UserError(`${shown}: answer larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(c);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new UserError(`${shown}: HTTP ${res.status}, not JSON (${body.slice(0, 120).trim() || 'empty'})`);
  }
  if (!res.ok) throw new UserError(`${shown}: HTTP ${res.status}: ${isObj(value) && typeof value.error === 'string' ? value.error : body.slice(0, 200).trim()}`, res.status === 404 ? EXIT.FINDINGS : EXIT.USAGE);
  return value;
}

// --- proxy-status ------------------------------------------------------------

/** Every proxy from /debug/syncz, following `next` continuation tokens. */
export async function fetchSyncz(base: URL, proxy?: string): Promise<{ revision?: string; proxies: Obj[] }> {
  const proxies: Obj[] = [];
  let revision: string | undefined;
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = new URLSearchParams();
    if (proxy) q.set('proxy', proxy);
    if (token) q.set('continue', token);
    const doc = await getJson(base, `/debug/syncz${q.size ? `?${q}` : ''}`);
    if (!isObj(doc) || !Array.isArray(doc.proxies)) throw new UserError(`${new URL('/debug/syncz', base)}: not a syncz document (no proxies list)`);
    revision ??= str(doc.revision);
    proxies.push(...doc.proxies.filter(isObj));
    const next = str(doc.next);
    if (!next || next === token) return { ...(revision ? { revision } : {}), proxies };
    token = next;
  }
  throw new UserError(`${new URL('/debug/syncz', base)}: more than ${MAX_PAGES} pages`);
}

export function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd()).join('\n') + '\n';
}

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export function statusTable(rows: ProxyStatusRow[], now: number): string {
  const head = ['NAME', 'KIND', 'NAMESPACE', 'REVISION', ...XDS_TYPES.map(([s]) => s), 'LAST PUSH', 'VERSION'];
  const body = rows.map((r) => [r.proxy, r.kind, r.namespace, r.revision, ...XDS_TYPES.map(([s]) => r.types[s].state), ago(r.lastPush ?? r.connectedAt, now), r.clientVersion]);
  const nacks = rows.flatMap((r) => XDS_TYPES.filter(([s]) => r.types[s].state === 'NACKED').map(([s]) => `NACKED ${r.proxy} ${s}: ${r.types[s].nack}`));
  return pad([head, ...body]) + (nacks.length ? `\n${nacks.join('\n')}\n` : '');
}

interface ProxyStatusOptions {
  server: string;
  output: string;
  staleAfter: string;
}

function seconds(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new UserError(`${flag}: "${v}" is not a duration (like 10s, 500ms, 2m)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

/** Stale streams are looked at again after --stale-after (when the server does not say when it sent them): only those still unacknowledged with the same nonce count. */
export async function proxyStatus(base: URL, proxy: string | undefined, staleAfterS: number, now: () => number = Date.now, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<{ rows: ProxyStatusRow[]; failing: string[] }> {
  const first = await fetchSyncz(base, proxy);
  const pick = (ps: Obj[]) => ps.filter((p) => !proxy || p.proxy === proxy).map((p) => statusRow(p, first.revision));
  let rows = pick(first.proxies);
  if (proxy && rows.length === 0) throw new UserError(`no connected proxy with id ${proxy} (see meshcd proxy-status)`, EXIT.FINDINGS);
  const staleUnknown = rows.some((r) => XDS_TYPES.some(([s]) => r.types[s].state === 'STALE' && !r.types[s].sentAt));
  if (staleUnknown && staleAfterS > 0) {
    const before = new Map(rows.map((r) => [r.proxy, r]));
    await sleep(staleAfterS * 1000);
    rows = pick((await fetchSyncz(base, proxy)).proxies).map((r) => {
      const prev = before.get(r.proxy);
      for (const [s] of XDS_TYPES) {
        const t = r.types[s];
        // Stale since at least the first look: the same response is still unacknowledged.
        if (t.state === 'STALE' && !t.sentAt && prev?.types[s].state === 'STALE' && prev.types[s].sentNonce === t.sentNonce) t.sentAt = new Date(now() - staleAfterS * 1000).toISOString();
      }
      return r;
    });
  }
  const failing: string[] = [];
  for (const r of rows) {
    for (const [s] of XDS_TYPES) {
      const t = r.types[s];
      if (t.state === 'NACKED') failing.push(`${r.proxy} ${s} NACKED: ${t.nack}`);
      else if (t.state === 'STALE' && t.sentAt && now() - Date.parse(t.sentAt) >= staleAfterS * 1000) failing.push(`${r.proxy} ${s} STALE for more than ${staleAfterS}s`);
    }
  }
  return { rows, failing };
}

const serverOption = () => new Option('--server <url>', 'admin URL of meshcd serve').default(DEFAULT_ADMIN_SERVER);

export function registerProxyStatus(program: Command): void {
  program
    .command('proxy-status')
    .argument('[proxy]', 'only this proxy (node id)')
    .description('Sync state of every connected proxy per xDS type (CDS LDS EDS RDS SDS): SYNCED, STALE (sent, not ACKed) or NACKED, like istioctl proxy-status')
    .addOption(serverOption())
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .option('--stale-after <duration>', 'a response unacknowledged this long fails the check', '10s')
    .addHelpText('after', '\nReads GET /debug/syncz.\nExit codes: 0 every proxy SYNCED, 1 a proxy NACKED or STALE for longer than --stale-after (or PROXY is not connected), 2 bad flags or the server cannot be reached.')
    .action(async (proxy: string | undefined, opts: ProxyStatusOptions) => {
      const output = checkOutput(opts.output, ['table', 'json', 'yaml'] as const);
      const base = adminBase(opts.server);
      const { rows, failing } = await proxyStatus(base, proxy, seconds('--stale-after', opts.staleAfter));
      if (output === 'table') process.stdout.write(rows.length ? statusTable(rows, Date.now()) : 'no proxies connected\n');
      else printStructured(output, { proxies: rows, failing });
      if (failing.length) {
        if (output === 'table') process.stderr.write(`${failing.length} problem(s):\n${failing.map((f) => `  ${f}`).join('\n')}\n`);
        process.exitCode = EXIT.FINDINGS;
      }
    });
}

// --- proxy-config ------------------------------------------------------------

interface ProxyConfigOptions {
  server: string;
  output: string;
  name?: string;
}

export function registerProxyConfig(program: Command): void {
  program
    .command('proxy-config')
    .argument('<kind>', `what to show: ${Object.keys(CONFIG_KINDS).join('|')}`)
    .argument('<proxy>', 'node id of a connected proxy (see meshcd proxy-status)')
    .description('The listeners, routes, clusters, endpoints or secrets meshcd serves to one proxy, like istioctl proxy-config (secrets by name only)')
    .addOption(serverOption())
    .option('--name <name>', 'only the resource with this name')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .addHelpText('after', '\nReads GET /debug/config_dump?proxy=PROXY (Envoy\'s config_dump shape).\nExit codes: 0 shown, 1 the proxy is not connected or --name matches nothing, 2 bad flags or the server cannot be reached.')
    .action(async (kindArg: string, proxy: string, opts: ProxyConfigOptions) => {
      if (!(kindArg in CONFIG_KINDS)) throw new UserError(`proxy-config: "${kindArg}" is not one of ${Object.keys(CONFIG_KINDS).join(', ')}`);
      const kind = kindArg as ConfigKind;
      const output = checkOutput(opts.output, ['table', 'json', 'yaml'] as const);
      const base = adminBase(opts.server);
      const dump = await getJson(base, `/debug/config_dump?${new URLSearchParams({ proxy })}`);
      let entries = dumpEntries(dump, kind);
      if (opts.name !== undefined) {
        entries = entries.filter((e) => e.name === opts.name);
        if (!entries.length) throw new UserError(`proxy-config ${kind} ${proxy}: no ${kind} named "${opts.name}"`, EXIT.FINDINGS);
      }
      if (output === 'table') {
        const rows = configRows(kind, entries);
        process.stdout.write(rows.length > 1 ? pad(rows) : `no ${kind}s\n`);
      } else printStructured(output, kind === 'secret' ? entries.map(secretSummary) : entries.map((e) => e.value));
    });
}
