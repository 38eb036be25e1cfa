// What the ADS server reports, in go-control-plane's `Callbacks` shape: the
// server calls these and does nothing else with what happens on its streams
// (no metrics of its own). `XdsEvents` fans one set of callbacks out to any
// number of subscribers, so `serve` can hand the server one object and wire
// metrics (src/xds/metrics.ts), the rollout runner (ACK/NACK of a config
// canary) and the dashboard (live proxy updates) onto it:
//
//   const events = new XdsEvents();
//   const server = new XdsServer({ watcher: cache, callbacks: events });
//   events.subscribe(xdsMetrics());
//   const stop = events.subscribe({ ack: (e) => …, nack: (e) => … });
//
// A subscriber that throws is logged and skipped; it never reaches a stream.
// Callbacks run synchronously on the server's path: keep them short.
// Imports: src/api, src/util.

import type { ProxyInfo, TypeUrl } from '../api/types.js';
import { logger } from '../util/log.js';

/** One ADS stream (a proxy may hold several while it reconnects). */
export interface StreamRef {
  /** Server-wide stream number, unique while the process runs. */
  stream: number;
  proxy: ProxyInfo;
  mode: 'sotw' | 'delta';
}

export interface ResponseEvent extends StreamRef {
  type: TypeUrl;
  /** SotW: the response's version_info; delta: the snapshot version it came from. */
  version: string;
  nonce: string;
  /** The revision (SnapshotWatch.revision) the response was built from. */
  revision: string | undefined;
  bytes: number;
  /** Resources in the response (SotW: the whole set). */
  resources: number;
}

export interface AckEvent extends StreamRef {
  type: TypeUrl;
  version: string;
  nonce: string;
  /** The revision the acknowledged response was built from. */
  revision: string | undefined;
  /** From sending the response to its ACK. */
  seconds: number;
}

export interface NackEvent extends StreamRef {
  type: TypeUrl;
  /** The version the proxy rejected (SotW) or the rejected resources' versions (delta). */
  version: string;
  nonce: string;
  revision: string | undefined;
  /** The proxy's error_detail message, bounded (MAX_NACK_DETAIL). */
  error: string;
  /** Names the proxy rejected or still subscribes (at most 100). */
  resources: string[];
}

export interface OversizeEvent extends StreamRef {
  type: TypeUrl;
  bytes: number;
  limit: number;
}

export interface SnapshotAppliedEvent extends StreamRef {
  version: string;
  revision: string | undefined;
  /** Time the stream took to work out and queue what changed. */
  seconds: number;
}

export interface XdsCallbacks {
  /** A stream's node was accepted (identity checked) and it is being served. */
  streamOpened?(e: StreamRef): void;
  /** A stream that was opened ended (the client left, was refused later, or the server closed). */
  streamClosed?(e: StreamRef): void;
  responseSent?(e: ResponseEvent): void;
  ack?(e: AckEvent): void;
  nack?(e: NackEvent): void;
  /** A SotW response was not sent because it is larger than the client kind accepts. */
  oversize?(e: OversizeEvent): void;
  /** A new snapshot for the stream's proxy was taken in (a push, when anything it subscribes changed). */
  snapshotApplied?(e: SnapshotAppliedEvent): void;
}

type Name = keyof XdsCallbacks;

/** One set of callbacks for the server, any number of subscribers behind it. */
export class XdsEvents implements Required<XdsCallbacks> {
  private readonly log = logger('xds-events');
  private readonly subs = new Set<XdsCallbacks>();

  /** Hear the server's events; returns the function that stops it. */
  subscribe(callbacks: XdsCallbacks): () => void {
    this.subs.add(callbacks);
    return () => this.subs.delete(callbacks);
  }

  get subscribers(): number {
    return this.subs.size;
  }

  private emit<N extends Name>(name: N, e: Parameters<NonNullable<XdsCallbacks[N]>>[0]): void {
    for (const s of this.subs) {
      const fn = s[name] as ((x: typeof e) => void) | undefined;
      if (!fn) continue;
      try {
        fn.call(s, e);
      } catch (err) {
        this.log.error({ callback: name, err: (err as Error).message }, 'an xDS event subscriber failed; the others and the stream go on');
      }
    }
  }

  streamOpened(e: StreamRef): void {
    this.emit('streamOpened', e);
  }
  streamClosed(e: StreamRef): void {
    this.emit('streamClosed', e);
  }
  responseSent(e: ResponseEvent): void {
    this.emit('responseSent', e);
  }
  ack(e: AckEvent): void {
    this.emit('ack', e);
  }
  nack(e: NackEvent): void {
    this.emit('nack', e);
  }
  oversize(e: OversizeEvent): void {
    this.emit('oversize', e);
  }
  snapshotApplied(e: SnapshotAppliedEvent): void {
    this.emit('snapshotApplied', e);
  }
}
