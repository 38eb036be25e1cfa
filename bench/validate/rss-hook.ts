// Loaded with `node --import` into the measured child: at exit, report the
// process's own peak RSS and CPU time on stderr, so the bench needs no
// /usr/bin/time and the CLI needs no bench mode.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const u = process.resourceUsage();
  writeSync(2, `\nMESHCD_BENCH ${JSON.stringify({ maxRssKiB: u.maxRSS, userMs: Math.round(u.userCPUTime / 1000), systemMs: Math.round(u.systemCPUTime / 1000) })}\n`);
});
