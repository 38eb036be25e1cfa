// Envoy's own protos, loaded once with protobufjs (keepCase, so the JS
// objects use the .proto's snake_case names), plus the strict checks that
// protobufjs does not do: it silently drops unknown fields and knows nothing
// of protoc-gen-validate. Envoy enforces `validate.rules` before it ACKs, so
// a resource that fails `checkResource` would be NACKed: treat it as a bug.
// Imports: protobufjs and node built-ins only.
// Over 500 lines because the validate.rules interpreter (one recursive walk
// over one rule table, ~400 lines) lives beside the loader whose Types it
// walks; the next change to it should move it to its own file.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';

const require_ = createRequire(import.meta.url);

/** The .proto files meshcd emits or serves; their imports come along. */
export const PROTO_FILES = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/rbac/v3/rbac.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/direct_response/v3/config.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/filters/http/grpc_stats/v3/config.proto',
  'envoy/extensions/filters/http/stateful_session/v3/stateful_session.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/clusters/aggregate/v3/cluster.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
  'envoy/extensions/load_balancing_policies/pick_first/v3/pick_first.proto',
  'envoy/extensions/load_balancing_policies/client_side_weighted_round_robin/v3/client_side_weighted_round_robin.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/secret/v3/sds.proto',
  'xds/type/v3/typed_struct.proto',
  'udpa/type/v1/typed_struct.proto',
];

