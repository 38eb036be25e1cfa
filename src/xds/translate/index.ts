// xds/translate: MeshModel + one proxy → that proxy's Envoy resources. Pure
// (no clock, no I/O). One file per concern: view (what the proxy sees),
// listeners-{grpc,sidecar,gateway}, routes, clusters, endpoints, rbac, tls.
// May import src/api, src/mesh and src/config/load.ts (canonicalJson);
// never the xDS server or cache.

import { createHash } from 'node:crypto';
import type { Diagnostic, ProxyInfo, ProxyResources, TypeUrl, XdsResource } from '../../api/types.js';
import { TYPE_URL } from '../../api/types.js';
import type { MeshModel } from '../../mesh/model.js';
import { cmp, labelsKey } from '../../mesh/names.js';
import { envoyFixedClusters, outboundClusters } from './clusters.js';
import { gatewayResources } from './listeners-gateway.js';
import { grpcClientResources, grpcServerListeners } from './listeners-grpc.js';
import { sidecarInbound, sidecarOutbound } from './listeners-sidecar.js';
import { ProxyView } from './view.js';
import { FragmentMemo, idOf, ownerOf, WeakIntern } from './memo.js';
import { grpcSizeCheck } from './limits.js';
import { localityInputs } from './locality.js';
import { VIRTUAL_INBOUND } from '../names.js';

export { versionOf } from './common.js';

export interface TranslateResult {
  resources: ProxyResources;
  /** Features this proxy's kind does not support, destinations that do not exist, … (deduplicated). */
  diagnostics: Diagnostic[];
}

/**
 * Two proxies with the same key receive identical resources: the view
 * depends only on kind, namespace, labels and IPs (inbound listeners and
 * workload matching), and its node's locality when it sends one (locality
 * LB). The service account is not used by translation.
 */
export function translationKey(proxy: ProxyInfo): string {
  return [proxy.kind, proxy.namespace, labelsKey(proxy.labels), [...proxy.ips].sort().join(','), ...(proxy.locality ? [proxy.locality] : [])].join('|');
}

function sorted(m: Map<string, XdsResource>): ReadonlyMap<string, XdsResource> {
  return new Map([...m.entries()].sort((a, b) => cmp(a[0], b[0])));
}

/** What a proxy sends out: the same for every proxy of a kind, namespace and outbound-relevant labels. */
interface Outbound {
  listeners: Map<string, XdsResource>;
  routes: Map<string, XdsResource>;
  clusters: Map<string, XdsResource>;
  endpoints: Map<string, XdsResource>;
  diagnostics: Diagnostic[];
}

/** A scope's outbound config under a model, with what it read (./memo.ts ids: `outboundDeps`). */
interface OutboundEntry {
  deps: string;
  out: Outbound;
  /** Revisions it was carried over without a proxy of its scope being translated. */
  age: number;
}

const outboundMemo = new WeakMap<MeshModel, Map<string, OutboundEntry>>();
/** Entries of the models a model follows (`followModel`), by scope key: reused when what they read is the same objects. */
const carried = new WeakMap<MeshModel, Map<string, OutboundEntry>>();
/** Entries not asked for over this many revisions are not carried further (a scope whose proxies left). */
const MAX_CARRY_AGE = 2;

/**
 * `next` is the model of the revision after `previous` (built with it as
 * `previous`, so unchanged parts are the same objects): a scope's outbound
 * config translated under `previous` is reused under `next` when everything
 * it read is the same objects — a route change rebuilds only the scopes
 * that see it, and the others keep their object (and with it the encoded,
 * checked shared part and the responses prepared for it).
 */
export function followModel(next: MeshModel, previous: MeshModel): void {
  if (next === previous) return;
  const m = new Map<string, OutboundEntry>();
  for (const [k, e] of carried.get(previous) ?? []) if (e.age < MAX_CARRY_AGE) m.set(k, { ...e, age: e.age + 1 });
  for (const [k, e] of outboundMemo.get(previous) ?? []) m.set(k, { ...e, age: 0 });
  carried.set(next, m);
}

/**
 * Everything a scope's outbound config reads, as ./memo.ts ids: the mesh
 * settings, Sidecar (egress scope, outbound policy), PeerAuthentications
 * (auto mTLS), and per service in scope the service, its VirtualService and
 * DestinationRule. A host the routes send to is either one of these services
 * (its service and DestinationRule are already here) or not visible, and then
 * nothing of it is read (the destination is dropped before its
 * DestinationRule is looked at). The scope key (kind, namespace, selecting
 * labels, locality) is the memo key itself.
 */
function outboundDeps(view: ProxyView): string {
  const m = view.model;
  const parts: (number | string)[] = [idOf(m.settings), idOf(view.sidecar), idOf(m.peerAuthentications), view.outboundPolicy, view.services.length];
  for (const svc of view.services) parts.push(idOf(svc), idOf(view.virtualServiceFor(svc.hostname)), idOf(view.destinationRule(svc.hostname)));
  return parts.join(',');
}

const labelKeysMemo = new WeakMap<MeshModel, string[]>();

