// SDS for Envoy over a Unix socket: the `default` secret (identity cert +
// key) and `ROOTCA` (trust bundle), as Istio's agent serves them. Envoy
// subscribes with StreamSecrets (SotW) or DeltaSecrets; a renewal pushes to
// every open stream. Uses Envoy's own protos through src/xds/proto.ts.

import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { encodeAny, encodeUnchecked, messageType, contentVersion, type AnyMessage } from '../xds/proto.js';
import { TYPE_URL } from '../api/types.js';
import { logger } from '../util/log.js';
import { IDENTITY_SECRET, ROOT_SECRET } from '../xds/names.js';

export const SDS_IDENTITY = IDENTITY_SECRET;
export const SDS_ROOT = ROOT_SECRET;

export interface SecretMaterial {
  certChainPem: string;
  keyPem: string;
  rootsPem: string;
}

type Msg = Record<string, unknown>;

/** SecretDiscoveryService with Envoy's messages (exported for clients and tests). */
export function sdsServiceDefinition(): grpc.ServiceDefinition {
  const ser = (name: string) => (v: Msg) => encodeUnchecked(name, v);
  const de = (name: string) => (b: Buffer) => {
    const t = messageType(name);
    return t.toObject(t.decode(b), { enums: String, longs: String, defaults: false }) as Msg;
  };
  const req = 'envoy.service.discovery.v3.DiscoveryRequest';
  const res = 'envoy.service.discovery.v3.DiscoveryResponse';
  const dreq = 'envoy.service.discovery.v3.DeltaDiscoveryRequest';
  const dres = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
  const base = '/envoy.service.secret.v3.SecretDiscoveryService/';
  return {
    StreamSecrets: { path: `${base}StreamSecrets`, requestStream: true, responseStream: true, requestSerialize: ser(req), requestDeserialize: de(req), responseSerialize: ser(res), responseDeserialize: de(res) },
    DeltaSecrets: { path: `${base}DeltaSecrets`, requestStream: true, responseStream: true, requestSerialize: ser(dreq), requestDeserialize: de(dreq), responseSerialize: ser(dres), responseDeserialize: de(dres) },
    FetchSecrets: { path: `${base}FetchSecrets`, requestStream: false, responseStream: false, requestSerialize: ser(req), requestDeserialize: de(req), responseSerialize: ser(res), responseDeserialize: de(res) },
  };
}

/** The Secret resources for the current material (plain objects for Envoy's proto). */
export function secretResources(m: SecretMaterial): Map<string, { value: Msg; any: AnyMessage; version: string }> {
  const out = new Map<string, { value: Msg; any: AnyMessage; version: string }>();
  const identity: Msg = {
    name: SDS_IDENTITY,
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from(m.certChainPem) },
      private_key: { inline_bytes: Buffer.from(m.keyPem) },
    },
  };
  const root: Msg = { name: SDS_ROOT, validation_context: { trusted_ca: { inline_bytes: Buffer.from(m.rootsPem) } } };
  for (const v of [identity, root]) {
    const any = encodeAny(TYPE_URL.secret, v);
    out.set(v.name as string, { value: v, any, version: contentVersion(any.value) });
  }
  return out;
}

interface SotwStream {
  call: grpc.ServerDuplexStream<Msg, Msg>;
  names: Set<string>;
  sent: Map<string, string>;
}

interface DeltaStream {
  call: grpc.ServerDuplexStream<Msg, Msg>;
  names: Set<string>;
  sent: Map<string, string>;
}

export class SdsServer {
  private server = new grpc.Server();
  private material: SecretMaterial | undefined;
  private resources = new Map<string, { value: Msg; any: AnyMessage; version: string }>();
  private sotw = new Set<SotwStream>();
  private delta = new Set<DeltaStream>();
  private readonly log = logger('agent-sds');
  private version = 0;

