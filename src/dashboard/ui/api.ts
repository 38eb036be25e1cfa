// The admin API as the dashboard reads it: the same routes and documents
// the CLI reads (types below are the fields the pages use). Mutating calls
// carry the admin token from this tab's sessionStorage as a Bearer header;
// the token is never put in a URL or a cookie.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const TOKEN_KEY = 'meshcd.adminToken';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** fetch(), with "the server did not answer" said as such (the browser's own text is "Failed to fetch"). */
async function call(path: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(path, init);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, `${what}: meshcd serve did not answer (stopped, restarting, or the network between); the page retries when it is back`);
  }
}

async function answer<T>(res: Response, what: string): Promise<T> {
  const body = await res.text();
  let value: unknown;
  try {
    value = body ? JSON.parse(body) : undefined;
  } catch {
    value = undefined;
  }
  if (!res.ok) {
    const msg = value && typeof value === 'object' && 'error' in value ? String((value as { error: unknown }).error) : body.trim().slice(0, 300) || res.statusText;
    throw new ApiError(res.status, `${what}: ${msg}`);
  }
  return value as T;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const what = `GET ${path.split('?')[0]}`;
  const res = await call(path, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) }, what);
  return answer<T>(res, what);
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  const what = `GET ${path.split('?')[0]}`;
  const res = await call(path, { ...(signal ? { signal } : {}) }, what);
  if (!res.ok) await answer(res, what);
  return res.text();
}

/** A mutating call with the admin token; 401 forgets the token (it was wrong or rotated). */
export async function postWithToken<T>(path: string, token = session.token()): Promise<T> {
  if (!token) throw new ApiError(401, 'log in with the admin token first');
  const res = await call(path, { method: 'POST', headers: { accept: 'application/json', authorization: `Bearer ${token}` } }, `POST ${path}`);
  if (res.status === 401) session.clear();
  return answer<T>(res, `POST ${path}`);
}

/** True when the server takes this token (GET /api/v1/auth). */
export async function checkToken(token: string): Promise<void> {
  const res = await call('/api/v1/auth', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } }, 'login');
  await answer(res, 'login');
}

// --- documents: the server's own types (type-only imports, erased from the bundle) ---

export type { Diagnostic } from '../../api/types.js';
export type { SourceStatus } from '../../source/status.js';
export type { CommitView } from '../../cli/repo-routes.js';
export type { Measurement, RolloutStep } from '../../rollout/contracts.js';
export type { MetricStatus, RolloutStatus } from '../../rollout/runner.js';
export type { HistoryEntry } from '../../git/history.js';
export type { DiffReport } from '../../diff/report.js';
export type { EnvoyChange } from '../../diff/envoy.js';
import type { ConfigResource as GraphResource } from '../graph.js';

/** One resource of GET /api/v1/config (src/source/reconcile.ts). */
export interface ConfigResource extends GraphResource {
  origin: { file: string; line: number; source?: string };
}

/** Every proxy from /debug/syncz, following `next` (at most `maxPages` pages). */
export async function fetchSyncz(signal?: AbortSignal, maxPages = 20): Promise<{ revision?: string; proxies: Record<string, unknown>[]; truncated: boolean }> {
  const proxies: Record<string, unknown>[] = [];
  let revision: string | undefined;
  let token: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const doc = await getJson<{ revision?: string; proxies: Record<string, unknown>[]; next?: string }>(`/debug/syncz${token ? `?continue=${encodeURIComponent(token)}` : ''}`, signal);
    revision ??= doc.revision;
    proxies.push(...doc.proxies);
    if (!doc.next) return { ...(revision ? { revision } : {}), proxies, truncated: false };
    token = doc.next;
  }
  return { ...(revision ? { revision } : {}), proxies, truncated: true };
}
