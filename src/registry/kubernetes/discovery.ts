// List/watch of one cluster's Services, EndpointSlices, Pods, Nodes and
// Namespaces with @kubernetes/client-node's ListWatch informers. This file
// only keeps the objects current and says when they changed; what they mean
// is ./view.ts (pure).
//
// Watch semantics, on top of client-node's ListWatch:
// - every watch asks for bookmarks (allowWatchBookmarks) and a server-side
//   timeout of 5–10 min, so a quiet resource's resourceVersion stays fresh
//   and the server, not a client timer, ends a healthy watch;
// - 410 Gone (an event or a status) → ListWatch relists with an empty
//   resourceVersion and diffs the new list against what it holds: objects
//   present in both are never dropped in between, only the missing ones are
//   deleted (counted in meshcd_kube_watch_gone_total / _relists_total);
// - any other failure (API server down, 5xx, 403) stops ListWatch; it is
//   started again after an exponential backoff with jitter (1 s → 30 s),
//   resuming the watch from the last resourceVersion. No periodic resync.

import { EventEmitter } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import { logger, type Logger } from '../../util/log.js';
import { metric } from '../../util/metrics.js';
import type { ClusterObjects } from './view.js';

export type WatchedKind = 'services' | 'endpointslices' | 'pods' | 'nodes' | 'namespaces';
export const WATCHED_KINDS: readonly WatchedKind[] = ['namespaces', 'nodes', 'pods', 'services', 'endpointslices'];

const events = metric('counter', 'meshcd_kube_events_total', 'Kubernetes watch events applied (add, update, delete)', ['cluster', 'resource']);
const relists = metric('counter', 'meshcd_kube_relists_total', 'Full lists of a resource (the first one, then after 410 Gone)', ['cluster', 'resource']);
const gone = metric('counter', 'meshcd_kube_watch_gone_total', 'Watches ended by 410 Gone (resourceVersion compacted away)', ['cluster', 'resource']);
const failures = metric('counter', 'meshcd_kube_watch_failures_total', 'List or watch failures (then retried with backoff)', ['cluster', 'resource']);

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export interface DiscoveryOptions {
  kubeConfig: k8s.KubeConfig;
  clusterId: string;
  backoff?: Partial<BackoffOptions>;
  log?: Logger;
}

/** Per-resource counters, for tests and /debug. */
export interface DiscoveryStats {
  lists: number;
  gone: number;
  failures: number;
  events: number;
  lastError?: string;
}

interface Informer {
  kind: WatchedKind;
  lw: k8s.ListWatch<k8s.KubernetesObject>;
  stats: DiscoveryStats;
  synced: boolean;
  attempt: number;
  timer?: NodeJS.Timeout;
}

/** client-node's Watch with bookmarks and a server-side timeout; reports 410s it sees. */
class BookmarkWatch extends k8s.Watch {
  constructor(config: k8s.KubeConfig, private readonly onGone: () => void) {
    super(config);
    // Bookmarks arrive about once a minute: only a longer silence means a dead
    // connection. client-node declares this inactivity timeout private (30 s).
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 150_000;
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController> {
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    return super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds },
      (phase, obj, raw) => {
        if (phase === 'ERROR' && obj?.code === 410) this.onGone();
        callback(phase, obj, raw);
      },
      (err) => {
        if (err && (err.statusCode === 410 || err.code === 410)) this.onGone();
        done(err);
      },
    );
  }
}

