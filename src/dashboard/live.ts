// The dashboard's live feed: one hub that turns what serve's components
// report into small server-sent events, so an open page refetches what
// changed instead of polling. Events name what changed, not the new state:
// the page reads the state from the same API the CLI reads.
//   source   {kind: accepted|rejected|fetch-failed|notice|recovered, source?, revision?, …}
//   rollout  {namespace, name, phase, stepIndex, canaryWeight}
//   proxies  {opened, closed, acks, nacks, lastNack?} from the xDS server's callbacks
//            (src/xds/callbacks.ts): proxies connected, left, ACKed or NACKed since the
//            last event (coalesced: at most one event per `coalesceMs`)
// Imports: src/admin (types).

import type { EventSubscribe, ServerEvent } from '../admin/server.js';

/** What the Reconciler emits (an EventEmitter in serve). */
export interface ReconcilerEvents {
  on(event: string, listener: (e: Record<string, unknown>) => void): unknown;
  off(event: string, listener: (e: Record<string, unknown>) => void): unknown;
}

export interface RolloutEvents {
  onChange(listener: (r: { namespace: string; name: string; phase: string; stepIndex: number; canaryWeight: number }) => void): () => void;
}

/** The xDS server's stream callbacks (src/xds/callbacks.ts `XdsEvents`), the fields used here. */
export interface XdsStreamEvents {
  subscribe(callbacks: {
    streamOpened?(e: { proxy: { id: string } }): void;
    streamClosed?(e: { proxy: { id: string } }): void;
    ack?(e: { proxy: { id: string }; type: string }): void;
    nack?(e: { proxy: { id: string }; type: string; error: string }): void;
  }): () => void;
}

export interface LiveOptions {
  reconciler?: ReconcilerEvents;
  rollouts?: RolloutEvents;
  /** Per-stream callbacks (serve's XdsEvents). */
  xdsEvents?: XdsStreamEvents;
  /** At most one `proxies` event per this many ms (default 200). */
  coalesceMs?: number;
}

type Send = (e: ServerEvent) => void;

export class LiveEvents {
  private readonly clients = new Set<Send>();
  private seq = 0;
  private readonly detach: (() => void)[] = [];

  constructor(opts: LiveOptions) {
    const r = opts.reconciler;
    if (r) {
      const on = (event: string, data: (e: Record<string, unknown>) => Record<string, unknown>) => {
        const listener = (e: Record<string, unknown>) => this.publish('source', { kind: event, ...data(e) });
        r.on(event, listener);
        this.detach.push(() => r.off(event, listener));
      };
      on('accepted', (e) => ({ revisions: (e.revisions as { id: string }[]).map((x) => x.id) }));
      on('rejected', (e) => ({ source: e.source, revision: e.revision, errors: (e.diagnostics as { severity: string }[]).filter((d) => d.severity === 'error').length }));
      on('fetch-failed', (e) => ({ source: e.source, message: e.message }));
      on('notice', (e) => ({ source: e.source, message: e.message }));
      on('recovered', (e) => ({ source: e.source, serving: e.serving }));
    }
    if (opts.xdsEvents) {
      let pending: { opened: number; closed: number; acks: number; nacks: number; lastNack?: { proxy: string; type: string; error: string } } | undefined;
      let timer: NodeJS.Timeout | undefined;
      const note = (f: (p: NonNullable<typeof pending>) => void) => {
        if (this.clients.size === 0) return;
        pending ??= { opened: 0, closed: 0, acks: 0, nacks: 0 };
        f(pending);
        timer ??= setTimeout(() => {
          const p = pending!;
          pending = undefined;
          timer = undefined;
          this.publish('proxies', { ...p });
        }, opts.coalesceMs ?? 200);
      };
      this.detach.push(
        opts.xdsEvents.subscribe({
          streamOpened: () => note((p) => p.opened++),
          streamClosed: () => note((p) => p.closed++),
          ack: () => note((p) => p.acks++),
          nack: (e) => note((p) => (p.nacks++, (p.lastNack = { proxy: e.proxy.id, type: e.type, error: e.error.slice(0, 500) }))),
        }),
        () => clearTimeout(timer),
      );
    }
    if (opts.rollouts) {
      this.detach.push(opts.rollouts.onChange((s) => this.publish('rollout', { namespace: s.namespace, name: s.name, phase: s.phase, stepIndex: s.stepIndex, canaryWeight: s.canaryWeight })));
    }
  }

  /** For admin.events(): each client gets every event from now on. */
  readonly subscribe: EventSubscribe = (send) => {
    this.clients.add(send);
    send({ event: 'hello', id: String(this.seq), data: { at: new Date().toISOString() } });
    return () => void this.clients.delete(send);
  };

  publish(event: string, data: Record<string, unknown>): void {
    const e: ServerEvent = { event, id: String(++this.seq), data };
    for (const send of this.clients) send(e);
  }

  close(): void {
    for (const d of this.detach.splice(0)) d();
    this.clients.clear();
  }
}
