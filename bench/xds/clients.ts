// Simulated Envoy sidecars for bench/xds/scale.ts, in a process of their own
// (the server's CPU and RSS are then its own). Each proxy is one ADS stream
// on its own connection (`streamsPerChannel` 1), over TLS with its own
// client certificate from meshcd's CA (CreateCertificate with a bootstrap
// token for its own service account), speaking state-of-the-world like
// Envoy: wildcard CDS and LDS, then EDS for the EDS clusters and RDS for
// the route names the listeners reference; every response ACKed at once.
// Responses are not decoded (bench/xds/wire.ts); a route or endpoint change
// is recognised by a mark (a string the change put into the config)
// appearing in a response's bytes.
//
// Driven over IPC by the parent: certs → connect → status… → watch/marks →
// capture → close, each answered with {ok: …} or {error}.

import * as grpc from '@grpc/grpc-js';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tlsNameOptions } from '../../src/ca/client.js';
import { certificateServiceDefinition } from '../../src/ca/service.js';
import { buildCsr } from '../../src/ca/x509.js';
import { decodeResource } from '../../src/xds/proto.js';
import type { BenchProxy } from './mesh.js';
import { now, tokenFor } from './proc.js';
import { edsNameOf, parseDelta, parseSotw, rawAdsClientDefinition, splitResponse, TYPE } from './wire.js';

export interface CertsCommand {
  cmd: 'certs';
  caAddress: string;
  rootsPem: string;
  trustDomain: string;
  tokenSeed: string;
  proxies: BenchProxy[];
}

export interface ConnectCommand {
  cmd: 'connect';
  target: string;
  /** TLS with each proxy's client certificate; plaintext when absent. */
  tls?: { rootsPem: string; serverName?: string };
  streamsPerChannel: number;
  /** Milliseconds between proxies (spreads the connects). */
  spacingMs: number;
  /** Keep each proxy's last response per type (for `capture`; state of the world only). */
  keep?: boolean;
  /** DeltaAggregatedResources instead of state of the world (Envoy's delta xDS). */
  delta?: boolean;
}

/** What the minimal server replays for one (proxy, type). */
export interface CapturedResponse {
  head: string;
  resources: string;
}

export interface Mark {
  id: string;
  type: string;
  text: string;
}

export type Command = CertsCommand | ConnectCommand | { cmd: 'proxies'; proxies: BenchProxy[] } | { cmd: 'status' } | { cmd: 'watch'; mark: Mark } | { cmd: 'marks' } | { cmd: 'capture'; dir: string; tag: string } | { cmd: 'close' } | { cmd: 'report' };

export interface ProxyReport {
  id: string;
  namespace: string;
  connectAt: number;
  completeAt: number;
  bytes: number;
  responses: number;
  counts: Record<string, number>;
  retries: number;
  error?: string;
}

/** Names of the route configurations a listener's HTTP connection managers reference (route_config_name). */
function routeNames(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) for (const x of v) routeNames(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'route_config_name' && typeof x === 'string') out.add(x);
      else routeNames(x, out);
    }
  }
}

/** Route names per listener, memoised by the listener's bytes (proxies of a scope share their outbound listeners). */
const rdsMemo = new Map<string, string[]>();
function rdsOfListener(value: Buffer): string[] {
  const key = createHash('sha1').update(value).digest('base64');
  let names = rdsMemo.get(key);
  if (!names) {
    const set = new Set<string>();
    routeNames(decodeResource(TYPE.L, value), set);
    names = [...set];
    rdsMemo.set(key, names);
  }
  return names;
}

/** A mark as it appears in a response: a string field's length byte, then its text (so "x-1" never matches "x-10"). */
const markBuffers = new Map<string, Buffer>();
function markBytes(m: Mark): Buffer {
  let b = markBuffers.get(m.id);
  if (!b) {
    const text = Buffer.from(m.text, 'utf8');
    if (text.length > 127) throw new Error(`mark ${m.id} is longer than 127 bytes`);
    b = Buffer.concat([Buffer.from([text.length]), text]);
    markBuffers.set(m.id, b);
  }
  return b;
}

const Ads = grpc.makeGenericClientConstructor(rawAdsClientDefinition(), 'AggregatedDiscoveryService');

