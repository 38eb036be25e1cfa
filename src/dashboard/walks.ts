// A Rollout's history (GET /api/v1/rollouts/NS/NAME `history`, every step
// it took, oldest first, across all its walks) cut into walks: the
// rollouts of that target, each from the entry that started it (a new
// revision, a retry) to the last entry before the next one, with how it
// ended. The dashboard charts the latest walk's weight and lists the walks.
// Pure; imports nothing.

export interface HistoryPoint {
  at: string;
  phase: string;
  stepIndex: number;
  canaryWeight: number;
  message: string;
}

export interface Walk {
  /** Index of its first entry in the history. */
  from: number;
  entries: HistoryPoint[];
  start: string;
  end: string;
  /** Its last phase; `Superseded` when a newer revision restarted it mid-walk. */
  outcome: string;
  /** The furthest step it completed and the highest weight it reached. */
  stepsDone: number;
  maxWeight: number;
}

/** The controller's messages for a walk's first entry (src/rollout/controller.ts startWalk). */
const STARTS = /^(new revision|retry by command)\b/;

export function walksOf(history: readonly HistoryPoint[]): Walk[] {
  const starts = history.flatMap((h, i) => (h.phase === 'Progressing' && STARTS.test(h.message) ? [i] : []));
  // A history cut at its bound may have lost a walk's start: what comes before the first start is a walk of its own.
  if (history.length > 0 && starts[0] !== 0) starts.unshift(0);
  return starts.map((from, k) => {
    const entries = history.slice(from, starts[k + 1] ?? history.length);
    const last = entries[entries.length - 1]!;
    const superseded = k < starts.length - 1 && (last.phase === 'Progressing' || last.phase === 'Paused');
    return {
      from,
      entries,
      start: entries[0]!.at,
      end: last.at,
      outcome: superseded ? 'Superseded' : last.phase,
      stepsDone: Math.max(0, ...entries.map((e) => e.stepIndex)),
      maxWeight: Math.max(0, ...entries.map((e) => e.canaryWeight)),
    };
  });
}
