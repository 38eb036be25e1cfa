// meshcd's xDS server: ADS (state-of-the-world and delta) over @grpc/grpc-js,
// fed by the snapshot cache; SDS ROOTCA from the CA's trust bundle; debug
// endpoints (/debug/syncz, /debug/config_dump) and meshcd_xds_* metrics on the
// admin server. Other gRPC services (the CA's IstioCertificateService) can be
// added to the same server with addService.
// Imports: src/api, src/xds/{proto,node,cache}, src/admin, src/util.

import * as grpc from '@grpc/grpc-js';
import type { ProxyInfo, TrustBundle, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { json, type AdminServer } from '../../admin/server.js';
import { logger } from '../../util/log.js';
import { metric } from '../../util/metrics.js';
import { SnapshotCache, shortType, type EncodedSnapshot, type ModelInputs, type Translator } from '../cache/index.js';
import { looksLikeGrpcListenerName, NodeError, proxyFromNode, type XdsNode } from '../node.js';
import { checkIdentity, credentialsFor, describeClaim, secretScope, type StreamAccess } from './authorize.js';
import { AuthError, StreamRefused, type StreamAuthenticator } from './identity.js';
import { configDump } from './dump.js';
import { adsServiceDefinition, type DeltaDiscoveryRequest, type DeltaResponse, type DiscoveryRequest, type PreparedResponse } from './service.js';
import { AdsStream, type NackRecord, type TypeStatus } from './stream.js';

export { adsClientDefinition, adsServiceDefinition } from './service.js';
export { streamAuthenticator, StreamRefused, type StreamAuthenticator } from './identity.js';
export type { ProvenIdentity, StreamAccess } from './authorize.js';
export type { NackRecord, TypeStatus } from './stream.js';

/** Requests a stream may send before its credentials are checked. */
const MAX_BACKLOG = 16;

/** gRPC's default maximum message size on the receiving side. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface XdsServerOptions {
  translator: Translator<any>;
  debounceMs?: number;
  maxDelayMs?: number;
  /** Largest response sent (default 4 MiB, what clients accept by default). */
  maxMessageBytes?: number;
  /**
   * Bytes handed to gRPC and not yet flushed, across all streams (default
   * 32 MiB). Thousands of proxies connecting at once would otherwise each hold
   * a full CDS response in memory until the network drains it.
   */
  sendBudgetBytes?: number;
  /** For `name:port` listener aliases (default `svc.cluster.local`; taken from the config's MeshConfig when updated). */
  clusterDomain?: string;
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

export interface XdsStats {
  connected: number;
  byKind: Record<string, number>;
  pushes: number;
  acks: number;
  nacks: number;
  oversize: number;
  revision?: string;
  /** Snapshot refusals per proxy class (a meshcd bug when non-empty). */
  refused: { key: string; errors: string[] }[];
  /** Every NACK seen since start (most recent 100). */
  nackLog: (NackRecord & { proxy: string })[];
}

const connected = metric('gauge', 'meshcd_xds_connected_proxies', 'Connected ADS streams by proxy kind', ['kind']);
const pushes = metric('counter', 'meshcd_xds_pushes_total', 'xDS responses sent, by type', ['type']);
const pushDuration = metric('histogram', 'meshcd_xds_push_duration_seconds', 'Time to push one new snapshot to every stream of a proxy class', [], [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]);
const convergence = metric('histogram', 'meshcd_xds_push_ack_seconds', 'Push to ACK convergence time, by type', ['type'], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const nacks = metric('counter', 'meshcd_xds_nacks_total', 'Responses rejected by proxies, by type', ['type']);
const messageBytes = metric('histogram', 'meshcd_xds_message_bytes', 'Size of xDS responses, by type', ['type'], [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]);
const oversize = metric('counter', 'meshcd_xds_oversize_refused_total', 'Responses not sent because they exceeded the message size limit, by type', ['type']);

interface Queued {
  type: string;
  msg: PreparedResponse | DeltaResponse;
  bytes: number;
  /** SotW responses of a type replace an unsent older one; delta responses never do. */
  replaceable: boolean;
}

interface Conn {
  id: number;
  stream?: AdsStream;
  /** Known once the stream's credentials were checked (at once on the plaintext port). */
  access?: StreamAccess;
  call: grpc.ServerDuplexStream<unknown, unknown>;
  queue: Queued[];
  queued: boolean;
  /** Bytes written to gRPC and not yet flushed. */
  inFlight: number;
  closed: boolean;
}

export class XdsServer {
  private readonly log = logger('xds');
  private readonly cache: SnapshotCache<any>;
  /** One gRPC server per port: what a port serves is decided by which server it is. */
  private readonly grpcServers: grpc.Server[] = [];
  private readonly conns = new Map<number, Conn>();
  private readonly byProxy = new Map<string, Set<Conn>>();
  private nextId = 1;
  private readonly maxMessageBytes: number;
  private clusterDomain: string;
  private counters = { pushes: 0, acks: 0, nacks: 0, oversize: 0 };
  private nackLog: (NackRecord & { proxy: string })[] = [];
  private closed = false;
  private inFlight = 0;
  private readonly sendBudget: number;
  private readonly sendQueue: Conn[] = [];

  constructor(opts: XdsServerOptions) {
    this.cache = new SnapshotCache(opts.translator, { debounceMs: opts.debounceMs, maxDelayMs: opts.maxDelayMs, authorizeCredentials: credentialsFor });
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.sendBudget = opts.sendBudgetBytes ?? 32 * 1024 * 1024;
    this.clusterDomain = opts.clusterDomain ?? 'svc.cluster.local';
    this.cache.onSnapshot((ids, snap) => this.push(ids, snap));
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

  /** New accepted config; applied after the debounce (≈100 ms quiet, ≤1 s). */
  update(inputs: ModelInputs, revisionId: string): void {
    this.clusterDomain = inputs.config.mesh.clusterDomain || this.clusterDomain;
    this.cache.update(inputs, revisionId);
  }

  /** Apply a pending update now. */
  flush(): void {
    this.cache.flush();
  }

  get revision(): string | undefined {
    return this.cache.revision;
  }

  /** Serve the CA's roots as the SDS secret `ROOTCA`. */
  setTrustBundle(b: TrustBundle): void {
    const pem = b.rootsPem.join('\n');
    const value = { name: 'ROOTCA', validation_context: { trusted_ca: { inline_string: pem } } };
    this.cache.setSecrets([{ name: 'ROOTCA', value, version: '' }]);
  }

  /** Gateway credentials by namespace (see readCredentialsDir); each gateway gets only its own namespace's, and only those it uses. */
  setCredentials(byNamespace: ReadonlyMap<string, readonly XdsResource[]>): void {
    this.cache.setCredentials(byNamespace);
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

  registerAdmin(admin: AdminServer): void {
    admin.route('GET', '/debug/syncz', () => json(200, { revision: this.cache.revision, proxies: this.syncz(), refused: this.stats().refused }));
    // Per proxy class: how many proxies, the snapshot version, and what the translation had to leave out or degrade.
    admin.route('GET', '/debug/translation', () => json(200, { revision: this.cache.revision, classes: this.cache.status() }));
    admin.route('GET', '/debug/config_dump', (req) => {
      const id = req.query.get('proxy');
      if (!id) return json(400, { error: 'query parameter proxy=<node id> is required; see /debug/syncz for ids' });
      const dump = this.configDump(id);
      return dump ? json(200, dump) : json(404, { error: `no connected proxy with id ${id}` });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.close();
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

  stats(): XdsStats {
    const byKind: Record<string, number> = {};
    for (const c of this.conns.values()) if (c.stream) byKind[c.stream.proxy.kind] = (byKind[c.stream.proxy.kind] ?? 0) + 1;
    return {
      connected: [...this.conns.values()].filter((c) => c.stream).length,
      byKind,
      ...this.counters,
      revision: this.cache.revision,
      refused: this.cache.status().filter((s) => s.error).map((s) => ({ key: s.key, errors: s.error!.errors })),
      nackLog: this.nackLog.slice(),
    };
  }

  syncz(): SynczEntry[] {
    const out: SynczEntry[] = [];
    for (const c of this.conns.values()) {
      const s = c.stream;
      if (!s) continue;
      const types = s.status();
      const nacksOf = Object.values(types).map((t) => t.lastNack).filter((n): n is NackRecord => !!n);
      const access = c.access?.port === 'tls' ? (c.access.identity ? 'tls' : 'tls-unauthenticated') : 'plaintext';
      const e: SynczEntry = { proxy: s.proxy.id, access, ...(c.access?.identity ? { identity: c.access.identity.principal } : {}), kind: s.proxy.kind, namespace: s.proxy.namespace, mode: s.mode, connectedAt: s.connectedAt.toISOString(), snapshotVersion: s.snapshot?.version, revision: this.cache.revision, types };
      if (s.proxy.userAgent) e.userAgent = s.proxy.userAgent;
      if (nacksOf.length) e.lastNack = nacksOf.sort((a, b) => a.at.localeCompare(b.at)).at(-1);
      out.push(e);
    }
    return out.sort((a, b) => a.proxy.localeCompare(b.proxy));
  }

  configDump(proxyId: string): Record<string, unknown> | undefined {
    const c = [...this.conns.values()].reverse().find((x) => x.stream?.proxy.id === proxyId);
    const s = c?.stream;
    if (!s || !s.snapshot) return s ? { configs: [] } : undefined;
    const types = new Map<TypeUrl, { version?: string; resources: { name: string; version: string; value: Record<string, unknown> }[] }>();
    for (const [t, st] of Object.entries(s.status()) as [TypeUrl, TypeStatus][]) {
      const names = st.subscribed === '*' ? [...(s.snapshot.encoded.get(t)?.keys() ?? [])] : st.subscribed;
      const resources = names.filter((n) => s.maySend(t, n)).map((n) => s.lookup(s.snapshot!, t, n)).filter((r) => !!r).map((r) => ({ name: r!.name, version: r!.version, value: r!.value }));
      types.set(t, { version: st.ackedVersion ?? st.sentVersion, resources });
    }
    return configDump({ types, at: new Date().toISOString() });
  }

  // ---------------------------------------------------------------------------

  private handle(call: grpc.ServerDuplexStream<unknown, unknown>, mode: 'sotw' | 'delta', tls: TlsPortOptions | undefined): void {
    const conn: Conn = { id: this.nextId++, call, queue: [], queued: false, inFlight: 0, closed: false };
    this.conns.set(conn.id, conn);
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
    call.on('data', (req: DiscoveryRequest | DeltaDiscoveryRequest) => {
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
      const stream = new AdsStream(proxy, mode, this.hooks(conn, proxy), { maxMessageBytes: this.maxMessageBytes, clusterDomain: this.clusterDomain, secretScope: secretScope(proxy, access) });
      conn.stream = stream;
      connected.inc({ kind: proxy.kind });
      const { snapshot } = this.cache.register(proxy);
      let set = this.byProxy.get(proxy.id);
      if (!set) this.byProxy.set(proxy.id, (set = new Set()));
      set.add(conn);
      this.log.info({ proxy: proxy.id, kind: proxy.kind, namespace: proxy.namespace, mode, userAgent: proxy.userAgent, access: access.port, identity: access.identity?.principal }, 'proxy connected');
      if (snapshot) stream.snapshot = snapshot;
    }
    if (mode === 'sotw') conn.stream.onRequest(req as DiscoveryRequest);
    else conn.stream.onDeltaRequest(req as DeltaDiscoveryRequest);
  }

  private hooks(conn: Conn, proxy: ProxyInfo) {
    return {
      sendSotw: (r: PreparedResponse, bytes: number) => this.enqueue(conn, { type: r.type_url, msg: r, bytes, replaceable: true }),
      sendDelta: (r: DeltaResponse) => this.enqueue(conn, { type: r.type_url, msg: r, bytes: r.resources.reduce((a, x) => a + x.bytes.length + x.name.length + 64, 128), replaceable: false }),
      acked: (type: TypeUrl, seconds: number) => {
        this.counters.acks++;
        convergence.observe({ type: shortType(type) }, seconds);
      },
      nacked: (n: NackRecord) => {
        this.counters.nacks++;
        nacks.inc({ type: shortType(n.type) });
        this.nackLog.push({ ...n, proxy: proxy.id });
        if (this.nackLog.length > 100) this.nackLog.shift();
        this.log.error({ proxy: proxy.id, type: n.type, nonce: n.nonce, version: n.version, error: n.message }, 'proxy rejected a response (NACK); it keeps its previous config');
      },
      oversize: (type: TypeUrl, bytes: number) => {
        this.counters.oversize++;
        oversize.inc({ type: shortType(type) });
        this.log.error({ proxy: proxy.id, type, bytes, limit: this.maxMessageBytes }, 'response exceeds the gRPC message size limit; not sent (SotW responses must be whole)');
      },
      pushed: (type: TypeUrl, bytes: number) => {
        this.counters.pushes++;
        pushes.inc({ type: shortType(type) });
        messageBytes.observe({ type: shortType(type) }, bytes);
      },
    };
  }

  private enqueue(conn: Conn, item: Queued): void {
    if (conn.closed) return;
    const i = item.replaceable ? conn.queue.findIndex((q) => q.replaceable && q.type === item.type) : -1;
    // Replacing in place keeps make-before-break order (an older CDS stays ahead of LDS).
    if (i >= 0) conn.queue[i] = item;
    else conn.queue.push(item);
    if (!conn.queued) {
      conn.queued = true;
      this.sendQueue.push(conn);
    }
    this.pump();
  }

  /** Writes queued responses round-robin across streams while the send budget allows. */
  private pump(): void {
    while (this.sendQueue.length && (this.inFlight < this.sendBudget || this.inFlight === 0)) {
      const conn = this.sendQueue.shift()!;
      conn.queued = false;
      const item = conn.queue.shift();
      if (!item || conn.closed) continue;
      if (conn.queue.length) {
        conn.queued = true;
        this.sendQueue.push(conn);
      }
      this.inFlight += item.bytes;
      conn.inFlight += item.bytes;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (!conn.closed) {
          this.inFlight -= item.bytes;
          conn.inFlight -= item.bytes;
        }
        this.pump();
      };
      try {
        conn.call.write(item.msg, release);
      } catch {
        release();
      }
    }
  }

  private push(ids: readonly string[], snap: EncodedSnapshot): void {
    const end = pushDuration.startTimer();
    for (const id of ids) for (const c of this.byProxy.get(id) ?? []) c.stream?.setSnapshot(snap);
    end();
  }

  private drop(conn: Conn): void {
    if (!this.conns.delete(conn.id)) return;
    // Writes on a dead stream may never call back: give their budget back now.
    conn.closed = true;
    this.inFlight -= conn.inFlight;
    conn.inFlight = 0;
    conn.queue = [];
    queueMicrotask(() => this.pump());
    const s = conn.stream;
    if (!s) return;
    connected.dec({ kind: s.proxy.kind });
    const set = this.byProxy.get(s.proxy.id);
    set?.delete(conn);
    // Another stream of the same proxy (a reconnect) keeps it registered.
    if (!set || set.size === 0) {
      this.byProxy.delete(s.proxy.id);
      this.cache.unregister(s.proxy.id);
    }
    this.log.info({ proxy: s.proxy.id }, 'proxy disconnected');
  }
}

function bind(server: grpc.Server, port: number, host: string, credentials: grpc.ServerCredentials): Promise<number> {
  const addr = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, credentials, (err, bound) => (err ? reject(new Error(`cannot listen on ${addr}: ${err.message}`)) : resolve(bound)));
  });
}
