// The values that cross boundaries between meshcd's layers (see DESIGN.md,
// "Types that cross boundaries"). Keep this file small: only what two or more
// folders of src/ exchange belongs here. Imports nothing but ./istio.js.

import type { KindSpecs, MeshKind } from './istio.js';

/** Where a resource or a diagnostic came from. `line` is 1-based. */
export interface Origin {
  /** Path relative to the source root, with `/` separators. */
  file: string;
  line: number;
  /** The source (repo or folder) the file came from, when there are several. */
  source?: string;
}

/** kind/namespace/name, e.g. `VirtualService/default/reviews`. */
export type ResourceKey = string;

export function resourceKey(kind: string, namespace: string, name: string): ResourceKey {
  return `${kind}/${namespace}/${name}`;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One typed mesh resource as written in the config, with where it came from. */
export interface Resource<K extends MeshKind = MeshKind> {
  kind: K;
  apiVersion: string;
  metadata: ObjectMeta;
  spec: KindSpecs[K];
  origin: Origin;
  /** The document as parsed (plain JSON), used for schema checks, diffs and policies. */
  raw: Record<string, unknown>;
  /** Content hash of the canonical JSON of `raw` (sha256 hex); with LoadOptions.lazyDigests, worked out when first read. */
  readonly digest: string;
}

export type AnyResource = { [K in MeshKind]: Resource<K> }[MeshKind];

/** Typed resources of one revision, indexed by kind and key. Immutable once built. */
export interface ConfigSet {
  /** Every resource, in a stable order (kind, namespace, name). */
  readonly resources: readonly AnyResource[];
  readonly byKey: ReadonlyMap<ResourceKey, AnyResource>;
  ofKind<K extends MeshKind>(kind: K): readonly Resource<K>[];
  get<K extends MeshKind>(kind: K, namespace: string, name: string): Resource<K> | undefined;
  /** Mesh-wide settings, from the MeshConfig resource or defaults. */
  readonly mesh: MeshSettings;
}

export interface MeshSettings {
  trustDomain: string;
  defaultNamespace: string;
  /** `ALLOW_ANY` (default, as Istio) or `REGISTRY_ONLY`. */
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** DNS suffix for short names, `svc.cluster.local` by default. */
  clusterDomain: string;
  /** Root namespace for mesh-wide policies, as Istio's `istio-system`. */
  rootNamespace: string;
  /** Istio's MeshConfig.localityLbSetting: applies where no DestinationRule sets its own. */
  localityLbSetting?: Readonly<Record<string, unknown>>;
}

export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  trustDomain: 'cluster.local',
  defaultNamespace: 'default',
  outboundTrafficPolicy: 'ALLOW_ANY',
  clusterDomain: 'svc.cluster.local',
  rootNamespace: 'istio-system',
};

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  /** `IST0101`, `MCD1001`, `SCHEMA`, … */
  code: string;
  severity: Severity;
  message: string;
  /** kind/namespace/name of the resource concerned, when there is one. */
  resource?: ResourceKey;
  origin?: Origin;
  /** Path inside the resource, e.g. `spec.http[0].route[1].weight`. */
  path?: string;
}

/** A snapshot of a source at one point: immutable, content-addressed. */
export interface Revision {
  /** Source name, e.g. `examples` or `platform`. */
  source: string;
  /** Branch, tag or folder, e.g. `main`. */
  ref: string;
  /** Git commit id, or the content digest of a folder. */
  commit: string;
  /** `main@sha1:363a…` or `dir@sha256:…`. */
  id: string;
  /** Paths relative to the source root (sub-folder applied), `/` separators. */
  paths: readonly string[];
  /** Reads one file's bytes. */
  read(path: string): Promise<Uint8Array>;
  /** A stable id of a file's content (git blob id, or sha256), to skip re-parsing. */
  blobId(path: string): string | undefined;
}

// ---------------------------------------------------------------------------
// Service discovery (registry → mesh)

export type Protocol = 'HTTP' | 'HTTPS' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UNKNOWN';

export interface ServicePort {
  number: number;
  protocol: Protocol;
  name: string;
  targetPort?: number;
}

export interface Service {
  /** FQDN, e.g. `reviews.default.svc.cluster.local`, or an external host. */
  hostname: string;
  namespace: string;
  ports: ServicePort[];
  resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Virtual IPs, when known. */
  addresses: string[];
  /** Namespaces this service is visible to (`*` for all, `.` resolved already). */
  exportTo: string[];
  /** Which resource defined it. */
  origin?: Origin;
  resource?: ResourceKey;
}

export interface Workload {
  /** Stable id, e.g. `WorkloadEntry/default/reviews-v1` or `ServiceEntry/default/x#0`. */
  id: string;
  namespace: string;
  address: string;
  /** Port name → number overrides (WorkloadEntry.ports). */
  ports: Record<string, number>;
  labels: Record<string, string>;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
  network?: string;
}

