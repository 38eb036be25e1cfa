// Envoy-level impact of a change: which proxies' listeners, routes, clusters
// and endpoints differ between base and head. The mesh model and the xDS
// translation are passed in (see EnvoyTranslator), so this stays pure and
// compiles without src/mesh or src/xds.

import type { ConfigSet, Diagnostic, ProxyInfo, ProxyKind, ProxyResources, ServiceIndex, TypeUrl, Workload } from '../api/types.js';
import { TYPE_URL } from '../api/types.js';
import { canonicalJson } from '../config/load.js';
import type { ChangeKind, JsonPatchOp } from './resources.js';
import jsonPatch from 'fast-json-patch';

/** What `src/mesh` and `src/xds/translate` export, as the diff needs it. */
export interface EnvoyTranslator<M> {
  buildMeshModel(config: ConfigSet, index: ServiceIndex): M;
  translate(proxy: ProxyInfo, model: M): ProxyResources;
  /** When present, used instead of translate: also says what a proxy kind cannot do. */
  translateWithDiagnostics?(proxy: ProxyInfo, model: M): { resources: ProxyResources; diagnostics: Diagnostic[] };
  /** Proxies with the same key get identical resources. */
  translationKey?(proxy: ProxyInfo): string;
  buildServiceIndex(config: ConfigSet): ServiceIndex;
}

export type EnvoyType = 'listener' | 'route' | 'cluster' | 'endpoint' | 'secret';

const TYPE_NAMES = new Map<TypeUrl, EnvoyType>(Object.entries(TYPE_URL).map(([k, v]) => [v, k as EnvoyType]));
const TYPE_ORDER: EnvoyType[] = ['listener', 'route', 'cluster', 'endpoint', 'secret'];

export interface EnvoyChange {
  type: EnvoyType;
  name: string;
  change: ChangeKind;
  /** For changed resources: operations from the base value to the head value. */
  patch?: JsonPatchOp[];
}

export interface ProxyDiff {
  proxy: Pick<ProxyInfo, 'id' | 'kind' | 'namespace' | 'labels'>;
  changes: EnvoyChange[];
}

export interface EnvoyImpact {
  /** Proxies considered (both sides' workloads, gateways and namespaces). */
  proxies: number;
  /** Only proxies whose resources differ. */
  affected: ProxyDiff[];
  /** Translation failures, e.g. a translator exception on one side. */
  errors: string[];
  /** What the translation of the head reported (per proxy kind, deduplicated); `introduced` when the base's did not. */
  diagnostics: TranslationFinding[];
}

export interface TranslationFinding {
  proxyKind: ProxyKind;
  /** One proxy that got this finding. */
  proxy: string;
  introduced: boolean;
  diagnostic: Diagnostic;
}

/**
 * Representative proxies of a mesh: one sidecar per distinct (namespace,
 * labels) workload, one router per Gateway selector, one proxyless gRPC
 * client per namespace. Ids follow Istio's `kind~ip~pod.ns~ns.domain`.
 */
