// Loaded with `node --import` into the measured child (and so into its
// worker threads, which inherit execArgv): at exit, report the process's own
// peak RSS and CPU time on stderr, so the bench needs no /usr/bin/time and
// the CLI needs no bench mode. On Linux also each JavaScript thread's own CPU
// time (/proc/thread-self/stat): on a shared machine the busiest thread's
// CPU time, not wall time, shows what wall time would be without neighbours.
import { readFileSync, writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return undefined;
  }
}

process.on('exit', () => {
  if (!isMainThread) {
    writeSync(2, `\nMESHCD_BENCH_WORKER ${JSON.stringify({ cpuMs: threadCpuMs() })}\n`);
    return;
  }
  const u = process.resourceUsage();
  writeSync(2, `\nMESHCD_BENCH ${JSON.stringify({ maxRssKiB: u.maxRSS, userMs: Math.round(u.userCPUTime / 1000), systemMs: Math.round(u.systemCPUTime / 1000), mainThreadMs: threadCpuMs() })}\n`);
});