export interface ServiceInstance {
  service: string; // hostname
  workloads: Workload[];
}

/** Services and workloads, from config (ServiceEntry/WorkloadEntry) or Kubernetes. */
export interface ServiceIndex {
  services(): readonly Service[];
  service(hostname: string, namespace?: string): Service | undefined;
  /** Workloads behind a service (for a port number, when ports are remapped). */
  workloadsFor(hostname: string, namespace?: string): readonly Workload[];
  /** All workloads, e.g. to match a DestinationRule subset or a Gateway selector. */
  workloads(): readonly Workload[];
  /** Namespaces the registry knows with their labels (Kubernetes: every namespace of every cluster), for analyzers. */
  namespaces?(): ReadonlyMap<string, Readonly<Record<string, string>>>;
  /**
   * The workloads a service's own selector picks, ready or not (a Kubernetes
   * Service's pods), for analyzers; undefined when the service has none.
   */
  selectedWorkloads?(hostname: string, namespace: string): readonly Workload[] | undefined;
  /**
   * The Secret a Gateway's `credentialName` names, as the registry read it
   * (Kubernetes with `--gateway-secrets`); undefined when there is none.
   * Absent when the registry reads no Secrets: the analyzers then leave
   * credentialName unchecked, as istioctl analyze without a cluster.
   */
  credentialSecret?(namespace: string, name: string): CredentialSecret | undefined;
}

/** What analyzers know of a Secret: whether Istio would call it a valid TLS credential; never its content. */
export interface CredentialSecret {
  /** A certificate and key (`tls.crt`/`tls.key`, or `cert`/`key`), the certificate's first PEM block parses and is within its validity period when read. */
  valid: boolean;
}

// ---------------------------------------------------------------------------
// Progressive rollout (rollout → mesh)

/** A destination as a VirtualService writes it (host resolved in the VirtualService's namespace), with its weight. */
export interface OverlayDestination {
  host: string;
  subset?: string;
  port?: number;
  /** 0–100; a route's weights sum to 100. */
  weight: number;
}

/** A header or query-parameter condition: exactly one of exact/prefix/regex. */
export interface OverlayStringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface RouteOverride {
  /** VirtualService key and the index of the http route inside it (as Git states it now). */
  virtualService: ResourceKey;
  routeIndex: number;
  /** The destinations and weights in force now; they replace the route's own. */
  destinations: OverlayDestination[];
  /**
   * A/B: requests matching any of these (ANDed with the route's own matches)
   * go to `destinations` of this header route, inserted before the route.
   */
  headerRoute?: { matches: { headers?: Record<string, OverlayStringMatch>; queryParams?: Record<string, OverlayStringMatch> }[]; destinations: OverlayDestination[] };
  /** Copy `percent` of the route's requests to this destination. */
  mirror?: { host: string; subset?: string; port?: number; percent: number };
}

export interface RolloutOverlay {
  overrides: readonly RouteOverride[];
}

export const EMPTY_OVERLAY: RolloutOverlay = { overrides: [] };

// ---------------------------------------------------------------------------
// xDS (translate → cache → server)

export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

export type ProxyKind = 'sidecar' | 'router' | 'grpc';

/** Who is asking: parsed from the xDS node (id and metadata). */
export interface ProxyInfo {
  id: string;
  kind: ProxyKind;
  namespace: string;
  labels: Record<string, string>;
  ips: string[];
  serviceAccount?: string;
  /** e.g. `grpc-js 1.14`, `envoy 1.31`. */
  userAgent?: string;
  /** `region/zone/subzone` from the xDS node's locality, when it sends one (Istio: it wins over its workload's). */
  locality?: string;
}

/** One Envoy resource, as a plain JSON object in proto3 JSON form, with its name. */
export interface XdsResource {
  name: string;
  /** The resource as a JS object ready for protobufjs `fromObject` (with `@type`). */
  value: Record<string, unknown>;
  /** Content hash of the encoded bytes. */
  version: string;
}

/** Envoy resources by type URL for one proxy. */
export type ProxyResources = ReadonlyMap<TypeUrl, ReadonlyMap<string, XdsResource>>;

/** A consistent, versioned set of resources for one proxy. */
export interface Snapshot {
  version: string;
  resources: ProxyResources;
}

// ---------------------------------------------------------------------------
// CA (ca → server/agent)

export interface IssuedCert {
  /** Leaf first, then intermediates up to (not including) the root. */
  chainPem: string[];
  notAfter: Date;
  serial: string;
  spiffeId: string;
}

export interface TrustBundle {
  rootsPem: string[];
}
