// One config canary at a time (docs/rollouts.md): the cache serves two
// revisions — the one in force before a walk and the newest — so of the
// config canaries an accepted revision concerns, one leads and the others
// whose covered content changes are queued behind it. Pure: a speculative
// controller `step` says what each would do with the revision; `now` is an
// input. ./runner.ts performs the plan.
// Imports: ./controller, ./spec (types), ./contracts (types).

import type { RolloutSpec } from './contracts.js';
import { configServingOf, step, type RolloutState } from './controller.js';
import type { RouteRouting, TargetRouting } from './spec.js';

/** A Rollout and what an accepted revision says of its target. */
export interface PlanItem {
  entry: { key: string; spec: RolloutSpec; state: RolloutState };
  routing: TargetRouting | undefined;
  commit?: string;
}

/** Per Rollout key: the routing to step the leader with (its own plus the queued changes), or whom it is queued behind. */
export type CanaryPlan = Map<string, { routing?: TargetRouting; queuedBehind?: string }>;

/**
 * The canary driving before this revision keeps the lead (else the first by
 * namespace/name that would start a walk); any other whose covered content
 * changes meanwhile is queued behind it: not stepped, and its change, which
 * the leader's cohort is served anyway, is added to the leader's target (a
 * pseudo-route per queued canary) so the leader restarts its steps for it.
 */
export function planCanaries(items: readonly PlanItem[], now: number): CanaryPlan {
  const plan: CanaryPlan = new Map();
  const canaries = items.filter((i) => i.entry.spec.strategy === 'proxies').sort((a, b) => (a.entry.key < b.entry.key ? -1 : 1)).map((i) => keepCarried(i, plan));
  if (canaries.length < 2) return plan;
  const drives = (s: RolloutState) => configServingOf(s) !== undefined && configServingOf(s)!.serve !== 'new';
  const walks = (s: RolloutState) => s.phase === 'Progressing' || s.phase === 'Paused';
  const next = (i: PlanItem) => step(i.entry.state, i.entry.spec, { kind: 'revision', routing: i.routing, ...(i.commit ? { commit: i.commit } : {}) }, now).state;
  const before = canaries.find((i) => drives(i.entry.state));
  const order = before ? [before, ...canaries.filter((i) => i !== before)] : canaries;
  let lead: PlanItem | undefined;
  const queued: PlanItem[] = [];
  for (const i of order) {
    const n = next(i);
    if (!lead) {
      if (drives(n)) lead = i;
    } else if (walks(n) && !walks(i.entry.state)) queued.push(i);
  }
  if (!lead) return plan;
  for (const q of queued) plan.set(q.entry.key, { queuedBehind: lead.entry.key });
  if (queued.length && lead.routing && walks(next(lead))) {
    const carried = queued.map((q) => ({ id: `${QUEUED}${q.entry.key}`, index: -1, destinations: [{ host: q.routing?.routes[0]?.destinations[0]?.host ?? 'none', weight: 100 }] }));
    plan.set(lead.entry.key, { routing: { ...lead.routing, routes: [...lead.routing.routes, ...carried] } });
  }
  return plan;
}

const QUEUED = 'queued:';
const own = (routes: readonly RouteRouting[]) => JSON.stringify(routes.filter((r) => !r.id.startsWith(QUEUED)).map((r) => [r.id, r.destinations.map((d) => [d.host, d.weight])]));

/**
 * A canary that carried queued changes keeps their pseudo-routes in its
 * known routing after its walk. While its own content is unchanged it is
 * stepped with them too, so a later revision is not read as a new change
 * (a walk of nothing). Once its content changes, its plain routing is used.
 */
function keepCarried(i: PlanItem, plan: CanaryPlan): PlanItem {
  const known = i.entry.state.known?.routes ?? [];
  const carried = known.filter((r) => r.id.startsWith(QUEUED));
  const s = i.entry.state;
  if (!carried.length || !i.routing || s.phase === 'Progressing' || s.phase === 'Paused' || own(known) !== own(i.routing.routes)) return i;
  const routing = { ...i.routing, routes: [...i.routing.routes, ...carried] };
  plan.set(i.entry.key, { routing });
  return { ...i, routing };
}