/** Folders holding Envoy's protos and their imports (shipped with @grpc/grpc-js-xds). */
export function protoIncludeDirs(): string[] {
  const xdsPkg = dirname(require_.resolve('@grpc/grpc-js-xds/package.json'));
  const pbPkg = dirname(require_.resolve('protobufjs/package.json'));
  return [...['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => join(xdsPkg, 'deps', d)), pbPkg];
}

let rootCache: protobuf.Root | undefined;

/** The protobufjs root with every file of PROTO_FILES, loaded on first use (~0.3 s). */
export function protoRoot(): protobuf.Root {
  if (rootCache) return rootCache;
  const dirs = protoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => {
    if (isAbsolute(target)) return target;
    for (const d of dirs) {
      const p = join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  snakeCaseValue(root);
  root.resolveAll();
  rootCache = root;
  return root;
}

/**
 * protobufjs bundles google/protobuf/struct.proto as JSON with camelCase
 * names, whatever keepCase says; rename Value's fields in our own root so
 * that every resource uses the .proto's names (`string_value`, …).
 */
function snakeCaseValue(root: protobuf.Root): void {
  const value = root.lookupType('google.protobuf.Value');
  const fields = value.fieldsArray.slice();
  for (const o of value.oneofsArray.slice()) value.remove(o);
  for (const f of fields) if (value.fields[f.name]) value.remove(f);
  const snake = (n: string) => n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const f of fields) value.add(new protobuf.Field(snake(f.name), f.id, f.type, f.repeated ? "repeated" : undefined, f.extend, f.options));
  value.add(new protobuf.OneOf('kind', fields.map((f) => snake(f.name))));
}

const TYPE_PREFIX = 'type.googleapis.com/';

export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

const typeCache = new Map<string, protobuf.Type>();

/** The message type for a type URL or a full name; throws for an unknown type. */
export function messageType(typeUrlOrName: string): protobuf.Type {
  const name = typeNameOf(typeUrlOrName);
  let t = typeCache.get(name);
  if (!t) {
    const found = protoRoot().lookup(name);
    if (!(found instanceof protobuf.Type)) throw new Error(`unknown protobuf message type ${name}`);
    t = found;
    typeCache.set(name, t);
  }
  return t;
}

export function hasMessageType(typeUrlOrName: string): boolean {
  try {
    messageType(typeUrlOrName);
    return true;
  } catch {
    return false;
  }
}

export class ResourceEncodingError extends Error {
  constructor(readonly typeUrl: string, readonly errors: string[]) {
    super(`invalid ${typeNameOf(typeUrl)}: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? ` (+${errors.length - 5} more)` : ''}`);
    this.name = 'ResourceEncodingError';
  }
}

function stripType(value: object): Record<string, unknown> {
  const { ['@type']: _t, ...rest } = value as Record<string, unknown>;
  return rest;
}

/** The message bytes of a resource, after `checkResource`; throws ResourceEncodingError when it fails. */
export function encodeResource(typeUrl: string, value: object): Buffer {
  const errors = checkResource(typeUrl, value);
  if (errors.length) throw new ResourceEncodingError(typeUrl, errors);
  return encodeUnchecked(typeUrl, value);
}

/** Encode without the strict checks (for messages meshcd itself built from trusted parts, e.g. responses). */
export function encodeUnchecked(typeUrl: string, value: object): Buffer {
  const t = messageType(typeUrl);
  return Buffer.from(t.encode(t.fromObject(stripType(value))).finish());
}

/** `google.protobuf.Any` as protobufjs encodes it inside a response: `{type_url, value}`. */
export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

export function encodeAny(typeUrl: string, value: object): AnyMessage {
  const url = typeUrl.includes('/') ? typeUrl : TYPE_PREFIX + typeUrl;
  return { type_url: url, value: encodeResource(url, value) };
}

/** Bytes → plain object with '@type' on Anys, enums as names, 64-bit ints as strings: proto3-JSON-like, snake_case. */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const t = messageType(typeUrl);
  return t.toObject(t.decode(bytes), { enums: String, longs: String, bytes: String, json: true, defaults: false }) as Record<string, unknown>;
}

/** Content version of a resource: sha256 of its encoded bytes, first 16 hex chars. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------
// Strict check: unknown fields and validate.rules

type Rules = Record<string, unknown>;

/**
 * Rules the Envoy release proxies run (v1.40, whose go-control-plane
 * validators test/interop runs as an oracle) declares on fields where the
 * older protos loaded here (@grpc/grpc-js-xds's deps) have none.
 */
const NEWER_ENVOY_RULES: Record<string, Rules> = {
  // Envoy NACKs a certificate provider instance without a name.
  'envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance.instance_name': { string: { min_len: 1 } },
};

function rulesOf(field: protobuf.Field): Rules | undefined {
  const parsed = field.parsedOptions as Array<Record<string, unknown>> | null | undefined;
  const newer = NEWER_ENVOY_RULES[field.fullName.slice(1)];
  if (!parsed) return newer;
  let out: Rules | undefined = newer;
  for (const p of parsed) {
    const r = p['(validate.rules)'];
    if (r && typeof r === 'object') out = deepMerge(out ?? {}, r as Rules);
  }
  return out;
}

function deepMerge(a: Rules, b: Rules): Rules {
  const out: Rules = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev && typeof prev === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? deepMerge(prev as Rules, v as Rules) : v;
  }
  return out;
}

const rulesCache = new WeakMap<protobuf.Field, Rules | null>();
function cachedRules(field: protobuf.Field): Rules | undefined {
  let r = rulesCache.get(field);
  if (r === undefined) {
    r = rulesOf(field) ?? null;
    rulesCache.set(field, r);
  }
  return r ?? undefined;
}

interface Plan {
  requiredOneofs: protobuf.OneOf[];
  /** Fields whose rules must be checked even when the field is absent. */
  absentChecks: protobuf.Field[];
}

const patternCache = new Map<string, RegExp | null>();
const plans = new WeakMap<protobuf.Type, Plan>();

function planOf(type: protobuf.Type): Plan {
  let p = plans.get(type);
  if (p) return p;
  const requiredOneofs = type.oneofsArray.filter((o) => (o.options as Record<string, unknown> | undefined)?.['(validate.required)'] === true);
  const absentChecks: protobuf.Field[] = [];
  for (const field of type.fieldsArray) {
    const rules = cachedRules(field);
    if (!rules) continue;
    if (field.repeated || field.map) {
      const rep = rules.repeated as Rules | undefined;
      if (rep && typeof rep.min_items === 'number' && rep.min_items > 0) absentChecks.push(field);
      continue;
    }
    // A oneof member's rules apply only when it is the member set.
    if (field.partOf) continue;
    if (field.resolvedType instanceof protobuf.Type) {
      const req = (k: string) => (rules[k] as Rules | undefined)?.required === true;
      if (req('message') || req('duration') || req('any') || req('timestamp')) absentChecks.push(field);
      continue;
    }
    absentChecks.push(field);
  }
  p = { requiredOneofs, absentChecks };
  plans.set(type, p);
  return p;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.Int64Value', 'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value', 'google.protobuf.UInt32Value', 'google.protobuf.BoolValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue',
]);

