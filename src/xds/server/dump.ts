// Render resources the way Envoy's /config_dump does: proto3 JSON (lowerCamel
// names, "1.5s" durations, unwrapped wrappers, Anys with @type), grouped into
// ListenersConfigDump / ClustersConfigDump / RoutesConfigDump /
// EndpointsConfigDump / SecretsConfigDump. Private keys are redacted.

import protobuf from 'protobufjs';
import type { TypeUrl } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { messageType } from '../proto.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const WRAPPER = /^google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String|Bytes)Value$/;

function durationText(v: Obj): string {
  const s = Number(v.seconds ?? 0);
  const n = Number(v.nanos ?? 0);
  const total = s + n / 1e9;
  return `${Number(total.toFixed(9))}s`;
}

function structJson(v: unknown): unknown {
  if (!isObj(v)) return v;
  if ('fields' in v && isObj(v.fields)) return Object.fromEntries(Object.entries(v.fields).map(([k, x]) => [k, structJson(x)]));
  if ('string_value' in v) return v.string_value;
  if ('number_value' in v) return v.number_value;
  if ('bool_value' in v) return v.bool_value;
  if ('null_value' in v) return null;
  if ('struct_value' in v) return structJson(v.struct_value);
  if ('list_value' in v && isObj(v.list_value)) return ((v.list_value.values as unknown[]) ?? []).map(structJson);
  return v;
}

/** Proto3 JSON of a value of `type` (best effort: unknown fields are passed through). */
export function toProto3Json(type: protobuf.Type, v: unknown): unknown {
  const full = type.fullName.slice(1);
  if (!isObj(v)) return v;
  if (full === 'google.protobuf.Duration') return durationText(v);
  if (WRAPPER.test(full)) return v.value;
  if (full === 'google.protobuf.Struct') return structJson(v);
  if (full === 'google.protobuf.Any') {
    const t = v['@type'];
    if (typeof t !== 'string') return v;
    let inner: protobuf.Type;
    try {
      inner = messageType(t);
    } catch {
      return v;
    }
    const { ['@type']: _t, ...rest } = v;
    const body = toProto3Json(inner, rest);
    return isObj(body) ? { '@type': t, ...body } : { '@type': t, value: body };
  }
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || x === null) continue;
    if (k === 'private_key' || k === 'password') {
      out[camel(k)] = { inlineString: '[redacted]' };
      continue;
    }
    const f = type.fields[k];
    const ft = f?.resolvedType;
    if (ft instanceof protobuf.Type) {
      if (f!.map && isObj(x)) out[camel(k)] = Object.fromEntries(Object.entries(x).map(([mk, mv]) => [mk, toProto3Json(ft, mv)]));
      else if (Array.isArray(x)) out[camel(k)] = x.map((i) => toProto3Json(ft, i));
      else out[camel(k)] = toProto3Json(ft, x);
    } else if (ft instanceof protobuf.Enum && typeof x === 'number') {
      out[camel(k)] = ft.valuesById[x] ?? x;
    } else out[camel(k)] = x;
  }
  return out;
}

const DUMP: { type: TypeUrl; dump: string; list: string; wrap: (name: string, version: string, value: unknown, at: string) => Obj }[] = [
  { type: TYPE_URL.listener, dump: 'ListenersConfigDump', list: 'dynamic_listeners', wrap: (name, version, value, at) => ({ name, active_state: { version_info: version, listener: value, last_updated: at } }) },
  { type: TYPE_URL.cluster, dump: 'ClustersConfigDump', list: 'dynamic_active_clusters', wrap: (_n, version, value, at) => ({ version_info: version, cluster: value, last_updated: at }) },
  { type: TYPE_URL.route, dump: 'RoutesConfigDump', list: 'dynamic_route_configs', wrap: (_n, version, value, at) => ({ version_info: version, route_config: value, last_updated: at }) },
  { type: TYPE_URL.endpoint, dump: 'EndpointsConfigDump', list: 'dynamic_endpoint_configs', wrap: (_n, version, value, at) => ({ version_info: version, endpoint_config: value, last_updated: at }) },
  { type: TYPE_URL.secret, dump: 'SecretsConfigDump', list: 'dynamic_active_secrets', wrap: (name, version, value, at) => ({ name, version_info: version, secret: value, last_updated: at }) },
];

export interface DumpInput {
  /** Per type: the version the proxy acknowledged (or was sent) and the resources it holds. */
  types: Map<TypeUrl, { version?: string; resources: { name: string; version: string; value: Obj }[] }>;
  at: string;
}

/** Envoy's config_dump JSON shape; the wrapper keys are snake_case as Envoy prints them, resources proto3 JSON. */
export function configDump(input: DumpInput): Obj {
  const configs: Obj[] = [];
  for (const d of DUMP) {
    const t = input.types.get(d.type);
    if (!t) continue;
    const type = messageType(d.type);
    configs.push({
      '@type': `type.googleapis.com/envoy.admin.v3.${d.dump}`,
      version_info: t.version ?? '',
      [d.list]: t.resources.map((r) => d.wrap(r.name, r.version, { '@type': d.type, ...(toProto3Json(type, r.value) as Obj) }, input.at)),
    });
  }
  return { configs };
}