/** Label keys that change outbound config: Sidecar and DestinationRule selectors, sourceLabels matches. */
function outboundLabelKeys(model: MeshModel): string[] {
  let keys = labelKeysMemo.get(model);
  if (!keys) {
    const set = new Set<string>();
    for (const s of model.sidecars) for (const k of Object.keys(s.workloadSelector ?? {})) set.add(k);
    for (const d of model.destinationRules) for (const k of Object.keys(d.workloadSelector ?? {})) set.add(k);
    for (const vs of model.virtualServices) for (const r of vs.http) for (const m of r.matches) for (const k of Object.keys(m.sourceLabels ?? {})) set.add(k);
    keys = [...set].sort();
    labelKeysMemo.set(model, keys);
  }
  return keys;
}

function outboundKey(proxy: ProxyInfo, model: MeshModel): string {
  const labels = outboundLabelKeys(model).map((k) => (k in proxy.labels ? `${k}=${proxy.labels[k]}` : `!${k}`));
  return `${proxy.kind}|${proxy.namespace}|${labels.join(',')}`;
}

function buildOutbound(view: ProxyView): Outbound {
  const cs = outboundClusters(view);
  let listeners = new Map<string, XdsResource>();
  let routes = new Map<string, XdsResource>();
  if (view.proxy.kind === 'grpc') {
    ({ listeners, routes } = grpcClientResources(view));
    const byType = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>([[TYPE_URL.listener, listeners], [TYPE_URL.route, routes], [TYPE_URL.cluster, cs.clusters], [TYPE_URL.endpoint, cs.endpoints]]);
    for (const d of grpcSizeCheck(view.proxy.namespace, byType, view.services.length)) view.sink.add(d);
  } else if (view.proxy.kind === 'sidecar') {
    envoyFixedClusters(cs, true);
    ({ listeners, routes } = sidecarOutbound(view));
  }
  return { listeners, routes, clusters: cs.clusters, endpoints: cs.endpoints, diagnostics: view.sink.list.slice() };
}

/**
 * Outbound resources are shared by every proxy class of the same kind,
 * namespace and outbound-relevant labels (memoized per model), so a mesh where
 * every sidecar runs its own workload still builds its outbound config once
 * per namespace; only inbound is per workload.
 */
function outboundFor(proxy: ProxyInfo, model: MeshModel): Outbound {
  let memo = outboundMemo.get(model);
  if (!memo) outboundMemo.set(model, (memo = new Map()));
  // Locality LB makes outbound endpoints depend on the proxy's own workload (its locality, failoverPriority labels).
  const view = localityInputs(model) ? new ProxyView(proxy, model) : undefined;
  const key = `${outboundKey(proxy, model)}${view ? `|${view.localityScope}` : ''}`;
  let entry = memo.get(key);
  if (!entry) {
    const v = view ?? new ProxyView(proxy, model);
    v.scopeKey = key;
    const deps = outboundDeps(v);
    const before = carried.get(model)?.get(key);
    entry = { deps, out: before?.deps === deps ? before.out : buildOutbound(v), age: 0 };
    memo.set(key, entry);
  }
  return entry.out;
}

/**
 * A proxy's resources in two parts: `shared`, its outbound config (the same
 * object for every proxy of one kind, namespace and outbound-relevant labels
 * under one model, so it is encoded and checked once and its responses are
 * shared), and `own`, what only this proxy's workloads get (inbound
 * listeners and clusters). Gateways are not split (`shared` is undefined).
 * The two parts never hold the same name.
 */
export interface TranslateParts {
  shared?: { resources: ProxyResources; diagnostics: Diagnostic[] };
  own: TranslateResult;
}

const sharedMemo = new WeakMap<Outbound, { resources: ProxyResources; diagnostics: Diagnostic[] }>();

/**
 * A sidecar's inbound listener and clusters, per workload: kept across
 * revisions until something it reads changes, so an endpoint change
 * elsewhere does not translate and hash every workload's inbound listener
 * again. Owned by the mesh settings, PeerAuthentications and
 * AuthorizationPolicies (the same objects while none of them changes: a
 * change starts afresh and lets the old entries go); one entry per workload
 * shape below that, the oldest going first past the bound.
 */
const inboundMemo = new FragmentMemo<{ listener: XdsResource; clusters: [string, XdsResource][]; endpoints: [string, XdsResource][] }>(20_000);

/** A proxyless server's listeners, per workload, kept as the sidecar's inbound is. */
const grpcServerMemo = new FragmentMemo<[string, XdsResource][]>(20_000);

const inboundOwner = (m: MeshModel) => ownerOf(m.settings, m.peerAuthentications, m.authorizationPolicies);

/**
 * What virtualInbound reads besides the owner's objects (mesh settings for
 * the root namespace, PeerAuthentications for the mTLS mode,
 * AuthorizationPolicies): per inbound instance, in order, its service's
 * hostname and ports and its endpoint's namespace, ports and labels.
 */