const WRAPPER_DEFAULT: Record<string, unknown> = {
  'google.protobuf.BoolValue': false, 'google.protobuf.StringValue': '', 'google.protobuf.BytesValue': new Uint8Array(),
};
for (const w of WRAPPERS) if (!(w in WRAPPER_DEFAULT)) WRAPPER_DEFAULT[w] = 0;

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647], sint32: [-2147483648, 2147483647], sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295], fixed32: [0, 4294967295],
};
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

function defaultOf(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  switch (field.type) {
    case 'string': return '';
    case 'bytes': return new Uint8Array();
    case 'bool': return false;
    default: return 0;
  }
}

/**
 * Message objects that passed the checks, and as which type (only with
 * `checkResource(…, { reuse: true })`). Translation shares fragments across
 * proxies, scopes and revisions as the same objects and never changes one
 * once made, so a route or cluster already checked inside one resource is
 * not walked again inside the next (thousands of namespaces' route tables
 * hold the same routes). Weak: gone with the objects.
 */
const checkedOk = new WeakMap<object, protobuf.Type>();

class Checker {
  constructor(private readonly reuse = false) {}
  readonly errors: string[] = [];
  /** Every error found, also those past the 200 kept. */
  private found = 0;
  private err(path: string, msg: string): void {
    this.found++;
    if (this.errors.length < 200) this.errors.push(`${path || '(root)'}: ${msg}`);
  }

  message(type: protobuf.Type, obj: unknown, path: string): void {
    if (!isPlainObject(obj)) {
      this.err(path, `expected an object for ${type.name}, got ${describe(obj)}`);
      return;
    }
    if (!this.reuse) return this.messageFields(type, obj, path);
    if (checkedOk.get(obj) === type) return;
    const before = this.found;
    this.messageFields(type, obj, path);
    if (this.found === before) checkedOk.set(obj, type);
  }

  private messageFields(type: protobuf.Type, obj: Record<string, unknown>, path: string): void {
    const full = type.fullName.slice(1);
    if (full === 'google.protobuf.Any') return this.any(obj, path);
    if (full === 'google.protobuf.Struct') return this.struct(obj, path);
    if (full === 'google.protobuf.Value') return this.structValue(obj, path);
    if (full === 'google.protobuf.ListValue') {
      if (!Array.isArray(obj.values)) this.err(path, 'ListValue needs values[]');
      else obj.values.forEach((v, i) => this.structValue(v, `${path}.values[${i}]`));
      return;
    }
    const plan = planOf(type);
    const setOneofs = new Map<string, string[]>();
    for (const key of Object.keys(obj)) {
      const field = type.fields[key];
      if (!field) {
        this.err(join2(path, key), `unknown field of ${full}${suggest(type, key)}`);
        continue;
      }
      const v = obj[key];
      if (v === undefined || v === null) continue;
      if (field.partOf) {
        const l = setOneofs.get(field.partOf.name);
        if (l) l.push(key);
        else setOneofs.set(field.partOf.name, [key]);
      }
      this.present(field, v, join2(path, key));
    }
    for (const [name, set] of setOneofs) if (set.length > 1) this.err(path, `oneof ${name} has more than one field set: ${set.join(', ')}`);
    for (const oneof of plan.requiredOneofs) if (!setOneofs.has(oneof.name)) this.err(join2(path, oneof.name), `one of ${oneof.oneof.join(', ')} is required`);
    // Rules that also apply when a field is absent (proto3 scalars are checked at their default, PGV-style).
    for (const field of plan.absentChecks) {
      const v = obj[field.name];
      if (v !== undefined && v !== null) continue;
      const rules = cachedRules(field)!;
      const fpath = join2(path, field.name);
      if (field.repeated || field.map) {
        const rep = rules.repeated as Rules | undefined;
        if (rep && typeof rep.min_items === 'number' && rep.min_items > 0 && !rep.ignore_empty) this.err(fpath, `needs at least ${rep.min_items} item(s)`);
      } else if (field.resolvedType instanceof protobuf.Type) this.err(fpath, 'is required');
      else this.value(field, defaultOf(field), fpath, rules, true);
    }
  }

