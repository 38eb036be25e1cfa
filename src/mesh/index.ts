// mesh/: ConfigSet + ServiceIndex + RolloutOverlay → MeshModel (./model.ts).
// Pure: no clock, no I/O. May import src/api, src/registry/config.ts (for
// exportTo and label helpers) and its own files; never Envoy types.

import type { ConfigSet, Diagnostic, Resource, ResourceKey, RolloutOverlay, RouteOverride, Service, ServiceIndex, Workload } from '../api/types.js';
import { EMPTY_OVERLAY, resourceKey } from '../api/types.js';
import type { CorsPolicy, Destination, HTTPMatchRequest, HTTPRoute, Percent, StringMatch } from '../api/istio.js';
import { resolveExportTo } from '../registry/config.js';
import type {
  AuthorizationPolicyModel,
  CorsModel,
  DestinationModel,
  DestinationRuleModel,
  GatewayModel,
  HttpMatchModel,
  HttpRouteModel,
  L4RouteModel,
  MeshEndpoint,
  MeshModel,
  MeshService,
  MtlsMode,
  NamedMatch,
  PeerAuthenticationModel,
  SidecarModel,
  StringMatchModel,
  VirtualServiceModel,
  WeightedDestination,
} from './model.js';
import { cmp, parseDurationMs, resolveGatewayRef, resolveHost } from './names.js';
import { normalizeTrafficPolicy } from './policy.js';
import { deepEqual, internModel } from './intern.js';
import { applyOverlay } from './overlay.js';

export type * from './model.js';
export { resolveHost, parseDurationMs, durationFromMs, hostMatches, hostsOverlap, labelsKey } from './names.js';

/**
 * The model of one accepted revision. With `previous` (the model of the
 * revision before), every part that did not change is the previous object
 * (./intern.ts), so translation's memoized work for it carries over. When
 * `previous` was built from the same ConfigSet and ServiceIndex objects (a
 * rollout step or rollback: only the overlay differs), only the
 * VirtualServices whose overrides changed are built again.
 */