function inboundKey(view: ProxyView): string {
  const parts: string[] = [];
  for (const { service, endpoint } of view.inbound) {
    parts.push(`${service.hostname}:${service.ports.map((p) => `${p.number}/${p.protocol}`).join(';')}@${endpoint.namespace}:${JSON.stringify(endpoint.ports)}:${labelsKey(endpoint.labels)}`);
  }
  return parts.join('|');
}

function byType(listeners: Map<string, XdsResource>, routes: Map<string, XdsResource>, clusters: Map<string, XdsResource>, endpoints: Map<string, XdsResource>, secrets = new Map<string, XdsResource>(), one = sorted): ProxyResources {
  return new Map<TypeUrl, ReadonlyMap<string, XdsResource>>([
    [TYPE_URL.listener, one(listeners)],
    [TYPE_URL.route, one(routes)],
    [TYPE_URL.cluster, one(clusters)],
    [TYPE_URL.endpoint, one(endpoints)],
    [TYPE_URL.secret, one(secrets)],
  ]);
}

/**
 * Scopes' resources of one type that are the same objects are one map:
 * at Istio's default visibility every namespace's clusters and endpoints
 * are the same service fragments, so they are one map for all of them (and
 * with it, one encoding, one version and one difference from the last
 * revision, worked out once: src/xds/cache/snapshot.ts, server/prepared.ts).
 * Found by a hash of the objects' ids, checked entry by entry; held weakly.
 */
const sharedMaps = new WeakIntern<ReadonlyMap<string, XdsResource>>();

function sharedMap(m: Map<string, XdsResource>): ReadonlyMap<string, XdsResource> {
  if (m.size === 0) return sorted(m);
  let ids = '';
  for (const r of m.values()) ids += `${idOf(r)},`;
  const key = `${m.size}:${createHash('sha1').update(ids).digest('base64')}`;
  return sharedMaps.get(key, (kept) => kept.size === m.size && [...m].every(([n, r]) => kept.get(n) === r), () => sorted(m));
}

export function translateParts(proxy: ProxyInfo, model: MeshModel): TranslateParts {
  const view = new ProxyView(proxy, model);
  const listeners = new Map<string, XdsResource>();
  const routes = new Map<string, XdsResource>();
  const clusters = new Map<string, XdsResource>();
  const endpoints = new Map<string, XdsResource>();
  if (proxy.kind === 'router') {
    const cs = outboundClusters(view);
    envoyFixedClusters(cs, false);
    const r = gatewayResources(view);
    return { own: { resources: byType(r.listeners, r.routes, cs.clusters, cs.endpoints), diagnostics: view.sink.list.slice() } };
  }
  const ob = outboundFor(proxy, model);
  let shared = sharedMemo.get(ob);
  if (!shared) sharedMemo.set(ob, (shared = { resources: byType(ob.listeners, ob.routes, ob.clusters, ob.endpoints, undefined, sharedMap), diagnostics: ob.diagnostics }));
  if (proxy.kind === 'grpc') {
    // Its diagnostics name the service's resource: keyed by the service object, which an endpoint change replaces.
    const key = `${inboundKey(view)}|${view.inbound.map((i) => `${idOf(i.service)}@${i.endpoint.address}`).join(',')}`;
    for (const [k, v] of grpcServerMemo.get(inboundOwner(view.model), key, view, () => [...grpcServerListeners(view)])) listeners.set(k, v);
  } else {
    const inbound = inboundMemo.get(inboundOwner(view.model), inboundKey(view), view, () => {
      const cs = { clusters: new Map<string, XdsResource>(), endpoints: new Map<string, XdsResource>() };
      return { listener: sidecarInbound(view, cs), clusters: [...cs.clusters], endpoints: [...cs.endpoints] };
    });
    listeners.set(VIRTUAL_INBOUND, inbound.listener);
    for (const [k, v] of inbound.clusters) clusters.set(k, v);
    for (const [k, v] of inbound.endpoints) endpoints.set(k, v);
  }
  const seen = new Set(shared.diagnostics.map((d) => JSON.stringify(d)));
  const own = view.sink.list.filter((d) => !seen.has(JSON.stringify(d)));
  return { shared, own: { resources: byType(listeners, routes, clusters, endpoints), diagnostics: own } };
}

export function translateWithDiagnostics(proxy: ProxyInfo, model: MeshModel): TranslateResult {
  const { shared, own } = translateParts(proxy, model);
  if (!shared) return own;
  const resources = new Map<TypeUrl, ReadonlyMap<string, XdsResource>>();
  for (const t of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.secret] as TypeUrl[]) {
    resources.set(t, sorted(new Map([...(shared.resources.get(t) ?? []), ...(own.resources.get(t) ?? [])])));
  }
  return { resources, diagnostics: [...shared.diagnostics, ...own.diagnostics] };
}

export function translate(proxy: ProxyInfo, model: MeshModel): ProxyResources {
  return translateWithDiagnostics(proxy, model).resources;
}

export function translateDiagnostics(proxy: ProxyInfo, model: MeshModel): Diagnostic[] {
  return translateWithDiagnostics(proxy, model).diagnostics;
}
