// Tuning for commands that run once over a whole config and exit
// (`meshcd validate`): V8 optimizes a function once it has run for a
// budget of bytecode; with the default budget a run of two seconds spends
// more CPU compiling, on background threads that compete with ours for the
// same cores, than the compiled code saves before the process exits.
// Measured with `npm run bench:validate` (README). Long-running commands
// (`serve`, `agent`) keep V8's defaults.

import { setFlagsFromString } from 'node:v8';

let tuned = false;

/** Call before the work starts; affects this process and the worker threads it starts. */
export function tuneForOneShot(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString(`--interrupt-budget=${ONE_SHOT_INTERRUPT_BUDGET}`);
}

/** Bytes of bytecode run before a function is considered for optimization (V8's default is 132 KiB). */
export const ONE_SHOT_INTERRUPT_BUDGET = 512 * 1024;
