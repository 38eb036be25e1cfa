// The "classes" scenario (issue 15: it flatters meshcd — proxies of a
// namespace share one translation class, every service is exportTo ".",
// 100 streams share one plaintext connection, and the 8,000 extra streams
// ask only CDS+LDS in an empty namespace). The realistic, scoped and churn
// scenarios, the minimal-server floor and istiod are in scale.ts.
//
// xDS scale figures: `meshcd serve` (child process) with a generated mesh of
// 1,000 services, and many simulated Envoy-like ADS streams from this
// process (@grpc/grpc-js with meshcd's ADS service definition, not
// grpc-js-xds). Prints connected streams, RSS and RSS per stream, time to
// first full config, change→ACK p50/p99 after one VirtualService change,
// whether unaffected proxies got any push, and the RSS with 10,000 streams.
//
//   npm run bench:xds                 # 2,000 proxies, then 10,000 streams
//   PROXIES=500 STREAMS=2000 npm run bench:xds

import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { adsClientDefinition } from '../../src/xds/server/service.js';
import { decodeResource } from '../../src/xds/proto.js';
import { machineLine } from '../machine.js';
import { nsName, writeMesh, writeRouteChange, type MeshSpec } from './mesh.js';

const SERVICES = Number(process.env.SERVICES ?? 1000);
const NAMESPACES = Number(process.env.NAMESPACES ?? 10);
const PROXIES = Number(process.env.PROXIES ?? 2000);
const STREAMS = Number(process.env.STREAMS ?? 10000);
const STREAMS_PER_CHANNEL = 100;
/** Every service visible only in its namespace (exportTo ".") with inline endpoints: ./mesh.ts's "classes" mesh. */
const MESH: MeshSpec = { scenario: 'classes', services: SERVICES, namespaces: NAMESPACES, proxies: PROXIES };
/** DELTA=1: simulated proxies use DeltaAggregatedResources instead of state-of-the-world. */
const DELTA = process.env.DELTA === '1';

const T = {
  L: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  R: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  C: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  E: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
};

/** User+system CPU seconds of a process, from /proc. */
async function cpuOf(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function rssOf(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024);
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Names of resources in a response, read from field 1 (`name`/`cluster_name`) of each Any's bytes. */
function namesOf(resources: { value: Uint8Array }[]): string[] {
  const out: string[] = [];
  for (const r of resources) {
    const b = r.value;
    if (b[0] !== 0x0a) continue;
    let len = 0;
    let shift = 0;
    let i = 1;
    for (; i < b.length; i++) {
      len |= (b[i]! & 0x7f) << shift;
      shift += 7;
      if (!(b[i]! & 0x80)) break;
    }
    out.push(Buffer.from(b.subarray(i + 1, i + 1 + len)).toString('utf8'));
  }
  return out;
}

function routeNames(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) routeNames(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'route_config_name' && typeof x === 'string') out.add(x);
      else routeNames(x, out);
    }
  }
  return out;
}

const Ads = grpc.makeGenericClientConstructor(adsClientDefinition() as grpc.ServiceDefinition, 'AggregatedDiscoveryService');

interface SimProxy {
  id: string;
  namespace: string;
  connectedAt: number;
  /** When each type was first ACKed. */
  firstAck: Map<string, number>;
  complete?: number;
  responses: { type: string; at: number }[];
  call?: grpc.ClientDuplexStream<object, any>;
}

class Fleet {
  private channels: grpc.Client[] = [];
  readonly proxies: SimProxy[] = [];
  errors = 0;

  constructor(private readonly address: string) {}