export function buildMeshModel(config: ConfigSet, index: ServiceIndex, overlay: RolloutOverlay = EMPTY_OVERLAY, previous?: MeshModel): MeshModel {
  const overrides = new Map<string, RouteOverride[]>();
  for (const o of overlay.overrides) {
    let l = overrides.get(o.virtualService);
    if (!l) overrides.set(o.virtualService, (l = []));
    l.push(o);
  }
  const before = previous && built.get(previous);
  if (previous && before && before.config === config && before.index === index) return withOverlay(previous, before, config, overrides);

  const diagnostics: Diagnostic[] = [];
  const settings = config.mesh;
  const services = index
    .services()
    .map((s) => serviceModel(s, index, config))
    .sort((a, b) => cmp(a.hostname, b.hostname) || cmp(a.namespace, b.namespace));

  const record: BuildRecord = { config, index, virtualServices: [], destinationRuleDiagnostics: [] };
  const virtualServices: VirtualServiceModel[] = [];
  for (const vs of config.ofKind('VirtualService')) {
    const list = overrides.get(keyOf(vs)) ?? [];
    const said: Diagnostic[] = [];
    virtualServices.push(virtualServiceModel(vs, settings.clusterDomain, list, said, config));
    diagnostics.push(...said);
    record.virtualServices.push({ overrides: overridesKey(list), diagnostics: said });
  }
  diagnostics.push(...unknownOverlayTargets(config, overrides));

  const drDiagnostics: Diagnostic[] = [];
  const destinationRules: DestinationRuleModel[] = config.ofKind('DestinationRule').map((dr) => ({
    key: keyOf(dr),
    name: dr.metadata.name,
    namespace: dr.metadata.namespace,
    host: resolveHost(dr.spec.host ?? '', dr.metadata.namespace, settings),
    exportTo: resolveExportTo(dr.spec.exportTo, dr.metadata.namespace),
    ...(dr.spec.trafficPolicy ? { trafficPolicy: normalizeTrafficPolicy(dr.spec.trafficPolicy, keyOf(dr), 'spec.trafficPolicy', drDiagnostics) } : {}),
    subsets: (dr.spec.subsets ?? []).map((s, i) => ({ name: s.name, labels: { ...(s.labels ?? {}) }, ...(s.trafficPolicy ? { trafficPolicy: normalizeTrafficPolicy(s.trafficPolicy, keyOf(dr), `spec.subsets[${i}].trafficPolicy`, drDiagnostics) } : {}) })),
    ...(dr.spec.workloadSelector?.matchLabels ? { workloadSelector: { ...dr.spec.workloadSelector.matchLabels } } : {}),
    origin: dr.origin,
  }));
  diagnostics.push(...drDiagnostics);
  record.destinationRuleDiagnostics = drDiagnostics;
  const gateways: GatewayModel[] = config.ofKind('Gateway').map((g) => ({
    key: keyOf(g),
    name: g.metadata.name,
    namespace: g.metadata.namespace,
    selector: { ...(g.spec.selector ?? {}) },
    servers: (g.spec.servers ?? []).map((s) => ({ ...s, hosts: (s.hosts ?? []).slice() })),
    origin: g.origin,
  }));

  const sidecars: SidecarModel[] = config.ofKind('Sidecar').map((sc) => {
    const ns = sc.metadata.namespace;
    const egressHosts = (sc.spec.egress ?? []).flatMap((e) =>
      (e.hosts ?? []).map((h) => {
        const slash = h.indexOf('/');
        const hns = slash < 0 ? '*' : h.slice(0, slash);
        const host = slash < 0 ? h : h.slice(slash + 1);
        return { namespace: hns === '.' ? ns : hns, host: host === '*' || host.startsWith('*') ? host : resolveHost(host, hns === '.' || hns === '*' || hns === '~' ? ns : hns, settings) };
      }),
    );
    const mode = sc.spec.outboundTrafficPolicy?.mode;
    return {
      key: keyOf(sc),
      namespace: ns,
      ...(selectorOf(sc.spec.workloadSelector) ? { workloadSelector: selectorOf(sc.spec.workloadSelector)! } : {}),
      egressHosts,
      ...(mode ? { outboundTrafficPolicy: mode } : {}),
      origin: sc.origin,
    };
  });

  const peerAuthentications: PeerAuthenticationModel[] = config.ofKind('PeerAuthentication').map((pa) => {
    const portLevel: Record<number, MtlsMode> = {};
    for (const [port, v] of Object.entries(pa.spec.portLevelMtls ?? {})) portLevel[Number(port)] = v.mode ?? 'UNSET';
    return {
      key: keyOf(pa),
      namespace: pa.metadata.namespace,
      ...(pa.spec.selector?.matchLabels ? { selector: { ...pa.spec.selector.matchLabels } } : {}),
      mode: pa.spec.mtls?.mode ?? 'UNSET',
      portLevel,
      origin: pa.origin,
    };
  });

  const authorizationPolicies: AuthorizationPolicyModel[] = config.ofKind('AuthorizationPolicy').map((ap) => ({
    key: keyOf(ap),
    name: ap.metadata.name,
    namespace: ap.metadata.namespace,
    ...(ap.spec.selector?.matchLabels ? { selector: { ...ap.spec.selector.matchLabels } } : {}),
    action: ap.spec.action ?? 'ALLOW',
    rules: ap.spec.rules ?? [],
    origin: ap.origin,
  }));

  const model = internModel({ settings, services, virtualServices, destinationRules, gateways, sidecars, peerAuthentications, authorizationPolicies, diagnostics }, previous);
  built.set(model, record);
  return model;
}

/**
 * What a model was built from, for the overlay-only path: its inputs and,
 * per VirtualService (in `config.ofKind('VirtualService')` order, which is
 * also the model's), its overrides and what building it said.
 */
interface BuildRecord {
  config: ConfigSet;
  index: ServiceIndex;
  virtualServices: { overrides: string; diagnostics: Diagnostic[] }[];
  destinationRuleDiagnostics: Diagnostic[];
}

const built = new WeakMap<MeshModel, BuildRecord>();

function overridesKey(list: readonly RouteOverride[]): string {
  return list.length === 0 ? '' : JSON.stringify(list);
}

/** MCD4001: overrides naming a VirtualService the config does not have. */
function unknownOverlayTargets(config: ConfigSet, overrides: ReadonlyMap<string, RouteOverride[]>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [key, list] of overrides) {
    if (config.byKey.get(key as ResourceKey)?.kind === 'VirtualService') continue;
    for (const o of list) out.push({ code: 'MCD4001', severity: 'warning', message: `rollout overlay names ${key}, which does not exist; override ignored`, resource: key, path: `spec.http[${o.routeIndex}]` });
  }
  return out;
}