class SimProxy {
  connectAt = 0;
  completeAt = -1;
  bytes = 0;
  responses = 0;
  counts: Record<string, number> = {};
  error: string | undefined;
  call: grpc.ClientDuplexStream<object, Buffer> | undefined;
  private first = true;
  private readonly names = new Map<string, string[]>();
  private readonly acked = new Map<string, { version: string; nonce: string }>();
  private readonly got = new Set<string>();
  /** type → the last response without its nonce: its head (base64) and the content hash of its resources (in `blobs`), when keeping. */
  readonly last = new Map<string, CapturedResponse>();
  readonly seen = new Map<string, number>();
  readonly sinceMark = new Map<string, number>();

  constructor(readonly p: BenchProxy, private readonly marks: Mark[], private readonly keep: boolean, private readonly delta: boolean) {}

  node(): Record<string, unknown> {
    const s = (v: string) => ({ string_value: v });
    const labels = { fields: Object.fromEntries(Object.entries(this.p.labels).map(([k, v]) => [k, s(v)])) };
    return {
      id: this.p.id,
      cluster: this.p.labels.app ?? 'bench',
      user_agent_name: 'envoy',
      metadata: {
        fields: {
          NAMESPACE: s(this.p.namespace),
          SERVICE_ACCOUNT: s(this.p.serviceAccount),
          INSTANCE_IPS: s(this.p.ip),
          LABELS: { struct_value: labels },
          WORKLOAD_NAME: s(this.p.workload),
          CLUSTER_ID: s('Kubernetes'),
          ISTIO_VERSION: s('1.28.0'),
          INTERCEPTION_MODE: s('REDIRECT'),
        },
      },
    };
  }

  /** Streams refused before any response (retried, as Envoy does, after 1 s; up to 60 times). */
  retries = 0;
  private closed = false;

  start(client: grpc.Client): void {
    if (this.retries === 0) this.connectAt = now();
    const stub = client as unknown as Record<'StreamAggregatedResources' | 'DeltaAggregatedResources', () => grpc.ClientDuplexStream<object, Buffer>>;
    const call = this.delta ? stub.DeltaAggregatedResources() : stub.StreamAggregatedResources();
    this.call = call;
    this.first = true;
    call.on('data', (b: Buffer) => (this.delta ? this.onDelta(b) : this.onResponse(b)));
    call.on('error', (e: grpc.ServiceError) => {
      if (e.code === grpc.status.CANCELLED || this.closed) return;
      // Refused before any response — no connection yet (a TLS handshake that timed out on a busy server) or
      // a server's rate limit (istiod's PILOT_MAX_REQUESTS_PER_SECOND): retry like Envoy. A stream reset after serving stays an error.
      const retryable = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.RESOURCE_EXHAUSTED;
      if (this.responses === 0 && retryable && this.retries < 60) {
        this.retries++;
        setTimeout(() => this.closed || this.start(client), 1000);
        return;
      }
      this.error = `${grpc.status[e.code]}: ${e.details}`;
    });
    this.request(TYPE.C);
    this.request(TYPE.L);
  }

  private request(type: string): void {
    if (this.delta) return this.deltaRequest({ type_url: type });
    const a = this.acked.get(type);
    const req: Record<string, unknown> = { type_url: type, resource_names: this.names.get(type) ?? [], version_info: a?.version ?? '', response_nonce: a?.nonce ?? '' };
    if (this.first) req.node = this.node();
    this.first = false;
    this.call!.write(req);
  }

  private follow(type: string, wanted: string[]): void {
    const sorted = [...new Set(wanted)].sort();
    if (sorted.join('\n') === (this.names.get(type) ?? []).join('\n')) return;
    this.names.set(type, sorted);
    this.request(type);
  }

  /** A response parsed and counted, or undefined (and the error kept) when it does not parse. */
  private received<R extends { typeUrl: string }>(b: Buffer, parse: (b: Buffer) => R): R | undefined {
    let r: R;
    try {
      r = parse(b);
    } catch (err) {
      this.error = `unparsable response: ${(err as Error).message}`;
      return undefined;
    }
    this.bytes += b.length;
    this.responses++;
    this.counts[r.typeUrl] = (this.counts[r.typeUrl] ?? 0) + 1;
    return r;
  }

  /** Every response after a mark counts (a push to a proxy the change does not affect shows here); the mark is seen when its bytes arrive. */
  private noteMarks(b: Buffer, typeUrl: string, t: number): void {
    for (const m of this.marks) {
      this.sinceMark.set(m.id, (this.sinceMark.get(m.id) ?? 0) + 1);
      if (m.type === typeUrl && !this.seen.has(m.id) && b.indexOf(markBytes(m)) >= 0) this.seen.set(m.id, t);
    }
  }

