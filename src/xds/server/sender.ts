// Writing responses without letting one client starve the others. Each
// stream and each TCP connection (HTTP/2 session, keyed by the peer's
// address:port) has its own budget of bytes handed to gRPC and not yet
// flushed; a stream or connection that does not read (HTTP/2 window 0, so
// write callbacks never fire) only blocks itself. A stream is stalled, and
// reported to `onStall` (the server resets it), when it has bytes in flight
// and no write completed for `stallMs`, or when it was sent a response and
// the client said nothing (no ACK, no request) for `stallMs`: Node buffers
// a few writes past the HTTP/2 window and calls back, so a client that never
// reads shows first as a client that never answers. Streams on one connection are served round-robin;
// an unsent SotW response of a type is replaced by a newer one.
// Imports: nothing from meshcd.

export interface SendItem<M> {
  type: string;
  msg: M;
  bytes: number;
  /** SotW responses of a type replace an unsent older one; delta responses never do. */
  replaceable: boolean;
}

export interface SenderOptions {
  /** Per stream: bytes in flight (a single larger message is still sent alone). */
  streamBudgetBytes: number;
  /** Per connection: bytes in flight across its streams. */
  connectionBudgetBytes: number;
  /** A stream with bytes in flight and no progress for this long is stalled. */
  stallMs: number;
}

/** One stream's side of the scheduler; `write` is the gRPC call's write. */
export interface SendTarget<M> {
  write(msg: M, done: () => void): void;
}

interface StreamState<M> {
  target: SendTarget<M>;
  session: Session<M>;
  queue: SendItem<M>[];
  queued: boolean;
  inFlight: number;
  /** When a write last completed, or the first write went out (performance.now()). */
  lastProgress: number;
  /** A response went out and the client has not sent anything since (performance.now()). */
  awaitingSince: number | undefined;
  closed: boolean;
}

interface Session<M> {
  key: string;
  inFlight: number;
  ready: StreamState<M>[];
  streams: number;
}

export class SendScheduler<M> {
  private readonly sessions = new Map<string, Session<M>>();
  private readonly streams = new Set<StreamState<M>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SenderOptions, private readonly onStall: (target: SendTarget<M>, seconds: number) => void) {}

  /** A new stream on connection `sessionKey`; returns its handle. */
  open(sessionKey: string, target: SendTarget<M>): StreamHandle<M> {
    let session = this.sessions.get(sessionKey);
    if (!session) this.sessions.set(sessionKey, (session = { key: sessionKey, inFlight: 0, ready: [], streams: 0 }));
    session.streams++;
    const st: StreamState<M> = { target, session, queue: [], queued: false, inFlight: 0, lastProgress: performance.now(), awaitingSince: undefined, closed: false };
    this.streams.add(st);
    this.timer ??= setInterval(() => this.checkStalls(), Math.max(10, Math.floor(this.opts.stallMs / 4))).unref();
    return new StreamHandle(this, st);
  }

  /** Streams open on a connection. */
  streamsOn(sessionKey: string): number {
    return this.sessions.get(sessionKey)?.streams ?? 0;
  }

  /** @internal */
  enqueue(st: StreamState<M>, item: SendItem<M>): void {
    if (st.closed) return;
    const i = item.replaceable ? st.queue.findIndex((q) => q.replaceable && q.type === item.type) : -1;
    // Replacing in place keeps make-before-break order (an older CDS stays ahead of LDS).
    if (i >= 0) st.queue[i] = item;
    else st.queue.push(item);
    this.ready(st);
    this.pump(st.session);
  }

  /** @internal */
  close(st: StreamState<M>): void {
    if (st.closed) return;
    st.closed = true;
    this.streams.delete(st);
    // Writes on a dead stream may never call back: give their budget back now.
    st.session.inFlight -= st.inFlight;
    st.inFlight = 0;
    st.queue = [];
    const session = st.session;
    session.streams--;
    if (session.streams === 0) this.sessions.delete(session.key);
    else queueMicrotask(() => this.pump(session));
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** @internal */
  heard(st: StreamState<M>): void {
    st.awaitingSince = undefined;
  }

  /** @internal */
  pending(st: StreamState<M>): { queued: number; inFlight: number } {
    return { queued: st.queue.length, inFlight: st.inFlight };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private ready(st: StreamState<M>): void {
    if (st.queued || st.closed || !st.queue.length) return;
    st.queued = true;
    st.session.ready.push(st);
  }

  private canSend(st: StreamState<M>, bytes: number): boolean {
    return st.inFlight === 0 || st.inFlight + bytes <= this.opts.streamBudgetBytes;
  }

  /** Writes queued responses round-robin across one connection's streams while both budgets allow. */
  private pump(session: Session<M>): void {
    while (session.ready.length && (session.inFlight < this.opts.connectionBudgetBytes || session.inFlight === 0)) {
      const st = session.ready.shift()!;
      st.queued = false;
      const item = st.queue[0];
      if (!item || st.closed) continue;
      // Over its own budget: it waits for one of its writes to complete (release re-queues it).
      if (!this.canSend(st, item.bytes)) continue;
      st.queue.shift();
      this.ready(st);
      if (st.inFlight === 0) st.lastProgress = performance.now();
      st.awaitingSince ??= performance.now();
      st.inFlight += item.bytes;
      session.inFlight += item.bytes;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (st.closed) return;
        st.inFlight -= item.bytes;
        session.inFlight -= item.bytes;
        st.lastProgress = performance.now();
        this.ready(st);
        this.pump(session);
      };
      try {
        st.target.write(item.msg, release);
      } catch {
        release();
      }
    }
  }

  private checkStalls(): void {
    const now = performance.now();
    for (const st of [...this.streams]) {
      const since = st.inFlight > 0 ? Math.min(st.lastProgress, st.awaitingSince ?? Infinity) : st.awaitingSince;
      if (since !== undefined && now - since > this.opts.stallMs) this.onStall(st.target, (now - since) / 1000);
    }
  }
}

export class StreamHandle<M> {
  /** @internal */
  constructor(private readonly scheduler: SendScheduler<M>, private readonly st: StreamState<M>) {}

  send(item: SendItem<M>): void {
    this.scheduler.enqueue(this.st, item);
  }

  close(): void {
    this.scheduler.close(this.st);
  }

  /** The client sent something (an ACK, a NACK, a request): it is alive. */
  heard(): void {
    this.scheduler.heard(this.st);
  }

  pending(): { queued: number; inFlight: number } {
    return this.scheduler.pending(this.st);
  }
}