/**
 * `previous` (built from the same config and index) under another overlay:
 * every part but the VirtualServices whose overrides changed is previous's
 * object, and the result is what a build from scratch interned against
 * `previous` gives (diagnostics in the same order).
 */
function withOverlay(previous: MeshModel, before: BuildRecord, config: ConfigSet, overrides: ReadonlyMap<string, RouteOverride[]>): MeshModel {
  const record: BuildRecord = { config, index: before.index, virtualServices: [], destinationRuleDiagnostics: before.destinationRuleDiagnostics };
  const diagnostics: Diagnostic[] = [];
  let changed = false;
  // The same config: its VirtualServices are previous's, position for position.
  const virtualServices = config.ofKind('VirtualService').map((vs, i) => {
    const list = overrides.get(keyOf(vs)) ?? [];
    const ov = overridesKey(list);
    const was = before.virtualServices[i]!;
    const prior = previous.virtualServices[i]!;
    if (was.overrides === ov) {
      record.virtualServices.push(was);
      diagnostics.push(...was.diagnostics);
      return prior;
    }
    const said: Diagnostic[] = [];
    let next = virtualServiceModel(vs, config.mesh.clusterDomain, list, said, config);
    if (deepEqual(next, prior)) next = prior;
    else changed = true;
    record.virtualServices.push({ overrides: ov, diagnostics: said });
    diagnostics.push(...said);
    return next;
  });
  diagnostics.push(...unknownOverlayTargets(config, overrides), ...before.destinationRuleDiagnostics);
  const model: MeshModel = { ...previous, virtualServices: changed ? virtualServices : previous.virtualServices, diagnostics };
  built.set(model, record);
  return model;
}

function keyOf(r: Resource): string {
  return resourceKey(r.kind, r.metadata.namespace, r.metadata.name);
}

/** networking.istio.io spells the selector `labels` (ServiceEntry, Sidecar); security kinds `matchLabels`. */
function selectorOf(sel: { labels?: Record<string, string>; matchLabels?: Record<string, string> } | undefined): Record<string, string> | undefined {
  const l = sel?.labels ?? sel?.matchLabels;
  return l && Object.keys(l).length > 0 ? { ...l } : undefined;
}

/**
 * Workloads of a service. A ServiceEntry whose `workloadSelector.labels` the
 * index did not resolve (it reads `matchLabels`) is resolved here from the
 * index's WorkloadEntries, in the ServiceEntry's namespace.
 */
function workloadsOf(s: Service, index: ServiceIndex, config: ConfigSet): readonly Workload[] {
  const found = index.workloadsFor(s.hostname, s.namespace);
  if (found.length > 0 || !s.resource?.startsWith('ServiceEntry/')) return found;
  const se = config.byKey.get(s.resource) as Resource<'ServiceEntry'> | undefined;
  const sel = selectorOf(se?.spec.workloadSelector);
  if (!se || !sel) return found;
  return index.workloads().filter((w) => w.namespace === se.metadata.namespace && w.id.startsWith('WorkloadEntry/') && Object.entries(sel).every(([k, v]) => w.labels[k] === v));
}

function serviceModel(s: Service, index: ServiceIndex, config: ConfigSet): MeshService {
  const endpoints: MeshEndpoint[] = workloadsOf(s, index, config)
    .map((w) => {
      const ports: Record<number, number> = {};
      for (const p of s.ports) ports[p.number] = w.ports[p.name] ?? p.targetPort ?? p.number;
      return {
        workload: w.id,
        namespace: w.namespace,
        address: w.address,
        ports,
        labels: { ...w.labels },
        ...(w.locality ? { locality: w.locality } : {}),
        weight: w.weight && w.weight > 0 ? w.weight : 1,
        ...(w.serviceAccount ? { serviceAccount: w.serviceAccount } : {}),
      };
    })
    .sort((a, b) => cmp(a.address, b.address) || cmp(a.workload, b.workload));
  return {
    hostname: s.hostname,
    namespace: s.namespace,
    ports: s.ports.map((p) => ({ number: p.number, name: p.name, protocol: p.protocol })).sort((a, b) => a.number - b.number),
    resolution: s.resolution,
    location: s.location,
    addresses: s.addresses.slice(),
    exportTo: s.exportTo.slice(),
    endpoints,
    ...(s.resource ? { resource: s.resource } : {}),
    ...(s.origin ? { origin: s.origin } : {}),
  };
}