  private present(field: protobuf.Field, v: unknown, fpath: string): void {
    const rules = cachedRules(field);
    if (field.map) {
      if (!isPlainObject(v)) {
        this.err(fpath, `expected a map object, got ${describe(v)}`);
        return;
      }
      const m = rules?.map as Rules | undefined;
      const n = Object.keys(v).length;
      if (m && typeof m.min_pairs === 'number' && n < m.min_pairs) this.err(fpath, `needs at least ${m.min_pairs} entries`);
      if (m && typeof m.max_pairs === 'number' && n > m.max_pairs) this.err(fpath, `allows at most ${m.max_pairs} entries`);
      for (const [k, item] of Object.entries(v)) {
        if (m?.keys && isPlainObject(m.keys)) this.scalarRules('string', k, m.keys, `${fpath}[${JSON.stringify(k)}]`);
        this.value(field, item, `${fpath}[${JSON.stringify(k)}]`, m?.values as Rules | undefined);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(v)) {
        this.err(fpath, `expected a list, got ${describe(v)}`);
        return;
      }
      const rep = rules?.repeated as Rules | undefined;
      if (rep) {
        if (typeof rep.min_items === 'number' && v.length < rep.min_items && !(rep.ignore_empty && v.length === 0)) this.err(fpath, `needs at least ${rep.min_items} item(s), has ${v.length}`);
        if (typeof rep.max_items === 'number' && v.length > rep.max_items) this.err(fpath, `allows at most ${rep.max_items} item(s), has ${v.length}`);
        if (rep.unique) {
          const seen = new Set(v.map((x) => JSON.stringify(x)));
          if (seen.size !== v.length) this.err(fpath, 'items must be unique');
        }
      }
      v.forEach((item, i) => this.value(field, item, `${fpath}[${i}]`, rep?.items as Rules | undefined));
      return;
    }
    this.value(field, v, fpath, rules);
  }

