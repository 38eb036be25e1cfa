// What one proxy can see of the mesh: the Sidecar that applies to it, the
// services in its scope (exportTo + Sidecar egress hosts), the
// VirtualServices and DestinationRules that apply, the workloads it runs
// (inbound), its PeerAuthentication mode and AuthorizationPolicies.
// Everything here depends only on (kind, namespace, labels, ips) of the
// proxy — translationKey() in ./index.ts relies on that.

import type { ProxyInfo } from '../../api/types.js';
import type {
  AuthorizationPolicyModel,
  DestinationRuleModel,
  MeshEndpoint,
  MeshModel,
  MeshService,
  MtlsMode,
  SidecarModel,
  VirtualServiceModel,
} from '../../mesh/model.js';
import { cmp, hostMatches, labelsKey } from '../../mesh/names.js';
import { DiagnosticSink } from './common.js';
import { idOf } from './memo.js';
import { localityScope } from './locality.js';

export interface InboundInstance {
  service: MeshService;
  endpoint: MeshEndpoint;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

function exportedTo(exportTo: readonly string[], owner: string, ns: string): boolean {
  if (exportTo.length === 0) return false;
  return exportTo.includes('*') || exportTo.includes(ns) || (owner === ns && exportTo.includes('.'));
}

export class ProxyView {
  readonly sidecar: SidecarModel | undefined;
  /** Services in scope, one per hostname (the proxy's own namespace wins), sorted by hostname. */
  readonly services: MeshService[];
  readonly serviceByHost: ReadonlyMap<string, MeshService>;
  readonly outboundPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  readonly inbound: InboundInstance[];
  /**
   * What of the proxy its outbound config depends on (kind, namespace, the
   * labels rules select on), for memo keys; translate/index.ts sets the
   * narrower key it shares outbound config by.
   */
  scopeKey: string;
  /** Swapped by FragmentMemo while a memoized fragment is built. */
  sink = new DiagnosticSink();
  private readonly vsCache = new Map<string, VirtualServiceModel[]>();
  private readonly vsIndex = new Map<string, { exact: Map<string, VirtualServiceModel>; wildcard: { host: string; vs: VirtualServiceModel }[] }>();
  private readonly drCache = new Map<string, DestinationRuleModel | undefined>();
  private drByHost: Map<string, DestinationRuleModel[]> | undefined;
  private drWildcard: DestinationRuleModel[] = [];

  constructor(
    readonly proxy: ProxyInfo,
    readonly model: MeshModel,
  ) {
    const ns = proxy.namespace;
    this.scopeKey = `${proxy.kind}|${ns}|${labelsKey(proxy.labels)}`;
    const root = model.settings.rootNamespace;
    const sidecars = model.sidecars;
    this.sidecar =
      sidecars.find((s) => s.namespace === ns && s.workloadSelector && selects(s.workloadSelector, proxy.labels)) ??
      sidecars.find((s) => s.namespace === ns && !s.workloadSelector) ??
      sidecars.find((s) => s.namespace === root && !s.workloadSelector);
    this.outboundPolicy = this.sidecar?.outboundTrafficPolicy ?? model.settings.outboundTrafficPolicy;

    // What is in scope depends on the namespace, the Sidecar and whether this is a gateway: computed once per model for all proxies alike.
    const router = proxy.kind === 'router';
    let scopes = scopeMemo.get(model);
    if (!scopes) scopeMemo.set(model, (scopes = new Map()));
    const sk = `${ns}|${idOf(this.sidecar)}|${router}`;
    let scope = scopes.get(sk);
    if (!scope) scopes.set(sk, (scope = servicesInScope(model, ns, router ? [] : (this.sidecar?.egressHosts ?? []))));
    this.serviceByHost = scope.serviceByHost;
    this.services = scope.services;

    const byIp: InboundInstance[] = [];
    const byLabels: InboundInstance[] = [];
    const labelKeys = Object.keys(proxy.labels);
    if (proxy.ips.length > 0) {
      const index = addressIndex(model);
      const found = [...new Set(proxy.ips)].flatMap((ip) => index.get(ip) ?? []);
      // In model order, as a scan of every service's endpoints finds them.
      if (proxy.ips.length > 1) found.sort((a, b) => a.seq - b.seq);
      for (const f of found) byIp.push(f.instance);
    } else if (labelKeys.length > 0) {
      for (const service of model.services) {
        for (const endpoint of service.endpoints) {
          if (endpoint.namespace === ns && Object.keys(endpoint.labels).length > 0 && selects(endpoint.labels, proxy.labels)) byLabels.push({ service, endpoint });
        }
      }
    }
    // Several workloads may share an address (loopback, host networking): prefer
    // those whose labels do not contradict the proxy's; if none, keep them all
    // (a proxyless server asks for its IP:port listener by name anyway).
    const agreeing = byIp.filter((i) => compatible(i.endpoint.labels, proxy.labels));
    const inbound = proxy.ips.length > 0 ? (agreeing.length > 0 ? agreeing : byIp) : byLabels;
    this.inbound = inbound;
  }

