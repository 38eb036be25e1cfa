// The xDS debug routes on the admin server, bounded so that no request
// blocks serving: /debug/syncz (?proxy=ID, ?limit=N default 1000,
// ?continue=TOKEN; `next` in the response when truncated), /debug/config_dump
// (?proxy=ID required, same paging over resources), /debug/translation.
// `serve` wires them to the server and the cache.
// Imports: src/admin (route helpers), src/xds/server and src/xds/cache (types only).

import { json, type AdminServer, type AdminRequest, type AdminResponse } from '../admin/server.js';
import type { SynczCursor, SynczEntry, XdsServer } from './server/index.js';
import type { SnapshotCache } from './cache/index.js';

export interface XdsDebugSource {
  revision(): string | undefined;
  /** The canary revision during a config canary (each syncz entry says which revision its proxy is on). */
  canaryRevision?(): string | undefined;
  synczPage(q: { proxy?: string; limit: number; after?: SynczCursor }): { entries: SynczEntry[]; next?: SynczCursor };
  /** Snapshot refusals per proxy class (a meshcd bug when non-empty). */
  refused(): { key: string; errors: string[] }[];
  /** Per proxy class: proxies, snapshot version, translation diagnostics. */
  translation(): unknown[];
  configDump(proxyId: string, page: { limit: number; offset: number }): (Record<string, unknown> & { next?: number }) | undefined;
}

export const DEBUG_PAGE_DEFAULT = 1000;
export const DEBUG_PAGE_MAX = 10_000;

type Page<C> = { limit: number; after?: C } | { error: AdminResponse };

function page<C>(req: AdminRequest, decode: (token: string) => C | undefined): Page<C> {
  const rawLimit = req.query.get('limit');
  let limit = DEBUG_PAGE_DEFAULT;
  if (rawLimit !== null) {
    if (!/^\d{1,6}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > DEBUG_PAGE_MAX) return { error: json(400, { error: `limit=${rawLimit.slice(0, 20)}: expected a number from 1 to ${DEBUG_PAGE_MAX}` }) };
    limit = Number(rawLimit);
  }
  const token = req.query.get('continue');
  if (token === null) return { limit };
  const after = token.length <= 2048 ? decode(token) : undefined;
  if (after === undefined) return { error: json(400, { error: 'continue: not a token this endpoint returned as "next"' }) };
  return { limit, after };
}

const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function decodeJson(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function synczCursor(token: string): SynczCursor | undefined {
  const v = decodeJson(token) as { p?: unknown; c?: unknown } | undefined;
  return v && typeof v.p === 'string' && Number.isSafeInteger(v.c) ? { proxy: v.p, conn: v.c as number } : undefined;
}

function offsetCursor(token: string): number | undefined {
  const v = decodeJson(token) as { o?: unknown } | undefined;
  return v && Number.isSafeInteger(v.o) && (v.o as number) >= 0 ? (v.o as number) : undefined;
}

export function registerXdsDebugRoutes(admin: AdminServer, src: XdsDebugSource): void {
  admin.route('GET', '/debug/syncz', (req) => {
    const p = page(req, synczCursor);
    if ('error' in p) return p.error;
    const proxy = req.query.get('proxy') ?? undefined;
    const { entries, next } = src.synczPage({ limit: p.limit, ...(proxy !== undefined ? { proxy } : {}), ...(p.after ? { after: p.after } : {}) });
    const canary = src.canaryRevision?.();
    return json(200, { revision: src.revision(), ...(canary !== undefined ? { canaryRevision: canary } : {}), proxies: entries, refused: src.refused(), ...(next ? { next: encode({ p: next.proxy, c: next.conn }) } : {}) });
  });
  // Per proxy class: how many proxies, the snapshot version, and what the translation had to leave out or degrade.
  admin.route('GET', '/debug/translation', () => json(200, { revision: src.revision(), classes: src.translation() }));
  admin.route('GET', '/debug/config_dump', (req) => {
    const id = req.query.get('proxy');
    if (!id) return json(400, { error: 'query parameter proxy=<node id> is required; see /debug/syncz for ids' });
    const p = page(req, offsetCursor);
    if ('error' in p) return p.error;
    const dump = src.configDump(id, { limit: p.limit, offset: p.after ?? 0 });
    if (!dump) return json(404, { error: `no connected proxy with id ${id.slice(0, 200)}` });
    const { next, ...rest } = dump;
    return json(200, next !== undefined ? { ...rest, next: encode({ o: next }) } : rest);
  });
}

/** The production source: streams from the server, revision and per-class state from the cache. */
export function xdsDebugSource(server: XdsServer, cache: SnapshotCache): XdsDebugSource {
  return {
    revision: () => cache.revision,
    canaryRevision: () => cache.canaryRevision,
    synczPage: (q) => server.synczPage(q),
    refused: () => cache.status().filter((s) => s.error).map((s) => ({ key: s.key, errors: s.error!.errors })),
    translation: () => cache.status(),
    configDump: (id, page) => server.configDump(id, page),
  };
}
