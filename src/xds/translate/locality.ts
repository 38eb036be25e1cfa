// Istio's locality load balancing (DestinationRule
// trafficPolicy.loadBalancer.localityLbSetting), as istiod's
// pilot/pkg/networking/core/loadbalancer applies it to one proxy's
// ClusterLoadAssignment. Pure.
//
// - `distribute`: the first rule whose `from` matches the proxy's locality
//   sets each locality's weight (a wildcard `to` shares its weight among the
//   localities it matches, by their own weights); localities no `to` names
//   get no traffic (nor do those whose share rounds to 0 — istiod keeps their
//   old weight there).
// - failover (only with outlier detection, as in Istio): with
//   `failoverPriority`, an endpoint's priority is how many of those labels,
//   in order, stop matching the proxy's (the topology.* region/zone/subzone
//   keys compare localities); otherwise by locality: 0 same
//   region/zone/subzone, 1 same zone, 2 same region, 3 elsewhere — 4 when a
//   `failover` rule from the proxy's region names another region. With both
//   `failoverPriority` and `failover`, the locality priority refines the label
//   one. Priorities are renumbered 0..N without gaps.
// The setting is the DestinationRule's, else the MeshConfig's
// (localityLbSetting), as istiod's getLocalityLbSetting: a rule's setting
// replaces the mesh's whole, and `enabled: false` on the rule turns it off.
// The proxy's locality is its xDS node's (node.locality), else that of the
// workload it runs; its labels are the workload's.

import type { MeshEndpoint, MeshModel } from '../../mesh/model.js';
import { cmp } from '../../mesh/names.js';

export interface LocalityLbSetting {
  enabled?: boolean;
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  failoverPriority?: string[];
}

export interface LocalityContext {
  /** `region/zone/subzone` of the proxy, when known. */
  proxyLocality?: string;
  proxyLabels: Record<string, string>;
  setting: LocalityLbSetting;
  /** Outlier detection is configured: failover applies. */
  failover: boolean;
}

export interface LocalityGroup {
  locality: string;
  endpoints: MeshEndpoint[];
  weight: number;
  priority: number;
}

const parts = (l: string | undefined): [string, string, string] => {
  const [r = '', z = '', s = ''] = (l ?? '').split('/');
  return [r, z, s];
};

/** Istio's LocalityMatch: `region[/zone[/subzone]]`, `*` matches anything from there on. */
export function localityMatches(locality: string | undefined, pattern: string | undefined): boolean {
  if (!pattern) return false;
  const l = parts(locality);
  const p = pattern.split('/');
  for (let i = 0; i < p.length && i < 3; i++) {
    if (p[i] === '*') return true;
    if (p[i] !== l[i]) return false;
  }
  return true;
}

/** Istio's LbPriority: 0 same region/zone/subzone, 1 same region/zone, 2 same region, 3 otherwise. */
export function localityPriority(proxy: string | undefined, endpoint: string | undefined): number {
  const [pr, pz, ps] = parts(proxy);
  const [er, ez, es] = parts(endpoint);
  if (pr !== er) return 3;
  if (pz !== ez) return 2;
  return ps === es ? 0 : 1;
}

const TOPOLOGY_PART: Record<string, number> = { 'topology.kubernetes.io/region': 0, 'topology.kubernetes.io/zone': 1, 'topology.istio.io/subzone': 2 };

function labelPriority(keys: readonly string[], proxy: LocalityContext, e: MeshEndpoint): number {
  let priority = keys.length;
  for (const key of keys) {
    const part = TOPOLOGY_PART[key];
    const mine = part !== undefined ? parts(proxy.proxyLocality)[part] : proxy.proxyLabels[key];
    const theirs = part !== undefined ? parts(e.locality)[part] : e.labels[key];
    if (!mine || mine !== theirs) break;
    priority--;
  }
  return priority;
}

function plainGroups(endpoints: readonly MeshEndpoint[]): LocalityGroup[] {
  const byLocality = new Map<string, MeshEndpoint[]>();
  for (const e of endpoints) {
    const key = e.locality ?? '';
    let l = byLocality.get(key);
    if (!l) byLocality.set(key, (l = []));
    l.push(e);
  }
  return [...byLocality.keys()].sort(cmp).map((locality) => {
    const list = byLocality.get(locality)!;
    return { locality, endpoints: list, weight: list.reduce((s, e) => s + e.weight, 0), priority: 0 };
  });
}

