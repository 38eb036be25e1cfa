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
  const res = await fetch(path, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) });
  return answer<T>(res, `GET ${path.split('?')[0]}`);
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(path, { ...(signal ? { signal } : {}) });
  if (!res.ok) await answer(res, `GET ${path.split('?')[0]}`);
  return res.text();
}

/** A mutating call with the admin token; 401 forgets the token (it was wrong or rotated). */
export async function postWithToken<T>(path: string, token = session.token()): Promise<T> {
  if (!token) throw new ApiError(401, 'log in with the admin token first');
  const res = await fetch(path, { method: 'POST', headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  if (res.status === 401) session.clear();
  return answer<T>(res, `POST ${path}`);
}

/** True when the server takes this token (GET /api/v1/auth). */
export async function checkToken(token: string): Promise<void> {
  const res = await fetch('/api/v1/auth', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  await answer(res, 'login');
}

// --- documents ---------------------------------------------------------------

export interface Diagnostic {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  resource?: string;
  origin?: { file: string; line: number; source?: string };
}

export interface SourceStatus {
  name: string;
  kind: 'git' | 'dir';
  url: string;
  ref: string;
  path: string;
  namespaces?: string[];
  revision?: string;
  acceptedAt?: string;
  fetchedRevision?: string;
  lastFetchTime?: string;
  lastFetchDurationMs?: number;
  lastError?: { message: string; reason: string; at: string; consecutiveFailures: number };
  nextFetchAt?: string;
  lastRejected?: { revision: string; at: string; diagnostics: Diagnostic[] };
  notices: { at: string; message: string }[];
  restoredRevision?: string;
  webhook: boolean;
}

export interface CommitView {
  commit: string;
  parents: string[];
  author: { name: string; email: string };
  date: string;
  subject: string;
  body: string;
}

export interface Measurement {
  metric: string;
  at: number;
  value?: number;
  stableValue?: number;
  verdict: 'success' | 'failure' | 'inconclusive' | 'error';
  message?: string;
  query?: string;
}

export type RolloutStep = { setWeight: number } | { pause: { duration?: string } } | { setHeaderRoute: { match: unknown[] } } | { setMirror: { percent: number } } | { analysis: { metrics: string[] } };

export interface RolloutStatus {
  namespace: string;
  name: string;
  phase: 'Idle' | 'Progressing' | 'Paused' | 'Succeeded' | 'Failed' | 'Aborted';
  stepIndex: number;
  canaryWeight: number;
  steps: RolloutStep[];
  target: { virtualService: string; route?: string };
  revision?: string;
  reason?: string;
  pause?: { reason: string; deadline?: string; remainingMs?: number };
  analysis?: { failures: number; inconclusives: number; consecutiveErrors: number; metrics: Record<string, { verdict?: string; recent: Measurement[]; measurements?: Measurement[]; thresholdRange?: { min?: number; max?: number } }> };
  writeBack?: unknown;
  drift: boolean;
  history: { at: string; phase: string; stepIndex: number; canaryWeight: number; message: string }[];
}

export interface ConfigResource {
  kind: string;
  namespace: string;
  name: string;
  origin: { file: string; line: number; source?: string };
  resource: { spec?: unknown; metadata?: unknown };
}

export interface HistoryEntry {
  commit: string;
  author: { name: string; email: string };
  date: string;
  subject: string;
  change: string;
  origin?: { file: string; line: number };
  diff: string;
}

export interface EnvoyChange {
  type: 'listener' | 'route' | 'cluster' | 'endpoint' | 'secret';
  name: string;
  change: string;
  patch?: { op: string; path: string; value?: unknown }[];
}

/** `meshcd diff -o json`, from GET /api/v1/sources/NAME/diff. */
export interface DiffReport {
  base: { label: string; revision: string };
  head: { label: string; revision: string };
  counts: Record<string, number>;
  resources: { key: string; kind: string; namespace: string; name: string; change: string; base?: { file: string; line: number }; head?: { file: string; line: number }; yamlDiff: string; note?: string }[];
  validation: { status: string; errors: number; warnings: number; introduced: number; diagnostics: (Diagnostic & { introduced: boolean })[] };
  envoy:
    | { status: 'skipped'; reason: string }
    | { status: 'computed'; proxies: number; affected: { proxy: { id: string; kind: string; namespace: string }; changes: EnvoyChange[] }[]; errors: string[]; diagnostics: { proxyKind: string; proxy: string; introduced: boolean; diagnostic: Diagnostic }[] };
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
