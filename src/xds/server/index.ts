// meshcd's xDS server: ADS (state-of-the-world and delta) over @grpc/grpc-js.
// It knows streams, nonces and sending; snapshots come through a
// SnapshotWatcher (src/xds/watcher.ts), and what happens on streams goes out
// through XdsCallbacks (src/xds/callbacks.ts: opened/closed, response sent,
// ACK, NACK, oversize), onto which `serve` wires metrics and subscribers.
// It serves syncz/config_dump data for src/xds/debug.ts. Other gRPC services
// (the CA's IstioCertificateService) go on the TLS port with listenTls.
// Imports: src/api, src/xds/{node,names,watcher,callbacks,cache/snapshot}, src/util.

import * as grpc from '@grpc/grpc-js';
import type { ProxyInfo, TypeUrl } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { logger } from '../../util/log.js';
import type { SnapshotWatch, SnapshotWatcher } from '../watcher.js';
import type { StreamRef, XdsCallbacks } from '../callbacks.js';
import { looksLikeGrpcListenerName, NodeError, proxyFromNode, type XdsNode } from '../node.js';
import { checkIdentity, describeClaim, secretScope, type StreamAccess } from './authorize.js';
import { AuthError, StreamRefused, type StreamAuthenticator } from './identity.js';
import { configDumpOf, synczEntry, type SynczCursor, type SynczEntry } from './introspect.js';
import { adsServiceDefinition, InvalidRequest, type DeltaDiscoveryRequest, type DeltaResponse, type DiscoveryRequest, type PreparedResponse } from './service.js';
import { AdsStream, StreamLimitError, type NackRecord, type StreamHooks, type TypeStatus } from './stream.js';
import { SendScheduler, type SendTarget, type StreamHandle } from './sender.js';

export { adsClientDefinition, adsServiceDefinition } from './service.js';
export { streamAuthenticator, StreamRefused, type StreamAuthenticator } from './identity.js';
export type { ProvenIdentity, StreamAccess } from './authorize.js';
export type { NackRecord, TypeStatus } from './stream.js';
export type { SynczCursor, SynczEntry } from './introspect.js';

/** Requests a stream may send before its credentials are checked. */
const MAX_BACKLOG = 16;

/** gRPC's default maximum message size on the receiving side. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * The largest response each client kind accepts by default: gRPC libraries
 * refuse a message over 4 MiB; Envoy sets no limit. SotW responses must be
 * whole, so a larger one is not sent (and counted); delta ones are split.
 */
export const MESSAGE_LIMITS: Readonly<Record<ProxyInfo['kind'], number>> = { grpc: MAX_MESSAGE_BYTES, sidecar: Infinity, router: Infinity };

export interface XdsServerOptions {
  /** Where snapshots come from (the SnapshotCache in production, a fake in tests). */
  watcher: SnapshotWatcher;
  /** Where stream events go (serve passes an XdsEvents with metrics and other subscribers); none by default. */
  callbacks?: XdsCallbacks;
  /** Largest response sent to any client kind (default: MESSAGE_LIMITS per kind). */
  maxMessageBytes?: number;
  /**
   * Bytes handed to gRPC and not yet flushed, per connection (default
   * 32 MiB). A client that stops reading fills only its own budget.
   */
  sendBudgetBytes?: number;
  /** The same per stream (default 8 MiB; one larger response is still sent alone). */
  streamBudgetBytes?: number;
  /**
   * The same across all connections (default 64 MiB): a push to thousands of
   * proxies is written as fast as they read it, not all into memory at once.
   * A write pending for over 5 s stops counting (src/xds/server/sender.ts).
   */
  totalSendBudgetBytes?: number;
  /** A stream whose writes make no progress for this long is reset (default 60 s). */
  stallMs?: number;
  /** ADS streams per connection (default 100; Envoy and gRPC open one). */
  maxStreamsPerConnection?: number;
  /** ADS streams per peer address (default 10000). */
  maxStreamsPerPeer?: number;
  /** Subscribed resource names per type in one stream (default 100000). */
  maxNamesPerType?: number;
  /** Subscribed resource names across types in one stream (default 250000). */
  maxNamesPerStream?: number;
}