export function deriveProxies(config: ConfigSet, index: ServiceIndex): ProxyInfo[] {
  const domain = config.mesh.clusterDomain;
  const out = new Map<string, ProxyInfo>();
  const add = (kind: ProxyKind, namespace: string, labels: Record<string, string>, ip: string, podName: string, sa?: string) => {
    const sortedLabels = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const k = `${kind}|${namespace}|${canonicalJson(sortedLabels)}`;
    if (out.has(k)) return;
    out.set(k, {
      id: `${kind}~${ip}~${podName}.${namespace}~${namespace}.${domain}`,
      kind,
      namespace,
      labels: sortedLabels,
      ips: [ip],
      ...(sa ? { serviceAccount: sa } : {}),
    });
  };
  const workloads = [...index.workloads()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const w of workloads) add('sidecar', w.namespace, w.labels, w.address, podNameOf(w), w.serviceAccount);
  for (const gw of config.ofKind('Gateway')) {
    const selector = gw.spec.selector ?? {};
    const match = workloads.find((w) => Object.entries(selector).every(([k, v]) => w.labels[k] === v));
    add('router', match?.namespace ?? gw.metadata.namespace, selector, match?.address ?? '0.0.0.0', match ? podNameOf(match) : gw.metadata.name, match?.serviceAccount);
  }
  const namespaces = new Set<string>();
  for (const r of config.resources) if (r.metadata.namespace) namespaces.add(r.metadata.namespace);
  for (const s of index.services()) namespaces.add(s.namespace);
  for (const w of workloads) namespaces.add(w.namespace);
  for (const ns of [...namespaces].sort()) add('grpc', ns, {}, '0.0.0.0', 'grpc-client', undefined);
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function podNameOf(w: Workload): string {
  const name = w.labels.app ?? w.id.split('/').pop()!.split('#')[0]!;
  return name.replace(/[^a-zA-Z0-9-]/g, '-');
}

/** Per proxy, the Envoy resources that head adds, changes or removes compared with base. */
export function envoyImpact<M>(base: ConfigSet, head: ConfigSet, t: EnvoyTranslator<M>): EnvoyImpact {
  const errors: string[] = [];
  const baseIndex = t.buildServiceIndex(base);
  const headIndex = t.buildServiceIndex(head);
  const model = (side: 'base' | 'head', c: ConfigSet, i: ServiceIndex): M | undefined => {
    try {
      return t.buildMeshModel(c, i);
    } catch (err) {
      errors.push(`${side}: building the mesh model failed: ${(err as Error).message}`);
      return undefined;
    }
  };
  const baseModel = model('base', base, baseIndex);
  const headModel = model('head', head, headIndex);
  const byId = new Map<string, ProxyInfo>();
  for (const p of [...deriveProxies(base, baseIndex), ...deriveProxies(head, headIndex)]) if (!byId.has(p.id)) byId.set(p.id, p);
  const proxies = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (baseModel === undefined || headModel === undefined) return { proxies: proxies.length, affected: [], errors, diagnostics: [] };
  // Same translation key → same resources: translate once per class of proxy.
  type Translated = { resources: ProxyResources; diagnostics: Diagnostic[] };
  const memo = new Map<string, Translated | undefined>();
  const translated = (side: 'base' | 'head', p: ProxyInfo, m: M): Translated | undefined => {
    const key = `${side}|${t.translationKey ? t.translationKey(p) : p.id}`;
    if (memo.has(key)) return memo.get(key);
    let r: Translated | undefined;
    try {
      r = t.translateWithDiagnostics ? t.translateWithDiagnostics(p, m) : { resources: t.translate(p, m), diagnostics: [] };
    } catch (err) {
      errors.push(`${side}: translating for ${p.id} failed: ${(err as Error).message}`);
    }
    memo.set(key, r);
    return r;
  };
  const affected: ProxyDiff[] = [];
  const findings = new Map<string, TranslationFinding>();
  for (const p of proxies) {
    const b = translated('base', p, baseModel);
    const h = translated('head', p, headModel);
    if (!b || !h) continue;
    const changes = diffProxyResources(b.resources, h.resources);
    if (changes.length > 0) affected.push({ proxy: { id: p.id, kind: p.kind, namespace: p.namespace, labels: p.labels }, changes });
    const before = new Set(b.diagnostics.map(findingKey));
    for (const d of h.diagnostics) {
      const k = `${p.kind}\0${findingKey(d)}`;
      const prior = findings.get(k);
      const introduced = !before.has(findingKey(d));
      if (!prior) findings.set(k, { proxyKind: p.kind, proxy: p.id, introduced, diagnostic: d });
      else if (introduced && !prior.introduced) findings.set(k, { ...prior, introduced, proxy: p.id });
    }
  }
  return { proxies: proxies.length, affected, errors, diagnostics: [...findings.values()] };
}

function findingKey(d: Diagnostic): string {
  return `${d.code}\0${d.resource ?? ''}\0${d.message}`;
}

/** Resources compared by version (content hash); changed ones carry a JSON Patch of the value. */
export function diffProxyResources(base: ProxyResources, head: ProxyResources): EnvoyChange[] {
  const out: EnvoyChange[] = [];
  const urls = new Set<TypeUrl>([...base.keys(), ...head.keys()]);
  for (const url of urls) {
    const type = TYPE_NAMES.get(url);
    if (!type) continue;
    const b = base.get(url) ?? new Map();
    const h = head.get(url) ?? new Map();
    for (const name of new Set([...b.keys(), ...h.keys()])) {
      const br = b.get(name);
      const hr = h.get(name);
      if (br && hr) {
        if (br.version === hr.version && canonicalJson(br.value) === canonicalJson(hr.value)) continue;
        out.push({ type, name, change: 'changed', patch: jsonPatch.compare(br.value, hr.value) as JsonPatchOp[] });
      } else {
        out.push({ type, name, change: br ? 'removed' : 'added' });
      }
    }
  }
  return out.sort((x, y) => TYPE_ORDER.indexOf(x.type) - TYPE_ORDER.indexOf(y.type) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

export interface ProxyGroup {
  proxies: ProxyDiff['proxy'][];
  changes: EnvoyChange[];
}

/** Proxies whose changes are identical, together (e.g. every sidecar of a namespace gets the same route change). */
export function groupByChanges(affected: readonly ProxyDiff[]): ProxyGroup[] {
  const groups = new Map<string, ProxyGroup>();
  for (const p of affected) {
    const k = canonicalJson(p.changes);
    const g = groups.get(k);
    if (g) g.proxies.push(p.proxy);
    else groups.set(k, { proxies: [p.proxy], changes: p.changes });
  }
  return [...groups.values()];
}
