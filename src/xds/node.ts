// Who is asking: an xDS `Node` (id, metadata, user agent) → ProxyInfo, by
// Istio's conventions (node id `sidecar~IP~pod.ns~ns.svc.cluster.local`,
// metadata NAMESPACE / LABELS / SERVICE_ACCOUNT / INSTANCE_IPS / GENERATOR).
// Pure. Imports only src/api.

import type { ProxyInfo, ProxyKind } from '../api/types.js';
import { isGrpcListenerName } from './names.js';

export class NodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeError';
  }
}

/** The decoded Node message (snake_case, metadata either a protobuf Struct or already plain JSON). */
export interface XdsNode {
  id?: string;
  cluster?: string;
  metadata?: unknown;
  user_agent_name?: string;
  user_agent_version?: string;
  /** Where the proxy runs (Envoy's and gRPC's bootstrap `node.locality`). */
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_build_version?: { version?: { major_number?: number; minor_number?: number; patch?: number } };
}

/** protobuf Struct `{fields: {k: {string_value}}}` → plain JSON; a plain object passes through. */
export function structToJson(s: unknown): Record<string, unknown> {
  if (!s || typeof s !== 'object') return {};
  const fields = (s as { fields?: unknown }).fields;
  if (!fields || typeof fields !== 'object') return { ...(s as Record<string, unknown>) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields as Record<string, unknown>)) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('string_value' in o) return o.string_value;
  if ('number_value' in o) return o.number_value;
  if ('bool_value' in o) return o.bool_value;
  if ('null_value' in o) return null;
  if ('struct_value' in o) return structToJson(o.struct_value);
  if ('list_value' in o) return ((o.list_value as { values?: unknown[] })?.values ?? []).map(valueToJson);
  return undefined;
}

const GRPC_AGENTS = /grpc/i;

export function proxyFromNode(node: XdsNode | undefined): ProxyInfo {
  const id = node?.id?.trim();
  if (!id) throw new NodeError('xDS request has no node id (set node.id in the bootstrap)');
  if (id.length > 1024) throw new NodeError('node id longer than 1024 characters');
  const meta = structToJson(node?.metadata);
  const parts = id.split('~');
  const istioStyle = parts.length === 4 && (parts[0] === 'sidecar' || parts[0] === 'router');

  let kind: ProxyKind;
  const generator = typeof meta.GENERATOR === 'string' ? meta.GENERATOR : undefined;
  if (generator === 'grpc') kind = 'grpc';
  else if (istioStyle) kind = parts[0] as ProxyKind;
  else if (GRPC_AGENTS.test(node?.user_agent_name ?? '')) kind = 'grpc';
  else kind = 'sidecar';

  // `pod.ns` and `ns.svc.cluster.local` both carry the namespace; metadata wins.
  let namespace = typeof meta.NAMESPACE === 'string' && meta.NAMESPACE ? meta.NAMESPACE : undefined;
  if (!namespace && istioStyle) namespace = parts[3]!.split('.')[0] || parts[2]!.split('.')[1];
  namespace ||= 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new NodeError(`node ${id}: namespace ${JSON.stringify(namespace)} is not a valid namespace name`);

  const labels: Record<string, string> = {};
  if (meta.LABELS && typeof meta.LABELS === 'object') {
    for (const [k, v] of Object.entries(meta.LABELS as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
  }

  let ips: string[] = [];
  if (typeof meta.INSTANCE_IPS === 'string' && meta.INSTANCE_IPS) ips = meta.INSTANCE_IPS.split(',').map((s) => s.trim()).filter(Boolean);
  else if (istioStyle && parts[1]) ips = [parts[1]];

  const serviceAccount = typeof meta.SERVICE_ACCOUNT === 'string' && meta.SERVICE_ACCOUNT ? meta.SERVICE_ACCOUNT : undefined;
  const v = node?.user_agent_build_version?.version;
  const version = node?.user_agent_version || (v ? `${v.major_number ?? 0}.${v.minor_number ?? 0}.${v.patch ?? 0}` : '');
  const userAgent = node?.user_agent_name ? `${node.user_agent_name}${version ? ` ${version}` : ''}` : undefined;

  const info: ProxyInfo = { id, kind, namespace, labels, ips };
  if (serviceAccount) info.serviceAccount = serviceAccount;
  if (userAgent) info.userAgent = userAgent;
  const locality = localityOfNode(node?.locality);
  if (locality) info.locality = locality;
  return info;
}

/** `region/zone/subzone` of the node's locality; undefined when it names none (Istio then takes its workload's). */
export function localityOfNode(l: XdsNode['locality']): string | undefined {
  const part = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const [region, zone, subzone] = [part(l?.region), part(l?.zone), part(l?.sub_zone)];
  if (!region && !zone && !subzone) return undefined;
  const text = `${region}/${zone}/${subzone}`;
  if (text.length > 512) throw new NodeError('node locality longer than 512 characters');
  return text;
}

/**
 * A proxyless gRPC client may not say GENERATOR=grpc; Istio also recognises
 * it by its first LDS request naming a `host:port` listener.
 */
export function looksLikeGrpcListenerName(name: string): boolean {
  return isGrpcListenerName(name);
}
