// The ADS wire for the bench's clients and its minimal server, kept lean so
// that the clients' own CPU (they share the 2 cores with the server under
// test) stays small: requests are encoded with protobufjs from Envoy's
// protos; responses are not decoded at all — their top-level fields are
// walked by hand and resources stay as slices of the received bytes. The
// minimal server sends captured response bytes as they are, adding only a
// nonce field (a protobuf message is the concatenation of its fields).

import type { ServiceDefinition } from '@grpc/grpc-js';
import { messageType } from '../../src/xds/proto.js';
import { adsServiceDefinition } from '../../src/xds/server/service.js';

export const TYPE = {
  L: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  R: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  C: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  E: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;
export const SHORT: Record<string, string> = { [TYPE.L]: 'LDS', [TYPE.R]: 'RDS', [TYPE.C]: 'CDS', [TYPE.E]: 'EDS' };

/** [value, next position] of the varint at `pos`. */
export function varint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
    if (pos >= b.length) throw new Error('truncated varint');
  }
}

/** Calls `f(field, wireType, start, end, valueStart)` for each top-level field; `valueStart..end` is a length-delimited field's payload. */
export function fields(b: Uint8Array, f: (field: number, wire: number, start: number, end: number, valueStart: number) => void): void {
  let pos = 0;
  while (pos < b.length) {
    const start = pos;
    const [key, p1] = varint(b, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let end: number;
    let valueStart = p1;
    if (wire === 0) end = varint(b, p1)[1];
    else if (wire === 1) end = p1 + 8;
    else if (wire === 5) end = p1 + 4;
    else if (wire === 2) {
      const [len, p2] = varint(b, p1);
      valueStart = p2;
      end = p2 + len;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (end > b.length) throw new Error('truncated field');
    f(field, wire, start, end, valueStart);
    pos = end;
  }
}

const utf8 = (b: Buffer, s: number, e: number) => b.toString('utf8', s, e);

/** A state-of-the-world response, not decoded: resources are the `Any.value` slices. */
export interface SotwResponse {
  raw: Buffer;
  version: string;
  typeUrl: string;
  nonce: string;
  resources: Buffer[];
}

/** A delta response: resources by name, and the names removed. */
export interface DeltaResponse {
  raw: Buffer;
  typeUrl: string;
  nonce: string;
  resources: { name: string; value: Buffer }[];
  removed: string[];
}

function anyValue(b: Buffer, s: number, e: number): Buffer {
  let v: Buffer | undefined;
  fields(b.subarray(s, e), (f, w, _st, en, vs) => {
    if (f === 2 && w === 2) v = b.subarray(s + vs, s + en);
  });
  return v ?? Buffer.alloc(0);
}

export function parseSotw(b: Buffer): SotwResponse {
  const r: SotwResponse = { raw: b, version: '', typeUrl: '', nonce: '', resources: [] };
  fields(b, (f, w, _s, e, vs) => {
    if (w !== 2) return;
    if (f === 1) r.version = utf8(b, vs, e);
    else if (f === 2) r.resources.push(anyValue(b, vs, e));
    else if (f === 4) r.typeUrl = utf8(b, vs, e);
    else if (f === 5) r.nonce = utf8(b, vs, e);
  });
  return r;
}

export function parseDelta(b: Buffer): DeltaResponse {
  const r: DeltaResponse = { raw: b, typeUrl: '', nonce: '', resources: [], removed: [] };
  fields(b, (f, w, _s, e, vs) => {
    if (w !== 2) return;
    if (f === 2) {
      let name = '';
      let value: Buffer = Buffer.alloc(0);
      const sub = b.subarray(vs, e);
      fields(sub, (g, gw, _gs, ge, gvs) => {
        if (gw !== 2) return;
        if (g === 3) name = utf8(sub, gvs, ge);
        else if (g === 2) value = anyValue(sub, gvs, ge);
      });
      r.resources.push({ name, value });
    } else if (f === 4) r.typeUrl = utf8(b, vs, e);
    else if (f === 5) r.nonce = utf8(b, vs, e);
    else if (f === 6) r.removed.push(utf8(b, vs, e));
  });
  return r;
}

/**
 * A SotW response without its nonce, in two parts: `resources` (the
 * `repeated Any resources = 2` fields, which proxies of one scope share) and
 * `head` (version_info, type_url and anything else; small, per proxy). The
 * minimal server replays head + resources + its own nonce field.
 */
export function splitResponse(b: Buffer): { head: Buffer; resources: Buffer } {
  const head: Buffer[] = [];
  const res: Buffer[] = [];
  fields(b, (f, _w, s, e) => {
    if (f === 2) res.push(b.subarray(s, e));
    else if (f !== 5) head.push(b.subarray(s, e));
  });
  return { head: Buffer.concat(head), resources: Buffer.concat(res) };
}

/** A nonce field (DiscoveryResponse.nonce = 5) to append to a body. */
export function nonceField(nonce: string): Buffer {
  const s = Buffer.from(nonce, 'utf8');
  return Buffer.concat([Buffer.from([(5 << 3) | 2, s.length]), s]);
}

/** Field 1 of a resource (Listener/Cluster/RouteConfiguration `name`, ClusterLoadAssignment `cluster_name`). */
export function resourceName(b: Buffer): string {
  let name = '';
  try {
    fields(b, (f, w, _s, e, vs) => {
      if (f === 1 && w === 2 && !name) name = utf8(b, vs, e);
    });
  } catch {
    /* not a message we can walk */
  }
  return name;
}

/** The EDS name a cluster asks for (eds_cluster_config.service_name, else its name), or undefined when it is not an EDS cluster. */
export function edsNameOf(cluster: Buffer): string | undefined {
  let name = '';
  let eds: string | undefined;
  let isEds = false;
  fields(cluster, (f, w, _s, e, vs) => {
    if (f === 1 && w === 2) name = utf8(cluster, vs, e);
    else if (f === 2 && w === 0) isEds ||= cluster[vs] === 3; // type: EDS
    else if (f === 3 && w === 2) {
      isEds = true;
      const sub = cluster.subarray(vs, e);
      fields(sub, (g, gw, _gs, ge, gvs) => {
        if (g === 2 && gw === 2) eds = utf8(sub, gvs, ge);
      });
    }
  });
  return isEds ? eds || name : undefined;
}

/**
 * ADS as a client: meshcd's own definition (requests from plain objects,
 * snake_case), with responses left as raw Buffers (parse them with
 * parseSotw/parseDelta).
 */
export function rawAdsClientDefinition(): ServiceDefinition {
  const def = adsServiceDefinition() as unknown as Record<string, Record<string, unknown>>;
  for (const method of Object.values(def)) method.responseDeserialize = (b: Buffer) => b;
  return def as unknown as ServiceDefinition;
}

/** ADS as the minimal server sees it: requests decoded, responses sent as the Buffers handed to write(). */
export function rawAdsServerDefinition(): ServiceDefinition {
  const req = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const opts = { enums: String, longs: String, defaults: false, arrays: true };
  const def = rawAdsClientDefinition() as unknown as Record<string, Record<string, unknown>>;
  const sotw = def.StreamAggregatedResources!;
  sotw.requestDeserialize = (b: Buffer) => req.toObject(req.decode(b), opts);
  sotw.responseSerialize = (b: Buffer) => b;
  return { StreamAggregatedResources: sotw } as unknown as ServiceDefinition;
}