/** The TLS port: who may connect and what else it serves. */
export interface TlsPortOptions {
  credentials: grpc.ServerCredentials;
  /** Proves each stream's identity (see streamAuthenticator). */
  authenticate: StreamAuthenticator;
  /** Admit streams that present no credential at all, config only (never secrets). */
  allowUnauthenticated?: boolean;
  /** Other services on this port only (the CA's CreateCertificate). */
  services?: { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }[];
}

export interface XdsStats {
  connected: number;
  byKind: Record<string, number>;
  pushes: number;
  acks: number;
  nacks: number;
  oversize: number;
  /** NACK log lines not written because the proxy had one logged within the window. */
  nackLogsSuppressed: number;
  /** Every NACK seen since start (most recent 100). */
  nackLog: (NackRecord & { proxy: string })[];
}

type Outgoing = PreparedResponse | DeltaResponse;

/** Defaults for the bounds (XdsServerOptions); the CLI flags say the same. */
export const XDS_LIMITS = { sendBudgetBytes: 32 * 1024 * 1024, streamBudgetBytes: 8 * 1024 * 1024, totalSendBudgetBytes: 64 * 1024 * 1024, stallMs: 60_000, maxStreamsPerConnection: 100, maxStreamsPerPeer: 10_000, maxNamesPerType: 100_000, maxNamesPerStream: 250_000 } as const;

/** How long NACK details are in logs and the NACK log; syncz keeps the (bounded) full text. */
const NACK_LOG_CHARS = 512;
/** At most one NACK log line per proxy in this window; the others are counted. */
const NACK_LOG_EVERY_MS = 10_000;

interface Conn {
  id: number;
  stream?: AdsStream;
  watch?: SnapshotWatch;
  /** What callbacks are told about this stream (set once it is served). */
  ref?: StreamRef;
  /** Known once the stream's credentials were checked (at once on the plaintext port). */
  access?: StreamAccess;
  call: grpc.ServerDuplexStream<unknown, unknown>;
  sender: StreamHandle<Outgoing>;
  target: SendTarget<Outgoing>;
  /** Peer host (without port), for the per-address cap. */
  peerHost: string;
  closed: boolean;
}

