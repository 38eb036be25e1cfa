// Live updates: one EventSource on /api/v1/events for the whole app. An
// event says what changed (`source`, `rollout`, `proxies`); a page's data
// hook refetches its documents when an event it cares about arrives, and
// after a reconnect (events may have been missed). The page never polls.

import { useEffect, useRef, useState } from 'preact/hooks';

/** connecting: the first connection; open: events arrive; lost: the server stopped answering (the page retries). */
export type LiveState = 'connecting' | 'open' | 'lost';
type Listener = (event: string, data: Record<string, unknown>) => void;

const EVENTS = ['source', 'rollout', 'proxies'];
/** The browser retries a dropped stream by itself (every ~3 s); one it gave up on (a non-200 answer) is retried here, backing off to this. */
const MAX_RETRY_MS = 30_000;

class LiveFeed {
  state: LiveState = 'connecting';
  /** When the server stopped answering (ms), while `lost`. */
  lostAt: number | undefined;
  private source: EventSource | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(s: LiveState) => void>();
  private hadError = false;
  private retryMs = 2000;
  private timer: number | undefined;

  connect(): void {
    if (this.source) return;
    const es = new EventSource('/api/v1/events');
    this.source = es;
    es.addEventListener('hello', () => {
      this.retryMs = 2000;
      this.lostAt = undefined;
      this.setState('open');
      // Back after a drop: what happened meanwhile is unknown, so everyone refetches.
      if (this.hadError) this.emit('reconnected', {});
      this.hadError = false;
    });
    es.onerror = () => {
      this.hadError = true;
      // Before the first hello this is still the first attempt failing; after it, the server went away.
      if (this.state === 'open' || this.lostAt !== undefined || es.readyState === EventSource.CLOSED) {
        this.lostAt ??= Date.now();
        this.setState('lost');
      }
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (the server answered, but not with a stream): try again later ourselves.
        es.close();
        this.source = undefined;
        clearTimeout(this.timer);
        this.timer = window.setTimeout(() => this.connect(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      }
    };
    for (const name of EVENTS) {
      es.addEventListener(name, (e) => {
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>;
        } catch {
          /* a frame we cannot read still means something changed */
        }
        this.emit(name, data);
      });
    }
  }

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  onState(l: (s: LiveState) => void): () => void {
    this.stateListeners.add(l);
    return () => void this.stateListeners.delete(l);
  }

  private emit(event: string, data: Record<string, unknown>): void {
    for (const l of this.listeners) l(event, data);
  }

  private setState(s: LiveState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }
}

export const live = new LiveFeed();

export function useLiveState(): LiveState {
  const [s, set] = useState<LiveState>(live.state);
  useEffect(() => live.onState(set), []);
  return s;
}

export interface Data<T> {
  data: T | undefined;
  error: string | undefined;
  /** True until the first answer (later refetches keep showing the previous data: no flicker, no layout shift). */
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now, again when `deps` change, and again when a live event
 * for which `on(event, data)` is true arrives: debounced (80 ms), at most one
 * load in flight (events during a load ask for one more after it, so a
 * stream of ACKs never starves the page of an answer), and at most one load
 * per `minIntervalMs`.
 */
export function useData<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], on: (event: string, data: Record<string, unknown>) => boolean, minIntervalMs = 0): Data<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const onRef = useRef(on);
  onRef.current = on;
  const flow = useRef({ busy: false, dirty: false, startedAt: 0, timer: undefined as number | undefined });
  const again = () => {
    const f = flow.current;
    clearTimeout(f.timer);
    f.timer = window.setTimeout(() => setTick((t) => t + 1), Math.max(80, f.startedAt + minIntervalMs - Date.now()));
  };
  useEffect(() => {
    const ctl = new AbortController();
    const f = flow.current;
    Object.assign(f, { busy: true, dirty: false, startedAt: Date.now() });
    load(ctl.signal)
      .then(
        (data) => !ctl.signal.aborted && setState({ data, error: undefined, loading: false }),
        (err: unknown) => !ctl.signal.aborted && setState((s) => ({ data: s.data, error: err instanceof Error ? err.message : String(err), loading: false })),
      )
      .finally(() => {
        if (ctl.signal.aborted) return;
        f.busy = false;
        if (f.dirty) again();
      });
    return () => {
      ctl.abort();
      f.busy = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  useEffect(() => {
    const off = live.on((event, data) => {
      if (event !== 'reconnected' && !onRef.current(event, data)) return;
      if (flow.current.busy) flow.current.dirty = true;
      else again();
    });
    return () => {
      off();
      clearTimeout(flow.current.timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
