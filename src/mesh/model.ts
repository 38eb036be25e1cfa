// MeshModel: the mesh after name resolution, before any Envoy type. Built by
// buildMeshModel (./index.ts) from an accepted ConfigSet, a ServiceIndex and
// the rollout overlay; read by xds/translate. Plain data, no methods, so it
// can be compared, hashed and dumped. Imports only src/api (and ./policy's types).
//
// What "resolved" means here:
// - every host is a FQDN (`reviews` in namespace `bookinfo` → `reviews.bookinfo.svc.cluster.local`);
// - exportTo lists are resolved (`.` → own namespace, `~` → []);
// - gateway references are `namespace/name` or `mesh`;
// - the rollout overlay is already applied to VirtualService http routes;
// - durations are milliseconds, percentages are 0..100 numbers;
// - every list is sorted (services by host, resources by namespace/name).

import type { Diagnostic, MeshSettings, Origin, Protocol, ResourceKey } from '../api/types.js';
import type {
  AuthorizationRule,
  HeaderOperations,
  Server,
} from '../api/istio.js';
import type { TrafficPolicyModel } from './policy.js';

export interface MeshEndpoint {
  /** Workload id (`WorkloadEntry/ns/name` or `ServiceEntry/ns/name#i`). */
  workload: string;
  namespace: string;
  address: string;
  /** Service port number → port on this endpoint (after WorkloadEntry port remapping). */
  ports: Record<number, number>;
  labels: Record<string, string>;
  locality?: string;
  /** 1 when unset. */
  weight: number;
  serviceAccount?: string;
}

export interface MeshServicePort {
  number: number;
  name: string;
  protocol: Protocol;
}

export interface MeshService {
  hostname: string;
  namespace: string;
  ports: MeshServicePort[];
  resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  addresses: string[];
  exportTo: string[];
  endpoints: MeshEndpoint[];
  resource?: ResourceKey;
  origin?: Origin;
}

export type StringMatchKind = 'exact' | 'prefix' | 'regex';

export interface StringMatchModel {
  kind: StringMatchKind;
  value: string;
}

export interface NamedMatch {
  name: string;
  match: StringMatchModel;
}

export interface HttpMatchModel {
  name?: string;
  uri?: StringMatchModel;
  scheme?: StringMatchModel;
  method?: StringMatchModel;
  authority?: StringMatchModel;
  headers: NamedMatch[];
  withoutHeaders: NamedMatch[];
  queryParams: NamedMatch[];
  port?: number;
  ignoreUriCase: boolean;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  /** Resolved `namespace/name` or `mesh`; empty means the VirtualService's gateways. */
  gateways: string[];
}

export interface DestinationModel {
  /** FQDN (or the host as written when it is not a known short name). */
  host: string;
  subset?: string;
  port?: number;
}

export interface WeightedDestination extends DestinationModel {
  weight: number;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
}

export interface RetryModel {
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn?: string;
}

export interface FaultModel {
  delay?: { fixedDelayMs: number; percent: number };
  /** `grpcCode` is `grpcStatus` resolved to its number (names as in google.rpc.Code); absent when unknown. */
  abort?: { httpStatus?: number; grpcStatus?: string; grpcCode?: number; percent: number };
}

/** A VirtualService corsPolicy, normalised: origins as matchers (`allowOrigin` folded in), maxAge in whole seconds. */
export interface CorsModel {
  allowOrigins: StringMatchModel[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'FORWARD' | 'IGNORE';
}

export interface MirrorModel {
  destination: DestinationModel;
  percent: number;
}

export interface HttpRouteModel {
  /** Position in the VirtualService's http list (before overlay insertions). */
  index: number;
  name?: string;
  matches: HttpMatchModel[];
  destinations: WeightedDestination[];
  redirect?: { uri?: string; authority?: string; port?: number; scheme?: string; redirectCode?: number };
  directResponse?: { status: number; body?: string };
  rewrite?: { uri?: string; authority?: string; uriRegex?: { match: string; rewrite: string } };
  timeoutMs?: number;
  retries?: RetryModel;
  fault?: FaultModel;
  mirrors: MirrorModel[];
  cors?: CorsModel;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
  /** Path of this route in its resource, for diagnostics, e.g. `spec.http[2]`. */
  path: string;
}

export interface L4MatchModel {
  port?: number;
  destinationSubnets: string[];
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways: string[];
  /** Only for TLS routes. */
  sniHosts: string[];
}

export interface L4RouteModel {
  matches: L4MatchModel[];
  destinations: WeightedDestination[];
  path: string;
}

export interface VirtualServiceModel {
  key: ResourceKey;
  name: string;
  namespace: string;
  /** FQDNs or wildcards (`*.example.com`, `*`). */
  hosts: string[];
  /** `mesh` and/or `namespace/name` of Gateways. */
  gateways: string[];
  exportTo: string[];
  http: HttpRouteModel[];
  tcp: L4RouteModel[];
  tls: L4RouteModel[];
  origin: Origin;
}

export interface SubsetModel {
  name: string;
  labels: Record<string, string>;
  trafficPolicy?: TrafficPolicyModel;
}

export interface DestinationRuleModel {
  key: ResourceKey;
  name: string;
  namespace: string;
  /** FQDN or wildcard. */
  host: string;
  exportTo: string[];
  /** Durations in milliseconds (./policy.ts). */
  trafficPolicy?: TrafficPolicyModel;
  subsets: SubsetModel[];
  workloadSelector?: Record<string, string>;
  origin: Origin;
}

export interface GatewayModel {
  key: ResourceKey;
  name: string;
  namespace: string;
  selector: Record<string, string>;
  servers: Server[];
  origin: Origin;
}

export interface EgressHostModel {
  /** Namespace part: a namespace, `*` (any) or the Sidecar's own namespace for `.`. */
  namespace: string;
  /** Host part: FQDN, `*` or `*.suffix`. */
  host: string;
}

export interface SidecarModel {
  key: ResourceKey;
  namespace: string;
  workloadSelector?: Record<string, string>;
  /** Union of the egress listeners' hosts; empty means no egress scoping. */
  egressHosts: EgressHostModel[];
  outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  origin: Origin;
}

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationModel {
  key: ResourceKey;
  namespace: string;
  selector?: Record<string, string>;
  mode: MtlsMode;
  portLevel: Record<number, MtlsMode>;
  origin: Origin;
}

export interface AuthorizationPolicyModel {
  key: ResourceKey;
  name: string;
  namespace: string;
  selector?: Record<string, string>;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  rules: AuthorizationRule[];
  origin: Origin;
}

export interface MeshModel {
  settings: MeshSettings;
  services: MeshService[];
  virtualServices: VirtualServiceModel[];
  destinationRules: DestinationRuleModel[];
  gateways: GatewayModel[];
  sidecars: SidecarModel[];
  peerAuthentications: PeerAuthenticationModel[];
  authorizationPolicies: AuthorizationPolicyModel[];
  /** Problems found while resolving (unknown rollout targets, bad durations…). */
  diagnostics: Diagnostic[];
}