  constructor(private readonly socketPath: string) {
    this.server.addService(sdsServiceDefinition(), {
      StreamSecrets: (call: grpc.ServerDuplexStream<Msg, Msg>) => this.onSotw(call),
      DeltaSecrets: (call: grpc.ServerDuplexStream<Msg, Msg>) => this.onDelta(call),
      FetchSecrets: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const names = (call.request.resource_names as string[] | undefined) ?? [];
        cb(null, this.sotwResponse(new Set(names)));
      },
    });
  }

  async start(): Promise<void> {
    await unlink(this.socketPath).catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(new Error(`cannot listen on SDS socket ${this.socketPath}: ${err.message}`)) : resolve()));
    });
  }

  /** New identity or trust bundle: every stream that asked for a changed secret gets it. */
  update(m: SecretMaterial): void {
    this.material = m;
    this.resources = secretResources(m);
    this.version++;
    for (const s of this.sotw) this.pushSotw(s);
    for (const s of this.delta) this.pushDelta(s);
  }

  async close(): Promise<void> {
    for (const s of this.sotw) s.call.end();
    for (const s of this.delta) s.call.end();
    await new Promise<void>((resolve) => {
      this.server.tryShutdown(() => resolve());
      setTimeout(() => this.server.forceShutdown(), 1000).unref();
    });
    await unlink(this.socketPath).catch(() => undefined);
  }

  private sotwResponse(names: Set<string>): Msg {
    const resources: AnyMessage[] = [];
    for (const n of names) {
      const r = this.resources.get(n);
      if (r) resources.push(r.any);
    }
    return { version_info: String(this.version), resources, type_url: TYPE_URL.secret, nonce: randomBytes(8).toString('hex') };
  }

  private onSotw(call: grpc.ServerDuplexStream<Msg, Msg>): void {
    const s: SotwStream = { call, names: new Set(), sent: new Map() };
    track(this.sotw, s);
    call.on('data', (req: Msg) => {
      if (req.error_detail) {
        const detail = req.error_detail as { message?: string };
        this.log.error({ nonce: req.response_nonce, error: detail.message }, 'Envoy rejected a secret (NACK)');
        return;
      }
      const names = new Set((req.resource_names as string[] | undefined) ?? []);
      const changed = names.size !== s.names.size || [...names].some((n) => !s.names.has(n));
      s.names = names;
      if (changed) {
        s.sent.clear();
        this.pushSotw(s);
      }
    });
  }

  private pushSotw(s: SotwStream): void {
    if (!this.material) return;
    const versions = [...s.names].map((n) => this.resources.get(n)?.version ?? '');
    if (versions.every((v, i) => v && s.sent.get([...s.names][i]!) === v)) return;
    if (versions.some((v) => !v)) {
      const unknown = [...s.names].filter((n) => !this.resources.has(n));
      if (unknown.length) this.log.warn({ unknown }, `Envoy asked for secrets this agent does not have (only "${SDS_IDENTITY}" and "${SDS_ROOT}")`);
    }
    s.call.write(this.sotwResponse(s.names));
    for (const n of s.names) {
      const v = this.resources.get(n)?.version;
      if (v) s.sent.set(n, v);
    }
  }

  private onDelta(call: grpc.ServerDuplexStream<Msg, Msg>): void {
    const s: DeltaStream = { call, names: new Set(), sent: new Map() };
    track(this.delta, s);
    call.on('data', (req: Msg) => {
      if (req.error_detail) {
        this.log.error({ error: (req.error_detail as { message?: string }).message }, 'Envoy rejected a secret (delta NACK)');
        return;
      }
      for (const n of (req.resource_names_subscribe as string[] | undefined) ?? []) s.names.add(n);
      for (const n of (req.resource_names_unsubscribe as string[] | undefined) ?? []) {
        s.names.delete(n);
        s.sent.delete(n);
      }
      this.pushDelta(s);
    });
  }

  private pushDelta(s: DeltaStream): void {
    if (!this.material) return;
    const resources: Msg[] = [];
    for (const n of s.names) {
      const r = this.resources.get(n);
      if (!r || s.sent.get(n) === r.version) continue;
      resources.push({ name: n, version: r.version, resource: r.any });
      s.sent.set(n, r.version);
    }
    if (!resources.length) return;
    s.call.write({ system_version_info: String(this.version), resources, type_url: TYPE_URL.secret, nonce: randomBytes(8).toString('hex') });
  }
}

/** Keeps a stream in its set while it lives; half-closes when Envoy does. */
function track<T extends { call: grpc.ServerDuplexStream<Msg, Msg> }>(set: Set<T>, s: T): void {
  set.add(s);
  const drop = () => set.delete(s);
  s.call.on('end', () => {
    drop();
    s.call.end();
  });
  s.call.on('error', drop);
  s.call.on('cancelled', drop);
}
