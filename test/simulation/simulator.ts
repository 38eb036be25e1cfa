// A small request simulator over translated resources: listener → filter
// chain → HttpConnectionManager → route configuration (RDS by name, or
// inline) → virtual host (Envoy's domain matching: exact, then longest
// suffix wildcard, then prefix wildcard, then `*`) → first matching route →
// cluster(s). Behaviour, not bytes: tests assert where a request lands.

import type { ProxyResources, XdsResource } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';

type Obj = Record<string, any>;

export interface SimRequest {
  /** Proxyless gRPC: the target the client dialled (`host:port`), which names the listener. */
  target?: string;
  /** Envoy: destination port of the connection (the listener is `0.0.0.0_<port>` or virtualOutbound). */
  port?: number;
  /** Destination IP (for TCP filter chains matched by prefix_ranges). */
  destinationIp?: string;
  /** TLS SNI, when the client speaks TLS. */
  sni?: string;
  /** Inbound (virtualInbound) instead of outbound. */
  inbound?: boolean;
  /** Host / :authority header. */
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export interface SimResult {
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  route?: string;
  /** Clusters with their weights (one entry with weight 100 for a single cluster). */
  clusters: { name: string; weight: number }[];
  directResponse?: number;
  redirect?: Obj;
  /** `require_tls` sent the request to HTTPS. */
  httpsRedirect?: boolean;
  /** Filters configured for the route (typed_per_filter_config names). */
  routeFilters: string[];
  /** A proxyless server's route: the request is served by the application. */
  nonForwarding?: boolean;
  /** Why nothing matched, when nothing did. */
  error?: string;
}

function get(res: ProxyResources, type: string, name: string): XdsResource | undefined {
  return res.get(type as never)?.get(name);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function inCidr(ip: string, r: { address_prefix: string; prefix_len?: { value: number } }): boolean {
  if (ip.includes(':') || r.address_prefix.includes(':')) return ip === r.address_prefix;
  const len = r.prefix_len?.value ?? 32;
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(r.address_prefix) & mask) >>> 0);
}

function sniMatches(pattern: string, sni: string): boolean {
  return pattern.startsWith('*.') ? sni.endsWith(pattern.slice(1)) : pattern === sni;
}

/** Envoy's filter chain selection, reduced to the fields we emit (most specific wins in this order). */
function selectChain(chains: Obj[], req: SimRequest): Obj | undefined {
  let candidates = chains.slice();
  const port = req.port;
  const byPort = candidates.filter((c) => c.filter_chain_match?.destination_port?.value === port);
  candidates = byPort.length > 0 ? byPort : candidates.filter((c) => c.filter_chain_match?.destination_port === undefined);
  if (req.destinationIp) {
    const ip = req.destinationIp;
    const byIp = candidates.filter((c) => (c.filter_chain_match?.prefix_ranges ?? []).some((r: Obj) => inCidr(ip, r as never)));
    candidates = byIp.length > 0 ? byIp : candidates.filter((c) => !c.filter_chain_match?.prefix_ranges);
  } else candidates = candidates.filter((c) => !c.filter_chain_match?.prefix_ranges);
  if (req.sni) {
    const sni = req.sni;
    const bySni = candidates.filter((c) => (c.filter_chain_match?.server_names ?? []).some((p: string) => sniMatches(p, sni)));
    candidates = bySni.length > 0 ? bySni : candidates.filter((c) => !c.filter_chain_match?.server_names);
  } else candidates = candidates.filter((c) => !c.filter_chain_match?.server_names);
  const proto = req.sni !== undefined ? 'tls' : 'raw_buffer';
  const byProto = candidates.filter((c) => c.filter_chain_match?.transport_protocol === proto);
  candidates = byProto.length > 0 ? byProto : candidates.filter((c) => !c.filter_chain_match?.transport_protocol);
  return candidates[0];
}

