// Shared, precomputed view of one revision for the analyzers: host lookup
// (short names, wildcards, exportTo), DestinationRules by host, workloads,
// known namespaces, and a `report` helper that locates a diagnostic at the
// line of the offending field. Built once per analysis so each analyzer
// stays a single pass over the resources it looks at. Pure.

import type { AnyResource, ConfigSet, Diagnostic, MeshSettings, Resource, ResourceKey, Service, ServiceIndex, Severity, Workload } from '../../api/types.js';
import { resourceKey } from '../../api/types.js';
import type { Destination, MeshKind } from '../../api/istio.js';
import type { LoadResult } from '../../config/load.js';
import { isVisibleTo, labelsMatch } from '../../registry/config.js';

/** One analyzer code, documented (README table, SARIF rules). */
export interface AnalyzerCode {
  code: string;
  name: string;
  severity: Severity;
  description: string;
}

export interface Analyzer {
  /** Short id, e.g. `virtualservice/destination-hosts`. */
  name: string;
  codes: readonly AnalyzerCode[];
  run(ctx: AnalysisContext): void;
}

export function arr<T>(v: T[] | readonly T[] | undefined | null): readonly T[];
export function arr(v: unknown): readonly unknown[];
export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Labels of a workload selector. ServiceEntry and Sidecar spell the field
 * `labels`, the security kinds and DestinationRule `matchLabels`; accept both.
 */
export function selectorLabels(ws: unknown): Record<string, string> | undefined {
  if (!isObj(ws)) return undefined;
  const l = isObj(ws.labels) ? ws.labels : isObj(ws.matchLabels) ? ws.matchLabels : undefined;
  return l as Record<string, string> | undefined;
}

export function keyOf(r: AnyResource | Resource): ResourceKey {
  return resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
}

/** `kind/ns/name` for messages (`ns/name` as Istio prints it). */
export function nsName(r: { metadata: { namespace: string; name: string } }): string {
  return r.metadata.namespace ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name;
}

/** Does wildcard host `a` overlap host `b` (either side may be a wildcard)? As Istio's host.Name.Matches. */
export function hostsOverlap(a: string, b: string): boolean {
  if (a === b || a === '*' || b === '*') return true;
  const aw = a.startsWith('*'), bw = b.startsWith('*');
  if (aw && bw) {
    const sa = a.slice(1), sb = b.slice(1);
    return sa.endsWith(sb) || sb.endsWith(sa);
  }
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return false;
}

/** Does (possibly wildcard) `pattern` cover concrete or wildcard `host`? */
export function hostCovers(pattern: string, host: string): boolean {
  if (pattern === host || pattern === '*') return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return false;
}

export class AnalysisContext {
  readonly config: ConfigSet;
  readonly index: ServiceIndex;
  readonly mesh: MeshSettings;
  readonly diagnostics: Diagnostic[] = [];
  private readonly load: LoadResult;
  private readonly wildcardServices: Service[];
  private readonly drByHost = new Map<string, Resource<'DestinationRule'>[]>();
  private readonly drWildcards: Resource<'DestinationRule'>[] = [];
  readonly namespaces: ReadonlySet<string>;
  /** Labels of each namespace, from MeshConfig.spec.namespaces. */
  readonly namespaceLabels: ReadonlyMap<string, Record<string, string>>;

  constructor(load: LoadResult, index: ServiceIndex) {
    this.load = load;
    this.config = load.config;
    this.index = index;
    this.mesh = load.config.mesh;
    this.wildcardServices = index.services().filter((s) => s.hostname.startsWith('*'));
    for (const dr of this.config.ofKind('DestinationRule')) {
      if (typeof dr.spec.host !== 'string') continue;
      const host = this.fqdn(dr.spec.host, dr.metadata.namespace);
      if (host.startsWith('*')) {
        this.drWildcards.push(dr);
        continue;
      }
      let l = this.drByHost.get(host);
      if (!l) this.drByHost.set(host, (l = []));
      l.push(dr);
    }
    const ns = new Set<string>([this.mesh.defaultNamespace, this.mesh.rootNamespace]);
    for (const r of this.config.resources) if (r.metadata.namespace) ns.add(r.metadata.namespace);
    for (const s of index.services()) ns.add(s.namespace);
    const labels = new Map<string, Record<string, string>>();
    // A cluster's namespaces (serve with Kubernetes), as istioctl analyze sees them; MeshConfig's declarations win.
    for (const [name, l] of index.namespaces?.() ?? []) {
      ns.add(name);
      labels.set(name, { ...l });
    }
    const meshConfig = this.config.ofKind('MeshConfig')[0];
    const declared = meshConfig?.spec.namespaces;
    if (isObj(declared)) {
      for (const [name, v] of Object.entries(declared)) {
        ns.add(name);
        const l = isObj(v) && isObj(v.labels) ? (v.labels as Record<string, string>) : {};
        labels.set(name, l);
      }
    }
    this.namespaces = ns;
    this.namespaceLabels = labels;
  }

  /** Istio's short-name rule: a host without dots is `name.<ns>.<clusterDomain>`. */
  fqdn(host: string, namespace: string): string {
    if (host === '*' || host.includes('.')) return host;
    return `${host}.${namespace}.${this.mesh.clusterDomain}`;
  }

  /** The service a destination host names, as seen from `namespace`, including wildcard ServiceEntries. */
  findService(host: string, namespace: string): Service | undefined {
    const h = this.fqdn(host, namespace);
    const exact = this.index.service(h, namespace);
    if (exact) return exact;
    for (const s of this.wildcardServices) {
      if (hostCovers(s.hostname, h) && (s.namespace === namespace || isVisibleTo(s.exportTo, namespace))) return s;
    }
    return undefined;
  }

