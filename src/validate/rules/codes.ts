// The rules layer's diagnostic codes (MCD0200–MCD0299). One code per kind of
// mistake, so a code means the same thing on every resource kind; the message
// carries Istio's own wording. Keep in step with the README table.

export interface RuleCode {
  code: string;
  name: string;
  meaning: string;
}

export const RULE_CODES = {
  host: { code: 'MCD0200', name: 'InvalidHost', meaning: 'A host name, wildcard or `namespace/host` entry that Istio rejects (FQDN rules, `*` only as the leftmost label, no partial wildcards, no short names where Istio forbids them).' },
  port: { code: 'MCD0201', name: 'InvalidPort', meaning: 'A port number outside 1–65535, or a port that is required but missing.' },
  duration: { code: 'MCD0202', name: 'InvalidDuration', meaning: 'A duration that does not parse (`1s`, `100ms`, `1h30m`), is below 1ms, or is finer than millisecond precision.' },
  regex: { code: 'MCD0203', name: 'InvalidRegex', meaning: "A regular expression Envoy's RE2 engine cannot compile (look-arounds, back-references, syntax errors), or one longer than 1024 characters." },
  weight: { code: 'MCD0204', name: 'InvalidRouteWeight', meaning: 'A negative route weight, several destinations whose weights are all 0 (errors, as Istio), a weight on a single destination, which gets all traffic anyway (warning), or HTTP route weights summing past 4294967295, which Envoy and gRPC refuse (warning).' },
  percentage: { code: 'MCD0205', name: 'InvalidPercentage', meaning: 'A percentage outside 0–100 (fault injection, mirroring, outlier detection).' },
  name: { code: 'MCD0206', name: 'InvalidName', meaning: 'A subset, port, gateway or namespace name that is not a DNS-1123 label.' },
  labels: { code: 'MCD0207', name: 'InvalidLabelOrSelector', meaning: 'A label key/value that Kubernetes rejects, or a workload selector with an empty key or a wildcard.' },
  address: { code: 'MCD0208', name: 'InvalidAddress', meaning: 'An IP address, CIDR block, unix socket path or endpoint address that does not parse.' },
  conflict: { code: 'MCD0209', name: 'ConflictingFields', meaning: 'Fields that Istio does not allow together (route with redirect, rewrite with redirect, jwks with jwksUri, workloadSelector with endpoints, …).' },
  missing: { code: 'MCD0210', name: 'MissingRequiredField', meaning: 'A field Istio requires for this configuration (route or redirect, hosts, servers, issuer, …) is missing or empty.' },
  unreachable: { code: 'MCD0211', name: 'UnreachableRoute', meaning: 'A route after a catch-all route (one with no match) can never be used; only the last rule can have no matches.' },
  retry: { code: 'MCD0212', name: 'InvalidRetryPolicy', meaning: 'Retry attempts below 0, a retry policy with attempts 0, or an unknown `retryOn` condition.' },
  fault: { code: 'MCD0213', name: 'InvalidFaultInjection', meaning: 'A fault with neither abort nor delay, an abort status outside 200–599, an unknown gRPC status, or an unsupported fault type.' },
  tls: { code: 'MCD0214', name: 'InvalidTLSSettings', meaning: 'TLS settings that do not fit the TLS mode (e.g. MUTUAL without a client certificate, ISTIO_MUTUAL with certificate files, TLS on a plain-text port).' },
  status: { code: 'MCD0215', name: 'InvalidHTTPStatus', meaning: 'A direct-response status outside 200–599 or a redirect code that is not 3xx.' },
  duplicate: { code: 'MCD0216', name: 'DuplicateEntry', meaning: 'A name or value that must be unique appears twice (subset names, port names/numbers, hosts, exportTo entries, metric names).' },
  resolution: { code: 'MCD0217', name: 'InvalidServiceEntryResolution', meaning: 'ServiceEntry resolution does not fit its endpoints or addresses (NONE with endpoints, DNS with wildcard hosts, CIDR with DNS, …).' },
  authz: { code: 'MCD0218', name: 'InvalidAuthorizationPolicy', meaning: 'AuthorizationPolicy action, provider and rule combinations Istio rejects, empty `from`/`to`, unknown `when` keys, bad principals or ports.' },
  jwt: { code: 'MCD0219', name: 'InvalidJWTRule', meaning: 'RequestAuthentication JWT rule without issuer, with a bad jwksUri, invalid jwks, or empty header/param locations.' },
  cors: { code: 'MCD0220', name: 'InvalidCorsPolicy', meaning: 'A CORS policy with an empty origin, an unsupported method, a bad header name or a max age finer than seconds.' },
  header: { code: 'MCD0221', name: 'InvalidHeader', meaning: 'A header name that is empty, not a token, a pseudo-header, or Host where Istio forbids it; or a header value with control characters.' },
  trafficPolicy: { code: 'MCD0222', name: 'InvalidTrafficPolicy', meaning: 'DestinationRule traffic policy values Istio rejects (empty policy, negative pool limits, consistent-hash settings, locality LB, tunnel/proxyProtocol).' },
  gatewayServer: { code: 'MCD0223', name: 'InvalidGatewayServer', meaning: 'A Gateway server Istio rejects: unsupported protocol, missing port name, bind address, targetPort set, httpsRedirect on a non-HTTP server.' },
  sidecar: { code: 'MCD0224', name: 'InvalidSidecar', meaning: 'A Sidecar Istio rejects: empty configuration, catch-all egress not last, duplicate listener ports, bad defaultEndpoint, egressProxy without ALLOW_ANY.' },
  peerAuthn: { code: 'MCD0225', name: 'InvalidPeerAuthentication', meaning: 'Port-level mTLS without a workload selector, or an empty `portLevelMtls`.' },
  rollout: { code: 'MCD0226', name: 'InvalidRollout', meaning: 'A meshcd Rollout whose steps, analysis metrics, thresholds, limits or webhooks do not make sense.' },
  meshConfig: { code: 'MCD0227', name: 'InvalidMeshConfig', meaning: 'A meshcd MeshConfig with an invalid trust domain, namespace, cluster domain or namespace labels.' },
  exportTo: { code: 'MCD0228', name: 'InvalidExportTo', meaning: 'exportTo values Istio rejects: `*` with other values, `~` with others, invalid namespaces, workload-selector DestinationRules exported beyond their namespace.' },
  deprecated: { code: 'MCD0229', name: 'DeprecatedField', meaning: 'A field Istio still accepts but has deprecated (mirrorPercent, consecutiveErrors, minimumRingSize, legacy gateway names); warning.' },
  relativeWeights: { code: 'MCD0230', name: 'RouteWeightsNotPercent', meaning: "Destination weights that do not sum to 100. Istio accepts them (weights are relative), so this is a warning that states the split traffic will really get (e.g. weights 1 and 2 give 33.3% and 66.7%)." },
  ruleCrashed: { code: 'MCD0299', name: 'RuleCheckFailed', meaning: 'A rule check failed unexpectedly on this resource (a meshcd bug); the resource was not fully checked.' },
} as const satisfies Record<string, RuleCode>;

export type RuleCodeKey = keyof typeof RULE_CODES;