  private channel(): grpc.Client {
    const last = this.channels.at(-1);
    if (last && this.proxies.length % STREAMS_PER_CHANNEL !== 0) return last;
    const c = new Ads(this.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    this.channels.push(c);
    return c;
  }

  /** An Envoy-like sidecar: wildcard CDS + LDS, then EDS and RDS by the names they reference; ACKs everything. */
  connect(id: string, namespace: string, full: boolean): SimProxy {
    return DELTA ? this.connectDelta(id, namespace, full) : this.connectSotw(id, namespace, full);
  }

  /** Like connectSotw over the incremental protocol: subscribe once, ACK by nonce, track names per type. */
  connectDelta(id: string, namespace: string, full: boolean): SimProxy {
    const p: SimProxy = { id, namespace, connectedAt: performance.now(), firstAck: new Map(), responses: [] };
    const call = (this.channel() as any).DeltaAggregatedResources() as grpc.ClientDuplexStream<object, any>;
    p.call = call;
    this.proxies.push(p);
    const held = new Map<string, Set<string>>([[T.C, new Set()], [T.L, new Set()], [T.E, new Set()], [T.R, new Set()]]);
    const subscribed = new Map<string, Set<string>>([[T.E, new Set()], [T.R, new Set()]]);
    const node = { id, metadata: { fields: { NAMESPACE: { string_value: namespace } } }, user_agent_name: 'bench' };
    let first = true;
    const send = (req: Record<string, unknown>) => {
      if (first) req.node = node;
      first = false;
      call.write(req);
    };
    call.on('data', (r: { type_url: string; nonce?: string; resources?: { name: string; resource: { value: Uint8Array } }[]; removed_resources?: string[] }) => {
      const now = performance.now();
      p.responses.push({ type: r.type_url, at: now });
      if (!p.firstAck.has(r.type_url)) p.firstAck.set(r.type_url, now);
      const h = held.get(r.type_url)!;
      for (const x of r.resources ?? []) h.add(x.name);
      for (const n of r.removed_resources ?? []) h.delete(n);
      send({ type_url: r.type_url, response_nonce: r.nonce ?? '' });
      if (!full) return;
      const follow = (type: string, wanted: string[]) => {
        const sub = subscribed.get(type)!;
        const add = wanted.filter((n) => !sub.has(n));
        const drop = [...sub].filter((n) => !wanted.includes(n));
        if (!add.length && !drop.length) return;
        for (const n of add) sub.add(n);
        for (const n of drop) sub.delete(n);
        send({ type_url: type, resource_names_subscribe: add, resource_names_unsubscribe: drop });
      };
      if (r.type_url === T.C) follow(T.E, [...h].filter((n) => n.startsWith('outbound|')));
      else if (r.type_url === T.L && r.resources?.length) {
        const rds = new Set<string>(subscribed.get(T.R));
        for (const a of r.resources) for (const n of routeNames(decodeResource(T.L, a.resource.value))) rds.add(n);
        follow(T.R, [...rds].sort());
      }
      if (p.complete === undefined && [T.C, T.E, T.L, T.R].every((t) => p.firstAck.has(t))) p.complete = now;
    });
    call.on('error', () => this.errors++);
    send({ type_url: T.C });
    send({ type_url: T.L });
    return p;
  }

  connectSotw(id: string, namespace: string, full: boolean): SimProxy {
    const p: SimProxy = { id, namespace, connectedAt: performance.now(), firstAck: new Map(), responses: [] };
    const call = (this.channel() as any).StreamAggregatedResources() as grpc.ClientDuplexStream<object, any>;
    p.call = call;
    this.proxies.push(p);
    const names = new Map<string, string[]>();
    const node = { id, metadata: { fields: { NAMESPACE: { string_value: namespace } } }, user_agent_name: 'bench' };
    let first = true;
    const send = (type: string, resourceNames: string[], ack?: { version_info?: string; nonce?: string }) => {
      const req: Record<string, unknown> = { type_url: type, resource_names: resourceNames, version_info: ack?.version_info ?? '', response_nonce: ack?.nonce ?? '' };
      if (first) req.node = node;
      first = false;
      call.write(req);
    };
    call.on('data', (r: { type_url: string; version_info?: string; nonce?: string; resources?: { value: Uint8Array }[] }) => {
      const now = performance.now();
      p.responses.push({ type: r.type_url, at: now });
      if (!p.firstAck.has(r.type_url)) p.firstAck.set(r.type_url, now);
      send(r.type_url, names.get(r.type_url) ?? [], r);
      if (!full) return;
      if (r.type_url === T.C) {
        const eds = namesOf(r.resources ?? []).filter((n) => n.startsWith('outbound|'));
        if (eds.join() !== (names.get(T.E) ?? []).join()) {
          names.set(T.E, eds);
          send(T.E, eds);
        }
      } else if (r.type_url === T.L) {
        const rds = new Set<string>();
        for (const a of r.resources ?? []) for (const n of routeNames(decodeResource(T.L, a.value))) rds.add(n);
        const list = [...rds].sort();
        if (list.join() !== (names.get(T.R) ?? []).join()) {
          names.set(T.R, list);
          send(T.R, list);
        }
      }
      if (p.complete === undefined && [T.C, T.E, T.L, T.R].every((t) => p.firstAck.has(t))) p.complete = now;
    });
    call.on('error', () => this.errors++);
    send(T.C, []);
    send(T.L, []);
    return p;
  }

  close(): void {
    for (const p of this.proxies) p.call?.cancel();
    for (const c of this.channels) c.close();
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'meshcd-bench-xds-'));
  const src = join(work, 'mesh');
  await writeMesh(MESH, src);