function stringMatch(m: Obj, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined) return false;
  const ic = ignoreCase || m.ignore_case === true;
  const v = ic ? value.toLowerCase() : value;
  const low = (s: string) => (ic ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === low(m.exact);
  if (m.prefix !== undefined) return v.startsWith(low(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(low(m.suffix));
  if (m.contains !== undefined) return v.includes(low(m.contains));
  if (m.safe_regex !== undefined) return new RegExp(`^(?:${m.safe_regex.regex})$`, ic ? 'i' : '').test(value);
  return false;
}

function headerMatches(h: Obj, headers: Record<string, string>): boolean {
  const value = headers[h.name];
  let ok: boolean;
  if (h.present_match !== undefined) ok = value !== undefined;
  else if (h.string_match) ok = stringMatch(h.string_match, value);
  else ok = value !== undefined;
  return h.invert_match ? !ok : ok;
}

function routeMatches(m: Obj, req: SimRequest, headers: Record<string, string>): boolean {
  const full = req.path ?? '/';
  const q = full.indexOf('?');
  const path = q < 0 ? full : full.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : full.slice(q + 1));
  const cs = m.case_sensitive?.value !== false;
  const p = cs ? path : path.toLowerCase();
  if (m.prefix !== undefined && !p.startsWith(cs ? m.prefix : m.prefix.toLowerCase())) return false;
  if (m.path !== undefined && p !== (cs ? m.path : m.path.toLowerCase())) return false;
  if (m.safe_regex !== undefined && !new RegExp(`^(?:${m.safe_regex.regex})$`, cs ? '' : 'i').test(path)) return false;
  for (const h of m.headers ?? []) if (!headerMatches(h, headers)) return false;
  for (const qp of m.query_parameters ?? []) {
    const v = query.get(qp.name) ?? undefined;
    if (qp.present_match) {
      if (v === undefined) return false;
    } else if (!stringMatch(qp.string_match, v)) return false;
  }
  return true;
}

/** Envoy's virtual host selection. */
export function selectVirtualHost(vhosts: Obj[], host: string): Obj | undefined {
  const h = host.toLowerCase();
  const exact = vhosts.find((v) => v.domains.some((d: string) => d.toLowerCase() === h));
  if (exact) return exact;
  let best: Obj | undefined;
  let bestLen = -1;
  for (const v of vhosts) {
    for (const d of v.domains as string[]) {
      if (d.length > 1 && d.startsWith('*') && h.endsWith(d.slice(1).toLowerCase()) && d.length > bestLen) {
        best = v;
        bestLen = d.length;
      }
    }
  }
  if (best) return best;
  for (const v of vhosts) {
    for (const d of v.domains as string[]) {
      if (d.length > 1 && d.endsWith('*') && h.startsWith(d.slice(0, -1).toLowerCase()) && d.length > bestLen) {
        best = v;
        bestLen = d.length;
      }
    }
  }
  if (best) return best;
  return vhosts.find((v) => v.domains.includes('*'));
}

function runHcm(res: ProxyResources, hcm: Obj, req: SimRequest, out: SimResult): SimResult {
  let rc: Obj | undefined;
  if (hcm.rds) {
    out.routeConfig = hcm.rds.route_config_name;
    rc = get(res, TYPE_URL.route, hcm.rds.route_config_name)?.value;
    if (!rc) return { ...out, error: `route config ${hcm.rds.route_config_name} not sent` };
  } else {
    rc = hcm.route_config;
    out.routeConfig = rc?.name;
  }
  const host = req.host ?? req.target ?? '';
  const vh = selectVirtualHost(rc?.virtual_hosts ?? [], host);
  if (!vh) return { ...out, error: `no virtual host for ${host}` };
  out.virtualHost = vh.name;
  if (vh.require_tls === 'ALL' && req.sni === undefined) return { ...out, httpsRedirect: true };
  const headers: Record<string, string> = { ':method': req.method ?? 'GET', ':authority': host, ':path': req.path ?? '/', ':scheme': req.sni !== undefined ? 'https' : 'http' };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const route = (vh.routes as Obj[]).find((r) => routeMatches(r.match, req, headers));
  if (!route) return { ...out, error: `no route in ${vh.name} for ${req.path ?? '/'}` };
  out.route = route.name;
  out.routeFilters = Object.keys(route.typed_per_filter_config ?? {}).sort();
  if (route.direct_response) return { ...out, directResponse: route.direct_response.status };
  if (route.redirect) return { ...out, redirect: route.redirect };
  if (route.non_forwarding_action) return { ...out, nonForwarding: true };
  const ra = route.route;
  out.clusters = ra.cluster ? [{ name: ra.cluster, weight: 100 }] : ra.weighted_clusters.clusters.map((c: Obj) => ({ name: c.name, weight: c.weight.value }));
  return out;
}

function runChain(res: ProxyResources, chain: Obj, req: SimRequest, out: SimResult): SimResult {
  out.filterChain = chain.name;
  // The terminal network filter (RBAC filters may come first).
  const f = chain.filters?.[chain.filters.length - 1];
  const tc = f?.typed_config ?? {};
  const type: string = tc['@type'] ?? '';
  if (type.endsWith('HttpConnectionManager')) return runHcm(res, tc, req, out);
  if (type.endsWith('TcpProxy')) {
    out.clusters = tc.cluster ? [{ name: tc.cluster, weight: 100 }] : tc.weighted_clusters.clusters.map((c: Obj) => ({ name: c.name, weight: c.weight }));
    return out;
  }
  return { ...out, error: `unknown network filter ${type}` };
}

export function simulate(res: ProxyResources, req: SimRequest): SimResult {
  const out: SimResult = { clusters: [], routeFilters: [] };
  const listeners = res.get(TYPE_URL.listener) ?? new Map();
  if (req.target !== undefined) {
    const l = listeners.get(req.target)?.value as Obj | undefined;
    if (!l) return { ...out, error: `no listener ${req.target}` };
    out.listener = l.name;
    if (l.api_listener) return runHcm(res, l.api_listener.api_listener, req, out);
    // A proxyless server listener. grpc-js-xds (gRFC A36) never matches a chain
    // that sets destination_port, server_names, application_protocols or a
    // transport_protocol other than raw_buffer; of the rest, the first wins here.
    const usable = (l.filter_chains ?? []).filter((c: Obj) => {
      const m = c.filter_chain_match ?? {};
      return !m.destination_port && !(m.server_names ?? []).length && !(m.application_protocols ?? []).length && (m.transport_protocol ?? 'raw_buffer') === 'raw_buffer';
    });
    const chain = usable[0] ?? l.default_filter_chain;
    if (!chain) return { ...out, error: `no filter chain of ${l.name} matches` };
    return runChain(res, chain, req, out);
  }
  let l: Obj | undefined;
  if (req.inbound) l = listeners.get('virtualInbound')?.value;
  else l = listeners.get(`0.0.0.0_${req.port}`)?.value ?? listeners.get('virtualOutbound')?.value;
  if (!l) return { ...out, error: `no listener for port ${req.port}` };
  out.listener = l.name;
  const chain = selectChain(l.filter_chains ?? [], req);
  if (!chain) return { ...out, error: `no filter chain of ${l.name} matches` };
  return runChain(res, chain, req, out);
}
