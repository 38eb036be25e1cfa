// Layer 2: Istio's own per-kind validation (istio/istio
// pkg/config/validation), applied to resources that passed the schema layer,
// plus meshcd's rules for Rollout and MeshConfig. Pure. Codes MCD0200–MCD0299
// (codes.ts). One file per kind or concern; common.ts holds shared checks.
// Imports: api/, config/load (types, splitPath), ../schema/names, re2-wasm.
import type { AnyResource, Diagnostic } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';
import { RuleContext } from './context.js';
import { checkVirtualService } from './virtualservice.js';
import { checkDestinationRule } from './destinationrule.js';
import { checkGateway } from './gateway.js';
import { checkServiceEntry, checkWorkloadEntry } from './serviceentry.js';
import { checkSidecar } from './sidecar.js';
import { checkAuthorizationPolicy, checkPeerAuthentication, checkRequestAuthentication } from './security.js';
import { checkMeshConfig, checkRollout } from './meshcd.js';

export { RULE_CODES } from './codes.js';

function checkResource(ctx: RuleContext, r: AnyResource): void {
  switch (r.kind) {
    case 'VirtualService':
      return checkVirtualService(ctx, r.spec);
    case 'DestinationRule':
      return checkDestinationRule(ctx, r.spec);
    case 'Gateway':
      return checkGateway(ctx, r.spec);
    case 'ServiceEntry':
      return checkServiceEntry(ctx, r.spec);
    case 'WorkloadEntry':
      return checkWorkloadEntry(ctx, r.spec);
    case 'Sidecar':
      return checkSidecar(ctx, r.spec);
    case 'PeerAuthentication':
      return checkPeerAuthentication(ctx, r.spec);
    case 'AuthorizationPolicy':
      return checkAuthorizationPolicy(ctx, r.spec);
    case 'RequestAuthentication':
      return checkRequestAuthentication(ctx, r.spec);
    case 'Rollout':
      return checkRollout(ctx, r.spec);
    case 'MeshConfig':
      return checkMeshConfig(ctx, r.spec);
  }
}

export function checkRules(load: LoadResult): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of load.config.resources) {
    const ctx = new RuleContext(load, r);
    try {
      checkResource(ctx, r);
    } catch (err) {
      // Rules must never take validation down; a crash here is our bug, reported against the resource.
      ctx.error('ruleCrashed', '', `rule check failed on this resource (please report this meshcd bug): ${(err as Error).message}`);
    }
    out.push(...ctx.diagnostics);
  }
  return out;
}
