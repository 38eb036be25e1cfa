// Process plumbing for bench/xds/scale.ts: a worker driven over IPC by
// numbered commands, a child's CPU seconds and memory from /proc, and a
// clock comparable across processes.

import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export const now = () => performance.timeOrigin + performance.now();

const lastCpu = new Map<number, number>();
const lastMemory = new Map<number, { rss: number; peak: number }>();

/** User + system CPU seconds of a process (clock ticks are 1/100 s on Linux); the last value read once it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    const v = (Number(f[11]) + Number(f[12])) / 100;
    lastCpu.set(pid, v);
    return v;
  } catch {
    return lastCpu.get(pid) ?? NaN;
  }
}

/** Resident memory now and its peak (VmHWM), in bytes; the last values read once the process is gone. */
export async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
    const m = { rss: kb('VmRSS'), peak: kb('VmHWM') };
    lastMemory.set(pid, m);
    return m;
  } catch {
    return lastMemory.get(pid) ?? { rss: NaN, peak: NaN };
  }
}

/** A child process answering `{seq, command}` with `{seq, ok}` or `{seq, error}`. */
export class IpcWorker {
  readonly child: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(script: string, args: string[] = [], execArgv: string[] = []) {
    this.child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.child.on('message', (m: { seq: number; ok?: unknown; error?: string }) => {
      const w = this.waiting.get(m.seq);
      if (!w) return;
      this.waiting.delete(m.seq);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.ok);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${script} exited with ${code}`));
      this.waiting.clear();
    });
  }

  call<T>(command: object): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ seq, command });
    });
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

/** A bootstrap token per proxy, derived from a seed that the parent (which writes serve's --ca-token-file) and the clients share. */
export function tokenFor(seed: string, index: number): string {
  return createHash('sha256').update(`${seed}:${index}`).digest('hex');
}
