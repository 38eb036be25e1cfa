import test from 'ava';
import { walksOf, type HistoryPoint } from '../../../src/dashboard/walks.js';

let clock = Date.parse('2026-12-07T10:00:00Z');
const h = (phase: string, stepIndex: number, canaryWeight: number, message: string): HistoryPoint => ({ at: new Date((clock += 1000)).toISOString(), phase, stepIndex, canaryWeight, message });

test('a history cut into walks: each from its start (new revision, retry) with how it ended', (t) => {
  const history = [
    // 1: succeeded
    h('Progressing', 0, 0, 'new revision: walking out the change'),
    h('Progressing', 1, 50, 'step 0: weight 50%'),
    h('Succeeded', 2, 100, 'promoted: Git\'s routing is in force'),
    // 2: restarted by a newer commit mid-walk
    h('Progressing', 0, 0, 'new revision: walking out the change'),
    h('Paused', 0, 0, 'paused by command'),
    h('Progressing', 0, 0, 'resumed by command'),
    h('Progressing', 1, 20, 'step 0: weight 20%'),
    // 3: restarted, then rolled back, written back
    h('Progressing', 0, 0, 'new revision mid-rollout: restarting from the routing in force'),
    h('Progressing', 1, 20, 'step 0: weight 20%'),
    h('Failed', 1, 0, 'rolled back: 2 failed measurements'),
    h('Failed', -1, 0, 'write-back: reverted in abc on main'),
    // 4: retried, in flight
    h('Progressing', 0, 0, 'retry by command: walking out again'),
    h('Paused', 1, 10, 'paused until promoted'),
  ];
  const walks = walksOf(history);
  t.deepEqual(
    walks.map((w) => [w.from, w.entries.length, w.outcome, w.stepsDone, w.maxWeight]),
    [
      [0, 3, 'Succeeded', 2, 100],
      [3, 4, 'Superseded', 1, 20],
      [7, 4, 'Failed', 1, 20],
      [11, 2, 'Paused', 1, 10],
    ],
  );
  t.is(walks[2]!.start, history[7]!.at);
  t.is(walks[2]!.end, history[10]!.at);
  t.is(walks[3]!.end, history[12]!.at, 'a walk in flight ends at its last entry so far');
});

test('a history whose first start was cut off at its bound keeps the rest as a walk; an empty one has none', (t) => {
  const cut = [h('Paused', 3, 50, 'paused until promoted'), h('Succeeded', 4, 100, 'promoted'), h('Progressing', 0, 0, 'new revision: walking out the change')];
  t.deepEqual(walksOf(cut).map((w) => [w.from, w.outcome]), [[0, 'Succeeded'], [2, 'Progressing']]);
  t.deepEqual(walksOf([]), []);
});
