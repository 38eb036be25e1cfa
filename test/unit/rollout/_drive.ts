// Shared by the controller tests (controller, canary): the pure state machine
// driven through observations at given times.

import type { RolloutSpec } from '../../../src/rollout/contracts.js';
import { INITIAL_STATE, step, type Action, type Observation, type RolloutState } from '../../../src/rollout/controller.js';

/** Drive the controller through observations at given times; returns every intermediate result. */
export function drive(s: RolloutSpec, obs: [number, Observation | ((st: RolloutState) => Observation)][], start: RolloutState = INITIAL_STATE) {
  let state = start;
  const results: { state: RolloutState; actions: Action[]; rejected?: string }[] = [];
  for (const [at, o] of obs) {
    const r = step(state, s, typeof o === 'function' ? o(state) : o, at);
    state = r.state;
    results.push(r);
  }
  return { state, results, last: results[results.length - 1]! };
}

/** The generation of the change a state walks (0 when idle): observations carry it. */
export const gen = (st: RolloutState) => ('change' in st ? st.change.generation : 0);
