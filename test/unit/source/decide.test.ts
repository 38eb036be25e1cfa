// The pure accept/reject decision with plain values: which set is evaluated,
// what the outcome is, who is blamed, and what is retried.

import test from 'ava';
import type { Diagnostic } from '../../../src/api/types.js';
import { decide, planEvaluation, retryCandidates, type Plan, type SourceView } from '../../../src/source/decide.js';

const err: Diagnostic = { code: 'MCD0100', severity: 'error', message: 'bad field' };
const warn: Diagnostic = { code: 'IST0101', severity: 'warning', message: 'not found' };
const info: Diagnostic = { code: 'MCD9000', severity: 'info', message: 'fyi' };

const plans: { title: string; sources: SourceView[]; target: string | undefined; retry?: boolean; plan: Plan }[] = [
  { title: 'start: every source with a candidate', sources: [{ name: 'a', candidate: 'a1' }, { name: 'b', candidate: 'b1' }], target: undefined, plan: { evaluate: true, parts: [{ name: 'a', use: 'candidate' }, { name: 'b', use: 'candidate' }] } },
  { title: 'start: a source without a revision leaves it incomplete', sources: [{ name: 'a', candidate: 'a1' }, { name: 'b' }], target: undefined, plan: { evaluate: false, reason: 'incomplete' } },
  { title: 'new candidate, others at their accepted revision', sources: [{ name: 'a', accepted: 'a1', candidate: 'a2' }, { name: 'b', accepted: 'b1', candidate: 'b2', rejected: 'b2' }], target: 'a', plan: { evaluate: true, parts: [{ name: 'a', use: 'candidate' }, { name: 'b', use: 'accepted' }] } },
  { title: 'before the first acceptance the others take part with their candidate', sources: [{ name: 'a', candidate: 'a2' }, { name: 'b', candidate: 'b1' }], target: 'a', plan: { evaluate: true, parts: [{ name: 'a', use: 'candidate' }, { name: 'b', use: 'candidate' }] } },
  { title: 'another source with nothing at all', sources: [{ name: 'a', candidate: 'a2' }, { name: 'b' }], target: 'a', plan: { evaluate: false, reason: 'incomplete' } },
  { title: 'candidate already serving', sources: [{ name: 'a', accepted: 'a1', candidate: 'a1' }], target: 'a', plan: { evaluate: false, reason: 'already-accepted' } },
  { title: 'candidate already rejected', sources: [{ name: 'a', accepted: 'a1', candidate: 'a2', rejected: 'a2' }], target: 'a', plan: { evaluate: false, reason: 'already-rejected' } },
  { title: 'rejected candidate, retried', sources: [{ name: 'a', accepted: 'a1', candidate: 'a2', rejected: 'a2' }], target: 'a', retry: true, plan: { evaluate: true, parts: [{ name: 'a', use: 'candidate' }] } },
  { title: 'no candidate', sources: [{ name: 'a' }], target: 'a', plan: { evaluate: false, reason: 'no-candidate' } },
];

for (const row of plans) {
  test(`planEvaluation: ${row.title}`, (t) => {
    t.deepEqual(planEvaluation(row.sources, row.target, row.retry), row.plan);
  });
}

const decisions: { title: string; parts: { name: string; accepted?: string; revision: string }[]; diagnostics: Diagnostic[]; want: ReturnType<typeof decide> }[] = [
  { title: 'no errors: accepted, only the changed sources move', parts: [{ name: 'a', accepted: 'a1', revision: 'a2' }, { name: 'b', accepted: 'b1', revision: 'b1' }], diagnostics: [warn, info], want: { outcome: 'accepted', changed: ['a'], warnings: 1 } },
  { title: 'first acceptance moves every source', parts: [{ name: 'a', revision: 'a1' }, { name: 'b', revision: 'b1' }], diagnostics: [], want: { outcome: 'accepted', changed: ['a', 'b'], warnings: 0 } },
  { title: 'an error rejects the set and blames the sources with a new revision', parts: [{ name: 'a', accepted: 'a1', revision: 'a2' }, { name: 'b', accepted: 'b1', revision: 'b1' }], diagnostics: [warn, err], want: { outcome: 'rejected', blamed: ['a'], errors: [err] } },
  { title: 'warnings alone never reject', parts: [{ name: 'a', revision: 'a1' }], diagnostics: [warn, warn], want: { outcome: 'accepted', changed: ['a'], warnings: 2 } },
];

for (const row of decisions) {
  test(`decide: ${row.title}`, (t) => {
    t.deepEqual(decide(row.parts, row.diagnostics), row.want);
  });
}

test('retryCandidates: a rejected newest revision that is not serving', (t) => {
  t.deepEqual(
    retryCandidates([
      { name: 'a', accepted: 'a1', candidate: 'a2', rejected: 'a2' },
      { name: 'b', accepted: 'b1', candidate: 'b1', rejected: 'b0' },
      { name: 'c', accepted: 'c1', candidate: 'c2', rejected: 'c1x' },
      { name: 'd' },
    ]),
    ['a'],
  );
});

test('the decision is a plain value (no functions, no class instances)', (t) => {
  const d = decide([{ name: 'a', revision: 'a1' }], [err]);
  t.deepEqual(JSON.parse(JSON.stringify(d)), d);
});
