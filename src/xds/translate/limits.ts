// What a proxyless gRPC client can take in one response: gRPC libraries
// refuse a message over 4 MiB by default, and a SotW response must be whole.
// `grpcSizeCheck` estimates, from the translated objects alone (pure, no
// encoding), how large a response carrying every resource of a type that a
// namespace's proxyless clients can see would be, and says so (MCD4160)
// naming the namespace and suggesting a Sidecar scope — at validation time,
// where `meshcd validate` shows translation warnings, not only when a push
// is refused.

import type { Diagnostic, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';

/** gRPC's default maximum receive message size. */
export const GRPC_MESSAGE_LIMIT = 4 * 1024 * 1024;

const ENUM_NAME = /^[A-Z][A-Z0-9_]*$/;
const varintLen = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * The protobuf size of a plain resource object, estimated: field tags of one
 * byte, strings and nested messages length-delimited, numbers as varints,
 * upper-case names as enum varints.
 */
export function approxEncodedSize(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') {
    // Enum values are written by name (`EDS`, `ROUND_ROBIN`) and sent as varints.
    if (ENUM_NAME.test(v)) return 2;
    const n = Buffer.byteLength(v);
    return 1 + varintLen(n) + n;
  }
  if (typeof v === 'number') return 1 + (Number.isInteger(v) && v >= 0 ? varintLen(v) : 8);
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) {
    let total = 0;
    for (const x of v) total += approxEncodedSize(x);
    return total;
  }
  if (typeof v === 'object') {
    let inner = 0;
    for (const x of Object.values(v as Record<string, unknown>)) inner += approxEncodedSize(x);
    return 1 + varintLen(inner) + inner;
  }
  return 0;
}

const NAMES: Partial<Record<TypeUrl, string>> = { [TYPE_URL.listener]: 'listeners', [TYPE_URL.route]: 'route configurations', [TYPE_URL.cluster]: 'clusters', [TYPE_URL.endpoint]: 'endpoint assignments' };

/** MCD4160 for each type whose resources, all in one response, would pass gRPC's limit. */
export function grpcSizeCheck(namespace: string, byType: ReadonlyMap<TypeUrl, ReadonlyMap<string, XdsResource>>, services: number): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [type, what] of Object.entries(NAMES) as [TypeUrl, string][]) {
    const m = byType.get(type);
    if (!m) continue;
    let bytes = 0;
    for (const r of m.values()) bytes += approxEncodedSize(r.value) + type.length + 8;
    if (bytes <= GRPC_MESSAGE_LIMIT) continue;
    out.push({
      code: 'MCD4160',
      severity: 'warning',
      message: `proxyless gRPC clients in namespace ${namespace} see ${services} services: their ${m.size} ${what} come to about ${(bytes / 1024 / 1024).toFixed(1)} MiB in one response, over gRPC's 4 MiB default receive limit, so a client that uses them all gets none; scope namespace ${namespace} with a Sidecar (spec.egress hosts) to the services it calls`,
    });
  }
  return out;
}