  const bin = join(process.cwd(), 'dist/src/cli/bin.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve', '--source', src, '--xds-port', '0', '--admin-port', '0', '--no-ca', '--state-dir', join(work, 'state')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'error' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const t0 = performance.now();
  const addr = await new Promise<{ xds: string; admin: string }>((resolve, reject) => {
    const iv = setInterval(() => {
      const x = /xDS \(ADS, plaintext gRPC\): (\S+)/.exec(out);
      const a = /admin: +(http:\/\/\S+)/.exec(out);
      if (x && a) {
        clearInterval(iv);
        resolve({ xds: x[1]!, admin: a[1]! });
      }
      if (child.exitCode !== null) {
        clearInterval(iv);
        reject(new Error(`serve exited: ${err}`));
      }
    }, 50);
  });
  const startup = performance.now() - t0;
  const rssIdle = await rssOf(child.pid!);
  const fleet = new Fleet(addr.xds);
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    process.stdout.write(s + '\n');
  };
  say(`scenario: classes (flatters meshcd: few translation classes, exportTo ".", 100 streams per plaintext connection; see bench/xds/scale.ts for the realistic scenarios)`);
  say(`${machineLine()}`);
  say(`mesh: ${SERVICES} services (ServiceEntry + DestinationRule + VirtualService each) in ${NAMESPACES} namespaces, exportTo "."`);
  say(`meshcd serve: started and accepted the first revision in ${(startup / 1000).toFixed(1)} s, RSS ${mb(rssIdle)} with no proxies`);

