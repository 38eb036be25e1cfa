// A Prometheus HTTP API client for instant queries: POST /api/v1/query (so
// the query is in the body, never in a URL that a proxy or log could keep),
// with a timeout and a bounded response. Every failure is a PrometheusError
// with a kind and a one-line message that names the address (without
// userinfo, query string or fragment) and never a credential.

export type PrometheusFailure = 'address' | 'unreachable' | 'timeout' | 'http' | 'prometheus' | 'bad-response' | 'too-large';

export class PrometheusError extends Error {
  constructor(message: string, readonly kind: PrometheusFailure) {
    super(message);
    this.name = 'PrometheusError';
  }
}

/** A parsed, credential-free Prometheus base URL (may have a path prefix such as /prometheus). */
export interface PrometheusAddress {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:9090/`. */
  base: string;
}

/** Checks a Prometheus address; a URL with user:password@ is refused without echoing it. */
export function parsePrometheusAddress(address: string, where = 'prometheus address'): PrometheusAddress {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    throw new PrometheusError(`${where}: "${address.replace(/\/\/[^/@]*@/, '//')}" is not a URL (e.g. http://127.0.0.1:9090)`, 'address');
  }
  if (u.username || u.password) {
    u.username = '';
    u.password = '';
    throw new PrometheusError(`${where}: credentials in the address are not accepted (${u.origin}): a user:password@ URL would end up in logs and status`, 'address');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PrometheusError(`${where}: scheme "${u.protocol.slice(0, -1)}" is not supported (http or https)`, 'address');
  if (u.search || u.hash) throw new PrometheusError(`${where}: the address must not have a query string or fragment (${u.origin}${u.pathname})`, 'address');
  const base = u.toString();
  return { base: base.endsWith('/') ? base : `${base}/` };
}

export interface Series {
  labels: Record<string, string>;
  value: number;
}

export interface QueryOptions {
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. */
  maxBytes?: number;
  /** Evaluation time (ms since epoch); default: Prometheus's now. */
  time?: number;
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BYTES = 1 << 20;

/** Prometheus sample values are strings: "1.5", "NaN", "+Inf", "-Inf". */
function sampleValue(v: unknown): number | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== 'string') return undefined;
  const s = v[1];
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const n = Number(s);
  return s.trim() !== '' && !Number.isNaN(n) ? n : undefined;
}

async function readBounded(res: Response, maxBytes: number, where: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new PrometheusError(`${where}: response of ${declared} bytes exceeds the limit of ${maxBytes}`, 'too-large');
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw new PrometheusError(`${where}: response exceeds the limit of ${maxBytes} bytes`, 'too-large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function oneLine(s: string, max = 200): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Runs an instant query; returns one entry per series (a scalar is one unlabelled series). Throws PrometheusError. */
export async function queryInstant(address: PrometheusAddress, query: string, opts: QueryOptions = {}): Promise<Series[]> {
  const endpoint = new URL('api/v1/query', address.base).toString();
  const where = `Prometheus ${endpoint}`;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const body = new URLSearchParams({ query });
  if (opts.time !== undefined) body.set('time', (opts.time / 1000).toFixed(3));
  const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(endpoint, { method: 'POST', body, headers: { accept: 'application/json' }, signal, redirect: 'error' });
    text = await readBounded(res, opts.maxBytes ?? DEFAULT_MAX_BYTES, where);
  } catch (err) {
    if (err instanceof PrometheusError) throw err;
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new PrometheusError(`${where}: no answer within ${timeoutMs} ms`, 'timeout');
    throw new PrometheusError(`${where}: unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`, 'unreachable');
  }
  let doc: { status?: unknown; errorType?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    if (!res.ok) throw new PrometheusError(`${where}: HTTP ${res.status} ${res.statusText}`.trim(), 'http');
    throw new PrometheusError(`${where}: the answer is not JSON (is this a Prometheus server?)`, 'bad-response');
  }
  if (doc?.status === 'error') {
    throw new PrometheusError(`${where}: ${String(doc.errorType ?? 'error')}: ${oneLine(String(doc.error ?? ''))}`, 'prometheus');
  }
  if (!res.ok) throw new PrometheusError(`${where}: HTTP ${res.status} ${res.statusText}`.trim(), 'http');
  if (doc?.status !== 'success' || !doc.data) throw new PrometheusError(`${where}: the answer has no status "success" and data`, 'bad-response');
  const { resultType, result } = doc.data;
  if (resultType === 'scalar') {
    const value = sampleValue(result);
    if (value === undefined) throw new PrometheusError(`${where}: malformed scalar result`, 'bad-response');
    return [{ labels: {}, value }];
  }
  if (resultType !== 'vector') {
    throw new PrometheusError(`${where}: the query returned a ${String(resultType)}; an analysis query must return an instant vector or a scalar`, 'bad-response');
  }
  if (!Array.isArray(result)) throw new PrometheusError(`${where}: malformed vector result`, 'bad-response');
  return result.map((s: { metric?: Record<string, string>; value?: unknown }) => {
    const value = sampleValue(s?.value);
    if (value === undefined) throw new PrometheusError(`${where}: malformed sample in the vector result`, 'bad-response');
    return { labels: s.metric ?? {}, value };
  });
}
