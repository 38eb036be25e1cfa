// Root rotation as a pure decision: given the roots, the pending rotation, the
// certificates issued and the time, what is the next state and what must the
// runner do (write roots.json, swap the signer, tell peers of a new bundle).
// No clock, no I/O: `authority.ts` runs the effects, on issue, on an explicit
// call and on the timer this module says to set (`wakeAt`).
//
// Two phases, because a peer can only accept a certificate from the new root
// once its own trust bundle holds that root:
//  1. distributing: the new root joins the bundle, the old root still signs,
//     until every live certificate was (re)issued after the rotation started
//     (its holder got the new bundle with it) or one maximum TTL has passed;
//  2. overlap: the new root signs; the old root stays in the bundle until no
//     live certificate chains to it any more, or its last possible one expired.

export interface RootRecord {
  fingerprint: string;
  certPem: string;
  createdAt: string;
  /** Set once a root is no longer the signer: it leaves the bundle by then at the latest. */
  retireAfter?: string;
}

/** The newest certificate issued for one public key (one workload instance). */
export interface IssuedEntry {
  identity: string;
  /** Fingerprint of the root it chains to. */
  root: string;
  notAfter: string;
  issuedAt: string;
}

export interface PendingRoot {
  fingerprint: string;
  since: string;
}

export interface RotationState {
  /** Fingerprint of the root the signer chains to. */
  active: string;
  /** A rotation in its distributing phase: the next root, already in the bundle. */
  pending?: PendingRoot;
  roots: readonly RootRecord[];
}

export type RotationEffect =
  /** roots.json must be rewritten from the new state. */
  | { type: 'WriteRoots' }
  /** The trust bundle or the signer changed: peers and listeners must hear of it. */
  | { type: 'Distribute' }
  /** The pending root signs from now on (the runner swaps its signer to this root's key). */
  | { type: 'Promote'; root: string; previous: string; reason: 'every workload has the new root' | 'distribution window over' }
  /** A pending root that is no longer listed: the rotation is dropped. */
  | { type: 'DropPending'; root: string }
  /** A retired root left the bundle. */
  | { type: 'Retire'; root: string; reason: 'every workload renewed' | 'overlap window over' };

export interface RotationStep {
  state: RotationState;
  effects: RotationEffect[];
  /** When to call advance() again at the latest (ms since the epoch); absent: only on the next issue. */
  wakeAt?: number;
}

export interface RotationInput {
  state: RotationState;
  issued: Readonly<Record<string, IssuedEntry>>;
  /** ms since the epoch */
  now: number;
  maxTtlMs: number;
  /** Roots the runner holds a key for: a pending root is promoted only when it can sign. */
  signable: ReadonlySet<string>;
}

function live(issued: Readonly<Record<string, IssuedEntry>>, now: number): IssuedEntry[] {
  return Object.values(issued).filter((c) => Date.parse(c.notAfter) > now);
}

/** The latest notAfter of any certificate (live or not) chaining to `root`; 0 if none. */
/**
 * Issued before the rotation started, so its holder may lack the new root.
 * Times have millisecond resolution: a certificate issued in the same
 * millisecond as the start counts as before (waiting one renewal more is
 * safe; promoting the new root while a holder lacks it is not).
 */
function issuedBefore(c: { issuedAt: string }, since: number): boolean {
  return Date.parse(c.issuedAt) <= since;
}