  // Phase 1: PROXIES full sidecar streams, connected in waves.
  const cpuServer0 = await cpuOf(child.pid!);
  const cpuClient0 = process.cpuUsage();
  const c0 = performance.now();
  for (let i = 0; i < PROXIES; i++) {
    const n = nsName(i % NAMESPACES);
    fleet.connect(`sidecar~10.200.${Math.floor(i / 250)}.${i % 250}~p${i}.${n}~${n}.svc.cluster.local`, n, true);
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = performance.now() + 180_000;
  while (fleet.proxies.some((p) => p.complete === undefined) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const done = fleet.proxies.filter((p) => p.complete !== undefined);
  const lastComplete = Math.max(...done.map((p) => p.complete!));
  await new Promise((r) => setTimeout(r, 1000));
  const rssFull = await rssOf(child.pid!);
  const syncz = (await (await fetch(`${addr.admin}/debug/syncz?limit=10000`)).json()) as { proxies: unknown[] };
  say(`protocol: ${DELTA ? 'delta (DeltaAggregatedResources)' : 'state of the world (StreamAggregatedResources)'}`);
  say(`proxies: ${PROXIES} sidecar-like ADS streams (CDS+EDS+LDS+RDS, each ~${SERVICES / NAMESPACES} services × 2 subsets); server sees ${syncz.proxies.length} connected; ${done.length} got a full config`);
  say(`time to first full config for all: ${((lastComplete - c0) / 1000).toFixed(2)} s (connect to last proxy's 4th type ACKed); stream errors: ${fleet.errors}`);
  const cpuServer1 = await cpuOf(child.pid!);
  const cpuClient1 = process.cpuUsage(cpuClient0);
  say(`CPU during phase 1: meshcd ${(cpuServer1 - cpuServer0).toFixed(1)} s, simulated clients ${((cpuClient1.user + cpuClient1.system) / 1e6).toFixed(1)} s (both on the same ${cpus().length} cores)`);
  say(`RSS with ${PROXIES} proxies: ${mb(rssFull)} (goal < 500 MB), ${((rssFull - rssIdle) / PROXIES / 1024).toFixed(1)} KB per proxy above idle`);

  // One VirtualService change in ns0: only ns0's proxies should hear about it.
  for (const p of fleet.proxies) p.responses = [];
  const before = await (await fetch(`${addr.admin}/metrics`)).text();
  const changeAt = performance.now();
  await writeRouteChange(MESH, src, 0, 'weights 50/50');
  const affected = fleet.proxies.filter((p) => p.namespace === nsName(0));
  const wait = performance.now() + 20_000;
  while (affected.some((p) => !p.responses.some((r) => r.type === T.R)) && performance.now() < wait) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1500));
  const lat = affected.map((p) => p.responses.find((r) => r.type === T.R)).filter((r) => r).map((r) => r!.at - changeAt);
  const unaffected = fleet.proxies.filter((p) => p.namespace !== nsName(0));
  const strayPushes = unaffected.reduce((a, p) => a + p.responses.length, 0);
  const metrics = await (await fetch(`${addr.admin}/metrics`)).text();
  const ackHist = [...metrics.matchAll(/meshcd_xds_push_ack_seconds_bucket\{le="([^"]+)",type="RouteConfiguration"\} (\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const);
  say(`one VirtualService change (svc0 in ns0): ${lat.length}/${affected.length} affected proxies got the new route; file write → route received p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms (includes the file watch; goal p99 < 1 s)`);
  say(`unaffected proxies (${unaffected.length}, other namespaces): ${strayPushes} pushes received (goal 0)`);
  const rebuild = metricValue(metrics, 'meshcd_xds_translate_seconds_sum') - metricValue(before, 'meshcd_xds_translate_seconds_sum');
  say(`of which model + translation + encoding for all ${metricValue(metrics, 'meshcd_xds_proxy_classes')} proxy classes: ${(rebuild * 1000).toFixed(0)} ms (the rest: folder read, parse, validation, file watch, push)`);
  if (ackHist.length) say(`server push→ACK histogram for RouteConfiguration (cumulative, since start): ${ackHist.map(([le, n]) => `≤${le}s:${n}`).join(' ')}`);

  // Phase 2: hold STREAMS streams in total (extra ones in an empty namespace: small configs).
  const extra = Math.max(0, STREAMS - PROXIES);
  const h0 = performance.now();
  for (let i = 0; i < extra; i++) {
    fleet.connect(`sidecar~10.201.${Math.floor(i / 250)}.${i % 250}~idle${i}.idle~idle.svc.cluster.local`, 'idle', false);
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 20));
  }
  const hwait = performance.now() + 120_000;
  while (fleet.proxies.some((p) => p.responses.length === 0 && p.firstAck.size === 0) && performance.now() < hwait) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2000));
  const rssHeld = await rssOf(child.pid!);
  const syncz2 = (await (await fetch(`${addr.admin}/debug/syncz?limit=10000`)).json()) as { proxies: unknown[] };
  say(`streams held: ${syncz2.proxies.length} connected (goal 10,000) after ${((performance.now() - h0) / 1000).toFixed(1)} s; RSS ${mb(rssHeld)}; stream errors: ${fleet.errors}`);

  fleet.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(work, { recursive: true, force: true });
  if (/error/i.test(err)) process.stdout.write(`serve stderr (errors):\n${err.split('\n').filter((l) => /error/i.test(l)).slice(0, 5).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