function stringMatch(m: StringMatch | undefined): StringMatchModel | undefined {
  if (!m) return undefined;
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix };
  if (typeof m.regex === 'string') return { kind: 'regex', value: m.regex };
  return undefined;
}

function namedMatches(rec: Record<string, StringMatch> | undefined, lower = true): NamedMatch[] {
  const out: NamedMatch[] = [];
  for (const name of Object.keys(rec ?? {}).sort()) {
    const m = stringMatch(rec![name]) ?? { kind: 'prefix' as const, value: '' };
    out.push({ name: lower ? name.toLowerCase() : name, match: m });
  }
  return out;
}

function httpMatch(m: HTTPMatchRequest, ns: string): HttpMatchModel {
  const out: HttpMatchModel = {
    headers: namedMatches(m.headers),
    withoutHeaders: namedMatches(m.withoutHeaders),
    queryParams: namedMatches(m.queryParams, false),
    ignoreUriCase: m.ignoreUriCase === true,
    gateways: (m.gateways ?? []).map((g) => resolveGatewayRef(g, ns)),
  };
  if (m.name) out.name = m.name;
  const uri = stringMatch(m.uri);
  if (uri) out.uri = uri;
  const scheme = stringMatch(m.scheme);
  if (scheme) out.scheme = scheme;
  const method = stringMatch(m.method);
  if (method) out.method = method;
  const authority = stringMatch(m.authority);
  if (authority) out.authority = authority;
  if (typeof m.port === 'number') out.port = m.port;
  if (m.sourceLabels) out.sourceLabels = { ...m.sourceLabels };
  if (m.sourceNamespace) out.sourceNamespace = m.sourceNamespace;
  return out;
}

function destination(d: Destination, ns: string, domain: string): DestinationModel {
  return {
    host: resolveHost(d.host, ns, { clusterDomain: domain }),
    ...(d.subset ? { subset: d.subset } : {}),
    ...(d.port?.number ? { port: d.port.number } : {}),
  };
}

function percentOf(p: Percent | undefined, legacy: number | undefined, dflt: number): number {
  if (p && typeof p.value === 'number') return p.value;
  if (typeof legacy === 'number') return legacy;
  return dflt;
}