  /** What locality LB reads of this proxy ('' when no DestinationRule uses it): part of outbound memo and sharing keys. */
  get localityScope(): string {
    return (this.locality ??= localityScope(this.model, this.inbound[0]?.endpoint, this.proxy.labels, this.proxy.locality));
  }
  private locality: string | undefined;

  /** VirtualServices bound to `gateway` (`mesh` or `ns/name`) visible to this proxy, in precedence order. */
  virtualServices(gateway: string): VirtualServiceModel[] {
    let l = this.vsCache.get(gateway);
    if (l) return l;
    const ns = this.proxy.namespace;
    // exportTo applies to gateways too: a VirtualService must be exported to the gateway proxy's namespace.
    const visible = (vs: VirtualServiceModel) => exportedTo(vs.exportTo, vs.namespace, ns);
    l = this.model.virtualServices
      .filter((vs) => vs.gateways.includes(gateway) && visible(vs))
      // Istio gives a VirtualService in the proxy's own namespace precedence, then the rest in order.
      .sort((a, b) => (a.namespace === ns ? 0 : 1) - (b.namespace === ns ? 0 : 1) || cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
    this.vsCache.set(gateway, l);
    return l;
  }

  /** The VirtualService that routes `host` for the mesh gateway: exact host first, then the longest wildcard. */
  virtualServiceFor(host: string, gateway = 'mesh'): VirtualServiceModel | undefined {
    let idx = this.vsIndex.get(gateway);
    if (!idx) {
      idx = { exact: new Map(), wildcard: [] };
      for (const vs of this.virtualServices(gateway)) {
        for (const h of vs.hosts) {
          if (h.startsWith('*')) idx.wildcard.push({ host: h, vs });
          else if (!idx.exact.has(h)) idx.exact.set(h, vs);
        }
      }
      this.vsIndex.set(gateway, idx);
    }
    const exact = idx.exact.get(host);
    if (exact) return exact;
    let best: VirtualServiceModel | undefined;
    let bestLen = -1;
    for (const { host: h, vs } of idx.wildcard) {
      if (hostMatches(h, host) && h.length > bestLen) {
        best = vs;
        bestLen = h.length;
      }
    }
    return best;
  }

  /** The DestinationRule for `host` as Istio picks it: proxy namespace, then the service's, then the root namespace; exact host over wildcard. */
  destinationRule(host: string): DestinationRuleModel | undefined {
    if (this.drCache.has(host)) return this.drCache.get(host);
    if (!this.drByHost) {
      this.drByHost = new Map();
      for (const dr of this.model.destinationRules) {
        if (dr.host.startsWith('*')) this.drWildcard.push(dr);
        else {
          let l = this.drByHost.get(dr.host);
          if (!l) this.drByHost.set(dr.host, (l = []));
          l.push(dr);
        }
      }
    }
    const ns = this.proxy.namespace;
    const svcNs = this.serviceByHost.get(host)?.namespace;
    const root = this.model.settings.rootNamespace;
    let best: DestinationRuleModel | undefined;
    let bestRank: number[] = [];
    for (const dr of [...(this.drByHost.get(host) ?? []), ...this.drWildcard]) {
      if (!hostMatches(dr.host, host)) continue;
      if (!exportedTo(dr.exportTo, dr.namespace, ns)) continue;
      if (dr.workloadSelector && (dr.namespace !== ns || !selects(dr.workloadSelector, this.proxy.labels))) continue;
      const tier = dr.namespace === ns ? 0 : dr.namespace === svcNs ? 1 : dr.namespace === root ? 2 : 3;
      const rank = [tier, dr.workloadSelector ? 0 : 1, dr.host === host ? 0 : 1, -dr.host.length];
      if (!best || lexLess(rank, bestRank)) {
        best = dr;
        bestRank = rank;
      }
    }
    this.drCache.set(host, best);
    return best;
  }

  /** mTLS mode for a workload (namespace, labels) on a port, as PeerAuthentication sets it (default PERMISSIVE). */
  mtlsMode(namespace: string, labels: Record<string, string>, port?: number): Exclude<MtlsMode, 'UNSET'> {
    const root = this.model.settings.rootNamespace;
    const pas = this.model.peerAuthentications;
    const workload = pas.find((p) => p.namespace === namespace && p.selector && Object.keys(p.selector).length > 0 && selects(p.selector, labels));
    const nsLevel = pas.find((p) => p.namespace === namespace && (!p.selector || Object.keys(p.selector).length === 0));
    const meshLevel = pas.find((p) => p.namespace === root && (!p.selector || Object.keys(p.selector).length === 0));
    const chain: MtlsMode[] = [];
    if (workload && port !== undefined && workload.portLevel[port]) chain.push(workload.portLevel[port]!);
    for (const p of [workload, nsLevel, meshLevel]) if (p) chain.push(p.mode);
    const found = chain.find((m) => m !== 'UNSET');
    return (found ?? 'PERMISSIVE') as Exclude<MtlsMode, 'UNSET'>;
  }

  /** AuthorizationPolicies that apply to a workload of this proxy (root namespace and its own namespace). */
  authorizationPolicies(namespace: string, labels: Record<string, string>): AuthorizationPolicyModel[] {
    const root = this.model.settings.rootNamespace;
    return this.model.authorizationPolicies.filter((p) => (p.namespace === namespace || p.namespace === root) && selects(p.selector, labels));
  }
}

const scopeMemo = new WeakMap<MeshModel, Map<string, { services: MeshService[]; serviceByHost: Map<string, MeshService> }>>();

/** Services visible from namespace `ns` under these egress hosts, one per hostname (the own namespace's wins), sorted by hostname. */
function servicesInScope(model: MeshModel, ns: string, egress: readonly { namespace: string; host: string }[]): { services: MeshService[]; serviceByHost: Map<string, MeshService> } {
  const serviceByHost = new Map<string, MeshService>();
  const inScope = (s: MeshService) =>
    egress.length === 0 ||
    egress.some((e) => e.namespace !== '~' && (e.namespace === '*' || e.namespace === s.namespace) && hostMatches(e.host, s.hostname));
  for (const s of model.services) {
    if (!exportedTo(s.exportTo, s.namespace, ns) || !inScope(s)) continue;
    const prior = serviceByHost.get(s.hostname);
    if (!prior || (prior.namespace !== ns && s.namespace === ns)) serviceByHost.set(s.hostname, s);
  }
  return { serviceByHost, services: [...serviceByHost.values()].sort((a, b) => cmp(a.hostname, b.hostname)) };
}

const addressMemo = new WeakMap<MeshModel, Map<string, { instance: InboundInstance; seq: number }[]>>();

/** Every endpoint by address, with its position in model order. */
function addressIndex(model: MeshModel): Map<string, { instance: InboundInstance; seq: number }[]> {
  let index = addressMemo.get(model);
  if (!index) {
    index = new Map();
    let seq = 0;
    for (const service of model.services) {
      for (const endpoint of service.endpoints) {
        let l = index.get(endpoint.address);
        if (!l) index.set(endpoint.address, (l = []));
        l.push({ instance: { service, endpoint }, seq: seq++ });
      }
    }
    addressMemo.set(model, index);
  }
  return index;
}

function compatible(a: Record<string, string>, b: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(a)) if (k in b && b[k] !== v) return false;
  return true;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return true;
    if (a[i]! > b[i]!) return false;
  }
  return false;
}

export { selects };