export class XdsServer {
  private readonly log = logger('xds');
  /** One gRPC server per port: what a port serves is decided by which server it is. */
  private readonly grpcServers: grpc.Server[] = [];
  private readonly conns = new Map<number, Conn>();
  private nextId = 1;
  private readonly maxMessageBytes: number | undefined;
  private counters = { pushes: 0, acks: 0, nacks: 0, oversize: 0, nackLogsSuppressed: 0 };
  private nackLog: (NackRecord & { proxy: string })[] = [];
  private closed = false;
  private readonly watcher: SnapshotWatcher;
  private readonly cb: XdsCallbacks;
  private readonly limits: Required<Pick<XdsServerOptions, keyof typeof XDS_LIMITS>>;
  private readonly scheduler: SendScheduler<Outgoing>;
  private readonly byTarget = new Map<SendTarget<Outgoing>, Conn>();
  private readonly streamsByPeer = new Map<string, number>();
  private readonly nackLogGate = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: XdsServerOptions) {
    this.watcher = opts.watcher;
    this.cb = opts.callbacks ?? {};
    this.maxMessageBytes = opts.maxMessageBytes;
    this.limits = { ...XDS_LIMITS, ...Object.fromEntries(Object.entries(opts).filter(([k, v]) => k in XDS_LIMITS && v !== undefined)) };
    this.scheduler = new SendScheduler<Outgoing>({ streamBudgetBytes: this.limits.streamBudgetBytes, connectionBudgetBytes: this.limits.sendBudgetBytes, totalBudgetBytes: this.limits.totalSendBudgetBytes, stallMs: this.limits.stallMs }, (target, seconds) => {
      const conn = this.byTarget.get(target);
      if (!conn) return;
      this.log.warn({ proxy: conn.stream?.proxy.id, peer: conn.call.getPeer(), seconds: Math.round(seconds) }, 'ADS stream reset: the client has not read a response for too long');
      this.refuse(conn, new StreamRefused(grpc.status.UNAVAILABLE, `no progress writing responses for ${Math.round(seconds)} s; stream reset`));
    });
  }

  private newGrpcServer(tls: TlsPortOptions | undefined): grpc.Server {
    const server = new grpc.Server({ 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.keepalive_permit_without_calls': 1 });
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, PreparedResponse>) => this.handle(call as grpc.ServerDuplexStream<unknown, unknown>, 'sotw', tls),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaResponse>) => this.handle(call as grpc.ServerDuplexStream<unknown, unknown>, 'delta', tls),
    });
    for (const s of tls?.services ?? []) server.addService(s.definition, s.implementation);
    this.grpcServers.push(server);
    return server;
  }


  /**
   * The plaintext port (Istio's 15010): ADS, config only. Nobody is
   * authenticated here, so no SDS secret but the ROOTCA trust bundle is
   * ever sent on it, and no other service (the CA) answers on it.
   */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return bind(this.newGrpcServer(undefined), port, host, grpc.ServerCredentials.createInsecure());
  }

  /**
   * The TLS port (Istio's 15012): ADS for proxies that prove who they are
   * (client certificate from the CA or a bearer token), plus `services`.
   * A node whose claimed namespace or service account differs from the
   * proved identity is refused with PERMISSION_DENIED; a stream with no
   * credential is refused with UNAUTHENTICATED unless allowUnauthenticated,
   * and then served config only.
   */
  listenTls(port: number, host: string, opts: TlsPortOptions): Promise<number> {
    return bind(this.newGrpcServer(opts), port, host, opts.credentials);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.stop();
    for (const c of this.conns.values()) {
      try {
        c.call.end();
      } catch {
        /* already gone */
      }
    }
    await Promise.all(this.grpcServers.map((server) => new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    })));
    for (const c of [...this.conns.values()]) this.drop(c);
  }

  /** The push budget now: bytes written and not yet taken, connections waiting for room. */
  sendTotals(): { inFlight: number; waiting: number } {
    return this.scheduler.totals();
  }

  stats(): XdsStats {
    const byKind: Record<string, number> = {};
    for (const c of this.conns.values()) if (c.stream) byKind[c.stream.proxy.kind] = (byKind[c.stream.proxy.kind] ?? 0) + 1;
    return {
      connected: [...this.conns.values()].filter((c) => c.stream).length,
      byKind,
      ...this.counters,
      nackLog: this.nackLog.slice(),
    };
  }

  /** Every stream's entry (tests); the admin API pages with synczPage. */
  syncz(): SynczEntry[] {
    return this.synczPage({ limit: Infinity }).entries;
  }

  /**
   * One page of /debug/syncz: streams sorted by proxy id (then age), at most
   * `limit`, optionally of one proxy, after the `after` cursor. Subscribed
   * name lists longer than 1000 are cut (with their count).
   */
  synczPage(q: { proxy?: string; limit: number; after?: SynczCursor }): { entries: SynczEntry[]; next?: SynczCursor } {
    let conns = [...this.conns.values()].filter((c) => c.stream && (q.proxy === undefined || c.stream.proxy.id === q.proxy));
    conns.sort((a, b) => a.stream!.proxy.id.localeCompare(b.stream!.proxy.id) || a.id - b.id);
    const after = q.after;
    if (after) conns = conns.filter((c) => { const d = c.stream!.proxy.id.localeCompare(after.proxy); return d > 0 || (d === 0 && c.id > after.conn); });
    const page = conns.slice(0, q.limit);
    const last = page.at(-1);
    return { entries: page.map((c) => synczEntry(c)), ...(conns.length > page.length && last ? { next: { proxy: last.stream!.proxy.id, conn: last.id } } : {}) };
  }

  /** Envoy's config_dump shape for the newest stream of a proxy, paged (see configDumpOf). */
  configDump(proxyId: string, page: { limit: number; offset: number } = { limit: Infinity, offset: 0 }): (Record<string, unknown> & { next?: number }) | undefined {
    const c = [...this.conns.values()].reverse().find((x) => x.stream?.proxy.id === proxyId);
    return c?.stream ? configDumpOf(c.stream, page) : undefined;
  }

  // ---------------------------------------------------------------------------

  private handle(call: grpc.ServerDuplexStream<unknown, unknown>, mode: 'sotw' | 'delta', tls: TlsPortOptions | undefined): void {
    const peer = call.getPeer();
    const target: SendTarget<Outgoing> = { write: (msg, done) => call.write(msg, done) };
    const conn: Conn = { id: this.nextId++, call, sender: this.scheduler.open(peer, target), target, peerHost: peer.slice(0, Math.max(0, peer.lastIndexOf(':'))) || peer, closed: false };
    this.conns.set(conn.id, conn);
    this.byTarget.set(target, conn);
    const onPeer = (this.streamsByPeer.get(conn.peerHost) ?? 0) + 1;
    this.streamsByPeer.set(conn.peerHost, onPeer);
    if (this.scheduler.streamsOn(peer) > this.limits.maxStreamsPerConnection) {
      queueMicrotask(() => this.refuse(conn, new StreamRefused(grpc.status.RESOURCE_EXHAUSTED, `more than ${this.limits.maxStreamsPerConnection} ADS streams on one connection (--xds-max-streams-per-connection)`)));
    } else if (onPeer > this.limits.maxStreamsPerPeer) {
      queueMicrotask(() => this.refuse(conn, new StreamRefused(grpc.status.RESOURCE_EXHAUSTED, `more than ${this.limits.maxStreamsPerPeer} ADS streams from ${conn.peerHost} (--xds-max-streams-per-peer)`)));
    }
    // Requests that arrive while the credentials are checked wait (a few; a client that floods before it is admitted is refused).
    const backlog: (DiscoveryRequest | DeltaDiscoveryRequest)[] = [];
    const process = (req: DiscoveryRequest | DeltaDiscoveryRequest) => {
      if (conn.closed) return;
      try {
        this.onRequest(conn, mode, req);
      } catch (err) {
        this.refuse(conn, err);
      }
    };
    call.on('data', (req: DiscoveryRequest | DeltaDiscoveryRequest | InvalidRequest) => {
      if (req instanceof InvalidRequest) return this.refuse(conn, new StreamRefused(grpc.status.INVALID_ARGUMENT, req.message));
      conn.sender.heard();
      if (conn.access) return process(req);
      if (backlog.length >= MAX_BACKLOG) return this.refuse(conn, new StreamRefused(grpc.status.RESOURCE_EXHAUSTED, `more than ${MAX_BACKLOG} requests before the stream's credentials were checked`));
      backlog.push(req);
    });
    this.admit(call, tls).then(
      (access) => {
        if (conn.closed) return;
        conn.access = access;
        for (const req of backlog.splice(0)) process(req);
      },
      (err: unknown) => this.refuse(conn, err),
    );
    const end = () => this.drop(conn);
    call.on('end', () => {
      end();
      try {
        call.end();
      } catch {
        /* closed */
      }
    });
    call.on('cancelled', end);
    call.on('error', end);
    call.on('close', end);
  }

  /** Who this stream is: nobody on the plaintext port; on the TLS port, what its credentials prove. */
  private async admit(call: grpc.ServerDuplexStream<unknown, unknown>, tls: TlsPortOptions | undefined): Promise<StreamAccess> {
    if (!tls) return { port: 'plaintext' };
    let identity;
    try {
      identity = await tls.authenticate(call);
    } catch (err) {
      if (err instanceof AuthError) {
        this.log.warn({ audit: 'xds_refused', reason: err.reason, peer: call.getPeer() }, `xDS stream refused: ${err.message}`);
        throw new StreamRefused(grpc.status.UNAUTHENTICATED, err.message);
      }
      this.log.error({ err: (err as Error).message, peer: call.getPeer() }, 'xDS stream authentication failed');
      throw new StreamRefused(grpc.status.UNAVAILABLE, 'authentication backend failed; retry later');
    }
    if (identity) return { port: 'tls', identity };
    if (tls.allowUnauthenticated) return { port: 'tls' };
    this.log.warn({ audit: 'xds_refused', reason: 'no_credentials', peer: call.getPeer() }, 'xDS stream refused: no client certificate and no bearer token on the TLS port');
    throw new StreamRefused(grpc.status.UNAUTHENTICATED, 'no credentials: present a client certificate from meshcd\'s CA or "authorization: Bearer <token>" (or start meshcd serve with --xds-allow-unauthenticated for config-only access)');
  }

  /** End a stream with a status: a refusal, a bad node, or a meshcd bug (INTERNAL, logged). */
  private refuse(conn: Conn, err: unknown): void {
    if (conn.closed) return;
    let code: grpc.status = grpc.status.INTERNAL;
    if (err instanceof StreamRefused) code = err.code;
    else if (err instanceof NodeError) code = grpc.status.INVALID_ARGUMENT;
    else if (err instanceof StreamLimitError) code = grpc.status.RESOURCE_EXHAUSTED;
    else this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'ADS request handling failed');
    const details = err instanceof StreamRefused ? err.details : (err as Error).message;
    try {
      conn.call.emit('error', { code, details });
    } catch {
      /* already closed */
    }
    this.drop(conn);
  }

  private onRequest(conn: Conn, mode: 'sotw' | 'delta', req: DiscoveryRequest | DeltaDiscoveryRequest): void {
    if (typeof req.type_url !== 'string' || !TYPE_URL_RE.test(req.type_url)) throw new StreamRefused(grpc.status.INVALID_ARGUMENT, `request has no valid type_url (${JSON.stringify(String(req.type_url ?? '')).slice(0, 80)})`);
    if (!conn.stream) {
      const proxy = proxyFromNode(req.node as XdsNode | undefined);
      const access = conn.access!;
      const decision = checkIdentity(proxy, access);
      if (!decision.ok) {
        this.log.warn({ audit: 'xds_refused', reason: 'identity_mismatch', proxy: proxy.id, claim: describeClaim(proxy), identity: access.identity?.principal, peer: conn.call.getPeer() }, `xDS stream refused: ${decision.reason}`);
        throw new StreamRefused(grpc.status.PERMISSION_DENIED, decision.reason);
      }
      const names = mode === 'sotw' ? (req as DiscoveryRequest).resource_names ?? [] : (req as DeltaDiscoveryRequest).resource_names_subscribe ?? [];
      if (proxy.kind !== 'grpc' && req.type_url === TYPE_URL.listener && names.length > 0 && names.every(looksLikeGrpcListenerName)) proxy.kind = 'grpc';
      const stream = new AdsStream(proxy, mode, this.hooks(conn, proxy), { maxMessageBytes: this.messageLimit(proxy), secretScope: secretScope(proxy, access), maxNamesPerType: this.limits.maxNamesPerType, maxNamesPerStream: this.limits.maxNamesPerStream });
      conn.stream = stream;
      const ref: StreamRef = { stream: conn.id, proxy, mode };
      conn.ref = ref;
      this.cb.streamOpened?.(ref);
      conn.watch = this.watcher.watch(proxy, (snap, revision) => {
        const start = performance.now();
        stream.setSnapshot(snap, revision);
        this.cb.snapshotApplied?.({ ...ref, version: snap.version, revision, seconds: (performance.now() - start) / 1000 });
      });
      const snapshot = conn.watch.current;
      this.log.info({ proxy: proxy.id, kind: proxy.kind, namespace: proxy.namespace, mode, userAgent: proxy.userAgent, access: access.port, identity: access.identity?.principal, revision: conn.watch.revision }, 'proxy connected');
      if (snapshot) {
        stream.snapshot = snapshot;
        stream.revision = conn.watch.revision;
      }
    }
    if (mode === 'sotw') conn.stream.onRequest(req as DiscoveryRequest);
    else conn.stream.onDeltaRequest(req as DeltaDiscoveryRequest);
  }

  private hooks(conn: Conn, proxy: ProxyInfo): StreamHooks {
    const ref = (): StreamRef => conn.ref!;
    return {
      sendSotw: (r: PreparedResponse, bytes: number) => conn.sender.send({ type: r.type_url, msg: r, bytes, replaceable: true }),
      sendDelta: (r: DeltaResponse) => conn.sender.send({ type: r.type_url, msg: r, bytes: r.resources.reduce((a, x) => a + x.bytes.length + x.name.length + 64, 128), replaceable: false }),
      acked: (a) => {
        this.counters.acks++;
        this.cb.ack?.({ ...ref(), ...a });
      },
      nacked: (n: NackRecord, revision: string | undefined) => {
        this.counters.nacks++;
        this.cb.nack?.({ ...ref(), type: n.type, version: n.version, nonce: n.nonce, revision, error: n.message, resources: n.resources });
        const short = truncate(n.message, NACK_LOG_CHARS);
        this.nackLog.push({ ...n, message: short, resources: n.resources.slice(0, 20), proxy: proxy.id });
        if (this.nackLog.length > 100) this.nackLog.shift();
        // A client repeating the same NACK must not fill the disk: one line per proxy per window, the rest counted.
        const gate = this.nackLogGate.get(proxy.id);
        const now = Date.now();
        if (gate && now - gate.at < NACK_LOG_EVERY_MS) {
          gate.suppressed++;
          this.counters.nackLogsSuppressed++;
          return;
        }
        this.nackLogGate.set(proxy.id, { at: now, suppressed: 0 });
        this.log.error({ proxy: proxy.id, type: n.type, nonce: n.nonce, version: n.version, error: short, ...(gate?.suppressed ? { suppressed: gate.suppressed } : {}) }, 'proxy rejected a response (NACK); it keeps its previous config');
      },
      oversize: (type: TypeUrl, bytes: number) => {
        this.counters.oversize++;
        const limit = this.messageLimit(proxy);
        this.cb.oversize?.({ ...ref(), type, bytes, limit });
        this.log.error({ proxy: proxy.id, kind: proxy.kind, namespace: proxy.namespace, type, bytes, limit }, `response exceeds what a ${proxy.kind} client accepts; not sent (SotW responses must be whole): scope namespace ${proxy.namespace} with a Sidecar resource, or use delta xDS`);
      },
      pushed: (p) => {
        this.counters.pushes++;
        this.cb.responseSent?.({ ...ref(), type: p.type, version: p.version, nonce: p.nonce, revision: p.revision, bytes: p.bytes, resources: p.count });
      },
    };
  }

  private messageLimit(proxy: ProxyInfo): number {
    return this.maxMessageBytes ?? MESSAGE_LIMITS[proxy.kind];
  }

  private drop(conn: Conn): void {
    if (!this.conns.delete(conn.id)) return;
    conn.closed = true;
    conn.sender.close();
    this.byTarget.delete(conn.target);
    const left = (this.streamsByPeer.get(conn.peerHost) ?? 1) - 1;
    if (left > 0) this.streamsByPeer.set(conn.peerHost, left);
    else this.streamsByPeer.delete(conn.peerHost);
    const s = conn.stream;
    if (!s) return;
    conn.watch?.cancel();
    if (conn.ref) this.cb.streamClosed?.(conn.ref);
    if (![...this.conns.values()].some((c) => c.stream?.proxy.id === s.proxy.id)) this.nackLogGate.delete(s.proxy.id);
    this.log.info({ proxy: s.proxy.id }, 'proxy disconnected');
  }
}

function bind(server: grpc.Server, port: number, host: string, credentials: grpc.ServerCredentials): Promise<number> {
  const addr = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, credentials, (err, bound) => (err ? reject(new Error(`cannot listen on ${addr}: ${err.message}`)) : resolve(bound)));
  });
}

const TYPE_URL_RE = /^type\.googleapis\.com\/[A-Za-z0-9_.]{1,200}$/;

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}
