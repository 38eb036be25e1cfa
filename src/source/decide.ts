// The accept/reject decision of the reconcile loop, as pure functions of
// plain values: which revision of every source forms the set to evaluate
// (`planEvaluation`), whether that set is accepted and which sources it
// blames or moves on (`decide`), and which rejected revisions deserve a second
// look once another source changed around them (`retryCandidates`). No clock,
// no I/O, no metrics, logs or events: the Reconciler performs those.
// Imports only api/ types.

import type { Diagnostic } from '../api/types.js';

/** What the loop knows of one source, by revision id. */
export interface SourceView {
  name: string;
  /** The accepted (serving) revision. */
  accepted?: string;
  /** The newest revision to consider (fetched, or restored from the state dir). */
  candidate?: string;
  /** The revision last rejected. */
  rejected?: string;
}

/** One source's part of an evaluated set: its candidate, or the revision it serves now. */
export interface PlannedPart {
  name: string;
  use: 'candidate' | 'accepted';
}

export type Plan = { evaluate: false; reason: 'no-candidate' | 'already-accepted' | 'already-rejected' | 'incomplete' } | { evaluate: true; parts: PlannedPart[] };

/**
 * The set to evaluate for `target`'s candidate (the others at their accepted
 * revision), or — with `target` undefined — every source's candidate together
 * (start-up). `retry` re-evaluates a revision rejected before. Before the
 * first acceptance a source with no accepted revision takes part with its
 * candidate; a source with neither leaves the set incomplete.
 */
export function planEvaluation(sources: readonly SourceView[], target: string | undefined, retry = false): Plan {
  if (target === undefined) {
    if (sources.some((s) => s.candidate === undefined)) return { evaluate: false, reason: 'incomplete' };
    return { evaluate: true, parts: sources.map((s) => ({ name: s.name, use: 'candidate' })) };
  }
  const me = sources.find((s) => s.name === target);
  if (!me?.candidate) return { evaluate: false, reason: 'no-candidate' };
  if (me.candidate === me.accepted) return { evaluate: false, reason: 'already-accepted' };
  if (me.candidate === me.rejected && !retry) return { evaluate: false, reason: 'already-rejected' };
  const parts: PlannedPart[] = [];
  for (const s of sources) {
    if (s === me) parts.push({ name: s.name, use: 'candidate' });
    else if (s.accepted !== undefined) parts.push({ name: s.name, use: 'accepted' });
    else if (s.candidate !== undefined) parts.push({ name: s.name, use: 'candidate' });
    else return { evaluate: false, reason: 'incomplete' };
  }
  return { evaluate: true, parts };
}

/** One source in an evaluated set: the revision it serves now and the one in the set. */
export interface EvaluatedPart {
  name: string;
  accepted?: string;
  revision: string;
}

export type Decision =
  /** `changed`: the sources whose revision in the set is new (they move to it). */
  | { outcome: 'accepted'; changed: string[]; warnings: number }
  /** `blamed`: the sources whose new revision is part of the rejected set. */
  | { outcome: 'rejected'; blamed: string[]; errors: Diagnostic[] };

/** Accepted when no diagnostic of the merged set is an error; else rejected whole. */
export function decide(parts: readonly EvaluatedPart[], diagnostics: readonly Diagnostic[]): Decision {
  const changed = parts.filter((p) => p.accepted !== p.revision).map((p) => p.name);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { outcome: 'rejected', blamed: changed, errors };
  return { outcome: 'accepted', changed, warnings: diagnostics.filter((d) => d.severity === 'warning').length };
}

/** After an acceptance: sources whose newest revision was rejected and is not serving (it may fit now). */
export function retryCandidates(sources: readonly SourceView[]): string[] {
  return sources.filter((s) => s.candidate !== undefined && s.rejected === s.candidate && s.accepted !== s.candidate).map((s) => s.name);
}

