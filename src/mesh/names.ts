// Name and value helpers shared by mesh/ and xds/translate: host resolution,
// durations, percentages, host wildcard matching. Pure; imports only src/api.

import type { MeshSettings } from '../api/types.js';

/** A host as Istio reads it in a resource of `namespace`: a name without dots is short for `<name>.<namespace>.<clusterDomain>`. */
export function resolveHost(host: string, namespace: string, settings: Pick<MeshSettings, 'clusterDomain'>): string {
  if (host === '*' || host.startsWith('*') || host.includes('.')) return host;
  return `${host}.${namespace}.${settings.clusterDomain}`;
}

/** `ns/name`, `./name` or `name` (in `namespace`) → `ns/name`; `mesh` stays `mesh`. */
export function resolveGatewayRef(ref: string, namespace: string): string {
  if (ref === 'mesh') return ref;
  const slash = ref.indexOf('/');
  if (slash < 0) {
    // Istio also accepts `name.namespace.svc.cluster.local`-like refs; treat `name.ns` as ns/name.
    const dot = ref.indexOf('.');
    if (dot > 0) return `${ref.slice(dot + 1).split('.')[0]}/${ref.slice(0, dot)}`;
    return `${namespace}/${ref}`;
  }
  const ns = ref.slice(0, slash);
  return `${ns === '.' ? namespace : ns}/${ref.slice(slash + 1)}`;
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };

/** Istio/protobuf duration text (`1.5s`, `100ms`, `1m30s`) → milliseconds; undefined when malformed. */
export function parseDurationMs(text: string | undefined): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  if (s === '') return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== s.length) return undefined;
  return total;
}

/** Milliseconds → google.protobuf.Duration object. */
export function durationFromMs(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1_000_000);
  return { seconds, nanos };
}

/** Does `host` (FQDN) match `pattern` (FQDN, `*` or `*.suffix`)? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

/** Do two host patterns overlap (either may be a wildcard)? */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stable key of a label map. */
export function labelsKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
