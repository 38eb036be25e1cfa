// Abuse scenario (issue 9 §3): does a client that opens thousands of ADS
// streams on one connection and never reads slow down a well-behaved proxy?
// `meshcd serve` (child process, examples/mesh, stream cap raised so the
// abuser is admitted) is measured twice: a well-behaved proxy connects, asks
// for CDS and LDS and is timed until both responses arrived (ROUNDS times,
// a fresh connection each), first alone, then while one connection holds
// ABUSE_STREAMS streams that each asked for CDS and LDS and read nothing.
// Prints p50/p99 side by side and their ratio (goal ≈ 1).
//
//   npm run build --silent && node dist/bench/xds/abuse.js
//   ABUSE_STREAMS=4000 ROUNDS=40 node dist/bench/xds/abuse.js

import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { adsClientDefinition } from '../../src/xds/server/service.js';

const ABUSE_STREAMS = Number(process.env.ABUSE_STREAMS ?? 4000);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const Ads = grpc.makeGenericClientConstructor(adsClientDefinition() as grpc.ServiceDefinition, 'AggregatedDiscoveryService');

const say = (s: string) => process.stdout.write(`${s}\n`);
const node = (id: string) => ({ id, metadata: { fields: { NAMESPACE: { string_value: 'bookinfo' } } }, user_agent_name: 'bench' });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** One well-behaved proxy: connect, CDS + LDS, ms until both responses arrived. */
async function goodProxy(address: string, i: number): Promise<number> {
  const client = new Ads(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = (client as any).StreamAggregatedResources() as grpc.ClientDuplexStream<object, { type_url: string; nonce: string; version_info: string }>;
  const t0 = performance.now();
  const got = new Set<string>();
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no config within 30 s')), 30_000);
      call.on('data', (r) => {
        got.add(r.type_url);
        call.write({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: [] });
        if (got.has(CDS) && got.has(LDS)) {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        }
      });
      call.on('error', (e) => reject(e));
      call.write({ node: node(`sidecar~10.9.0.${i % 250}~good-${i}.bookinfo~bookinfo.svc.cluster.local`), type_url: CDS, resource_names: [] });
      call.write({ type_url: LDS, resource_names: [] });
    });
  } finally {
    call.cancel();
    client.close();
  }
}

async function rounds(address: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) out.push(await goodProxy(address, i));
  return out;
}

async function main(): Promise<void> {
  say(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}`);
  const work = await mkdtemp(join(tmpdir(), 'meshcd-bench-abuse-'));
  const bin = join(process.cwd(), 'dist/src/cli/bin.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve', '--source', 'examples/mesh', '--xds-port', '0', '--admin-port', '0', '--no-ca', '--state-dir', join(work, 'state'), '--xds-max-streams-per-connection', String(ABUSE_STREAMS + 10)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'error' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const address = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /xDS \(ADS, plaintext gRPC\): (\S+)/.exec(out);
      if (m && /accepted /.test(out)) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
  });
  try {
    await rounds(address); // warm-up
    const alone = await rounds(address);

    // The abuser: one connection, ABUSE_STREAMS streams, each asks for CDS and LDS and never reads.
    const abuser = new Ads(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const calls: grpc.ClientDuplexStream<object, unknown>[] = [];
    for (let i = 0; i < ABUSE_STREAMS; i++) {
      const call = (abuser as any).StreamAggregatedResources() as grpc.ClientDuplexStream<object, unknown>;
      call.on('error', () => undefined);
      call.write({ node: node(`sidecar~10.8.${Math.floor(i / 250)}.${i % 250}~abuser-${i}.bookinfo~bookinfo.svc.cluster.local`), type_url: CDS, resource_names: [] });
      call.write({ type_url: LDS, resource_names: [] });
      calls.push(call);
      if (i % 500 === 499) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 3000));
    const admin = /admin: +(http:\/\/\S+)/.exec(out)![1]!;
    const connected = ((await (await fetch(`${admin}/debug/syncz?limit=10000`)).json()) as { proxies: unknown[] }).proxies.length;
    const withAbuser = await rounds(address);
    for (const c of calls) c.cancel();
    abuser.close();

    say(`abuser: 1 connection, ${ABUSE_STREAMS} streams asking CDS+LDS and never reading; ${connected} streams registered on the server while measuring`);
    say(`well-behaved proxy, connect → CDS+LDS received, ${ROUNDS} rounds:`);
    say(`                 alone      with abuser   ratio`);
    say(`  p50     ${pct(alone, 50).toFixed(1).padStart(8)} ms ${pct(withAbuser, 50).toFixed(1).padStart(10)} ms   ${(pct(withAbuser, 50) / pct(alone, 50)).toFixed(2)}`);
    say(`  p99     ${pct(alone, 99).toFixed(1).padStart(8)} ms ${pct(withAbuser, 99).toFixed(1).padStart(10)} ms   ${(pct(withAbuser, 99) / pct(alone, 99)).toFixed(2)}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