  private onResponse(b: Buffer): void {
    const t = now();
    const r = this.received(b, parseSotw);
    if (!r) return;
    if (this.keep) {
      const { head, resources } = splitResponse(b);
      const h = createHash('sha1').update(resources).digest('hex');
      if (!blobs.has(h)) blobs.set(h, resources);
      this.last.set(r.typeUrl, { head: head.toString('base64'), resources: h });
    }
    this.noteMarks(b, r.typeUrl, t);
    this.acked.set(r.typeUrl, { version: r.version, nonce: r.nonce });
    this.got.add(r.typeUrl);
    this.request(r.typeUrl);
    if (r.typeUrl === TYPE.C) {
      const eds: string[] = [];
      for (const c of r.resources) {
        const n = edsNameOf(c);
        if (n) eds.push(n);
      }
      this.follow(TYPE.E, eds);
    } else if (r.typeUrl === TYPE.L) {
      const rds: string[] = [];
      for (const l of r.resources) rds.push(...rdsOfListener(l));
      this.follow(TYPE.R, rds);
    }
    if (this.completeAt < 0 && this.isComplete()) this.completeAt = t;
  }

  private deltaRequest(req: Record<string, unknown>): void {
    if (this.first) req.node = this.node();
    this.first = false;
    this.call!.write(req);
  }

  /** Delta: what each held cluster / listener asks for (its EDS name / its route names). */
  private readonly held = new Map<string, Map<string, string[]>>([[TYPE.C, new Map()], [TYPE.L, new Map()]]);

  /** Delta: subscribe and unsubscribe to match `wanted`. */
  private followDelta(type: string, wanted: string[]): void {
    const have = new Set(this.names.get(type) ?? []);
    const want = new Set(wanted);
    const add = [...want].filter((n) => !have.has(n));
    const drop = [...have].filter((n) => !want.has(n));
    if (!add.length && !drop.length) return;
    this.names.set(type, [...want]);
    this.deltaRequest({ type_url: type, resource_names_subscribe: add, resource_names_unsubscribe: drop });
  }

  private onDelta(b: Buffer): void {
    const t = now();
    const r = this.received(b, parseDelta);
    if (!r) return;
    this.noteMarks(b, r.typeUrl, t);
    this.got.add(r.typeUrl);
    this.deltaRequest({ type_url: r.typeUrl, response_nonce: r.nonce });
    const held = this.held.get(r.typeUrl);
    if (held) {
      for (const n of r.removed) held.delete(n);
      for (const x of r.resources) {
        if (r.typeUrl === TYPE.C) {
          const eds = edsNameOf(x.value);
          held.set(x.name, eds ? [eds] : []);
        } else held.set(x.name, rdsOfListener(x.value));
      }
      const wanted = [...held.values()].flat();
      this.followDelta(r.typeUrl === TYPE.C ? TYPE.E : TYPE.R, wanted);
    }
    if (this.completeAt < 0 && this.isComplete()) this.completeAt = t;
  }

  /** CDS and LDS answered, and EDS/RDS answered when they have names to ask for. */
  private isComplete(): boolean {
    if (!this.got.has(TYPE.C) || !this.got.has(TYPE.L)) return false;
    for (const t of [TYPE.E, TYPE.R]) if ((this.names.get(t)?.length ?? 0) > 0 && !this.got.has(t)) return false;
    return true;
  }

  report(): ProxyReport {
    return { id: this.p.id, namespace: this.p.namespace, connectAt: this.connectAt, completeAt: this.completeAt, bytes: this.bytes, responses: this.responses, counts: this.counts, retries: this.retries, ...(this.error ? { error: this.error } : {}) };
  }

  close(): void {
    this.closed = true;
    try {
      this.call?.cancel();
    } catch {
      /* closed */
    }
  }
}

let proxies: BenchProxy[] = [];
/** Response bodies kept for the minimal server, by content hash (proxies of one scope share most of them). */
const blobs = new Map<string, Buffer>();
const certs = new Map<number, { chain: string; key: string }>();
let sims: SimProxy[] = [];
let channels: grpc.Client[] = [];
const marks: Mark[] = [];

