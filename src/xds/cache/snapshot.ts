// One proxy class's resources, encoded once with Envoy's protos (strict
// checks on), versioned by the hash of their bytes, and checked for internal
// consistency before anyone may publish them: a listener's RDS name must
// exist, a route's clusters must exist, an EDS cluster must have endpoints.
// Imports: src/api, src/xds/proto.

import { createHash } from 'node:crypto';
import type { ProxyResources, Snapshot, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import { ownerOf } from '../../util/identity.js';
import { checkResource, contentVersion, encodeUnchecked } from '../proto.js';

export interface EncodedResource {
  name: string;
  /** sha256 of the encoded bytes, 16 hex chars. */
  version: string;
  /** The message bytes (the Any's value). */
  bytes: Buffer;
  /** The plain object, for config dumps. */
  value: Record<string, unknown>;
}

/** A Snapshot plus the encoded bytes; what the server sends from. */
export interface EncodedSnapshot extends Snapshot {
  encoded: ReadonlyMap<TypeUrl, ReadonlyMap<string, EncodedResource>>;
  /**
   * Set when the snapshot is a part shared by many proxies (their scope's
   * outbound config) plus a small part of its own (composeSnapshot): the
   * server prepares responses from `shared` once for all of them.
   */
  parts?: { shared: EncodedSnapshot; own: EncodedSnapshot };
}

export const ALL_TYPES: readonly TypeUrl[] = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret];

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const AGGREGATE = 'envoy.extensions.clusters.aggregate.v3.ClusterConfig';

/** Encodes resources once per (type, name, translator version); reused across proxy classes and revisions. */
export class EncodeCache {
  private entries = new Map<string, EncodedResource>();
  private used = new Set<string>();
  hits = 0;
  misses = 0;

  /** The same XdsResource object (translation reuses them across revisions) skips building the key. */
  private byObject = new WeakMap<XdsResource, { key: string; encoded: EncodedResource }>();

