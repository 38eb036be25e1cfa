// A raw ADS client for tests and the bench: @grpc/grpc-js with meshcd's ADS
// service definition (no grpc-js-xds), a queue of decoded responses and
// helpers to ACK/NACK.

import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { adsClientDefinition } from '../../src/xds/server/service.js';
import { decodeResource } from '../../src/xds/proto.js';

export interface RawResponse {
  version_info?: string;
  type_url: string;
  nonce: string;
  resources?: { type_url: string; value: Uint8Array }[];
  // delta
  system_version_info?: string;
  removed_resources?: string[];
}

export interface DecodedResponse extends RawResponse {
  names: string[];
  values: Record<string, unknown>[];
  deltaResources?: { name: string; version: string }[];
}

/**
 * Over TLS to a loopback IP (meshcd's servers in tests), grpc-js would send
 * the IP as TLS ServerName, which RFC 6066 forbids and Node warns about
 * (DEP0123). Send `localhost`, a name meshcd's TLS certificate carries, and
 * check the certificate for it instead.
 */
function sniForIpTarget(address: string, credentials: grpc.ChannelCredentials): grpc.ChannelOptions {
  const host = /^\[?([^\]]+?)\]?:\d+$/.exec(address)?.[1] ?? address;
  return credentials._isSecure() && isIP(host) ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
}

const Client = grpc.makeGenericClientConstructor(adsClientDefinition() as grpc.ServiceDefinition, 'AggregatedDiscoveryService');

export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<object, RawResponse & { resources?: any[] }>;
  private queue: DecodedResponse[] = [];
  private waiters: { type?: string; resolve: (r: DecodedResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  error: grpc.ServiceError | undefined;
  first = true;

  private readonly ownsClient: boolean;

  /**
   * `opts.client` shares one connection between several streams; `opts.read
   * = false` never reads responses (an abusive client whose HTTP/2 window
   * fills up); `opts.channel` are channel options for a client of its own.
   */
  constructor(address: string, readonly node: Record<string, unknown>, readonly mode: 'sotw' | 'delta' = 'sotw', credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), opts: { client?: grpc.Client; read?: boolean; channel?: grpc.ChannelOptions } = {}) {
    this.ownsClient = !opts.client;
    this.client = opts.client ?? new Client(address, credentials, { ...sniForIpTarget(address, credentials), ...opts.channel });
    const method = mode === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    this.call = (this.client as any)[method]();
    if (opts.read !== false) this.call.on('data', (r: any) => this.push(decode(r, mode)));
    this.call.on('error', (e: grpc.ServiceError) => {
      this.error = e;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(e);
      }
    });
  }

  private push(r: DecodedResponse): void {
    const i = this.waiters.findIndex((w) => !w.type || w.type === r.type_url);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(r);
    } else this.queue.push(r);
  }

  send(req: Record<string, unknown>): void {
    const withNode = this.first ? { node: this.node, ...req } : req;
    this.first = false;
    this.call.write(withNode);
  }

  request(type: string, names: string[] = [], ack?: DecodedResponse, errorMessage?: string): void {
    this.send({ type_url: type, resource_names: names, version_info: ack && !errorMessage ? ack.version_info : '', response_nonce: ack?.nonce ?? '', ...(errorMessage ? { error_detail: { code: 3, message: errorMessage } } : {}) });
  }

  delta(type: string, subscribe: string[] = [], unsubscribe: string[] = [], ack?: DecodedResponse, errorMessage?: string): void {
    this.send({ type_url: type, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, response_nonce: ack?.nonce ?? '', ...(errorMessage ? { error_detail: { code: 3, message: errorMessage } } : {}) });
  }

  /** The next response (of a type), or rejects after `ms`. */
  next(type?: string, ms = 5000): Promise<DecodedResponse> {
    const i = this.queue.findIndex((r) => !type || r.type_url === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${type ?? 'any'} response within ${ms} ms`));
      }, ms);
      this.waiters.push({ type, resolve, reject, timer });
    });
  }

  /** Responses already received and not consumed. */
  pending(): DecodedResponse[] {
    return this.queue.slice();
  }

  /** Resolves true when no response arrives within ms. */
  async quiet(ms: number, type?: string): Promise<boolean> {
    try {
      await this.next(type, ms);
      return false;
    } catch (e) {
      if (this.error) throw e;
      return true;
    }
  }

  close(): void {
    try {
      this.call.end();
    } catch {
      /* closed */
    }
    this.call.cancel();
    if (this.ownsClient) this.client.close();
  }

  /** Writes an already encoded request frame (garbage tests). */
  sendRaw(frame: Buffer): void {
    (this.call as unknown as { write(b: Buffer): void }).write(frame);
  }
}

/** A client whose streams share one connection (see AdsTestClient's opts.client); it writes raw Buffers as they are when given one. */
export function sharedAdsClient(address: string): grpc.Client {
  const def = adsClientDefinition() as unknown as Record<string, Record<string, unknown>>;
  for (const m of Object.values(def)) {
    const ser = m.requestSerialize as (v: object) => Buffer;
    m.requestSerialize = (v: object) => (Buffer.isBuffer(v) ? v : ser(v));
  }
  const Ctor = grpc.makeGenericClientConstructor(def as unknown as grpc.ServiceDefinition, 'AggregatedDiscoveryService');
  return new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}


function decode(r: any, mode: 'sotw' | 'delta'): DecodedResponse {
  if (mode === 'sotw') {
    const values = (r.resources ?? []).map((a: any) => decodeResource(a.type_url, a.value));
    return { ...r, names: values.map((v: any) => v.name ?? v.cluster_name), values };
  }
  const values = (r.resources ?? []).map((x: any) => decodeResource(x.resource.type_url, x.resource.value));
  return { ...r, names: (r.resources ?? []).map((x: any) => x.name), values, deltaResources: (r.resources ?? []).map((x: any) => ({ name: x.name, version: x.version })) };
}

export function grpcNode(id: string, namespace: string, extra: Record<string, string> = {}): Record<string, unknown> {
  const fields: Record<string, unknown> = { NAMESPACE: { string_value: namespace }, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { string_value: v }])) };
  return { id, metadata: { fields }, user_agent_name: 'meshcd-test' };
}