  private value(field: protobuf.Field, v: unknown, path: string, rules: Rules | undefined, isDefault = false): void {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) {
      this.message(rt, v, path);
      if (!rules || !isPlainObject(v)) return;
      const full = rt.fullName.slice(1);
      if (WRAPPERS.has(full)) {
        const kind = Object.keys(rules).find((k) => k !== 'message');
        // A wrapper without `value` holds the default (0, "", false): PGV checks GetValue(), so {} on a {gte: 1} weight is an error.
        if (kind) this.scalarRules(kind, v.value ?? WRAPPER_DEFAULT[full], rules[kind] as Rules, path);
      } else if (full === 'google.protobuf.Duration' && rules.duration) {
        this.durationRules(v, rules.duration as Rules, path);
      } else if (full === 'google.protobuf.Any' && rules.any) {
        const r = rules.any as Rules;
        const url = typeof v['@type'] === 'string' ? v['@type'] : v.type_url;
        if (Array.isArray(r.in) && !r.in.includes(url)) this.err(path, `type ${String(url)} not allowed here (allowed: ${r.in.join(', ')})`);
      }
      return;
    }
    if (rt instanceof protobuf.Enum) {
      let num: number | undefined;
      if (typeof v === 'string') {
        num = rt.values[v];
        if (num === undefined) {
          this.err(path, `unknown ${rt.name} value ${JSON.stringify(v)} (known: ${Object.keys(rt.values).join(', ')})`);
          return;
        }
      } else if (typeof v === 'number' && Number.isInteger(v)) num = v;
      else {
        this.err(path, `expected an enum name of ${rt.name}, got ${describe(v)}`);
        return;
      }
      const er = rules?.enum as Rules | undefined;
      if (er) {
        if (er.defined_only && !Object.values(rt.values).includes(num)) this.err(path, `${num} is not a defined ${rt.name} value`);
        if (Array.isArray(er.in) && !er.in.includes(num)) this.err(path, `must be one of ${er.in.join(', ')}`);
        if (Array.isArray(er.not_in) && er.not_in.includes(num)) this.err(path, `must not be ${num}`);
        if (typeof er.const === 'number' && er.const !== num) this.err(path, `must be ${er.const}`);
      }
      return;
    }
    if (!isDefault && !this.scalarType(field.type, v, path)) return;
    if (rules) {
      const kind = Object.keys(rules)[0];
      if (kind) this.scalarRules(kind, v, rules[kind] as Rules, path);
    }
  }

  private scalarType(type: string, v: unknown, path: string): boolean {
    const bad = (what: string) => {
      this.err(path, `expected ${what}, got ${describe(v)}`);
      return false;
    };
    switch (type) {
      case 'string':
        return typeof v === 'string' || bad('a string');
      case 'bool':
        return typeof v === 'boolean' || bad('a boolean');
      case 'bytes':
        return v instanceof Uint8Array || typeof v === 'string' || bad('bytes (Uint8Array or base64 string)');
      case 'double':
      case 'float':
        return (typeof v === 'number' && !Number.isNaN(v)) || bad('a number');
      default: {
        if (INT64.has(type)) {
          const ok = (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) || typeof v === 'bigint';
          if (!ok) return bad(`an integer (${type})`);
          if (type.startsWith('u') || type === 'fixed64') {
            if (Number(v) < 0) return bad(`a non-negative integer (${type})`);
          }
          return true;
        }
        const range = INT_RANGES[type];
        if (range) {
          if (typeof v !== 'number' || !Number.isInteger(v)) return bad(`an integer (${type})`);
          if (v < range[0] || v > range[1]) return bad(`an integer within ${type} range`);
          return true;
        }
        return true;
      }
    }
  }

  private scalarRules(kind: string, v: unknown, r: Rules, path: string): void {
    if (!r || typeof r !== 'object') return;
    if (kind === 'string') return this.stringRules(typeof v === 'string' ? v : String(v), r, path);
    if (kind === 'bytes') {
      const len = v instanceof Uint8Array ? v.length : typeof v === 'string' ? Buffer.from(v, 'base64').length : 0;
      if (typeof r.min_len === 'number' && len < r.min_len) this.err(path, `needs at least ${r.min_len} bytes`);
      if (typeof r.max_len === 'number' && len > r.max_len) this.err(path, `allows at most ${r.max_len} bytes`);
      return;
    }
    if (kind === 'bool') {
      if (typeof r.const === 'boolean' && v !== r.const) this.err(path, `must be ${r.const}`);
      return;
    }
    if (['uint32', 'int32', 'uint64', 'int64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'double', 'float'].includes(kind)) {
      const n = Number(v);
      if (r.ignore_empty && n === 0) return;
      const num = (x: unknown) => Number(x);
      if (r.const !== undefined && n !== num(r.const)) this.err(path, `must equal ${num(r.const)}, is ${n}`);
      const gt = r.gt !== undefined ? num(r.gt) : undefined;
      const gte = r.gte !== undefined ? num(r.gte) : undefined;
      const lt = r.lt !== undefined ? num(r.lt) : undefined;
      const lte = r.lte !== undefined ? num(r.lte) : undefined;
      const lowOk = gt !== undefined ? n > gt : gte !== undefined ? n >= gte : true;
      const highOk = lt !== undefined ? n < lt : lte !== undefined ? n <= lte : true;
      const lowDesc = gt !== undefined ? `> ${gt}` : gte !== undefined ? `>= ${gte}` : '';
      const highDesc = lt !== undefined ? `< ${lt}` : lte !== undefined ? `<= ${lte}` : '';
      const low = gt ?? gte;
      const high = lt ?? lte;
      if (low !== undefined && high !== undefined && high < low) {
        // PGV exclusive range: value must lie outside [high, low].
        if (!(lowOk || highOk)) this.err(path, `must be ${lowDesc} or ${highDesc}, is ${n}`);
      } else if (!lowOk || !highOk) {
        this.err(path, `must be ${[lowDesc, highDesc].filter(Boolean).join(' and ')}, is ${n}`);
      }
      if (Array.isArray(r.in) && !r.in.map(num).includes(n)) this.err(path, `must be one of ${r.in.join(', ')}`);
      if (Array.isArray(r.not_in) && r.not_in.map(num).includes(n)) this.err(path, `must not be ${n}`);
    }
  }

  private stringRules(s: string, r: Rules, path: string): void {
    if (r.ignore_empty && s === '') return;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s);
    if (typeof r.const === 'string' && s !== r.const) this.err(path, `must be ${JSON.stringify(r.const)}`);
    if (typeof r.len === 'number' && chars !== r.len) this.err(path, `must be ${r.len} characters`);
    if (typeof r.min_len === 'number' && chars < r.min_len) this.err(path, r.min_len === 1 ? 'must not be empty' : `needs at least ${r.min_len} characters`);
    if (typeof r.max_len === 'number' && chars > r.max_len) this.err(path, `allows at most ${r.max_len} characters`);
    if (typeof r.min_bytes === 'number' && bytes < r.min_bytes) this.err(path, `needs at least ${r.min_bytes} bytes`);
    if (typeof r.max_bytes === 'number' && bytes > r.max_bytes) this.err(path, `allows at most ${r.max_bytes} bytes`);
    if (typeof r.prefix === 'string' && !s.startsWith(r.prefix)) this.err(path, `must start with ${JSON.stringify(r.prefix)}`);
    if (typeof r.suffix === 'string' && !s.endsWith(r.suffix)) this.err(path, `must end with ${JSON.stringify(r.suffix)}`);
    if (typeof r.contains === 'string' && !s.includes(r.contains)) this.err(path, `must contain ${JSON.stringify(r.contains)}`);
    if (typeof r.not_contains === 'string' && s.includes(r.not_contains)) this.err(path, `must not contain ${JSON.stringify(r.not_contains)}`);
    if (Array.isArray(r.in) && !r.in.includes(s)) this.err(path, `must be one of ${r.in.join(', ')}`);
    if (Array.isArray(r.not_in) && r.not_in.includes(s)) this.err(path, `must not be ${JSON.stringify(s)}`);
    if (typeof r.pattern === 'string') {
      let re = patternCache.get(r.pattern);
      if (re === undefined) {
        try {
          re = new RegExp(r.pattern.replace(/\\z/g, '$'), 'u');
        } catch {
          re = null;
        }
        patternCache.set(r.pattern, re);
      }
      if (re && !re.test(s)) this.err(path, `must match ${r.pattern}`);
    }
    const wk = r.well_known_regex;
    if (wk === 'HTTP_HEADER_NAME' || wk === 'HTTP_HEADER_VALUE') {
      const strict = r.strict !== false;
      const re = !strict ? HEADER_LOOSE : wk === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
      if (!re.test(s)) this.err(path, `${JSON.stringify(s)} is not a valid ${wk === 'HTTP_HEADER_NAME' ? 'HTTP header name' : 'HTTP header value'}`);
    }
    if (r.address === true || r.ip === true) {
      if (!/^[0-9.]+$|:/.test(s)) this.err(path, `must be an IP address`);
    }
  }

  private durationRules(v: Record<string, unknown>, r: Rules, path: string): void {
    const ns = (d: unknown): number => {
      if (!isPlainObject(d)) return 0;
      return Number(d.seconds ?? 0) * 1e9 + Number(d.nanos ?? 0);
    };
    const n = ns(v);
    const show = (x: number) => `${x / 1e9}s`;
    if (r.const !== undefined && n !== ns(r.const)) this.err(path, `must be ${show(ns(r.const))}`);
    if (r.gt !== undefined && !(n > ns(r.gt))) this.err(path, `must be > ${show(ns(r.gt))}, is ${show(n)}`);
    if (r.gte !== undefined && !(n >= ns(r.gte))) this.err(path, `must be >= ${show(ns(r.gte))}, is ${show(n)}`);
    if (r.lt !== undefined && !(n < ns(r.lt))) this.err(path, `must be < ${show(ns(r.lt))}, is ${show(n)}`);
    if (r.lte !== undefined && !(n <= ns(r.lte))) this.err(path, `must be <= ${show(ns(r.lte))}, is ${show(n)}`);
    const nanos = Number(v.nanos ?? 0);
    if (nanos < -999999999 || nanos > 999999999) this.err(join2(path, 'nanos'), 'must be within ±999,999,999');
  }

  private any(obj: Record<string, unknown>, path: string): void {
    const t = obj['@type'];
    if (t === undefined && 'type_url' in obj) {
      if (typeof obj.type_url !== 'string' || !(obj.value instanceof Uint8Array)) this.err(path, 'Any in raw form needs type_url (string) and value (bytes)');
      for (const k of Object.keys(obj)) if (k !== 'type_url' && k !== 'value') this.err(join2(path, k), 'unknown field of google.protobuf.Any');
      return;
    }
    if (typeof t !== 'string' || !t) {
      this.err(path, "Any needs '@type' (e.g. type.googleapis.com/envoy.config.route.v3.RouteConfiguration)");
      return;
    }
    if (!t.startsWith(TYPE_PREFIX)) this.err(join2(path, '@type'), `type URL must start with ${TYPE_PREFIX}`);
    let inner: protobuf.Type;
    try {
      inner = messageType(t);
    } catch {
      this.err(join2(path, '@type'), `unknown message type ${typeNameOf(t)} (not in meshcd's loaded Envoy protos)`);
      return;
    }
    const innerName = inner.fullName.slice(1);
    if (WRAPPERS.has(innerName) || innerName === 'google.protobuf.Duration' || innerName === 'google.protobuf.Struct') {
      this.message(inner, stripType(obj), path);
      return;
    }
    this.message(inner, stripType(obj), `${path}<${inner.name}>`);
  }

  private struct(obj: Record<string, unknown>, path: string): void {
    for (const k of Object.keys(obj)) if (k !== 'fields') this.err(join2(path, k), 'unknown field of google.protobuf.Struct (use {fields: {k: {string_value}}})');
    if (obj.fields === undefined) return;
    if (!isPlainObject(obj.fields)) {
      this.err(join2(path, 'fields'), 'expected a map object');
      return;
    }
    for (const [k, v] of Object.entries(obj.fields)) this.structValue(v, `${path}.fields[${JSON.stringify(k)}]`);
  }

  private structValue(v: unknown, path: string): void {
    if (!isPlainObject(v)) {
      this.err(path, `expected a google.protobuf.Value object ({string_value: …}), got ${describe(v)}`);
      return;
    }
    const keys = Object.keys(v);
    const allowed = ['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value'];
    for (const k of keys) if (!allowed.includes(k)) this.err(join2(path, k), 'unknown field of google.protobuf.Value');
    if (keys.length !== 1) this.err(path, 'google.protobuf.Value needs exactly one of ' + allowed.join(', '));
    if (isPlainObject(v.struct_value)) this.struct(v.struct_value, join2(path, 'struct_value'));
    if (isPlainObject(v.list_value)) {
      const vals = v.list_value.values;
      if (Array.isArray(vals)) vals.forEach((x, i) => this.structValue(x, `${path}.list_value.values[${i}]`));
    }
  }
}

