// The rotation decision with plain values: no certificates, no clock, no files.
import test from 'ava';
import { advance, extraBundleRoots, replaceRoots, startRotation, summarize, type IssuedEntry, type RootRecord, type RotationEffect, type RotationState } from '../../../src/ca/rotation.js';

const H = 3600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const root = (fingerprint: string, extra: Partial<RootRecord> = {}): RootRecord => ({ fingerprint, certPem: `PEM ${fingerprint}`, createdAt: iso(T0 - 100 * H), ...extra });
const cert = (rootFp: string, issuedAt: number, ttlHours: number): IssuedEntry => ({ identity: 'spiffe://td/ns/a/sa/b', root: rootFp, issuedAt: iso(issuedAt), notAfter: iso(issuedAt + ttlHours * H) });
const MAX_TTL = 24 * H;
const types = (effects: RotationEffect[]) => effects.map((e) => e.type);

const distributing: RotationState = { active: 'old', pending: { fingerprint: 'new', since: iso(T0) }, roots: [root('old'), root('new')] };
const overlap: RotationState = { active: 'new', roots: [root('old', { retireAfter: iso(T0 + 24 * H) }), root('new')] };

interface Row {
  name: string;
  state: RotationState;
  issued: Record<string, IssuedEntry>;
  now: number;
  signable?: string[];
  active: string;
  pending: boolean;
  roots: string[];
  effects: RotationEffect['type'][];
  wakeAt?: number;
}

const rows: Row[] = [
  {
    name: 'idle: nothing to do, no timer',
    state: { active: 'old', roots: [root('old')] },
    issued: { k1: cert('old', T0, 12) },
    now: T0 + H, active: 'old', pending: false, roots: ['old'], effects: [],
  },
  {
    name: 'distributing: a live holder lacks the new root → the old root keeps signing; wake when its certificate ends',
    state: distributing,
    issued: { k1: cert('old', T0 - H, 12), k2: cert('old', T0 + H, 12) },
    now: T0 + 2 * H, signable: ['new'], active: 'old', pending: true, roots: ['old', 'new'], effects: [], wakeAt: T0 + 11 * H,
  },
  {
    name: 'distributing: every live holder renewed since → promote, old root gets a retire date',
    state: distributing,
    issued: { k1: cert('old', T0 + H, 12), gone: cert('old', T0 - 20 * H, 12) },
    now: T0 + 2 * H, signable: ['new'], active: 'new', pending: false, roots: ['old', 'new'], effects: ['Promote', 'WriteRoots', 'Distribute'], wakeAt: T0 + 13 * H,
  },
  {
    name: 'distributing: a certificate issued in the very millisecond the rotation started counts as before it → still waited for',
    state: distributing,
    issued: { k1: cert('old', T0, 12) },
    now: T0 + 1, signable: ['new'], active: 'old', pending: true, roots: ['old', 'new'], effects: [], wakeAt: T0 + 12 * H,
  },
  {
    name: 'distributing: the window (one max TTL) is over → promote although a holder never renewed',
    state: distributing,
    issued: { k1: cert('old', T0 - H, 48) },
    now: T0 + 24 * H, signable: ['new'], active: 'new', pending: false, roots: ['old', 'new'], effects: ['Promote', 'WriteRoots', 'Distribute'], wakeAt: T0 + 47 * H,
  },
  {
    name: 'distributing: due but the new root cannot sign (key unreadable) → stays distributing',
    state: distributing,
    issued: {},
    now: T0 + H, signable: [], active: 'old', pending: true, roots: ['old', 'new'], effects: [],
  },
  {
    name: 'distributing, nothing live at all → promote and retire the old root in one step',
    state: distributing,
    issued: {},
    now: T0 + H, signable: ['new'], active: 'new', pending: false, roots: ['new'], effects: ['Promote', 'Retire', 'WriteRoots', 'Distribute'],
  },
  {
    name: 'distributing: the pending root is not listed → the rotation is dropped',
    state: { active: 'old', pending: { fingerprint: 'lost', since: iso(T0) }, roots: [root('old')] },
    issued: {},
    now: T0 + H, active: 'old', pending: false, roots: ['old'], effects: ['DropPending', 'WriteRoots'],
  },
  {
    name: 'overlap: a live certificate still chains to the old root → kept; wake when it expires',
    state: overlap,
    issued: { k1: cert('old', T0 - H, 6), k2: cert('new', T0, 6) },
    now: T0 + H, active: 'new', pending: false, roots: ['old', 'new'], effects: [], wakeAt: T0 + 5 * H,
  },
  {
    name: 'overlap: its last holder renewed with the new root → retired',
    state: overlap,
    issued: { k1: cert('new', T0 + H, 6) },
    now: T0 + 2 * H, active: 'new', pending: false, roots: ['new'], effects: ['Retire', 'WriteRoots', 'Distribute'],
  },
  {
    name: 'overlap: past its retire date → retired although still used',
    state: overlap,
    issued: { k1: cert('old', T0 + 20 * H, 48) },
    now: T0 + 24 * H, active: 'new', pending: false, roots: ['new'], effects: ['Retire', 'WriteRoots', 'Distribute'],
  },
];

