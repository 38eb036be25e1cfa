// The ADS gRPC service definition, built from the same protobufjs root as
// the resources (src/xds/proto.ts) so requests decode with snake_case names.
// SotW responses are serialized by hand from pre-encoded resource bytes: a
// protobuf message is the concatenation of its fields, so the `resources`
// part is encoded once per (snapshot, type, names) and shared by every
// stream; only version_info, type_url and nonce are written per response.

import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { messageType } from '../proto.js';

export interface DiscoveryRequest {
  version_info?: string;
  node?: Record<string, unknown>;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

export interface DeltaDiscoveryRequest {
  node?: Record<string, unknown>;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** A SotW response whose `resources` field bytes were encoded ahead of time. */
export interface PreparedResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Encoded `repeated Any resources = 2` fields (pieces written one after the other). */
  resourcesBytes: Buffer | readonly Buffer[];
}

export interface DeltaResource {
  name: string;
  version: string;
  bytes: Buffer;
}

export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: DeltaResource[];
  removed_resources: string[];
}

const decodeOpts: protobuf.IConversionOptions = { enums: String, longs: String, bytes: String, defaults: false, arrays: true, objects: true };

/** A request frame that is not a valid protobuf message: the server answers INVALID_ARGUMENT and closes the stream. */
export class InvalidRequest {
  constructor(readonly message: string) {}
}

function decoder<T>(typeName: string): (b: Buffer) => T | InvalidRequest {
  const t = messageType(typeName);
  return (b) => {
    try {
      return t.toObject(t.decode(b), decodeOpts) as T;
    } catch (err) {
      // grpc-js would answer INTERNAL; a malformed frame is the client's error.
      return new InvalidRequest(`request is not a valid ${typeName.split('.').pop()}: ${(err as Error).message.slice(0, 200)}`);
    }
  };
}

/** Encodes one `repeated google.protobuf.Any` entry (field 2) per resource. */
export function encodeAnyList(typeUrl: string, resources: { bytes: Buffer }[]): Buffer {
  const w = protobuf.Writer.create();
  for (const r of resources) {
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(typeUrl);
    w.uint32((2 << 3) | 2).bytes(r.bytes);
    w.ldelim();
  }
  return Buffer.from(w.finish());
}

/**
 * The response is written into one reused scratch buffer and a view of it is
 * returned: grpc-js copies a serialized message into its frame at once, in
 * the same call (server-interceptors.js `serializeMessage`), so a fresh
 * buffer of several MiB per response (for every proxy of a push) would only
 * feed the garbage collector. `serializeResponse` is the server's alone; a
 * caller that keeps the result must copy it.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

export function serializeResponse(r: PreparedResponse): Buffer {
  const w = protobuf.Writer.create();
  if (r.version_info) w.uint32((1 << 3) | 2).string(r.version_info);
  if (r.type_url) w.uint32((4 << 3) | 2).string(r.type_url);
  if (r.nonce) w.uint32((5 << 3) | 2).string(r.nonce);
  const head = w.finish();
  const chunks = Array.isArray(r.resourcesBytes) ? r.resourcesBytes : [r.resourcesBytes as Buffer];
  let total = head.length;
  for (const c of chunks) total += c.length;
  if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, scratch.length * 2));
  scratch.set(head, 0);
  let at = head.length;
  for (const c of chunks) {
    scratch.set(c, at);
    at += c.length;
  }
  return scratch.subarray(0, total);
}

export function serializeDeltaResponse(r: DeltaResponse): Buffer {
  const w = protobuf.Writer.create();
  if (r.system_version_info) w.uint32((1 << 3) | 2).string(r.system_version_info);
  for (const res of r.resources) {
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(res.version);
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(r.type_url);
    w.uint32((2 << 3) | 2).bytes(res.bytes);
    w.ldelim();
    w.uint32((3 << 3) | 2).string(res.name);
    w.ldelim();
  }
  w.uint32((4 << 3) | 2).string(r.type_url);
  if (r.nonce) w.uint32((5 << 3) | 2).string(r.nonce);
  for (const n of r.removed_resources) w.uint32((6 << 3) | 2).string(n);
  return Buffer.from(w.finish());
}

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/** grpc-js service definition for AggregatedDiscoveryService (SotW + delta). */
export function adsServiceDefinition(): ServiceDefinition {
  const reqDecode = decoder<DiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest');
  const deltaDecode = decoder<DeltaDiscoveryRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const req = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const dreq = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const resp = messageType('envoy.service.discovery.v3.DiscoveryResponse');
  const dresp = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  return {
    StreamAggregatedResources: {
      path: `${ADS}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: reqDecode,
      responseSerialize: (v: PreparedResponse) => serializeResponse(v),
      responseDeserialize: (b: Buffer) => resp.toObject(resp.decode(b), decodeOpts),
      originalName: 'streamAggregatedResources',
    },
    DeltaAggregatedResources: {
      path: `${ADS}/DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (v: object) => Buffer.from(dreq.encode(dreq.fromObject(v)).finish()),
      requestDeserialize: deltaDecode,
      responseSerialize: (v: DeltaResponse) => serializeDeltaResponse(v),
      responseDeserialize: (b: Buffer) => dresp.toObject(dresp.decode(b), decodeOpts),
      originalName: 'deltaAggregatedResources',
    },
  } as unknown as ServiceDefinition;
}

/**
 * The same service as a client sees it (requests encoded from plain objects,
 * responses decoded with Anys' bytes as Buffers), for tests and the bench.
 */
export function adsClientDefinition(): ServiceDefinition {
  const def = adsServiceDefinition() as unknown as Record<string, Record<string, unknown>>;
  const resp = messageType('envoy.service.discovery.v3.DiscoveryResponse');
  const dresp = messageType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const raw: protobuf.IConversionOptions = { enums: String, longs: String, defaults: false, arrays: true };
  def.StreamAggregatedResources!.responseDeserialize = (b: Buffer) => resp.toObject(resp.decode(b), raw);
  def.DeltaAggregatedResources!.responseDeserialize = (b: Buffer) => dresp.toObject(dresp.decode(b), raw);
  return def as unknown as ServiceDefinition;
}
