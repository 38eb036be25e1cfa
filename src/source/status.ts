// Fetch bookkeeping of one source (what the last fetches found, failed with,
// and reported) and the `SourceStatus` shown at /api/v1/sources, built from
// it and the acceptance state. Imports only api/ types and source/ siblings.

import type { Diagnostic } from '../api/types.js';
import type { SourceUpdate } from './git.js';
import { safeUrl } from './secret.js';
import type { SourceSpec } from './spec.js';

export interface SourceStatus {
  name: string;
  kind: 'git' | 'dir';
  /** Git URL without credentials or query string, or the folder. */
  url: string;
  ref: string;
  path: string;
  namespaces?: string[];
  /** The accepted (serving) revision of this source. */
  revision?: string;
  acceptedAt?: string;
  /** The revision seen by the last successful fetch (may be rejected). */
  fetchedRevision?: string;
  lastFetchTime?: string;
  lastFetchDurationMs?: number;
  lastError?: { message: string; reason: string; at: string; consecutiveFailures: number };
  nextFetchAt?: string;
  lastRejected?: { revision: string; at: string; diagnostics: Diagnostic[] };
  /** Force-pushes, tag moves and the like, newest last (at most 20). */
  notices: { at: string; message: string }[];
  /** The revision persisted by a previous run, when this run has not accepted one yet. */
  restoredRevision?: string;
  webhook: boolean;
  /** Time spent in the last evaluation this source took part in (load = parse + merge). */
  lastEvaluation?: { loadMs: number; validateMs: number };
}

const MAX_NOTICES = 20;

/** What the fetches of one source found; changed only by `failed` / `succeeded` / `took`. */
export class FetchRecord {
  fetched: SourceUpdate | undefined;
  lastFetch: number | undefined;
  durationMs: number | undefined;
  error: { message: string; reason: string; at: number } | undefined;
  failures = 0;
  readonly notices: { at: number; message: string }[] = [];

  failed(message: string, reason: string, at: number): void {
    this.failures++;
    this.error = { message, reason, at };
  }

  /** Records a successful fetch; returns how many failures it ends (0 when there were none). */
  succeeded(update: SourceUpdate, at: number): number {
    const ended = this.failures;
    this.fetched = update;
    this.lastFetch = at;
    this.failures = 0;
    this.error = undefined;
    for (const message of update.notices) {
      this.notices.push({ at, message });
      if (this.notices.length > MAX_NOTICES) this.notices.shift();
    }
    return ended;
  }

  took(ms: number): void {
    this.durationMs = Math.round(ms);
  }
}

/** The acceptance side of a source's status. */
export interface AcceptanceView {
  accepted?: { id: string; at: number };
  rejected?: { revision: string; at: number; diagnostics: Diagnostic[] };
  restoredRevision?: string;
  nextFetchAt?: number;
  evaluation?: { loadMs: number; validateMs: number };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function sourceStatus(spec: SourceSpec, fetches: FetchRecord, a: AcceptanceView): SourceStatus {
  const s: SourceStatus = {
    name: spec.name,
    kind: spec.kind,
    url: spec.kind === 'git' ? safeUrl(spec.url!) : spec.dir!,
    ref: spec.ref,
    path: spec.path,
    notices: fetches.notices.map((n) => ({ at: iso(n.at), message: n.message })),
    webhook: spec.webhookSecret !== undefined,
  };
  if (spec.namespaces) s.namespaces = spec.namespaces;
  if (a.accepted) {
    s.revision = a.accepted.id;
    s.acceptedAt = iso(a.accepted.at);
  } else if (a.restoredRevision) s.restoredRevision = a.restoredRevision;
  if (fetches.fetched) s.fetchedRevision = fetches.fetched.revision.id;
  if (fetches.lastFetch !== undefined) s.lastFetchTime = iso(fetches.lastFetch);
  if (fetches.durationMs !== undefined) s.lastFetchDurationMs = fetches.durationMs;
  if (fetches.error) s.lastError = { message: fetches.error.message, reason: fetches.error.reason, at: iso(fetches.error.at), consecutiveFailures: fetches.failures };
  if (a.nextFetchAt !== undefined) s.nextFetchAt = iso(a.nextFetchAt);
  if (a.evaluation) s.lastEvaluation = a.evaluation;
  if (a.rejected) s.lastRejected = { revision: a.rejected.revision, at: iso(a.rejected.at), diagnostics: a.rejected.diagnostics };
  return s;
}