for (const r of rows) {
  test(`advance: ${r.name}`, (t) => {
    const before = JSON.stringify(r.state);
    const out = advance({ state: r.state, issued: r.issued, now: r.now, maxTtlMs: MAX_TTL, signable: new Set(r.signable ?? []) });
    t.is(out.state.active, r.active);
    t.is(Boolean(out.state.pending), r.pending);
    t.deepEqual(out.state.roots.map((x) => x.fingerprint), r.roots);
    t.deepEqual(types(out.effects), r.effects);
    t.is(out.wakeAt, r.wakeAt);
    t.is(JSON.stringify(r.state), before, 'the input state is not changed');
  });
}

test('promotion: the old root retires after one max TTL, or after its last certificate if later', (t) => {
  const late = advance({ state: { ...distributing, pending: { fingerprint: 'new', since: iso(T0 - 30 * H) } }, issued: { k1: cert('old', T0 - 31 * H, 72) }, now: T0, maxTtlMs: MAX_TTL, signable: new Set(['new']) });
  t.is(late.state.roots.find((x) => x.fingerprint === 'old')?.retireAfter, iso(T0 + 41 * H));
  const promote = late.effects.find((e) => e.type === 'Promote');
  t.deepEqual(promote, { type: 'Promote', root: 'new', previous: 'old', reason: 'distribution window over' });
  const early = advance({ state: distributing, issued: { k1: cert('old', T0 + H, 2) }, now: T0 + 2 * H, maxTtlMs: MAX_TTL, signable: new Set(['new']) });
  t.is(early.state.roots.find((x) => x.fingerprint === 'old')?.retireAfter, iso(T0 + 26 * H));
});

test('the whole walk: distribute → sign with the new root once every holder has it → retire when nothing chains to the old', (t) => {
  let state: RotationState = { active: 'old', roots: [root('old')] };
  const issued: Record<string, IssuedEntry> = { a: cert('old', T0 - H, 12), b: cert('old', T0 - H, 12) };
  const started = startRotation(state, root('new', { createdAt: iso(T0) }), T0);
  t.deepEqual(types(started.effects), ['WriteRoots', 'Distribute']);
  state = started.state;
  t.deepEqual(extraBundleRoots(state).map((r) => r.fingerprint), ['new']);
  t.throws(() => startRotation(state, root('third'), T0), { message: /already distributing root new/ });
  const step = (now: number) => (state = advance({ state, issued, now, maxTtlMs: MAX_TTL, signable: new Set(['new']) }).state);

  step(T0 + H);
  t.is(summarize(state, issued, T0 + H, MAX_TTL, ['old', 'new']).awaitingNewBundle, 2);
  issued.a = cert('old', T0 + 2 * H, 12); // a renews: still signed by the old root, but now holds the new bundle
  step(T0 + 2 * H);
  t.is(summarize(state, issued, T0 + 2 * H, MAX_TTL, ['old', 'new']).phase, 'distributing');
  issued.b = cert('old', T0 + 3 * H, 12);
  step(T0 + 3 * H);
  const s = summarize(state, issued, T0 + 3 * H, MAX_TTL, ['old', 'new']);
  t.is(s.phase, 'overlap');
  t.is(state.active, 'new');
  t.is(s.remainingOnOldRoots, 2);
  issued.a = cert('new', T0 + 4 * H, 12);
  issued.b = cert('new', T0 + 4 * H, 12);
  step(T0 + 4 * H);
  t.deepEqual(state.roots.map((r) => r.fingerprint), ['new']);
  t.is(summarize(state, issued, T0 + 4 * H, MAX_TTL, ['new']).phase, 'idle');
});

test('replaceRoots: a plug-in set with another root keeps the old roots it lacks trusted for the overlap', (t) => {
  const state: RotationState = { active: 'org1', roots: [] };
  const same = replaceRoots(state, { active: 'org1', ownRoots: ['org1'] }, [{ fingerprint: 'org1', certPem: 'P1' }], {}, T0, MAX_TTL);
  t.is(same.state, state);
  t.deepEqual(same.effects, []);
  const moved = replaceRoots(state, { active: 'org2', ownRoots: ['org2'] }, [{ fingerprint: 'org1', certPem: 'P1' }], { k: cert('org1', T0, 30) }, T0, MAX_TTL);
  t.is(moved.state.active, 'org2');
  t.deepEqual(moved.state.roots, [{ fingerprint: 'org1', certPem: 'P1', createdAt: iso(T0), retireAfter: iso(T0 + 30 * H) }]);
  t.deepEqual(types(moved.effects), ['WriteRoots', 'Distribute']);
  // A new bundle that still lists the old root needs no overlap record.
  const both = replaceRoots(state, { active: 'org2', ownRoots: ['org1', 'org2'] }, [{ fingerprint: 'org1', certPem: 'P1' }], {}, T0, MAX_TTL);
  t.deepEqual(both.state.roots, []);
});

test('summarize: completesBy is the end of the current phase', (t) => {
  t.is(summarize(distributing, {}, T0, MAX_TTL, ['old', 'new']).completesBy, iso(T0 + 24 * H));
  t.is(summarize(overlap, {}, T0, MAX_TTL, ['old', 'new']).completesBy, iso(T0 + 24 * H));
  t.is(summarize({ active: 'x', roots: [root('x')] }, {}, T0, MAX_TTL, ['x']).completesBy, undefined);
});
