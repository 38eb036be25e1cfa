// One source's fetch queue and timer. Cycles (fetch + evaluate) run one at a
// time; a trigger while one is waiting joins it rather than queueing another.
// Git sources poll: the next cycle is due an interval later (±10% jitter, so
// replicas and sources spread out) or, after failed fetches, after an
// exponential backoff from min(interval, 1 s) up to a cap. The clock and the
// jitter source are injected, and `pollDelay` is a pure function.
// Imports nothing from meshcd.

/** The delay before the next poll: jittered interval when healthy, capped exponential backoff after `failures` failed fetches. */
export function pollDelay(intervalMs: number, failures: number, maxBackoffMs: number, random: number): number {
  if (failures > 0) return Math.min(maxBackoffMs, Math.min(intervalMs, 1000) * 2 ** Math.min(failures - 1, 20));
  return intervalMs * (0.9 + 0.2 * random);
}

export interface PollerOptions {
  intervalMs: number;
  maxBackoffMs: number;
  /** Schedules the next cycle after each one (Git); folders are driven by their watcher instead. */
  periodic: boolean;
  now: () => number;
  random: () => number;
  /** Consecutive failed fetches so far (the backoff input). */
  failures: () => number;
  /** One fetch-and-evaluate cycle. */
  cycle: () => Promise<void>;
}

export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private stopped = false;
  private nextAt: number | undefined;
  private webhookAt: number | undefined;
  private cycleWebhookAt: number | undefined;

  constructor(private readonly opts: PollerOptions) {}

  /** When the next timed cycle is due, if one is scheduled. */
  get nextFetchAt(): number | undefined {
    return this.nextAt;
  }

  /** The time of the verified webhook the running cycle answers, if any. */
  get answeringWebhookAt(): number | undefined {
    return this.cycleWebhookAt;
  }

  /** The running cycle's webhook has been answered (its revision accepted); it is measured once. */
  webhookAnswered(): void {
    this.cycleWebhookAt = undefined;
  }

  /** A verified webhook: remembered until the next cycle starts, which then answers it. */
  noteWebhook(): void {
    this.webhookAt ??= this.opts.now();
  }

  /** Runs `fn` in the queue, after any cycle in progress (start-up's first fetch). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.then(() => undefined, () => undefined);
    return run;
  }

  /** A cycle now (after the one in progress); joins a cycle that is already waiting. */
  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.queued) return this.queued;
    const run = this.tail.then(async () => {
      this.queued = undefined;
      if (this.stopped) return;
      // A webhook arriving from now on waits for the next cycle (its push may be newer than this fetch).
      this.cycleWebhookAt = this.webhookAt;
      this.webhookAt = undefined;
      try {
        await this.opts.cycle();
      } finally {
        this.cycleWebhookAt = undefined;
        // Polling must go on whatever happened above.
        if (this.opts.periodic) this.schedule();
      }
    });
    this.queued = run;
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Arms the timer for the next cycle (replacing any armed one). */
  schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const delay = pollDelay(this.opts.intervalMs, this.opts.failures(), this.opts.maxBackoffMs, this.opts.random());
    this.nextAt = this.opts.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.trigger();
    }, delay);
    this.timer.unref?.();
  }

  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  /** No further cycles; resolves when the one in progress is done. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.tail;
  }
}
