// A pod network on this machine without sending a packet off it: the API
// server refuses loopback addresses in EndpointSlices (and a real pod never
// has one), so tests that dial pods run inside a network namespace of their
// own (`unshare -n`, as root) whose loopback device also holds 10.244.0.0/24.
// Every address there is local to that namespace; nothing leaves it.
//
// A test file calls `runSelfInPodNetwork(import.meta.url)` when it is not yet
// inside: ava runs the same file again in a new namespace, and the outer test
// passes when the inner run passed.

import { spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';

export const POD_CIDR = '10.244.0.0/24';
export const podIp = (n: number): string => `10.244.0.${n}`;
const ENV = 'MESHCD_POD_NETWORK';

export function inPodNetwork(): boolean {
  return process.env[ENV] === POD_CIDR;
}

/** Runs this ava test file again inside a fresh network namespace; resolves with its exit code and output. */
export function runSelfInPodNetwork(fileUrl: string, timeoutMs = 600_000): Promise<{ code: number | null; output: string }> {
  const file = relative(process.cwd(), fileURLToPath(fileUrl));
  const ava = join(process.cwd(), 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  const script = `ip link set lo up && ip addr add ${POD_CIDR} dev lo && exec "$0" "$1" "$2" --timeout=300s`;
  const child = spawn('unshare', ['-n', 'sh', '-c', script, process.execPath, ava, file], { env: { ...process.env, [ENV]: POD_CIDR }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-40_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-40_000)));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => (output += `\nunshare: ${err.message} (these tests need root and util-linux's unshare, iproute2's ip)`));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * The outer test of a file that runs itself in the pod network: passes when
 * the inner run passed with `passed` tests; shows the inner lines.
 */
export async function assertPassedInPodNetwork(t: { log(...v: unknown[]): void; is(a: unknown, b: unknown, m?: string): void; regex(s: string, r: RegExp): void }, fileUrl: string, passed: number): Promise<void> {
  const r = await runSelfInPodNetwork(fileUrl);
  t.log(r.output.split('\n').filter((l) => /✔|✘|passed|failed|ℹ/.test(l)).join('\n'));
  t.is(r.code, 0, r.output);
  t.regex(r.output, new RegExp(`${passed} tests? passed`));
}

export interface CuttableProxy {
  /** `127.0.0.1:<port>` */
  address: string;
  /** Resets every open connection and refuses new ones until `resume`. */
  cut(): void;
  resume(): void;
  close(): Promise<void>;
}

/** A TCP forwarder to `target` (host:port) on 127.0.0.1: a network path a test can cut (an API server outage as a client sees it). */
export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const open = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(port, host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    address,
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy();
      open.clear();
    },
    resume() {
      down = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
