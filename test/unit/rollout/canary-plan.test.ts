// One config canary at a time (src/rollout/canary-plan.ts), pure: which
// canary leads an accepted revision, which are queued behind it, the
// leader's target carrying the queued changes, and a leader that carried
// some reading a later unchanged revision as no change.

import test from 'ava';
import { planCanaries, type PlanItem } from '../../../src/rollout/canary-plan.js';
import type { RolloutSpec } from '../../../src/rollout/contracts.js';
import { INITIAL_STATE, step, type RolloutState } from '../../../src/rollout/controller.js';
import type { TargetRouting } from '../../../src/rollout/spec.js';

const T0 = 1_000_000;
const content = (d: string): TargetRouting => ({ virtualService: '', config: { files: { 'x.yaml': d } }, source: 'config', routes: [{ id: 'config', index: -1, destinations: [{ host: `sha256:${d}`, weight: 100 }] }] });
const spec = (kind: string): RolloutSpec => ({ strategy: 'proxies', target: { virtualService: '', kinds: [kind], namespaces: ['shop'] }, steps: [{ setProxies: { count: 1 } }, { pause: {} }, { setProxies: { percent: 100 } }], writeBack: 'none', webhooks: [] });
const SPECS = { 'shop/a': spec('DestinationRule'), 'shop/b': spec('AuthorizationPolicy'), 'shop/c': spec('PeerAuthentication') } as const;
type Key = keyof typeof SPECS;

/** A state that has seen content `d` (Idle, in force). */
const seen = (key: Key, d: string): RolloutState => step(INITIAL_STATE, SPECS[key], { kind: 'revision', routing: content(d), commit: 'c0' }, T0).state;
const item = (key: Key, state: RolloutState, d: string): PlanItem => ({ entry: { key, spec: SPECS[key], state }, routing: content(d), commit: 'c1' });
const walk = (key: Key, from: string, to: string, routing?: TargetRouting): RolloutState => step(seen(key, from), SPECS[key], { kind: 'revision', routing: routing ?? content(to), commit: 'c1' }, T0).state;

const cases: { name: string; items: () => PlanItem[]; want: Record<string, { queuedBehind?: string; carries?: string[] }> }[] = [
  { name: 'one canary: no plan', items: () => [item('shop/a', seen('shop/a', 'a0'), 'a1')], want: {} },
  { name: 'two changed at once: the first by name leads and carries the other', items: () => [item('shop/b', seen('shop/b', 'b0'), 'b1'), item('shop/a', seen('shop/a', 'a0'), 'a1')], want: { 'shop/a': { carries: ['queued:shop/b'] }, 'shop/b': { queuedBehind: 'shop/a' } } },
  { name: 'only one changed: nobody queued', items: () => [item('shop/a', seen('shop/a', 'a0'), 'a0'), item('shop/b', seen('shop/b', 'b0'), 'b1')], want: {} },
  { name: 'the one walking keeps the lead over one earlier by name', items: () => [item('shop/a', seen('shop/a', 'a0'), 'a1'), item('shop/b', walk('shop/b', 'b0', 'b1'), 'b1')], want: { 'shop/b': { carries: ['queued:shop/a'] }, 'shop/a': { queuedBehind: 'shop/b' } } },
  { name: 'three at once: one leads, two queued', items: () => [item('shop/c', seen('shop/c', 'c0'), 'c1'), item('shop/b', seen('shop/b', 'b0'), 'b1'), item('shop/a', seen('shop/a', 'a0'), 'a1')], want: { 'shop/a': { carries: ['queued:shop/b', 'queued:shop/c'] }, 'shop/b': { queuedBehind: 'shop/a' }, 'shop/c': { queuedBehind: 'shop/a' } } },
  {
    name: 'a leader that carried a change and is done: an unchanged revision keeps the carried routes (no walk of nothing)',
    items: () => {
      const carried = { ...content('a1'), routes: [...content('a1').routes, { id: 'queued:shop/b', index: -1, destinations: [{ host: 'sha256:b1', weight: 100 }] }] };
      let s = walk('shop/a', 'a0', 'a1', carried);
      s = step(s, SPECS['shop/a'], { kind: 'command', command: 'abort' }, T0 + 1).state;
      return [item('shop/a', s, 'a1'), item('shop/b', seen('shop/b', 'b1'), 'b1')];
    },
    want: { 'shop/a': { carries: ['queued:shop/b'] } },
  },
];

for (const c of cases) {
  test(c.name, (t) => {
    const items = c.items();
    const plan = planCanaries(items, T0 + 10);
    const got: Record<string, { queuedBehind?: string; carries?: string[] }> = {};
    for (const [k, p] of plan) got[k] = { ...(p.queuedBehind ? { queuedBehind: p.queuedBehind } : {}), ...(p.routing ? { carries: p.routing.routes.filter((r) => r.id !== 'config').map((r) => r.id) } : {}) };
    t.deepEqual(got, c.want);
    for (const [k, p] of plan) {
      if (!p.routing) continue;
      const i = items.find((x) => x.entry.key === k)!;
      t.deepEqual(p.routing.routes[0], i.routing!.routes[0], 'the leader keeps its own content first');
    }
  });
}

test('the carried routes are dropped once the leader\'s own content changes', (t) => {
  const carried = { ...content('a1'), routes: [...content('a1').routes, { id: 'queued:shop/b', index: -1, destinations: [{ host: 'sha256:b1', weight: 100 }] }] };
  let s = walk('shop/a', 'a0', 'a1', carried);
  s = step(s, SPECS['shop/a'], { kind: 'command', command: 'abort' }, T0 + 1).state;
  t.deepEqual([...planCanaries([item('shop/a', s, 'a2')], T0 + 10)], []);
});