function httpRoute(r: HTTPRoute, index: number, ns: string, domain: string, key: string, diagnostics: Diagnostic[]): HttpRouteModel {
  const path = `spec.http[${index}]`;
  const duration = (text: string | undefined, field: string): number | undefined => {
    if (text === undefined) return undefined;
    const ms = parseDurationMs(text);
    if (ms === undefined) diagnostics.push({ code: 'MCD4002', severity: 'warning', message: `${field} "${text}" is not a duration; ignored`, resource: key, path: `${path}.${field}` });
    return ms;
  };
  const destinations: WeightedDestination[] = (r.route ?? []).map((d) => ({
    ...destination(d.destination, ns, domain),
    // Istio (route.go): one destination gets the whole route whatever its weight, 0 included.
    weight: (r.route ?? []).length === 1 ? 100 : typeof d.weight === 'number' ? d.weight : 0,
    ...(d.headers ? { headers: d.headers } : {}),
  }));
  // Istio: with several destinations and no weights, traffic is split evenly.
  if (destinations.length > 1 && destinations.every((d) => d.weight === 0)) {
    const even = Math.floor(100 / destinations.length);
    destinations.forEach((d, i) => (d.weight = even + (i < 100 - even * destinations.length ? 1 : 0)));
  }
  const out: HttpRouteModel = {
    index,
    matches: (r.match ?? []).map((m) => httpMatch(m, ns)),
    destinations,
    mirrors: [],
    path,
  };
  if (r.name) out.name = r.name;
  if (r.redirect) out.redirect = { ...r.redirect };
  if (r.directResponse) {
    const body = r.directResponse.body?.string ?? (r.directResponse.body?.bytes !== undefined ? Buffer.from(r.directResponse.body.bytes, 'base64').toString('utf8') : undefined);
    out.directResponse = { status: r.directResponse.status, ...(body !== undefined ? { body } : {}) };
  }
  if (r.rewrite) {
    out.rewrite = {
      ...(r.rewrite.uri !== undefined ? { uri: r.rewrite.uri } : {}),
      ...(r.rewrite.authority !== undefined ? { authority: r.rewrite.authority } : {}),
      ...(r.rewrite.uriRegexRewrite ? { uriRegex: { ...r.rewrite.uriRegexRewrite } } : {}),
    };
  }
  const timeout = duration(r.timeout, 'timeout');
  if (timeout !== undefined) out.timeoutMs = timeout;
  if (r.retries) {
    const perTry = duration(r.retries.perTryTimeout, 'retries.perTryTimeout');
    out.retries = {
      attempts: r.retries.attempts ?? 2,
      ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}),
      ...(r.retries.retryOn ? { retryOn: r.retries.retryOn } : {}),
    };
  }
  if (r.fault) {
    const fault: NonNullable<HttpRouteModel['fault']> = {};
    if (r.fault.delay) {
      const d = duration(r.fault.delay.fixedDelay, 'fault.delay.fixedDelay');
      if (d !== undefined) fault.delay = { fixedDelayMs: d, percent: percentOf(r.fault.delay.percentage, r.fault.delay.percent, 100) };
    }
    if (r.fault.abort) {
      const a = r.fault.abort;
      fault.abort = {
        ...(typeof a.httpStatus === 'number' ? { httpStatus: a.httpStatus } : {}),
        ...(a.grpcStatus ? { grpcStatus: a.grpcStatus } : {}),
        ...(grpcCodeOf(a.grpcStatus) !== undefined ? { grpcCode: grpcCodeOf(a.grpcStatus)! } : {}),
        percent: percentOf(a.percentage, undefined, 100),
      };
    }
    if (fault.delay || fault.abort) out.fault = fault;
  }
  if (r.mirror) out.mirrors.push({ destination: destination(r.mirror, ns, domain), percent: percentOf(r.mirrorPercentage, r.mirrorPercent, 100) });
  for (const m of r.mirrors ?? []) out.mirrors.push({ destination: destination(m.destination, ns, domain), percent: percentOf(m.percentage, undefined, 100) });
  if (r.corsPolicy) out.cors = corsModel(r.corsPolicy);
  if (r.headers) out.headers = r.headers;
  return out;
}

const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** A gRPC status by name (`UNAVAILABLE`, any case) or number (`14`). */
function grpcCodeOf(status: string | undefined): number | undefined {
  if (status === undefined) return undefined;
  return GRPC_CODES[status.toUpperCase()] ?? (/^\d+$/.test(status) ? Number(status) : undefined);
}

function corsModel(c: CorsPolicy): CorsModel {
  const origins: StringMatchModel[] = [
    ...(c.allowOrigins ?? []).map((o): StringMatchModel => (typeof o.exact === 'string' ? { kind: 'exact', value: o.exact } : typeof o.prefix === 'string' ? { kind: 'prefix', value: o.prefix } : { kind: 'regex', value: o.regex ?? '.*' })),
    ...(c.allowOrigin ?? []).map((o): StringMatchModel => (o === '*' ? { kind: 'prefix', value: '' } : { kind: 'exact', value: o })),
  ];
  const maxAgeMs = parseDurationMs(c.maxAge);
  return {
    allowOrigins: origins,
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    ...(maxAgeMs !== undefined ? { maxAgeSeconds: Math.floor(maxAgeMs / 1000) } : {}),
    ...(c.allowCredentials !== undefined ? { allowCredentials: c.allowCredentials } : {}),
    ...(c.unmatchedPreflights === 'IGNORE' || c.unmatchedPreflights === 'FORWARD' ? { unmatchedPreflights: c.unmatchedPreflights } : {}),
  };
}

function l4Routes(list: { match?: { port?: number; destinationSubnets?: string[]; sourceLabels?: Record<string, string>; sourceNamespace?: string; gateways?: string[]; sniHosts?: string[] }[]; route?: { destination: Destination; weight?: number }[] }[] | undefined, field: string, ns: string, domain: string): L4RouteModel[] {
  return (list ?? []).map((r, i) => {
    const dests = (r.route ?? []).map((d) => ({ ...destination(d.destination, ns, domain), weight: (r.route ?? []).length === 1 ? 100 : typeof d.weight === 'number' ? d.weight : 0 }));
    if (dests.length > 1 && dests.every((d) => d.weight === 0)) dests.forEach((d) => (d.weight = 1));
    return {
      matches: (r.match ?? []).map((m) => ({
        ...(typeof m.port === 'number' ? { port: m.port } : {}),
        destinationSubnets: m.destinationSubnets ?? [],
        ...(m.sourceLabels ? { sourceLabels: { ...m.sourceLabels } } : {}),
        ...(m.sourceNamespace ? { sourceNamespace: m.sourceNamespace } : {}),
        gateways: (m.gateways ?? []).map((g) => resolveGatewayRef(g, ns)),
        sniHosts: m.sniHosts ?? [],
      })),
      destinations: dests,
      path: `spec.${field}[${i}]`,
    };
  });
}

