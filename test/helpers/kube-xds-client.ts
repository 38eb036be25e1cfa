// A @grpc/grpc-js-xds echo client in a process of its own, with a bootstrap
// the test writes whole (node locality, several xDS servers), driven by JSON
// lines on stdin: `{"n": 20}` makes 20 calls one after another,
// `{"durationMs": 5000, "everyMs": 20}` calls for that long; each answers one
// line {calls, failed, versions, errors}. Its own process because grpc-js-xds 1.14's
// priority policy keeps a timer after its channel closes, and because
// grpc-js-xds reads its bootstrap once per process (GRPC_XDS_BOOTSTRAP_CONFIG).
//
//   node kube-xds-client.js <target>      (bootstrap in GRPC_XDS_BOOTSTRAP_CONFIG)

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { callEcho, echoService, eventually, xdsModule } from './xds-e2e.js';

export interface CallResult {
  calls: number;
  failed: number;
  versions: Record<string, number>;
  errors: string[];
}

export interface BootstrapOptions {
  /** `host:port` of each xDS server, in the order the client tries them. */
  servers: string[];
  nodeId: string;
  namespace: string;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** Node metadata LABELS (the proxy's workload labels, e.g. topology.istio.io/cluster). */
  labels?: Record<string, string>;
}

/** A grpc-js-xds (and grpc-go) bootstrap: insecure channel, Istio-style node metadata, optional locality. */
export function bootstrapWith(o: BootstrapOptions): Record<string, unknown> {
  return {
    xds_servers: o.servers.map((s) => ({ server_uri: s, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] })),
    node: { id: o.nodeId, locality: o.locality ?? {}, metadata: { GENERATOR: 'grpc', NAMESPACE: o.namespace, ...(o.labels ? { LABELS: o.labels } : {}) } },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
  };
}

export interface XdsClientProcess {
  run(cmd: { n?: number; durationMs?: number; everyMs?: number }): Promise<CallResult>;
  /** Calls `n` times until `ok` holds of the answer (config arriving, changing) or the time runs out. */
  until(n: number, ok: (r: CallResult) => boolean, ms?: number): Promise<CallResult>;
  close(): void;
}

/** Starts the client; resolves once a first call succeeded. */
export async function startXdsClientProcess(target: string, bootstrap: Record<string, unknown>): Promise<XdsClientProcess> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), target], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_000)));
  const waiting: { resolve(line: string): void; reject(e: Error): void }[] = [];
  createInterface(child.stdout!).on('line', (l) => waiting.shift()?.resolve(l));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`grpc-js-xds client exited with ${code}:\n${stderr.slice(-4000)}`));
  });
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = await next();
  if (ready !== 'ready') throw new Error(`grpc-js-xds client: ${ready}\n${stderr.slice(-4000)}`);
  const run = async (cmd: { n?: number; durationMs?: number; everyMs?: number }) => {
    const answer = next();
    child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return JSON.parse(await answer) as CallResult;
  };
  return {
    run,
    async until(n, ok, ms = 20_000) {
      const end = Date.now() + ms;
      let r = await run({ n });
      while (!ok(r) && Date.now() < end) {
        await new Promise((res) => setTimeout(res, 200));
        r = await run({ n });
      }
      return r;
    },
    close: () => void child.kill('SIGKILL'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target] = process.argv.slice(2);
  await xdsModule();
  const { Client } = echoService();
  const c = new Client(target!, grpc.credentials.createInsecure());
  try {
    await eventually(() => callEcho(c, {}, {}, 2000), 30_000);
    process.stdout.write('ready\n');
  } catch (err) {
    process.stdout.write(`no first call in 30 s: ${(err as Error).message}\n`);
    process.exit(1);
  }
  for await (const line of createInterface(process.stdin)) {
    const cmd = JSON.parse(line) as { n?: number; durationMs?: number; everyMs?: number };
    const r: CallResult = { calls: 0, failed: 0, versions: {}, errors: [] };
    const one = () => callEcho(c).then((x) => void (r.versions[x.version] = (r.versions[x.version] ?? 0) + 1), (e: Error) => {
      r.failed++;
      if (r.errors.length < 20) r.errors.push(e.message);
    });
    if (cmd.durationMs) {
      const end = Date.now() + cmd.durationMs;
      while (Date.now() < end) {
        r.calls++;
        await one();
        if (cmd.everyMs) await new Promise((res) => setTimeout(res, cmd.everyMs));
      }
    } else {
      for (let i = 0; i < (cmd.n ?? 1); i++) {
        r.calls++;
        await one();
      }
    }
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  process.exit(0);
}
