// What the server shows of its streams for /debug/syncz and
// /debug/config_dump (src/xds/debug.ts serves them, paged): per stream its
// proxy, access, identity, mode, the revision it is on and per type what was
// sent, ACKed and NACKed; per proxy its resources in Envoy's config_dump shape.
// Imports: src/api, ./stream, ./authorize (types), ./dump, ../watcher (types).

import type { ProxyInfo, TypeUrl } from '../../api/types.js';
import type { SnapshotWatch } from '../watcher.js';
import type { StreamAccess } from './authorize.js';
import { configDump } from './dump.js';
import type { AdsStream, NackRecord, TypeStatus } from './stream.js';

export interface SynczEntry {
  proxy: string;
  /** `plaintext`, `tls` (authenticated) or `tls-unauthenticated`. */
  access: 'plaintext' | 'tls' | 'tls-unauthenticated';
  /** The proved identity (SPIFFE id or token name), on the TLS port. */
  identity?: string;
  kind: ProxyInfo['kind'];
  namespace: string;
  mode: 'sotw' | 'delta';
  connectedAt: string;
  userAgent?: string;
  snapshotVersion?: string;
  revision?: string;
  types: Record<string, TypeStatus>;
  lastNack?: NackRecord;
}

/** Where the next /debug/syncz page starts. */
export interface SynczCursor {
  proxy: string;
  conn: number;
}

/** Subscribed names shown per type in a syncz entry. */
const MAX_SYNCZ_NAMES = 1000;

/** What syncz reads of one connection. */
export interface IntrospectedConn {
  stream?: AdsStream;
  watch?: SnapshotWatch;
  access?: StreamAccess;
}

export function synczEntry(c: IntrospectedConn): SynczEntry {
  const s = c.stream!;
  const types = s.status();
  for (const st of Object.values(types)) {
    if (st.subscribed !== '*' && st.subscribed.length > MAX_SYNCZ_NAMES) {
      st.subscribedCount = st.subscribed.length;
      st.subscribed = st.subscribed.slice(0, MAX_SYNCZ_NAMES);
    }
  }
  const nacksOf = Object.values(types).map((t) => t.lastNack).filter((n): n is NackRecord => !!n);
  const access = c.access?.port === 'tls' ? (c.access.identity ? 'tls' : 'tls-unauthenticated') : 'plaintext';
  const e: SynczEntry = { proxy: s.proxy.id, access, ...(c.access?.identity ? { identity: c.access.identity.principal } : {}), kind: s.proxy.kind, namespace: s.proxy.namespace, mode: s.mode, connectedAt: s.connectedAt.toISOString(), snapshotVersion: s.snapshot?.version, revision: c.watch?.revision, types };
  if (s.proxy.userAgent) e.userAgent = s.proxy.userAgent;
  if (nacksOf.length) e.lastNack = nacksOf.sort((a, b) => a.at.localeCompare(b.at)).at(-1);
  return e;
}

/**
 * Envoy's config_dump shape for a stream: at most
 * `limit` resources (all types together, in send order), from `offset`;
 * `next` is the offset of the following page when there is one.
 */
export function configDumpOf(s: AdsStream, page: { limit: number; offset: number }): Record<string, unknown> & { next?: number } {
  if (!s.snapshot) return { configs: [] };
  const types = new Map<TypeUrl, { version?: string; resources: { name: string; version: string; value: Record<string, unknown> }[] }>();
  let skip = page.offset;
  let room = page.limit;
  let more = false;
  for (const [t, st] of Object.entries(s.status()) as [TypeUrl, TypeStatus][]) {
    const names = (st.subscribed === '*' ? [...(s.snapshot.encoded.get(t)?.keys() ?? [])] : st.subscribed).filter((n) => s.maySend(t, n));
    const resources: { name: string; version: string; value: Record<string, unknown> }[] = [];
    for (const n of names) {
      const r = s.lookup(s.snapshot, t, n);
      if (!r) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (room <= 0) {
        more = true;
        break;
      }
      room--;
      resources.push({ name: r.name, version: r.version, value: r.value });
    }
    types.set(t, { version: st.ackedVersion ?? st.sentVersion, resources });
  }
  const dump = configDump({ types, at: new Date().toISOString() });
  return more ? { ...dump, next: page.offset + page.limit } : dump;
}
