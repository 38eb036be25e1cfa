// IST0149 JwtClaimBasedRoutingWithoutRequestAuthN, as Istio's
// virtualservice/jwtclaimroute analyzer: a VirtualService bound to a Gateway
// matches on a JWT claim (a header or withoutHeaders key
// `@request.auth.claims.x` or `@request.auth.claims[x]`), but a workload the
// Gateway selects has no RequestAuthentication in its namespace or the root
// namespace whose selector picks it. Without one nobody validates the token,
// the claims are never there and the route never matches. Istio reports the
// first claim key of the VirtualService, once per gateway workload, with no
// field location. (Istio's analyzer looks in `istio-system`; meshcd in the
// root namespace, which is `istio-system` unless MeshConfig says otherwise.)

import type { Resource } from '../../api/types.js';
import { labelsMatch } from '../../registry/config.js';
import { arr, isObj, selectorLabels, type AnalysisContext, type Analyzer } from './context.js';
import { gatewayRef } from './vs-gateways.js';

const CLAIM = '@request.auth.claims';

/** Istio's jwt.ToRoutingClaim(key).Match. */
function isClaimKey(key: string): boolean {
  if (!key.toLowerCase().startsWith(CLAIM)) return false;
  const rest = key.slice(CLAIM.length);
  return (rest.startsWith('.') && rest.length > 1) || (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2);
}

function firstClaimKey(vs: Resource<'VirtualService'>): string | undefined {
  for (const r of arr(vs.spec.http)) {
    if (!isObj(r)) continue;
    for (const m of arr(r.match)) {
      if (!isObj(m)) continue;
      for (const field of ['headers', 'withoutHeaders'] as const) {
        const found = isObj(m[field]) ? Object.keys(m[field]).find(isClaimKey) : undefined;
        if (found) return found;
      }
    }
  }
  return undefined;
}

export const vsJwtClaimRoutes: Analyzer = {
  name: 'virtualservice/jwt-claim-routes',
  codes: [{ code: 'IST0149', name: 'JwtClaimBasedRoutingWithoutRequestAuthN', severity: 'error', description: 'A VirtualService routes on JWT claims at a Gateway whose workloads no RequestAuthentication applies to, so the claims are never there.' }],
  run(ctx: AnalysisContext) {
    const authns = ctx.config.ofKind('RequestAuthentication');
    const covered = (ns: string, labels: Record<string, string>) =>
      authns.some((ra) => (ra.metadata.namespace === ns || ra.metadata.namespace === ctx.mesh.rootNamespace) && labelsMatch(selectorLabels(ra.spec.selector) ?? {}, labels));
    for (const vs of ctx.config.ofKind('VirtualService')) {
      const key = firstClaimKey(vs);
      if (!key) continue;
      for (const ref of arr(vs.spec.gateways)) {
        if (typeof ref !== 'string') continue;
        const g = gatewayRef(ref, vs.metadata.namespace);
        if (g === 'mesh') continue;
        const gw = ctx.config.get('Gateway', g.namespace, g.name);
        if (!gw) continue; // IST0101 says so
        const sel = isObj(gw.spec.selector) ? (gw.spec.selector as Record<string, string>) : {};
        for (const w of ctx.index.workloads()) {
          if (!labelsMatch(sel, w.labels) || covered(w.namespace, w.labels)) continue;
          const pod = w.id.slice(w.id.lastIndexOf('/') + 1);
          ctx.report(vs, 'IST0149', 'error', `The virtual service uses the JWT claim based routing (key: ${key}) but found no request authentication for the gateway (${g.namespace}/${g.name}) pod (${pod}). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.`);
        }
      }
    }
  },
};
