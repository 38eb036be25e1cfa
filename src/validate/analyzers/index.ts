// Layer 3: cross-resource analyzers, in the manner of `istioctl analyze`.
// Each analyzer lives in its own file, declares the codes it reports
// (Istio's code and name where the check is the same, MCD03xx for meshcd's
// own) and runs over a shared AnalysisContext. Pure: imports only api/,
// config/ (types, canonicalJson) and registry/config (label/exportTo helpers).

import type { Diagnostic, ServiceIndex } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';
import { AnalysisContext, type Analyzer, type AnalyzerCode } from './context.js';
import { vsDestinations } from './vs-destinations.js';
import { vsGateways } from './vs-gateways.js';
import { vsMeshHostConflicts } from './vs-mesh-host-conflicts.js';
import { vsPortSelector } from './vs-port-selector.js';
import { vsRouteConditions } from './vs-route-conditions.js';
import { vsJwtClaimRoutes } from './vs-jwt-claim-routes.js';
import { vsGatewayHosts } from './gateway-hosts.js';
import { gatewayConflicts } from './gateway-conflicts.js';
import { gatewayWorkloads } from './gateway-workloads.js';
import { drHostsSubsets } from './dr-hosts-subsets.js';
import { drTlsVerification } from './dr-tls-verification.js';
import { drConflicts } from './dr-conflicts.js';
import { mtlsConflicts } from './mtls-conflicts.js';
import { sidecars } from './sidecars.js';
import { selectorWorkloads } from './selector-workloads.js';
import { authzReferences } from './authz-references.js';
import { serviceEntryAddresses } from './serviceentry-addresses.js';
import { deprecatedFields } from './deprecated-fields.js';
import { rollouts } from './rollouts.js';
import { orphans } from './orphans.js';
import { gatewayCertificates } from './gateway-certificates.js';
import { gatewaySecrets } from './gateway-secrets.js';
import { serviceEntryProtocols } from './serviceentry-protocols.js';
import { negativeConditions } from './conditions.js';
import { authzGrpcMethods } from './authz-grpc-methods.js';
import { servicePortNames } from './service-port-names.js';

export type { Analyzer, AnalyzerCode } from './context.js';

export const ANALYZERS: readonly Analyzer[] = [
  vsDestinations,
  vsGateways,
  vsMeshHostConflicts,
  vsPortSelector,
  vsRouteConditions,
  vsJwtClaimRoutes,
  vsGatewayHosts,
  gatewayConflicts,
  gatewayWorkloads,
  gatewayCertificates,
  gatewaySecrets,
  drHostsSubsets,
  drTlsVerification,
  drConflicts,
  mtlsConflicts,
  sidecars,
  selectorWorkloads,
  authzReferences,
  authzGrpcMethods,
  serviceEntryAddresses,
  serviceEntryProtocols,
  servicePortNames,
  negativeConditions,
  deprecatedFields,
  rollouts,
  orphans,
];

/** Every code the analyzers can report, once each (for docs and SARIF rules). */
export function analyzerCodes(): AnalyzerCode[] {
  const seen = new Map<string, AnalyzerCode>();
  for (const a of ANALYZERS) for (const c of a.codes) if (!seen.has(c.code)) seen.set(c.code, c);
  return [...seen.values()].sort((a, b) => (a.code < b.code ? -1 : 1));
}

export function analyze(load: LoadResult, index: ServiceIndex, analyzers: readonly Analyzer[] = ANALYZERS): Diagnostic[] {
  const ctx = new AnalysisContext(load, index);
  for (const a of analyzers) {
    try {
      a.run(ctx);
    } catch (err) {
      // An analyzer bug must not hide the other layers' findings.
      ctx.diagnostics.push({ code: 'IST0001', severity: 'error', message: `Internal error: analyzer ${a.name} failed: ${(err as Error).message}` });
    }
  }
  return ctx.diagnostics;
}