function join2(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function suggest(type: protobuf.Type, key: string): string {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (snake !== key && type.fields[snake]) return ` (did you mean ${snake}? field names are the .proto's snake_case)`;
  return '';
}

/**
 * Errors (with field paths) that would make Envoy or a gRPC xDS client reject
 * this resource: unknown fields (recursively, also inside Any by its @type),
 * wrong value types, and protoc-gen-validate rules. Empty when the resource is fine.
 * `value` may carry `@type`; it must then equal `typeUrl`.
 */
/**
 * Envoy's validation rules for a resource; the errors (at most 200), empty
 * when it passes. `reuse`: the caller never changes an object once checked
 * (translation's output), so objects that passed before are not walked again.
 */
export function checkResource(typeUrl: string, value: object, opts: { reuse?: boolean } = {}): string[] {
  let type: protobuf.Type;
  try {
    type = messageType(typeUrl);
  } catch {
    return [`unknown resource type ${typeUrl}`];
  }
  const c = new Checker(opts.reuse);
  const v = value as Record<string, unknown>;
  if (isPlainObject(v) && v['@type'] !== undefined && typeNameOf(String(v['@type'])) !== typeNameOf(typeUrl)) {
    c.errors.push(`@type: is ${String(v['@type'])}, expected ${typeUrl}`);
  }
  c.message(type, isPlainObject(v) ? stripType(v) : v, '');
  return c.errors;
}
