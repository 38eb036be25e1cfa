// A proxyless gRPC client in its own process, driven over stdin/stdout: each
// line "N" on stdin makes N calls and answers one JSON line {versions,
// errors}. For tests whose client must not live in the test worker (grpc-js-xds
// 1.14's priority policy leaves a 15-minute child-retention timer running
// after its channel closes, which keeps a worker from exiting).
//
//   node xds-client-process.js <target> <xds server> <node id> <namespace>

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { callEcho, eventually, xdsClient } from './xds-e2e.js';

export interface ClientProcess {
  calls(n: number): Promise<{ versions: Record<string, number>; errors: string[] }>;
  close(): void;
}

/** Starts the client process; resolves once its first call succeeded. */
export async function startClientProcess(target: string, xds: string, nodeId: string, namespace: string): Promise<ClientProcess> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), target, xds, nodeId, namespace], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface(child.stdout!);
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((resolve, reject) => {
    waiting.push(resolve);
    child.once('exit', (code) => reject(new Error(`client process exited with ${code}`)));
  });
  const ready = await next();
  if (ready !== 'ready') throw new Error(`client process: ${ready}`);
  return {
    async calls(n) {
      const answer = next();
      child.stdin!.write(`${n}\n`);
      return JSON.parse(await answer) as { versions: Record<string, number>; errors: string[] };
    },
    close: () => void child.kill('SIGKILL'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target, xds, nodeId, namespace] = process.argv.slice(2);
  const c = await xdsClient(target!, xds!, nodeId!, namespace!);
  await eventually(() => callEcho(c, {}, {}, 2000), 30_000);
  process.stdout.write('ready\n');
  for await (const line of createInterface(process.stdin)) {
    const versions: Record<string, number> = {};
    const errors: string[] = [];
    for (let i = 0; i < Number(line); i++) {
      await callEcho(c).then((r) => (versions[r.version] = (versions[r.version] ?? 0) + 1), (e: Error) => errors.push(e.message));
    }
    process.stdout.write(`${JSON.stringify({ versions, errors })}\n`);
  }
  process.exit(0);
}
