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
// Across all connections, the bytes in flight are bounded too (istiod's push
// throttle, counted in bytes): a push to thousands of proxies goes out as
// fast as they read, not all at once into memory. Connections waiting for
// that budget are served oldest connection first, and one that has waited
// longer than `parkMs` goes ahead of them all, so none waits for ever. A write that
// has not completed after `parkMs` stops counting against it, so a few slow
// or stuck clients cannot hold everyone else back (their own budgets and
// the stall reset still bound them).
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
  /** Across all connections: a write starts only while fewer bytes than this are in flight (default: unbounded). */
  totalBudgetBytes?: number;
  /** A write still in flight after this long no longer counts against totalBudgetBytes (default 5 s). */
  parkMs?: number;
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
  /** Its writes not yet completed (their share of the total budget). */
  flights: Set<Flight>;
}

interface Session<M> {
  key: string;
  inFlight: number;
  ready: StreamState<M>[];
  streams: number;
  /** Opening order: older connections are served first from the total budget. */
  seq: number;
  /** Queued for the total budget: its place (lower first) and since when. */
  waiting: boolean;
  waitKey: number;
  waitingSince: number;
}

/** One write: counted against the total budget until it completes or is parked. */
interface Flight {
  bytes: number;
  at: number;
  counted: boolean;
  done: boolean;
}

export class SendScheduler<M> {
  private readonly sessions = new Map<string, Session<M>>();
  private readonly streams = new Set<StreamState<M>>();
  private timer: NodeJS.Timeout | undefined;
  /** Bytes in flight counted against the total budget. */
  private total = 0;
  /** Writes counted against the total budget, oldest first (done ones are dropped lazily). */
  private flights: Flight[] = [];
  private flightsHead = 0;
  /** Sessions with something to send, waiting for the total budget (a min-heap by waitKey). */
  private readonly waiting = new SessionHeap<M>();
  private sessionSeq = 0;
  private readonly totalBudget: number;
  private readonly parkMs: number;

  constructor(private readonly opts: SenderOptions, private readonly onStall: (target: SendTarget<M>, seconds: number) => void) {
    this.totalBudget = opts.totalBudgetBytes ?? Infinity;
    this.parkMs = opts.parkMs ?? 5000;
  }

  /** Bytes in flight and counted against the total budget; sessions waiting for it. */
  totals(): { inFlight: number; waiting: number } {
    return { inFlight: this.total, waiting: this.waiting.size };
  }

  /** A new stream on connection `sessionKey`; returns its handle. */
  open(sessionKey: string, target: SendTarget<M>): StreamHandle<M> {
    let session = this.sessions.get(sessionKey);
    if (!session) this.sessions.set(sessionKey, (session = { key: sessionKey, inFlight: 0, ready: [], streams: 0, seq: ++this.sessionSeq, waiting: false, waitKey: 0, waitingSince: 0 }));
    session.streams++;
    const st: StreamState<M> = { target, session, queue: [], queued: false, inFlight: 0, lastProgress: performance.now(), awaitingSince: undefined, closed: false, flights: new Set() };
    this.streams.add(st);
    const every = Math.min(this.opts.stallMs / 4, this.totalBudget < Infinity ? this.parkMs / 2 : Infinity);
    this.timer ??= setInterval(() => this.tick(), Math.max(10, Math.floor(every))).unref();
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
    for (const f of st.flights) this.finish(f);
    st.flights.clear();
    st.queue = [];
    const session = st.session;
    session.streams--;
    if (session.streams === 0) this.sessions.delete(session.key);
    else queueMicrotask(() => this.pump(session));
    queueMicrotask(() => this.drainWaiting());
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

  private totalAllows(): boolean {
    return this.total < this.totalBudget || this.total === 0;
  }

  /** Writes queued responses round-robin across one connection's streams while the budgets allow. */
  private pump(session: Session<M>): void {
    while (session.ready.length && (session.inFlight < this.opts.connectionBudgetBytes || session.inFlight === 0)) {
      if (!this.totalAllows()) {
        if (!session.waiting) {
          session.waiting = true;
          session.waitingSince = performance.now();
          session.waitKey = session.seq;
          this.waiting.push(session);
        }
        return;
      }
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
      const flight: Flight = { bytes: item.bytes, at: performance.now(), counted: this.totalBudget < Infinity, done: false };
      if (flight.counted) {
        this.total += item.bytes;
        this.flights.push(flight);
      }
      st.flights.add(flight);
      const release = () => {
        if (flight.done) return;
        this.finish(flight);
        st.flights.delete(flight);
        if (st.closed) return;
        st.inFlight -= item.bytes;
        session.inFlight -= item.bytes;
        st.lastProgress = performance.now();
        // Connections that waited for the total budget go first, then this one (it queues behind them if it must wait).
        this.drainWaiting();
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

  /** A write completed (or its stream closed): its bytes leave the total budget. */
  private finish(f: Flight): void {
    if (f.done) return;
    f.done = true;
    this.uncount(f);
  }

  /** The write's bytes no longer count against the total budget (it completed or was parked). */
  private uncount(f: Flight): void {
    if (!f.counted) return;
    f.counted = false;
    this.total -= f.bytes;
  }

  /** Serves connections waiting for the total budget, in order, while it allows. */
  private drainWaiting(): void {
    while (this.waiting.size && this.totalAllows()) {
      const session = this.waiting.pop()!;
      session.waiting = false;
      if (this.sessions.get(session.key) === session) this.pump(session);
    }
  }

  private tick(): void {
    this.park();
    this.checkStalls();
  }

  /** Writes in flight for longer than parkMs stop counting against the total budget. */
  private park(): void {
    const before = performance.now() - this.parkMs;
    const fl = this.flights;
    let h = this.flightsHead;
    while (h < fl.length && (fl[h]!.done || fl[h]!.at < before)) {
      this.uncount(fl[h++]!);
    }
    if (h > 1024 && h * 2 > fl.length) {
      this.flights = fl.slice(h);
      h = 0;
    } else if (h === fl.length) {
      this.flights = [];
      h = 0;
    }
    this.flightsHead = h;
    // Connections that waited too long go ahead of every other, longest first.
    const late = performance.now() - this.parkMs;
    this.waiting.promote((x) => (x.waitingSince < late ? x.waitingSince - 1e15 : undefined));
    this.drainWaiting();
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

/** Waiting connections by waitKey (lowest first). */
class SessionHeap<M> {
  private a: Session<M>[] = [];

  get size(): number {
    return this.a.length;
  }

  push(x: Session<M>): void {
    const a = this.a;
    a.push(x);
    this.up(a.length - 1);
  }

  pop(): Session<M> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Lowers the keys `f` gives a new one for. */
  promote(f: (x: Session<M>) => number | undefined): void {
    let changed = false;
    for (const x of this.a) {
      const k = f(x);
      if (k !== undefined && k < x.waitKey) {
        x.waitKey = k;
        changed = true;
      }
    }
    if (changed) for (let i = (this.a.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private up(i: number): void {
    const a = this.a;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.waitKey <= a[i]!.waitKey) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  private down(i: number): void {
    const a = this.a;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.waitKey < a[m]!.waitKey) m = l;
      if (r < a.length && a[r]!.waitKey < a[m]!.waitKey) m = r;
      if (m === i) return;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
  }
}
