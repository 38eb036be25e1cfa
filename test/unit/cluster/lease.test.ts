import test from 'ava';
import { decide, recordKey, type LeaseRecord } from '../../../src/cluster/lease.js';

const D = 15_000;
const held = (holder: string, renewTime = '2026-12-07T10:00:00.000Z', transitions = 3): LeaseRecord => ({ holder, renewTime, transitions });

test('no Lease: create it; ours: renew; released: take it', (t) => {
  t.deepEqual(decide(undefined, 'me', undefined, 0, D), { kind: 'create' });
  t.deepEqual(decide(held('me'), 'me', undefined, 0, D), { kind: 'renew' });
  t.deepEqual(decide(held(''), 'me', undefined, 0, D), { kind: 'takeover', from: '' });
});

test('another holder expires only after its record stood still for a whole duration on our clock', (t) => {
  const r = held('other');
  const first = decide(r, 'me', undefined, 1_000, D);
  t.like(first, { kind: 'wait', leader: 'other' });
  const observed = first.kind === 'wait' ? first.observed : undefined;
  t.deepEqual(observed, { key: recordKey(r), at: 1_000 });
  t.like(decide(r, 'me', observed, 1_000 + D - 1, D), { kind: 'wait' });
  t.deepEqual(decide(r, 'me', observed, 1_000 + D, D), { kind: 'takeover', from: 'other' });
});

test('a renewal restarts the count, whatever the holder\'s clock says', (t) => {
  const before = held('other', '2020-01-01T00:00:00.000Z');
  const w = decide(before, 'me', undefined, 0, D);
  const observed = w.kind === 'wait' ? w.observed : undefined;
  // The holder renewed (its clock may be years off): a changed record is a fresh observation.
  const renewed = held('other', '2020-01-01T00:00:02.000Z');
  const after = decide(renewed, 'me', observed, D + 5, D);
  t.like(after, { kind: 'wait', leader: 'other' });
  t.is(after.kind === 'wait' ? after.observed.at : -1, D + 5);
});
