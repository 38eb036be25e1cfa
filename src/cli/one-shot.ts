// Tuning for commands that run once over a whole config and exit
// (`meshcd validate`), measured with `npm run bench:validate` (README);
// long-running commands (`serve`, `agent`) keep V8's defaults:
// - V8 optimizes a function once it has run for a budget of bytecode; with
//   the default budget a run of two seconds spends more CPU compiling, on
//   background threads that compete with ours for the same cores, than the
//   compiled code saves before the process exits;
// - the old generation starts small and each step of its growth is a full
//   garbage collection; a run that holds a hundred MB of config starts with
//   room for it (worker threads started afterwards get it too; memory is
//   taken as it is used, not reserved). On the bench: 3 full
//   collections instead of 4 (`--trace-gc`), peak RSS 274–285 MiB against
//   286–292 MiB without it (200 MB: 302–306 MiB), wall time within noise.

import { setFlagsFromString } from 'node:v8';

/** Call before the work starts; affects this process and the worker threads it starts. */
export function tuneForOneShot(): void {
  setFlagsFromString(`--interrupt-budget=${ONE_SHOT_INTERRUPT_BUDGET}`);
  setFlagsFromString(`--initial-old-space-size=${ONE_SHOT_INITIAL_OLD_SPACE_MB}`);
}

/** Bytes of bytecode run before a function is considered for optimization (V8's default is 132 KiB). */
const ONE_SHOT_INTERRUPT_BUDGET = 512 * 1024;

/** The old generation's starting size, in MB (V8's default depends on the machine's memory; a few MB at start here). */
const ONE_SHOT_INITIAL_OLD_SPACE_MB = 100;
