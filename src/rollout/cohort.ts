// Cohorts of a config canary (`strategy: proxies`): which of the proxies a
// change affects get the new revision at a `setProxies` step. Pure.
//
// Each proxy has a rank: the first 32 bits of SHA-256 of its id, so the
// same proxy has the same rank on every connection, in every process, on
// every replica. A cohort is "every eligible proxy whose rank is at most a
// threshold"; a step picks the threshold that puts `count` (or `percent`% of
// the eligible affected proxies, at least one) in the cohort, and never
// lowers the one a previous step chose:
//   ranks of 5 affected proxies: a 0x10, b 0x40, c 0x80, d 0xc0, e 0xf0
//   setProxies {count: 1}    → threshold 0x10: {a}
//   setProxies {percent: 50} → 3 of 5 (rounded up): threshold 0x80: {a, b, c}
//   setProxies {percent: 100}→ threshold 2^32: every eligible proxy, also ones
//                              that connect later
// A proxy that reconnects keeps its rank, so its cohort; one that connects
// mid-step is in the cohort when its rank is at most the threshold (for a
// percentage: about that share of newcomers, without moving anyone else);
// one that leaves makes no one else move.
//
// Eligibility: the Rollout's `cohort` filter — namespaces, labels (all must
// match), localities (region/zone/subzone, matched against the proxy's
// `topology.kubernetes.io/region`/`zone` and `topology.istio.io/subzone`
// labels as Istio sets them). Proxies outside the filter stay on the
// previous revision until promotion.
// Imports: node:crypto (hash only).

import { createHash } from 'node:crypto';

export const ALL = 2 ** 32;

export interface CohortFilter {
  namespaces?: string[];
  labels?: Record<string, string>;
  localities?: { region?: string; zone?: string; subzone?: string }[];
}

/** What cohort selection reads of a proxy. */
export interface CohortProxy {
  id: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface CohortSize {
  count?: number;
  percent?: number;
}

export interface Cohort {
  /** Proxies with rank ≤ threshold (and eligible) are in the cohort; -1: none; ALL: every eligible proxy. */
  threshold: number;
  /** Ids of the eligible affected proxies in the cohort now, by rank. */
  members: string[];
  /** Eligible affected proxies (the denominator of a percentage). */
  eligible: number;
}

/** A proxy's rank: the first 32 bits of SHA-256 of its id. */
export function rank(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0);
}

export function isEligible(p: CohortProxy, f: CohortFilter | undefined): boolean {
  if (!f) return true;
  if (f.namespaces?.length && !f.namespaces.includes(p.namespace)) return false;
  for (const [k, v] of Object.entries(f.labels ?? {})) if (p.labels[k] !== v) return false;
  if (f.localities?.length) {
    const region = p.labels['topology.kubernetes.io/region'];
    const zone = p.labels['topology.kubernetes.io/zone'];
    const subzone = p.labels['topology.istio.io/subzone'];
    const match = f.localities.some((l) => (l.region === undefined || l.region === region) && (l.zone === undefined || l.zone === zone) && (l.subzone === undefined || l.subzone === subzone));
    if (!match) return false;
  }
  return true;
}

/** Whether a proxy is in the cohort a threshold defines. */
export function inCohort(p: CohortProxy, threshold: number, f: CohortFilter | undefined): boolean {
  return threshold >= 0 && isEligible(p, f) && (threshold >= ALL || rank(p.id) <= threshold);
}

/** How many of `eligible` proxies a step asks for: count as given, a percentage rounded up (at least one when above 0). */
export function wanted(size: CohortSize, eligible: number): number {
  if (size.percent !== undefined) return size.percent <= 0 ? 0 : Math.min(eligible, Math.max(1, Math.ceil((size.percent * eligible) / 100)));
  return Math.min(eligible, Math.max(0, Math.floor(size.count ?? 0)));
}

/**
 * The cohort of a `setProxies` step among the affected proxies (see the
 * header): the smallest threshold that takes the wanted number of eligible
 * proxies, never below `previous`. `percent: 100` takes every eligible proxy
 * now and later.
 */
export function selectCohort(affected: readonly CohortProxy[], size: CohortSize, filter: CohortFilter | undefined, previous = -1): Cohort {
  const ranked = affected.filter((p) => isEligible(p, filter)).map((p) => ({ id: p.id, rank: rank(p.id) })).sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = wanted(size, ranked.length);
  let threshold = size.percent !== undefined && size.percent >= 100 ? ALL : n > 0 ? ranked[n - 1]!.rank : -1;
  threshold = Math.max(threshold, previous);
  return { threshold, members: ranked.filter((p) => threshold >= ALL || p.rank <= threshold).map((p) => p.id), eligible: ranked.length };
}

/** The pod name in an Istio-style node id (`sidecar~10.0.0.1~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local` → `reviews-v1-abc`), else the id. */
export function podOf(id: string): string {
  const parts = id.split('~');
  if (parts.length === 4 && parts[2]) return parts[2].split('.')[0] || parts[2];
  return id;
}