async function issueCerts(c: CertsCommand): Promise<number> {
  proxies = c.proxies;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const names = tlsNameOptions(c.caAddress, undefined);
  const Ca = grpc.makeGenericClientConstructor(certificateServiceDefinition(), 'IstioCertificateService');
  const client = new Ca(c.caAddress, grpc.credentials.createSsl(Buffer.from(c.rootsPem), null, null, names.verify), names.options) as unknown as {
    CreateCertificate(r: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: { cert_chain?: string[] }) => void): void;
    close(): void;
  };
  let next = 0;
  const worker = async () => {
    while (next < proxies.length) {
      const p = proxies[next++]!;
      const csr = buildCsr(privateKey, { uris: [`spiffe://${c.trustDomain}/ns/${p.namespace}/sa/${p.serviceAccount}`] });
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${tokenFor(c.tokenSeed, p.index)}`);
      const chain = await new Promise<string[]>((resolve, reject) =>
        client.CreateCertificate({ csr, validity_duration: 24 * 3600 }, md, { deadline: Date.now() + 60_000 }, (e, v) => (e ? reject(new Error(`CreateCertificate for ${p.id}: ${e.details}`)) : resolve(v?.cert_chain ?? []))),
      );
      certs.set(p.index, { chain: chain.join('\n'), key: keyPem });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  client.close();
  return certs.size;
}

async function connect(c: ConnectCommand): Promise<number> {
  sims = [];
  channels = [];
  blobs.clear();
  const opts: grpc.ChannelOptions = { 'grpc.max_receive_message_length': -1, 'grpc.use_local_subchannel_pool': 1, 'grpc.max_reconnect_backoff_ms': 1000 };
  let shared: grpc.Client | undefined;
  for (let i = 0; i < proxies.length; i++) {
    const p = proxies[i]!;
    const sim = new SimProxy(p, marks, c.keep === true, c.delta === true);
    let client: grpc.Client;
    if (c.streamsPerChannel > 1 && shared && i % c.streamsPerChannel !== 0) client = shared;
    else if (c.tls) {
      const cert = certs.get(p.index);
      if (!cert) throw new Error(`no certificate for ${p.id} (run certs first)`);
      const names = tlsNameOptions(c.target, c.tls.serverName);
      client = new Ads(c.target, grpc.credentials.createSsl(Buffer.from(c.tls.rootsPem), Buffer.from(cert.key), Buffer.from(cert.chain), names.verify), { ...opts, ...names.options });
      channels.push(client);
    } else {
      client = new Ads(c.target, grpc.credentials.createInsecure(), opts);
      channels.push(client);
    }
    shared = client;
    sim.start(client);
    sims.push(sim);
    if (c.spacingMs > 0) await new Promise((r) => setTimeout(r, c.spacingMs));
    else if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  return sims.length;
}

/** Each proxy's last response per type, without nonces, deduplicated by content: what the minimal server replays. */
async function capture(dir: string, tag: string): Promise<{ blobs: number; bytes: number }> {
  const blobsDir = join(dir, 'blobs');
  await mkdir(blobsDir, { recursive: true });
  const index: Record<string, Record<string, CapturedResponse>> = {};
  const written = new Set<string>();
  let bytes = 0;
  for (const s of sims) {
    for (const { resources: h } of s.last.values()) {
      if (written.has(h)) continue;
      written.add(h);
      const body = blobs.get(h)!;
      bytes += body.length;
      await writeFile(join(blobsDir, h), body);
    }
    index[s.p.id] = Object.fromEntries(s.last);
  }
  await writeFile(join(dir, `index-${tag}-${process.pid}.json`), JSON.stringify(index));
  return { blobs: written.size, bytes };
}

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'certs':
      return issueCerts(c);
    case 'proxies':
      proxies = c.proxies;
      return proxies.length;
    case 'connect':
      return connect(c);
    case 'status': {
      let complete = 0;
      let errors = 0;
      let bytes = 0;
      for (const s of sims) {
        if (s.completeAt >= 0) complete++;
        if (s.error) errors++;
        bytes += s.bytes;
      }
      return { proxies: sims.length, complete, errors, bytes, firstError: sims.find((s) => s.error)?.error };
    }
    case 'watch':
      marks.push(c.mark);
      for (const s of sims) s.sinceMark.set(c.mark.id, 0);
      return marks.length;
    case 'marks':
      return sims.map((s) => ({ id: s.p.id, namespace: s.p.namespace, service: s.p.service, seen: Object.fromEntries(s.seen), since: Object.fromEntries(s.sinceMark) }));
    case 'report':
      return sims.map((s) => s.report());
    case 'capture':
      return capture(c.dir, c.tag);
    case 'close':
      for (const s of sims) s.close();
      for (const ch of channels) ch.close();
      sims = [];
      channels = [];
      marks.length = 0;
      markBuffers.clear();
      return true;
  }
}

process.on('message', (m: { seq: number; command: Command }) => {
  handle(m.command).then(
    (ok) => process.send!({ seq: m.seq, ok }),
    (err: Error) => process.send!({ seq: m.seq, error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