  /** Any service (any namespace) whose host overlaps `host`; for wildcard references. */
  anyServiceOverlapping(host: string): boolean {
    if (!host.startsWith('*')) return this.index.service(host) !== undefined || this.wildcardServices.some((s) => hostCovers(s.hostname, host));
    return this.index.services().some((s) => hostsOverlap(host, s.hostname));
  }

  /** DestinationRules that apply to `host` for a client in `namespace` (own namespace, root namespace or exported). */
  destinationRulesFor(host: string, namespace: string): Resource<'DestinationRule'>[] {
    const h = this.fqdn(host, namespace);
    const out: Resource<'DestinationRule'>[] = [];
    const visible = (dr: Resource<'DestinationRule'>) => {
      const ns = dr.metadata.namespace;
      if (ns === namespace || ns === this.mesh.rootNamespace) return true;
      const exp = arr(dr.spec.exportTo);
      if (exp.length === 0) return true;
      if (exp.includes('~')) return false;
      return exp.includes('*') || exp.includes(namespace);
    };
    for (const dr of this.drByHost.get(h) ?? []) if (visible(dr)) out.push(dr);
    for (const dr of this.drWildcards) if (hostCovers(this.fqdn(dr.spec.host, dr.metadata.namespace), h) && visible(dr)) out.push(dr);
    return out;
  }

  /**
   * Workloads behind a service. A ServiceEntry selecting with Istio's
   * `workloadSelector.labels` is resolved here too, whatever the index did.
   */
  serviceWorkloads(svc: Service): readonly Workload[] {
    // A Kubernetes Service: the pods its selector picks, ready or not (an EndpointSlice holds the ready ones only).
    const selected = this.index.selectedWorkloads?.(svc.hostname, svc.namespace);
    if (selected) return selected;
    const fromIndex = this.index.workloadsFor(svc.hostname, svc.namespace);
    if (fromIndex.length > 0 || !svc.resource) return fromIndex;
    const se = this.config.byKey.get(svc.resource);
    if (!se || se.kind !== 'ServiceEntry') return fromIndex;
    const sel = selectorLabels((se.spec as { workloadSelector?: unknown }).workloadSelector);
    if (!sel) return fromIndex;
    let cached = this.serviceWorkloadCache.get(svc);
    if (!cached) this.serviceWorkloadCache.set(svc, (cached = this.select(svc.namespace, sel)));
    return cached;
  }

  private readonly serviceWorkloadCache = new Map<Service, Workload[]>();
  private byNamespace?: Map<string, Workload[]>;
  /** namespace → `key=value` → workloads carrying that label; `*` for every namespace. */
  private byLabel?: Map<string, Map<string, Workload[]>>;

  /** Workloads grouped by namespace, built on first use. */
  workloadsInNamespace(): ReadonlyMap<string, readonly Workload[]> {
    if (!this.byNamespace) {
      this.byNamespace = new Map();
      this.byLabel = new Map([['*', new Map()]]);
      for (const w of this.index.workloads()) {
        let l = this.byNamespace.get(w.namespace);
        if (!l) this.byNamespace.set(w.namespace, (l = []));
        l.push(w);
        let li = this.byLabel.get(w.namespace);
        if (!li) this.byLabel.set(w.namespace, (li = new Map()));
        for (const [k, v] of Object.entries(w.labels)) {
          for (const m of [li, this.byLabel.get('*')!]) {
            const kv = `${k}=${v}`;
            let x = m.get(kv);
            if (!x) m.set(kv, (x = []));
            x.push(w);
          }
        }
      }
    }
    return this.byNamespace;
  }

  /** Workloads in `namespace` (`*`: any) matching every label of `sel`, via the label index. */
  select(namespace: string, sel: Record<string, string>): Workload[] {
    this.workloadsInNamespace();
    const entries = Object.entries(sel);
    if (entries.length === 0) return [...(namespace === '*' ? this.index.workloads() : (this.byNamespace!.get(namespace) ?? []))];
    const idx = this.byLabel!.get(namespace);
    if (!idx) return [];
    let smallest: Workload[] | undefined;
    for (const [k, v] of entries) {
      const l = idx.get(`${k}=${v}`);
      if (!l) return [];
      if (!smallest || l.length < smallest.length) smallest = l;
    }
    return smallest!.filter((w) => labelsMatch(sel, w.labels));
  }

  private readonly subsetCache = new Map<string, boolean>();
  hasSubset(dest: Destination, namespace: string): boolean {
    const k = `${namespace}|${dest.host}|${dest.subset}`;
    let v = this.subsetCache.get(k);
    if (v === undefined) {
      v = this.destinationRulesFor(dest.host, namespace).some((dr) => arr(dr.spec.subsets).some((s) => isObj(s) && s.name === dest.subset));
      this.subsetCache.set(k, v);
    }
    return v;
  }

  /** Workloads a selector picks in a namespace (root namespace: every namespace). */
  workloadsSelected(selector: Record<string, string> | undefined, namespace: string): Workload[] {
    return this.select(namespace === this.mesh.rootNamespace ? '*' : namespace, selector ?? {});
  }

  /** A finding about an object that is not in the config (a Kubernetes Service): no file or line. */
  reportObject(resource: ResourceKey, code: string, severity: Severity, message: string, path?: string): void {
    this.diagnostics.push({ code, severity, message, resource, ...(path ? { path } : {}) });
  }

  report(r: AnyResource | Resource<MeshKind>, code: string, severity: Severity, message: string, path?: string): void {
    const key = keyOf(r);
    const origin = (path && this.load.locate(key, path)) || r.origin;
    this.diagnostics.push({ code, severity, message, resource: key, origin, ...(path ? { path } : {}) });
  }
}
