// grpc-go's xDS client (test/interop/grpc-go-client) driven from a test: one
// process per bootstrap (grpc-go reads GRPC_XDS_BOOTSTRAP once), commands and
// answers as JSON lines. Channels stay open between commands, so a test can
// watch one client follow config changes; `fresh: true` dials a new one.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { goPeer } from './go-peers.js';

export interface GoCallSpec {
  target: string;
  n?: number;
  concurrency?: number;
  metadata?: Record<string, string>;
  key?: string;
  sleep_ms?: number;
  fail_first?: number;
  deadline_ms?: number;
  /** Retry single calls until one succeeds, up to this long, before the counted calls. */
  wait_ms?: number;
  /** Call continuously for this long instead of `n` calls. */
  duration_ms?: number;
  fresh?: boolean;
}

export interface GoAnswer {
  id: number;
  calls: number;
  ok: number;
  /** Echo reply version → calls it answered. */
  backends: Record<string, number>;
  /** Attempt number the backend saw → calls (retries show as attempt > 1). */
  attempts: Record<string, number>;
  /** Numeric gRPC status code → calls. */
  codes: Record<string, number>;
  errors: string[];
  /** Every NACK grpc-go's xDS client logged since it started. */
  nacks: string[];
  failure?: string;
}

export interface GoClient {
  run(spec: GoCallSpec): Promise<GoAnswer>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts grpc-go-client with this bootstrap (an object, or the path of a bootstrap file an agent wrote). */
export async function startGoClient(bootstrap: Record<string, unknown> | string): Promise<GoClient> {
  const bin = await goPeer('grpc-go-client');
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-grpc-go-'));
  let path = bootstrap as string;
  if (typeof bootstrap !== 'string') {
    path = join(dir, 'bootstrap.json');
    await writeFile(path, JSON.stringify(bootstrap));
  }
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GRPC_XDS_BOOTSTRAP: path } });
  let err = '';
  // Bounded: grpc-go warns on every reconnect; the last 64 KiB tell what went wrong.
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-65536)));
  const pending: { resolve(a: GoAnswer): void; reject(e: Error): void }[] = [];
  let exited: string | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const p = pending.shift();
    if (!p) return;
    try {
      p.resolve(JSON.parse(line) as GoAnswer);
    } catch {
      p.reject(new Error(`grpc-go-client answered a line that is not JSON: ${line.slice(0, 200)}`));
    }
  });
  const done = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exited = `grpc-go-client exited (${code ?? signal}):\n${err.slice(-4000)}`;
    for (const p of pending.splice(0)) p.reject(new Error(exited));
    resolve();
  }));
  child.once('error', (e) => {
    exited = `grpc-go-client did not start: ${e.message}`;
    for (const p of pending.splice(0)) p.reject(new Error(exited));
  });
  let id = 0;
  return {
    run(spec) {
      if (exited) return Promise.reject(new Error(exited));
      return new Promise<GoAnswer>((resolve, reject) => {
        pending.push({ resolve, reject });
        child.stdin.write(`${JSON.stringify({ id: ++id, ...spec })}\n`);
      }).then((a) => {
        if (a.failure) throw new Error(`grpc-go-client: ${a.failure}`);
        return a;
      });
    },
    stderr: () => err,
    async stop() {
      if (!exited) {
        child.stdin.end();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the spec again until `ok(answer)` holds or the time runs out; returns the last answer. */
export async function goEventually(c: GoClient, spec: GoCallSpec, ok: (a: GoAnswer) => boolean, ms = 15000): Promise<GoAnswer> {
  const end = Date.now() + ms;
  let a = await c.run(spec);
  while (!ok(a) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    a = await c.run(spec);
  }
  return a;
}

/** NACKs meshcd recorded (its /debug/syncz): the server's side of "zero NACKs". */
export async function serverNacks(admin: string): Promise<unknown[]> {
  const syncz = (await (await fetch(`${admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[]; refused: unknown[] };
  return [...syncz.proxies.filter((p) => p.lastNack).map((p) => ({ proxy: p.proxy, nack: p.lastNack })), ...syncz.refused];
}