export function latestNotAfter(issued: Readonly<Record<string, IssuedEntry>>, root: string): number {
  let max = 0;
  for (const v of Object.values(issued)) if (v.root === root) max = Math.max(max, Date.parse(v.notAfter));
  return max;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** Phase 1 → 2 when due, then retired roots out when unused or past their window. */
export function advance(input: RotationInput): RotationStep {
  const { issued, now, maxTtlMs } = input;
  let state = input.state;
  const effects: RotationEffect[] = [];
  let wakeAt: number | undefined;

  if (state.pending) {
    const pending = state.pending;
    const rec = state.roots.find((r) => r.fingerprint === pending.fingerprint);
    if (!rec) {
      const { pending: _dropped, ...rest } = state;
      state = rest;
      effects.push({ type: 'DropPending', root: pending.fingerprint }, { type: 'WriteRoots' });
    } else {
      const since = Date.parse(pending.since);
      const deadline = since + maxTtlMs;
      const waiting = live(issued, now).filter((c) => issuedBefore(c, since));
      if (waiting.length > 0 && now < deadline) {
        // Ends when the last waiting certificate expires, or at the deadline (a renewal calls advance too).
        wakeAt = Math.min(deadline, ...waiting.map((c) => Date.parse(c.notAfter)));
      } else if (input.signable.has(rec.fingerprint)) {
        const previous = state.active;
        const retireAfter = new Date(Math.max(now + maxTtlMs, latestNotAfter(issued, previous))).toISOString();
        state = {
          active: rec.fingerprint,
          roots: state.roots.map((r) => (r.fingerprint === previous ? { ...r, retireAfter } : r)),
        };
        effects.push({ type: 'Promote', root: rec.fingerprint, previous, reason: waiting.length ? 'distribution window over' : 'every workload has the new root' }, { type: 'WriteRoots' }, { type: 'Distribute' });
      }
    }
  }

  const keep: RootRecord[] = [];
  const retired: RotationEffect[] = [];
  for (const r of state.roots) {
    if (r.retireAfter && r.fingerprint !== state.active) {
      const until = Date.parse(r.retireAfter);
      const lastUse = Math.max(0, ...live(issued, now).filter((v) => v.root === r.fingerprint).map((v) => Date.parse(v.notAfter)));
      const stillUsed = lastUse > now;
      if (until <= now || !stillUsed) {
        retired.push({ type: 'Retire', root: r.fingerprint, reason: stillUsed ? 'overlap window over' : 'every workload renewed' });
        continue;
      }
      wakeAt = earliest(wakeAt, Math.min(until, lastUse));
    }
    keep.push(r);
  }
  if (retired.length) {
    state = { ...state, roots: keep };
    effects.push(...retired, { type: 'WriteRoots' }, { type: 'Distribute' });
  }
  return { state, effects: dedupe(effects), ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/** WriteRoots and Distribute once each, after the effects that caused them. */
function dedupe(effects: RotationEffect[]): RotationEffect[] {
  const out: RotationEffect[] = effects.filter((e) => e.type !== 'WriteRoots' && e.type !== 'Distribute');
  if (effects.some((e) => e.type === 'WriteRoots')) out.push({ type: 'WriteRoots' });
  if (effects.some((e) => e.type === 'Distribute')) out.push({ type: 'Distribute' });
  return out;
}

/** Phase 1 begins: the new root joins the bundle (and is pending). Throws when a rotation is already distributing. */
export function startRotation(state: RotationState, newRoot: RootRecord, now: number): RotationStep {
  if (state.pending) throw new Error(`a rotation is already distributing root ${state.pending.fingerprint.slice(0, 16)} (see "meshcd ca status")`);
  return {
    state: { ...state, pending: { fingerprint: newRoot.fingerprint, since: new Date(now).toISOString() }, roots: [...state.roots, newRoot] },
    effects: [{ type: 'WriteRoots' }, { type: 'Distribute' }],
  };
}

/**
 * The signer now chains to other roots (a plug-in folder with a new
 * organisation root): the old roots the new set lacks stay trusted for the
 * overlap, like a retired root of our own.
 */
export function replaceRoots(
  state: RotationState,
  next: { active: string; ownRoots: readonly string[] },
  oldOwnRoots: readonly { fingerprint: string; certPem: string }[],
  issued: Readonly<Record<string, IssuedEntry>>,
  now: number,
  maxTtlMs: number,
): RotationStep {
  if (next.active === state.active) return { state, effects: [] };
  const retireAfter = new Date(Math.max(now + maxTtlMs, latestNotAfter(issued, state.active))).toISOString();
  const roots = [...state.roots];
  for (const r of oldOwnRoots) {
    if (next.ownRoots.includes(r.fingerprint) || roots.some((x) => x.fingerprint === r.fingerprint)) continue;
    roots.push({ fingerprint: r.fingerprint, certPem: r.certPem, createdAt: new Date(now).toISOString(), retireAfter });
  }
  return { state: { ...state, active: next.active, roots }, effects: [{ type: 'WriteRoots' }, { type: 'Distribute' }] };
}

/** Records beyond the signer's own roots that belong in the trust bundle: the pending root and retired roots in their overlap. */
export function extraBundleRoots(state: RotationState): RootRecord[] {
  return state.roots.filter((r) => r.retireAfter || r.fingerprint === state.pending?.fingerprint);
}

export interface RotationSummary {
  phase: 'idle' | 'distributing' | 'overlap';
  /** distributing: live certificates issued before the rotation began. */
  awaitingNewBundle: number;
  /** Live certificates per root fingerprint. */
  liveByRoot: Map<string, number>;
  /** overlap: live certificates still chaining to a root other than the active one that is retiring. */
  remainingOnOldRoots: number;
  completesBy?: string;
}

/** What `status()` reports; `bundle` is the fingerprints in the trust bundle. */
export function summarize(state: RotationState, issued: Readonly<Record<string, IssuedEntry>>, now: number, maxTtlMs: number, bundle: readonly string[]): RotationSummary {
  const liveCerts = live(issued, now);
  const liveByRoot = new Map<string, number>();
  for (const v of liveCerts) liveByRoot.set(v.root, (liveByRoot.get(v.root) ?? 0) + 1);
  const old = state.roots.filter((r) => r.retireAfter && r.fingerprint !== state.active && bundle.includes(r.fingerprint));
  const pending = state.pending;
  const phase = pending ? 'distributing' : old.length ? 'overlap' : 'idle';
  const completesBy = pending
    ? new Date(Date.parse(pending.since) + maxTtlMs).toISOString()
    : old.length ? old.map((r) => r.retireAfter!).sort().at(-1)! : undefined;
  return {
    phase,
    awaitingNewBundle: pending ? liveCerts.filter((c) => issuedBefore(c, Date.parse(pending.since))).length : 0,
    liveByRoot,
    remainingOnOldRoots: old.reduce((n, r) => n + (liveByRoot.get(r.fingerprint) ?? 0), 0),
    ...(completesBy ? { completesBy } : {}),
  };
}
