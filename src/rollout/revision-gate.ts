// Replicated rollouts (several `serve` replicas, one leader): may this
// replica step a persisted rollout state with the revision it has? Each
// replica reads Git on its own schedule; stepping a state the leader stepped
// with a newer revision than this replica's would read as "Git reverted the
// change mid-rollout" and abort it. So a state whose revision (`known.commit`
// of its source) is not among the revisions this replica has accepted (the
// last SEEN_MAX per source) is held: a follower serves it as it is; a leader
// too, fetches the source now and retries when it comes — or, after
// catchUpMs without it (a revision this replica will never see), steps with
// its own and says so. ./runner.ts asks; the controller stays pure.
// Imports: src/util.

import type { Logger } from '../util/log.js';

const SEEN_MAX = 256;

export interface RevisionGateOptions {
  /** How long a leader holds for the state's revision (default 30 s). */
  catchUpMs?: number;
  now: () => number;
  log: Logger;
  /** Fetch a source now. */
  refresh?: (source: string) => void;
  /** Step the held rollouts again (after catchUpMs). */
  retry: () => void;
}

export class RevisionGate {
  private readonly seen = new Map<string, string[]>();
  private readonly waits = new Map<string, { commit: string; since: number; timer?: NodeJS.Timeout }>();

  constructor(private readonly o: RevisionGateOptions) {}

  /** This replica accepted these revisions. */
  accepted(revisions: readonly { source: string; commit: string }[]): void {
    for (const r of revisions) {
      let l = this.seen.get(r.source);
      if (!l) this.seen.set(r.source, (l = []));
      if (!l.includes(r.commit)) l.push(r.commit);
      if (l.length > SEEN_MAX) l.shift();
    }
  }

  /** Whether rollout `key`'s state, stepped with `known`, must not be stepped by this replica now (it would change it). */
  hold(key: string, known: { commit?: string; source?: string } | undefined, leads: boolean, revisionId: string): boolean {
    if (!known?.commit || !known.source || this.seen.get(known.source)?.includes(known.commit)) return false;
    if (!leads) return true;
    const now = this.o.now();
    let w = this.waits.get(key);
    if (w && w.commit !== known.commit) {
      this.release(key);
      w = undefined;
    }
    const limit = this.o.catchUpMs ?? 30_000;
    const fields = { rollout: key, source: known.source, commit: known.commit, revision: revisionId };
    if (!w) {
      w = { commit: known.commit, since: now };
      this.waits.set(key, w);
      this.o.log.warn(fields, `the persisted rollout state was stepped with a revision this replica has not accepted yet; serving it as it is and fetching the source (at most ${Math.round(limit / 1000)} s)`);
      this.o.refresh?.(known.source);
      w.timer = setTimeout(() => this.o.retry(), limit + 10);
      w.timer.unref?.();
      return true;
    }
    if (now - w.since < limit) return true;
    this.o.log.warn(fields, 'the revision of the persisted rollout state was not accepted in time; stepping with this replica\'s revision');
    this.release(key);
    return false;
  }

  /** Rollout `key` is stepped (or gone): no more holding. */
  release(key: string): void {
    const w = this.waits.get(key);
    if (w?.timer) clearTimeout(w.timer);
    this.waits.delete(key);
  }

  stop(): void {
    for (const key of [...this.waits.keys()]) this.release(key);
  }
}