/** A root match narrowed by a delegate's match: the delegate's uri/method/authority win, headers and query params add up. */
function mergeMatch(root: HttpMatchModel, d: HttpMatchModel): HttpMatchModel {
  return {
    ...root,
    ...Object.fromEntries(Object.entries(d).filter(([k, v]) => v !== undefined && !['headers', 'withoutHeaders', 'queryParams', 'gateways', 'ignoreUriCase'].includes(k))),
    headers: [...root.headers, ...d.headers],
    withoutHeaders: [...root.withoutHeaders, ...d.withoutHeaders],
    queryParams: [...root.queryParams, ...d.queryParams],
    ignoreUriCase: root.ignoreUriCase || d.ignoreUriCase,
    gateways: root.gateways,
  };
}

/** Inline `delegate` routes (one level, as Istio): each delegate route under the root route's matches. */
function inlineDelegates(vs: Resource<'VirtualService'>, domain: string, key: string, config: ConfigSet, diagnostics: Diagnostic[]): HttpRouteModel[] {
  const ns = vs.metadata.namespace;
  const out: HttpRouteModel[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    const root = httpRoute(r, i, ns, domain, key, diagnostics);
    if (!r.delegate) {
      out.push(root);
      return;
    }
    const dns = r.delegate.namespace ?? ns;
    const target = config.get('VirtualService', dns, r.delegate.name);
    const path = `spec.http[${i}].delegate`;
    if (!target) {
      diagnostics.push({ code: 'IST0101', severity: 'error', message: `delegate VirtualService ${dns}/${r.delegate.name} does not exist; route left out`, resource: key, origin: vs.origin, path });
      return;
    }
    if ((target.spec.hosts ?? []).length > 0 || (target.spec.http ?? []).some((x) => x.delegate)) {
      diagnostics.push({ code: 'MCD4003', severity: 'error', message: `delegate VirtualService ${dns}/${r.delegate.name} must have no hosts and no delegates of its own; route left out`, resource: key, origin: vs.origin, path });
      return;
    }
    (target.spec.http ?? []).forEach((dr, j) => {
      const d = httpRoute(dr, i, dns, domain, keyOf(target), diagnostics);
      const matches = root.matches.length === 0 ? d.matches : d.matches.length === 0 ? root.matches : root.matches.flatMap((rm) => d.matches.map((dm) => mergeMatch(rm, dm)));
      out.push({ ...d, index: i, name: `${r.name ?? `http[${i}]`}/${dr.name ?? `delegate[${j}]`}`, matches, path: `spec.http[${i}]` });
    });
  });
  return out;
}

function virtualServiceModel(vs: Resource<'VirtualService'>, domain: string, overrides: RouteOverride[], diagnostics: Diagnostic[], config: ConfigSet): VirtualServiceModel {
  const ns = vs.metadata.namespace;
  const key = keyOf(vs);
  let http = inlineDelegates(vs, domain, key, config, diagnostics);
  if (overrides.length > 0) http = applyOverlay(http, overrides, { key, namespace: ns, clusterDomain: domain }, diagnostics);
  const gateways = (vs.spec.gateways && vs.spec.gateways.length > 0 ? vs.spec.gateways : ['mesh']).map((g) => resolveGatewayRef(g, ns));
  return {
    key,
    name: vs.metadata.name,
    namespace: ns,
    hosts: (vs.spec.hosts ?? []).map((h) => resolveHost(h, ns, { clusterDomain: domain })),
    gateways: [...new Set(gateways)].sort(),
    exportTo: resolveExportTo(vs.spec.exportTo, ns),
    http,
    tcp: l4Routes(vs.spec.tcp, 'tcp', ns, domain),
    tls: l4Routes(vs.spec.tls, 'tls', ns, domain),
    origin: vs.origin,
  };
}