/** The endpoints grouped by locality (and priority), with Istio's locality LB applied when it applies. */
export function localityGroups(endpoints: readonly MeshEndpoint[], ctx?: LocalityContext): LocalityGroup[] {
  let groups = plainGroups(endpoints);
  if (!ctx || ctx.setting.enabled === false) return groups;
  const s = ctx.setting;
  // Without a locality only failoverPriority on labels can tell endpoints apart (Istio applies it all the same).
  if (!ctx.proxyLocality && !(ctx.failover && s.failoverPriority?.length)) return groups;
  const rule = (s.distribute ?? []).find((d) => localityMatches(ctx.proxyLocality, d.from));
  if (rule) {
    const unmatched = new Set(groups);
    const weights = new Map<LocalityGroup, number>();
    for (const [pattern, share] of Object.entries(rule.to ?? {})) {
      const hit = groups.filter((g) => unmatched.has(g) && localityMatches(g.locality, pattern));
      const total = hit.reduce((n, g) => n + g.weight, 0);
      for (const g of hit) {
        unmatched.delete(g);
        weights.set(g, total > 0 ? Math.ceil((g.weight * share) / total) : 0);
      }
    }
    groups = groups.filter((g) => (weights.get(g) ?? 0) > 0).map((g) => ({ ...g, weight: weights.get(g)! }));
  } else if (ctx.failover) {
    const keys = s.failoverPriority ?? [];
    const rules = s.failover ?? [];
    const [proxyRegion] = parts(ctx.proxyLocality);
    const byLocalityPriority = (g: LocalityGroup): number => {
      let p = localityPriority(ctx.proxyLocality, g.locality);
      if (p === 3) {
        const r = rules.find((f) => f.from === proxyRegion);
        if (r && parts(g.locality)[0] !== r.to) p = 4;
      }
      return p;
    };
    let split: LocalityGroup[] = groups;
    if (keys.length) {
      // One group per (locality, label priority).
      split = groups.flatMap((g) => {
        const by = new Map<number, MeshEndpoint[]>();
        for (const e of g.endpoints) {
          const p = labelPriority(keys, ctx, e);
          let l = by.get(p);
          if (!l) by.set(p, (l = []));
          l.push(e);
        }
        return [...by].map(([priority, list]) => ({ locality: g.locality, endpoints: list, weight: list.reduce((n, e) => n + e.weight, 0), priority }));
      });
      if (rules.length) split = split.map((g) => ({ ...g, priority: g.priority * 5 + byLocalityPriority(g) }));
    } else {
      split = split.map((g) => ({ ...g, priority: byLocalityPriority(g) }));
    }
    const order = [...new Set(split.map((g) => g.priority))].sort((a, b) => a - b);
    groups = split.map((g) => ({ ...g, priority: order.indexOf(g.priority) })).sort((a, b) => a.priority - b.priority || cmp(a.locality, b.locality));
  }
  return groups;
}

/** The locality LB setting in force: the DestinationRule's (even `{enabled: false}`) replaces the mesh's. */
export function effectiveLocalitySetting(mesh: Readonly<Record<string, unknown>> | undefined, rule: Readonly<Record<string, unknown>> | undefined): LocalityLbSetting | undefined {
  const s = (rule ?? mesh) as LocalityLbSetting | undefined;
  return s && s.enabled !== false ? s : undefined;
}

const localityKeysMemo = new WeakMap<MeshModel, readonly string[] | null>();

/**
 * Whether any DestinationRule sets localityLbSetting (at any level), and
 * the labels its failoverPriority compares: what of a proxy's own workload
 * (its locality and those labels) its outbound endpoints depend on. Null
 * when no rule uses locality LB, so proxies of different localities still
 * share their outbound config.
 */
export function localityInputs(model: MeshModel): readonly string[] | null {
  let keys = localityKeysMemo.get(model);
  if (keys === undefined) {
    const found = new Set<string>();
    let used = false;
    const visit = (p: { loadBalancer?: { localityLbSetting?: unknown }; portLevelSettings?: { loadBalancer?: { localityLbSetting?: unknown } }[] } | undefined) => {
      for (const lb of [p?.loadBalancer, ...(p?.portLevelSettings ?? []).map((x) => x.loadBalancer)]) {
        const s = lb?.localityLbSetting as LocalityLbSetting | undefined;
        if (!s) continue;
        used = true;
        for (const k of s.failoverPriority ?? []) found.add(k.replace(/=.*$/, ''));
      }
    };
    for (const dr of model.destinationRules) {
      visit(dr.trafficPolicy);
      for (const sub of dr.subsets) visit(sub.trafficPolicy);
    }
    visit({ loadBalancer: { localityLbSetting: model.settings.localityLbSetting } });
    keys = used ? [...found].sort() : null;
    localityKeysMemo.set(model, keys);
  }
  return keys;
}

/** The part of a memo or sharing key that locality LB adds: the proxy's locality (its node's, else its workload's) and failoverPriority labels ('' when no rule uses it). */
export function localityScope(model: MeshModel, own: MeshEndpoint | undefined, proxyLabels: Record<string, string>, nodeLocality?: string): string {
  const keys = localityInputs(model);
  if (!keys) return '';
  const labels = { ...proxyLabels, ...own?.labels };
  return `loc=${nodeLocality ?? own?.locality ?? ''};${keys.map((k) => `${k}=${labels[k] ?? ''}`).join(',')}`;
}