/** A readable reason for a failed list/watch: HTTP status and the API's message, never a header or token. */
export function describeKubeError(err: unknown): string {
  const e = err as { code?: number | string; statusCode?: number; body?: unknown; message?: string; cause?: { code?: string; message?: string } };
  const status = typeof e?.code === 'number' ? e.code : e?.statusCode;
  let message: string | undefined;
  if (e?.body) {
    try {
      const b = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      message = typeof (b as { message?: unknown }).message === 'string' ? (b as { message: string }).message : undefined;
    } catch {
      // not JSON
    }
  }
  if (status) return `HTTP ${status}${message ? `: ${message.slice(0, 300)}` : ''}`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${(e?.message ?? String(err)).split('\n')[0]!.slice(0, 200)}${cause ? ` (${cause})` : ''}`;
}

export class KubeDiscovery extends EventEmitter {
  readonly clusterId: string;
  private readonly informers: Informer[] = [];
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private stopped = false;
  /** Bumped on every applied change. */
  generation = 0;

  constructor(private readonly opts: DiscoveryOptions) {
    super();
    this.clusterId = opts.clusterId;
    this.log = (opts.log ?? logger('kube')).child({ cluster: opts.clusterId });
    this.backoff = { initialMs: opts.backoff?.initialMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 30_000 };
    const kc = opts.kubeConfig;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const lists: Record<WatchedKind, { path: string; list: () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> }> = {
      namespaces: { path: '/api/v1/namespaces', list: () => core.listNamespace() },
      nodes: { path: '/api/v1/nodes', list: () => core.listNode() },
      pods: { path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() },
      services: { path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() },
      endpointslices: { path: '/apis/discovery.k8s.io/v1/endpointslices', list: () => discovery.listEndpointSliceForAllNamespaces() },
    };
    for (const kind of WATCHED_KINDS) {
      const stats: DiscoveryStats = { lists: 0, gone: 0, failures: 0, events: 0 };
      const labels = { cluster: this.clusterId, resource: kind };
      const watch = new BookmarkWatch(kc, () => {
        stats.gone++;
        gone.inc(labels);
        this.log.info({ resource: kind }, 'watch expired (410 Gone): relisting; objects are kept until the new list replaces them');
      });
      const inf: Informer = { kind, stats, synced: false, attempt: 0, lw: undefined as unknown as k8s.ListWatch<k8s.KubernetesObject> };
      const listFn = async () => {
        const r = await lists[kind].list();
        stats.lists++;
        relists.inc(labels);
        inf.attempt = 0;
        if (!inf.synced) {
          // ListWatch stores the items right after this promise settles.
          setImmediate(() => {
            inf.synced = true;
            this.emit('synced', kind);
          });
        }
        return r;
      };
      inf.lw = new k8s.ListWatch(lists[kind].path, watch, listFn, false);
      const changed = () => {
        stats.events++;
        events.inc(labels);
        inf.attempt = 0;
        this.generation++;
        this.emit('change', kind);
      };
      inf.lw.on('add', changed);
      inf.lw.on('update', changed);
      inf.lw.on('delete', changed);
      inf.lw.on('error', (err) => this.failed(inf, err));
      this.informers.push(inf);
    }
  }

  private failed(inf: Informer, err: unknown): void {
    if (this.stopped) return;
    const reason = describeKubeError(err);
    inf.stats.failures++;
    inf.stats.lastError = reason;
    failures.inc({ cluster: this.clusterId, resource: inf.kind });
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** inf.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    inf.attempt = Math.min(inf.attempt + 1, 30);
    this.log.warn({ resource: inf.kind, reason, retryInMs: delay }, 'list/watch failed; keeping the objects known so far and retrying');
    this.emit('failure', inf.kind, reason);
    clearTimeout(inf.timer);
    inf.timer = setTimeout(() => {
      inf.timer = undefined;
      if (!this.stopped) void inf.lw.start().catch((e) => this.failed(inf, e));
    }, delay);
    inf.timer.unref?.();
  }

  /**
   * Starts every informer and waits until each has listed once. Failures are
   * retried in the background; after `timeoutMs` without a first list the
   * promise rejects with the resources still missing and their last error.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    this.stopped = false;
    for (const inf of this.informers) void inf.lw.start().catch((e) => this.failed(inf, e));
    const deadline = Date.now() + timeoutMs;
    while (this.informers.some((i) => !i.synced)) {
      if (this.stopped) throw new Error('stopped before the first list');
      if (Date.now() > deadline) {
        const missing = this.informers.filter((i) => !i.synced).map((i) => `${i.kind}${i.stats.lastError ? ` (${i.stats.lastError})` : ''}`);
        throw new Error(`cluster ${this.clusterId}: no first list after ${Math.round(timeoutMs / 1000)} s of ${missing.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  get kubeConfig(): k8s.KubeConfig {
    return this.opts.kubeConfig;
  }

  stats(): Record<WatchedKind, DiscoveryStats> {
    return Object.fromEntries(this.informers.map((i) => [i.kind, { ...i.stats }])) as Record<WatchedKind, DiscoveryStats>;
  }

  private items<T>(kind: WatchedKind): T[] {
    return this.informers.find((i) => i.kind === kind)!.lw.list() as unknown as T[];
  }

  /** The objects held now. */
  objects(): ClusterObjects {
    return {
      clusterId: this.clusterId,
      services: this.items<k8s.V1Service>('services'),
      endpointSlices: this.items<k8s.V1EndpointSlice>('endpointslices'),
      pods: this.items<k8s.V1Pod>('pods'),
      nodes: this.items<k8s.V1Node>('nodes'),
      namespaces: this.items<k8s.V1Namespace>('namespaces'),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const inf of this.informers) {
      clearTimeout(inf.timer);
      await inf.lw.stop();
    }
  }
}
