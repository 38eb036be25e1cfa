// TypeScript shapes of the spec of every kind meshcd reads. These describe
// what a *schema-valid* document looks like (validate/schema checks documents
// against Istio's published schemas before anything relies on these types).
// Field names follow Istio's proto3 JSON names (camelCase).

export type StringMatch = { exact?: string; prefix?: string; regex?: string };

export interface Destination {
  host: string;
  subset?: string;
  port?: { number?: number };
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceNamespace?: string;
  statPrefix?: string;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
}

export interface HTTPRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}

export interface HTTPDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

export interface HTTPRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
}

export interface Percent {
  value?: number;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay?: string; exponentialDelay?: string; percentage?: Percent; percent?: number };
  abort?: { httpStatus?: number; grpcStatus?: string; http2Error?: string; percentage?: Percent };
}

export interface CorsPolicy {
  allowOrigins?: StringMatch[];
  allowOrigin?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: HTTPRedirect;
  directResponse?: HTTPDirectResponse;
  delegate?: { name: string; namespace?: string };
  rewrite?: HTTPRewrite;
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrors?: { destination: Destination; percentage?: Percent }[];
  mirrorPercentage?: Percent;
  mirrorPercent?: number;
  corsPolicy?: CorsPolicy;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

export interface TLSMatchAttributes extends L4MatchAttributes {
  sniHosts: string[];
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface TCPRoute {
  match?: L4MatchAttributes[];
  route?: RouteDestination[];
}

export interface TLSRoute {
  match: TLSMatchAttributes[];
  route?: RouteDestination[];
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: TLSRoute[];
  tcp?: TCPRoute[];
  exportTo?: string[];
}

export interface ClientTLSSettings {
  mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface LoadBalancerSettings {
  simple?: 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    ringHash?: { minimumRingSize?: number };
    maglev?: { tableSize?: number };
    minimumRingSize?: number;
  };
  localityLbSetting?: Record<string, unknown>;
  warmupDurationSecs?: string;
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: (Omit<TrafficPolicy, 'portLevelSettings'> & { port?: { number?: number } })[];
  tunnel?: Record<string, unknown>;
  proxyProtocol?: Record<string, unknown>;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface WorkloadSelector {
  /** security.istio.io kinds and DestinationRule (istio.type.v1beta1.WorkloadSelector). */
  matchLabels?: Record<string, string>;
  /** ServiceEntry and Sidecar (networking.v1alpha3.WorkloadSelector) spell it `labels`. */
  labels?: Record<string, string>;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: WorkloadSelector;
}

export interface Port {
  number: number;
  protocol: string;
  name: string;
  targetPort?: number;
}

export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

export interface Server {
  port: Port;
  bind?: string;
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}

export interface GatewaySpec {
  servers?: Server[];
  selector?: Record<string, string>;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: Port[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: WorkloadSelector;
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface IstioEgressListener {
  port?: Port;
  bind?: string;
  captureMode?: 'DEFAULT' | 'IPTABLES' | 'NONE';
  hosts: string[];
}

export interface IstioIngressListener {
  port: Port;
  bind?: string;
  captureMode?: 'DEFAULT' | 'IPTABLES' | 'NONE';
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
}

export interface SidecarSpec {
  workloadSelector?: WorkloadSelector;
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: { mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY'; egressProxy?: Destination };
}

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT' };
  portLevelMtls?: Record<string, { mode?: 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT' }>;
}

export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from?: { source?: AuthorizationSource }[];
  to?: { operation?: AuthorizationOperation }[];
  when?: AuthorizationCondition[];
}

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: Record<string, unknown>;
  targetRefs?: Record<string, unknown>[];
  rules?: AuthorizationRule[];
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  provider?: { name: string };
}

export interface RequestAuthenticationSpec {
  selector?: WorkloadSelector;
  jwtRules?: {
    issuer: string;
    audiences?: string[];
    jwksUri?: string;
    jwks?: string;
    fromHeaders?: { name: string; prefix?: string }[];
    fromParams?: string[];
    outputPayloadToHeader?: string;
    forwardOriginalToken?: boolean;
  }[];
}

/** One step of a Rollout: exactly one action. */
export interface RolloutStepSpec {
  /** N% of the way from the old destinations' weights to the new ones (0–100). */
  setWeight?: number;
  /** Wait `duration`, or (without one) until `meshcd rollout promote`. */
  pause?: { duration?: string };
  /** A/B: requests matching one of these go to the new destinations. */
  setHeaderRoute?: { match: { headers?: Record<string, StringMatch>; queryParams?: Record<string, StringMatch> }[] };
  /** Copy `percent` of the route's requests to the new destinations. */
  setMirror?: { percent: number };
  /** An inline analysis: the step completes when these metrics pass. */
  analysis?: { metrics: string[] };
  /** strategy: proxies — this many (or this share) of the affected proxies get the new revision. */
  setProxies?: { count?: number; percent?: number };
}

export interface RolloutMetricSpec {
  name: string;
  template?: string;
  query?: string;
  thresholdRange?: { min?: number; max?: number };
  /** stable: the old destinations (traffic); rest: the proxies outside the cohort (strategy: proxies). */
  compare?: 'stable' | 'rest';
  maxDelta?: number;
  maxRatio?: number;
}

/**
 * meshcd.io/v1alpha1 Rollout: how a change to one VirtualService's routes
 * (the end state Git states) is walked out. The shape of issue 8; parsed
 * and defaulted by src/rollout/spec.ts into rollout/contracts.ts's RolloutSpec.
 */
export interface RolloutSpec {
  /** traffic (default): walk a VirtualService's route weights; proxies: a config canary (issue 13). */
  strategy?: 'traffic' | 'proxies';
  /**
   * traffic: the VirtualService (same namespace) and optionally one named
   * http route of it. proxies: which changes the canary covers — resources
   * of these kinds (default: every kind but Rollout and MeshConfig) in these
   * namespaces (default: the Rollout's own).
   */
  target: { virtualService?: string; route?: string; kinds?: string[]; namespaces?: string[] };
  /** proxies: which proxies may be in a cohort (the rest get the change at promotion). */
  cohort?: ConfigCanaryCohortSpec;
  steps: RolloutStepSpec[];
  /** Background analysis, from the first step to promotion. */
  analysis?: {
    interval?: string;
    failureLimit?: number;
    inconclusiveLimit?: number;
    consecutiveErrorLimit?: number;
    prometheus?: { address: string };
    metrics: RolloutMetricSpec[];
  };
  /** After a rollback: revert (default) | branch | none. */
  writeBack?: 'revert' | 'branch' | 'none';
  webhooks?: { name: string; type: 'pre-rollout' | 'rollout' | 'confirm-promotion' | 'post-rollout' | 'rollback' | 'event'; url: string; timeout?: string; metadata?: Record<string, string> }[];
}

export interface ConfigCanaryCohortSpec {
  namespaces?: string[];
  labels?: Record<string, string>;
  localities?: { region?: string; zone?: string; subzone?: string }[];
}

/** meshcd.io/v1alpha1 MeshConfig: mesh-wide settings (one per config). */
export interface MeshConfigSpec {
  trustDomain?: string;
  defaultNamespace?: string;
  outboundTrafficPolicy?: { mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  clusterDomain?: string;
  rootNamespace?: string;
  /** Namespace labels (e.g. `env: production`), for policies with namespace selectors. */
  namespaces?: Record<string, { labels?: Record<string, string> }>;
  /**
   * The mesh-wide default config canary: a change to what it covers that no
   * `strategy: proxies` Rollout covers is walked out as one (a Rollout named
   * `meshconfig-default` in the root namespace). `target.namespaces`
   * defaults to every namespace.
   */
  configCanary?: Omit<RolloutSpec, 'strategy'>;
  /** Istio's mesh-wide locality load balancing; a DestinationRule's own setting replaces it. */
  localityLbSetting?: Record<string, unknown>;
}

export interface KindSpecs {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  Sidecar: SidecarSpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  RequestAuthentication: RequestAuthenticationSpec;
  Rollout: RolloutSpec;
  MeshConfig: MeshConfigSpec;
}

export type MeshKind = keyof KindSpecs;

/** apiVersion groups and the versions accepted for each kind. */
export const KIND_GROUPS: Record<MeshKind, { group: string; versions: readonly string[] }> = {
  VirtualService: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  DestinationRule: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  Gateway: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  ServiceEntry: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  WorkloadEntry: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  Sidecar: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  PeerAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  AuthorizationPolicy: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  RequestAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  Rollout: { group: 'meshcd.io', versions: ['v1alpha1'] },
  MeshConfig: { group: 'meshcd.io', versions: ['v1alpha1'] },
};

export const MESH_KINDS = Object.keys(KIND_GROUPS) as MeshKind[];

/** Kinds that only exist once per namespace-less mesh (MeshConfig is cluster-wide). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<MeshKind> = new Set<MeshKind>(['MeshConfig']);
