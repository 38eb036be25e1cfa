// The machine a bench ran on, in one line: CPU model, cores, RAM, Node,
// platform and the load average at the moment (the machine is shared, so
// every figure is printed with the load it was measured under).

import { cpus, loadavg, totalmem } from 'node:os';

export function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

export function machineLine(): string {
  const c = cpus();
  return `machine: ${c[0]?.model ?? 'unknown CPU'}, ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}, load average ${loadAverage()}`;
}