  /** Returns the encoded resource, or the strict-check errors. */
  encode(typeUrl: TypeUrl, r: XdsResource): EncodedResource | string[] {
    const known = this.byObject.get(r);
    if (known && this.entries.get(known.key) === known.encoded) {
      this.used.add(known.key);
      this.hits++;
      return known.encoded;
    }
    const key = `${typeUrl}\0${r.name}\0${r.version}`;
    this.used.add(key);
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      this.byObject.set(r, { key, encoded: hit });
      return hit;
    }
    this.misses++;
    // Translation never changes an object it made once checked: what passed inside another resource is not walked again.
    const errors = checkResource(typeUrl, r.value, { reuse: true });
    if (errors.length) return errors;
    const bytes = encodeUnchecked(typeUrl, r.value);
    const e: EncodedResource = { name: r.name, version: contentVersion(bytes), bytes, value: r.value };
    this.entries.set(key, e);
    this.byObject.set(r, { key, encoded: e });
    return e;
  }

  /** The cache key `r` was last encoded under (after `encode`). */
  keyOf(r: XdsResource): string | undefined {
    return this.byObject.get(r)?.key;
  }

  /** These entries were used again without being asked for one by one (a type built before: buildSnapshot). */
  markUsed(keys: readonly string[]): void {
    for (const k of keys) this.used.add(k);
  }

  /** Drop entries not used since the last sweep. */
  sweep(): void {
    for (const k of this.entries.keys()) if (!this.used.has(k)) this.entries.delete(k);
    this.used = new Set();
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface SnapshotResult {
  snapshot?: EncodedSnapshot;
  /** Strict-check and consistency errors; when non-empty there is no snapshot. */
  errors: string[];
  warnings: string[];
}

function encodeType(typeUrl: TypeUrl, byName: ReadonlyMap<string, XdsResource>, cache: EncodeCache, errors: string[]): Map<string, EncodedResource> {
  const out = new Map<string, EncodedResource>();
  for (const [name, r] of byName) {
    if (r.name !== name) errors.push(`${shortType(typeUrl)} ${name}: indexed under a different name than its own (${r.name})`);
    const e = cache.encode(typeUrl, r);
    if (Array.isArray(e)) {
      for (const m of e.slice(0, 10)) errors.push(`${shortType(typeUrl)} ${name}: ${m}`);
      continue;
    }
    const own = (r.value as { name?: unknown; cluster_name?: unknown }).name ?? (r.value as { cluster_name?: unknown }).cluster_name;
    if (typeof own === 'string' && own !== name) errors.push(`${shortType(typeUrl)} ${name}: resource's own name is ${own}`);
    out.set(name, e);
  }
  return out;
}

function encodeAll(resources: ProxyResources, cache: EncodeCache, errors: string[]): Map<TypeUrl, Map<string, EncodedResource>> {
  const encoded = new Map<TypeUrl, Map<string, EncodedResource>>();
  for (const [typeUrl, byName] of resources) encoded.set(typeUrl, encodeType(typeUrl, byName, cache, errors));
  return encoded;
}

/** Digest of one type's names and versions, in name order. */
function typeDigest(m: ReadonlyMap<string, { version: string }>): string {
  const h = createHash('sha256');
  for (const name of [...m.keys()].sort()) h.update(name).update('\0').update(m.get(name)!.version).update('\n');
  return h.digest('hex');
}

/** One type of a snapshot, built from one map of resources. */
interface TypeBuild {
  encoded: Map<string, EncodedResource>;
  versioned: Map<string, XdsResource>;
  digest: string;
  /** EncodeCache keys of its resources (marked used when the build is reused). */
  keys: string[];
}

/**
 * Types built before, by the map they were built from: translation hands
 * the same map to every scope whose resources of that type are the same
 * objects (every namespace's clusters at default visibility) and again in
 * the next revision while they stay so, and it never changes a map it
 * handed out. Only builds without errors are kept.
 */
const typeBuilds = new WeakMap<ReadonlyMap<string, XdsResource>, TypeBuild>();

function buildType(typeUrl: TypeUrl, byName: ReadonlyMap<string, XdsResource>, cache: EncodeCache, errors: string[]): TypeBuild {
  const known = typeBuilds.get(byName);
  if (known) {
    cache.markUsed(known.keys);
    return known;
  }
  const before = errors.length;
  const encoded = encodeType(typeUrl, byName, cache, errors);
  const versioned = new Map([...encoded].map(([n, e]) => [n, { name: n, value: e.value, version: e.version }]));
  const keys: string[] = [];
  for (const r of byName.values()) {
    const k = cache.keyOf(r);
    if (k !== undefined) keys.push(k);
  }
  const b: TypeBuild = { encoded, versioned, digest: typeDigest(encoded), keys };
  if (errors.length === before) typeBuilds.set(byName, b);
  return b;
}

/** Consistency of a set of type maps, by their identities (the same maps were checked together before). */
const consistencyOf = new WeakMap<object, { errors: string[]; warnings: string[] }>();

export function buildSnapshot(resources: ProxyResources, cache: EncodeCache = new EncodeCache()): SnapshotResult {
  const errors: string[] = [];
  const builds = new Map<TypeUrl, TypeBuild>();
  for (const [t, byName] of resources) builds.set(t, buildType(t, byName, cache, errors));
  // Translation's parts hold every type: the same maps as before were checked together before.
  const complete = resources.size === ALL_TYPES.length && ALL_TYPES.every((t) => resources.has(t));
  const owner = complete ? ownerOf(resources.get(ALL_TYPES[0]!)!, ...ALL_TYPES.slice(1).map((t) => resources.get(t)!)) : undefined;
  let consistency = owner && consistencyOf.get(owner);
  if (!consistency) {
    consistency = checkConsistency(resources);
    if (owner) consistencyOf.set(owner, consistency);
  }
  errors.push(...consistency.errors);
  const warnings = [...consistency.warnings];
  if (errors.length) return { errors, warnings };
  const h = createHash('sha256');
  for (const t of ALL_TYPES) {
    const b = builds.get(t);
    if (!b) continue;
    h.update(t).update('\n').update(b.digest).update('\n');
  }
  const encoded = new Map<TypeUrl, Map<string, EncodedResource>>();
  const versioned = new Map<TypeUrl, Map<string, XdsResource>>();
  for (const [t, b] of builds) {
    encoded.set(t, b.encoded);
    versioned.set(t, b.versioned);
  }
  return { snapshot: { version: h.digest('hex').slice(0, 16), resources: versioned, encoded }, errors: [], warnings };
}

/**
 * A snapshot made of a part shared by many proxies (already built and
 * checked: their scope's outbound config) and `own` resources (a workload's
 * inbound listeners and clusters, secrets). Only `own` is encoded and
 * checked here — its references may point into `shared`, its listeners may
 * not bind an address a shared one binds, no name may be in both — so the
 * cost is that of the small part, not of the whole config.
 */
export function composeSnapshot(shared: EncodedSnapshot, own: ProxyResources, cache: EncodeCache = new EncodeCache()): SnapshotResult {
  const errors: string[] = [];
  const encoded = encodeAll(own, cache, errors);
  for (const [t, m] of own) {
    const other = shared.resources.get(t);
    if (other) for (const n of m.keys()) if (other.has(n)) errors.push(`${shortType(t)} ${n}: in both the shared and the proxy's own part`);
  }
  const { errors: consistency, warnings } = checkConsistency(own, shared.resources);
  errors.push(...consistency);
  if (errors.length) return { errors, warnings };
  const ownVersioned = new Map<TypeUrl, Map<string, XdsResource>>();
  for (const [t, m] of encoded) ownVersioned.set(t, new Map([...m].map(([n, e]) => [n, { name: n, value: e.value, version: e.version }])));
  const h = createHash('sha256');
  for (const t of ALL_TYPES) {
    const m = encoded.get(t);
    if (!m) continue;
    h.update(t).update('\n');
    for (const name of [...m.keys()].sort()) h.update(name).update('\0').update(m.get(name)!.version).update('\n');
  }
  const ownSnap: EncodedSnapshot = { version: h.digest('hex').slice(0, 16), resources: ownVersioned, encoded };
  const version = createHash('sha256').update(shared.version).update('+').update(ownSnap.version).digest('hex').slice(0, 16);
  const types = new Set<TypeUrl>([...shared.encoded.keys(), ...encoded.keys()]);
  const joined = <V>(a: ReadonlyMap<TypeUrl, ReadonlyMap<string, V>>, b: ReadonlyMap<TypeUrl, ReadonlyMap<string, V>>) =>
    new Map([...types].map((t) => [t, joinMaps(a.get(t), b.get(t))] as const));
  return { snapshot: { version, resources: joined(shared.resources, ownVersioned), encoded: joined(shared.encoded, encoded), parts: { shared, own: ownSnap } }, errors: [], warnings };
}

const EMPTY: ReadonlyMap<string, never> = new Map<string, never>();

/** Two maps with disjoint keys read as one (no copy): the shared part's thousands of entries are not repeated per proxy. */
function joinMaps<V>(a: ReadonlyMap<string, V> | undefined, b: ReadonlyMap<string, V> | undefined): ReadonlyMap<string, V> {
  if (!b || b.size === 0) return a ?? EMPTY;
  if (!a || a.size === 0) return b;
  return new JoinedMap(a, b);
}

class JoinedMap<V> implements ReadonlyMap<string, V> {
  constructor(private readonly a: ReadonlyMap<string, V>, private readonly b: ReadonlyMap<string, V>) {}
  get size(): number {
    return this.a.size + this.b.size;
  }
  get(k: string): V | undefined {
    return this.b.get(k) ?? this.a.get(k);
  }
  has(k: string): boolean {
    return this.b.has(k) || this.a.has(k);
  }
  *entries(): MapIterator<[string, V]> {
    yield* this.a.entries();
    yield* this.b.entries();
  }
  *keys(): MapIterator<string> {
    yield* this.a.keys();
    yield* this.b.keys();
  }
  *values(): MapIterator<V> {
    yield* this.a.values();
    yield* this.b.values();
  }
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

export function shortType(t: string): string {
  return t.slice(t.lastIndexOf('.') + 1);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (o: Obj): string => (typeof o['@type'] === 'string' ? (o['@type'] as string).slice((o['@type'] as string).lastIndexOf('/') + 1) : '');

/** Every cluster a route configuration sends traffic to. */
export function clustersOfRouteConfig(rc: Obj): string[] {
  const out: string[] = [];
  const vhs = Array.isArray(rc.virtual_hosts) ? rc.virtual_hosts : [];
  for (const vh of vhs) {
    if (!isObj(vh) || !Array.isArray(vh.routes)) continue;
    for (const route of vh.routes) {
      if (!isObj(route) || !isObj(route.route)) continue;
      const a = route.route;
      if (typeof a.cluster === 'string') out.push(a.cluster);
      if (isObj(a.weighted_clusters) && Array.isArray(a.weighted_clusters.clusters)) {
        for (const c of a.weighted_clusters.clusters) if (isObj(c) && typeof c.name === 'string') out.push(c.name);
      }
      if (Array.isArray(a.request_mirror_policies)) for (const m of a.request_mirror_policies) if (isObj(m) && typeof m.cluster === 'string') out.push(m.cluster);
    }
  }
  return out;
}

interface ListenerRefs {
  routes: string[];
  clusters: string[];
}

function listenerRefs(v: unknown, refs: ListenerRefs = { routes: [], clusters: [] }): ListenerRefs {
  if (Array.isArray(v)) {
    for (const x of v) listenerRefs(x, refs);
    return refs;
  }
  if (!isObj(v)) return refs;
  const tn = typeName(v);
  if (tn === HCM) {
    if (isObj(v.rds) && typeof v.rds.route_config_name === 'string') refs.routes.push(v.rds.route_config_name);
    if (isObj(v.route_config)) refs.clusters.push(...clustersOfRouteConfig(v.route_config));
  } else if (tn === TCP_PROXY) {
    if (typeof v.cluster === 'string') refs.clusters.push(v.cluster);
    if (isObj(v.weighted_clusters) && Array.isArray(v.weighted_clusters.clusters)) {
      for (const c of v.weighted_clusters.clusters) if (isObj(c) && typeof c.name === 'string') refs.clusters.push(c.name);
    }
  }
  for (const [k, x] of Object.entries(v)) if (k !== '@type' && typeof x === 'object') listenerRefs(x, refs);
  return refs;
}

/**
 * Dangling references are errors; endpoints no cluster uses are warnings.
 * With `context` (a shared part already checked), references may also
 * point into it, and only `resources` is walked.
 */
export function checkConsistency(resources: ProxyResources, context?: ProxyResources): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const names = (t: TypeUrl) => resources.get(t) ?? new Map<string, XdsResource>();
  const known = (t: TypeUrl) => {
    const own = names(t);
    const ctx = context?.get(t);
    return ctx ? { has: (n: string) => own.has(n) || ctx.has(n) } : own;
  };
  const listeners = names(TYPE_URL.listener);
  const routes = known(TYPE_URL.route);
  const clusters = names(TYPE_URL.cluster);
  const allClusters = known(TYPE_URL.cluster);
  const endpoints = known(TYPE_URL.endpoint);
  for (const [ln, l] of listeners) {
    const refs = listenerRefs(l.value);
    for (const r of new Set(refs.routes)) if (!routes.has(r)) errors.push(`Listener ${ln}: route configuration ${r} (RDS) is not in the snapshot`);
    for (const c of new Set(refs.clusters)) if (!allClusters.has(c)) errors.push(`Listener ${ln}: cluster ${c} is not in the snapshot`);
  }
  for (const [rn, r] of names(TYPE_URL.route)) {
    for (const c of new Set(clustersOfRouteConfig(r.value))) if (!allClusters.has(c)) errors.push(`RouteConfiguration ${rn}: cluster ${c} is not in the snapshot`);
  }
  const edsNames = new Set<string>();
  for (const [cn, c] of clusters) {
    const v = c.value;
    const type = v.type ?? (isObj(v.cluster_type) ? undefined : 'STATIC');
    if (type === 'EDS') {
      const svc = isObj(v.eds_cluster_config) && typeof v.eds_cluster_config.service_name === 'string' && v.eds_cluster_config.service_name ? v.eds_cluster_config.service_name : cn;
      edsNames.add(svc);
      if (!endpoints.has(svc)) errors.push(`Cluster ${cn}: EDS ClusterLoadAssignment ${svc} is not in the snapshot`);
    }
    if (isObj(v.cluster_type) && isObj(v.cluster_type.typed_config) && typeName(v.cluster_type.typed_config) === AGGREGATE) {
      const list = v.cluster_type.typed_config.clusters;
      if (Array.isArray(list)) for (const x of list) if (typeof x === 'string' && !allClusters.has(x)) errors.push(`Cluster ${cn}: aggregate member ${x} is not in the snapshot`);
    }
  }
  if (!context) for (const en of names(TYPE_URL.endpoint).keys()) if (!edsNames.has(en)) warnings.push(`ClusterLoadAssignment ${en}: no EDS cluster uses it`);
  errors.push(...envoyRefusals(resources, context));
  return { errors, warnings };
}

/**
 * What Envoy refuses across resources, which no single-resource check sees:
 * two listeners bound to one address, two filter chains of a listener with
 * the same match, a route configuration repeating a virtual host name or a
 * domain. (Proxyless server listeners, `xds.istio.io/grpc/lds/inbound/…`, are
 * alternatives a server picks from, not all bound, so they may share one.)
 */
export function envoyRefusals(resources: ProxyResources, context?: ProxyResources): string[] {
  const errors: string[] = [];
  const listeners = resources.get(TYPE_URL.listener) ?? new Map<string, XdsResource>();
  const bound = new Map<string, string>();
  // The shared part's listeners were checked among themselves; only what binds an address matters here.
  for (const l of context?.get(TYPE_URL.listener)?.values() ?? []) {
    const sa = isObj(l.value.address) && isObj(l.value.address.socket_address) ? l.value.address.socket_address : undefined;
    if (sa && !l.name.startsWith('xds.istio.io/')) bound.set(`${String(sa.address)}:${String(sa.port_value)}`, l.name);
  }
  for (const l of listeners.values()) {
    const sa = isObj(l.value.address) && isObj(l.value.address.socket_address) ? l.value.address.socket_address : undefined;
    if (!sa || l.name.startsWith('xds.istio.io/')) continue;
    const k = `${String(sa.address)}:${String(sa.port_value)}`;
    const other = bound.get(k);
    if (other !== undefined) errors.push(`Listeners ${other} and ${l.name} both bind ${k}`);
    bound.set(k, l.name);
  }
  const routeConfigs: Record<string, unknown>[] = [...(resources.get(TYPE_URL.route)?.values() ?? [])].map((r) => r.value);
  for (const l of listeners.values()) {
    const seen = new Set<string>();
    for (const c of Array.isArray(l.value.filter_chains) ? l.value.filter_chains : []) {
      const k = JSON.stringify(isObj(c) ? c.filter_chain_match ?? {} : {});
      if (seen.has(k)) errors.push(`Listener ${l.name}: two filter chains match ${k}`);
      seen.add(k);
    }
    inlineRouteConfigs(l.value, routeConfigs);
  }
  for (const rc of routeConfigs) {
    const domains = new Set<string>();
    const names = new Set<string>();
    for (const vh of Array.isArray(rc.virtual_hosts) ? rc.virtual_hosts : []) {
      if (!isObj(vh)) continue;
      if (names.has(String(vh.name))) errors.push(`RouteConfiguration ${String(rc.name)}: virtual host ${String(vh.name)} repeated`);
      names.add(String(vh.name));
      for (const d of Array.isArray(vh.domains) ? vh.domains : []) {
        const key = String(d).toLowerCase();
        if (domains.has(key)) errors.push(`RouteConfiguration ${String(rc.name)}: domain ${String(d)} repeated`);
        domains.add(key);
      }
    }
  }
  return errors;
}

/** Route configurations written inline in a listener (HTTP connection managers without RDS). */
function inlineRouteConfigs(v: unknown, out: Record<string, unknown>[]): void {
  if (Array.isArray(v)) for (const x of v) inlineRouteConfigs(x, out);
  else if (isObj(v)) {
    if (isObj(v.route_config)) out.push(v.route_config);
    for (const x of Object.values(v)) inlineRouteConfigs(x, out);
  }
}
