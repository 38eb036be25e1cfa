// Keeps the identity of what did not change between two revisions' models:
// every part of `next` (settings, each service, VirtualService,
// DestinationRule, Gateway, Sidecar, PeerAuthentication, AuthorizationPolicy,
// and each list when all of its members are unchanged) that is equal to the
// part of `previous` with the same key is replaced by that previous object.
// Translation memoizes by object identity (src/xds/translate), so work done
// for an unchanged service, rule or route survives a revision, and a change
// re-translates only what reads the changed object.
// Pure. Imports ./model.

import type { MeshModel } from './model.js';

/** Structural equality of plain data (what a MeshModel is made of). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** `next`'s members, each replaced by the previous member with the same key when equal; the previous list itself when nothing changed. */
function internList<T>(next: readonly T[], previous: readonly T[] | undefined, key: (x: T) => string): T[] {
  if (!previous) return next as T[];
  const byKey = new Map<string, T>();
  for (const p of previous) byKey.set(key(p), p);
  let same = next.length === previous.length;
  const out = next.map((x, i) => {
    const p = byKey.get(key(x));
    const kept = p !== undefined && deepEqual(x, p) ? p : x;
    if (kept !== previous[i]) same = false;
    return kept;
  });
  return same ? (previous as T[]) : out;
}

export function internModel(next: MeshModel, previous: MeshModel | undefined): MeshModel {
  if (!previous) return next;
  return {
    settings: deepEqual(next.settings, previous.settings) ? previous.settings : next.settings,
    services: internList(next.services, previous.services, (s) => `${s.namespace}/${s.hostname}`),
    virtualServices: internList(next.virtualServices, previous.virtualServices, (v) => v.key),
    destinationRules: internList(next.destinationRules, previous.destinationRules, (d) => d.key),
    gateways: internList(next.gateways, previous.gateways, (g) => g.key),
    sidecars: internList(next.sidecars, previous.sidecars, (s) => s.key),
    peerAuthentications: internList(next.peerAuthentications, previous.peerAuthentications, (p) => p.key),
    authorizationPolicies: internList(next.authorizationPolicies, previous.authorizationPolicies, (a) => a.key),
    diagnostics: next.diagnostics,
  };
}
