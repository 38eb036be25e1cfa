// AuthorizationPolicy → envoy.extensions.filters.http.rbac.v3.RBAC filters, as
// Istio builds them: one DENY filter, then one ALLOW filter (an ALLOW filter
// with no matching policy denies everything), AUDIT as LOG (Envoy only).
// Conditions we cannot express (JWT request principals, request.auth.*)
// make an ALLOW rule match nothing and are dropped from a DENY rule (Istio's
// fail-closed choice in both directions).

import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from '../../api/istio.js';
import type { AuthorizationPolicyModel } from '../../mesh/model.js';
import { T, any } from './common.js';
import type { ProxyView } from './view.js';
import { SPIFFE_SCHEME, spiffeNamespacePattern } from '../names.js';

type Obj = Record<string, unknown>;

class Unsupported extends Error {}

function orOf(key: 'or_rules' | 'or_ids', items: Obj[]): Obj {
  if (items.length === 1) return items[0]!;
  return key === 'or_rules' ? { or_rules: { rules: items } } : { or_ids: { ids: items } };
}

function andOf(key: 'and_rules' | 'and_ids', items: Obj[]): Obj {
  if (items.length === 0) return { any: true };
  if (items.length === 1) return items[0]!;
  return key === 'and_rules' ? { and_rules: { rules: items } } : { and_ids: { ids: items } };
}

/** Istio string with `*` at the start or end → StringMatcher. */
function glob(v: string, prefix = ''): Obj {
  if (v === '*') return { safe_regex: { regex: '.+' } };
  if (v.endsWith('*')) return { prefix: prefix + v.slice(0, -1) };
  if (v.startsWith('*')) return { suffix: v.slice(1) };
  return { exact: prefix + v };
}

function principalName(p: string): Obj {
  return { authenticated: { principal_name: glob(p, SPIFFE_SCHEME) } };
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
}

function namespaceId(ns: string): Obj {
  return { authenticated: { principal_name: { safe_regex: { regex: spiffeNamespacePattern(escapeRegex(ns)) } } } };
}

function cidr(block: string): Obj {
  const [addr, len] = block.split('/');
  const prefixLen = len !== undefined ? Number(len) : addr!.includes(':') ? 128 : 32;
  return { address_prefix: addr, prefix_len: { value: prefixLen } };
}

function headerIs(name: string, v: string): Obj {
  return { header: { name, string_match: glob(v) } };
}

function negate(key: 'not_rule' | 'not_id', item: Obj): Obj {
  return { [key]: item };
}

function sourcePrincipal(s: AuthorizationSource): Obj {
  const parts: Obj[] = [];
  if (s.requestPrincipals?.length || s.notRequestPrincipals?.length) throw new Unsupported('requestPrincipals (JWT) are not supported');
  if (s.principals?.length) parts.push(orOf('or_ids', s.principals.map(principalName)));
  if (s.notPrincipals?.length) parts.push(negate('not_id', orOf('or_ids', s.notPrincipals.map(principalName))));
  if (s.namespaces?.length) parts.push(orOf('or_ids', s.namespaces.map(namespaceId)));
  if (s.notNamespaces?.length) parts.push(negate('not_id', orOf('or_ids', s.notNamespaces.map(namespaceId))));
  if (s.ipBlocks?.length) parts.push(orOf('or_ids', s.ipBlocks.map((b) => ({ direct_remote_ip: cidr(b) }))));
  if (s.notIpBlocks?.length) parts.push(negate('not_id', orOf('or_ids', s.notIpBlocks.map((b) => ({ direct_remote_ip: cidr(b) })))));
  if (s.remoteIpBlocks?.length) parts.push(orOf('or_ids', s.remoteIpBlocks.map((b) => ({ remote_ip: cidr(b) }))));
  if (s.notRemoteIpBlocks?.length) parts.push(negate('not_id', orOf('or_ids', s.notRemoteIpBlocks.map((b) => ({ remote_ip: cidr(b) })))));
  return andOf('and_ids', parts);
}

function operationPermission(o: AuthorizationOperation, tcp: boolean): Obj {
  const parts: Obj[] = [];
  if (tcp && (o.hosts?.length || o.notHosts?.length || o.methods?.length || o.notMethods?.length || o.paths?.length || o.notPaths?.length)) {
    throw new Unsupported('hosts, methods and paths do not apply to TCP traffic');
  }
  const hosts = (l: string[]) => orOf('or_rules', l.map((h) => ({ header: { name: ':authority', string_match: { ...glob(h), ignore_case: true } } })));
  const ports = (l: string[]) => orOf('or_rules', l.map((p) => ({ destination_port: Number(p) })));
  const methods = (l: string[]) => orOf('or_rules', l.map((m) => headerIs(':method', m)));
  const paths = (l: string[]) => orOf('or_rules', l.map((p) => (p === '*' ? { any: true } : { url_path: { path: glob(p) } })));
  if (o.hosts?.length) parts.push(hosts(o.hosts));
  if (o.notHosts?.length) parts.push(negate('not_rule', hosts(o.notHosts)));
  if (o.ports?.length) parts.push(ports(o.ports));
  if (o.notPorts?.length) parts.push(negate('not_rule', ports(o.notPorts)));
  if (o.methods?.length) parts.push(methods(o.methods));
  if (o.notMethods?.length) parts.push(negate('not_rule', methods(o.notMethods)));
  if (o.paths?.length) parts.push(paths(o.paths));
  if (o.notPaths?.length) parts.push(negate('not_rule', paths(o.notPaths)));
  return andOf('and_rules', parts);
}

/** A `when` condition → a permission (destination/request side) or a principal (source side). */
function condition(c: AuthorizationCondition, tcp: boolean): { permission?: Obj; principal?: Obj } {
  const values = c.values ?? [];
  const notValues = c.notValues ?? [];
  const both = <K extends 'or_rules' | 'or_ids'>(key: K, f: (v: string) => Obj): Obj => {
    const parts: Obj[] = [];
    if (values.length) parts.push(orOf(key, values.map(f)));
    if (notValues.length) parts.push(negate(key === 'or_rules' ? 'not_rule' : 'not_id', orOf(key, notValues.map(f))));
    return andOf(key === 'or_rules' ? 'and_rules' : 'and_ids', parts);
  };
  const header = /^request\.headers\[(.+)\]$/.exec(c.key);
  if (header && tcp) throw new Unsupported(`condition key ${c.key} does not apply to TCP traffic`);
  if (header) return { permission: both('or_rules', (v) => headerIs(header[1]!.toLowerCase(), v)) };
  switch (c.key) {
    case 'source.ip':
      return { principal: both('or_ids', (v) => ({ direct_remote_ip: cidr(v) })) };
    case 'remote.ip':
      return { principal: both('or_ids', (v) => ({ remote_ip: cidr(v) })) };
    case 'source.namespace':
      return { principal: both('or_ids', namespaceId) };
    case 'source.principal':
      return { principal: both('or_ids', principalName) };
    case 'destination.port':
      return { permission: both('or_rules', (v) => ({ destination_port: Number(v) })) };
    case 'destination.ip':
      return { permission: both('or_rules', (v) => ({ destination_ip: cidr(v) })) };
    case 'connection.sni':
      return { permission: both('or_rules', (v) => ({ requested_server_name: glob(v) })) };
    default:
      throw new Unsupported(`condition key ${c.key} is not supported`);
  }
}

/** One Istio rule → one RBAC Policy, or undefined when the rule cannot match (ALLOW with unsupported parts). */
function policyOf(rule: AuthorizationRule, allow: boolean, tcp: boolean, onDrop: (why: string) => void): Obj | undefined {
  const principals: Obj[] = [];
  const permissions: Obj[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      onDrop(e.message);
      if (allow) throw e;
      return undefined;
    }
  };
  try {
    const froms = (rule.from ?? []).map((f) => attempt(() => sourcePrincipal(f.source ?? {}))).filter((x): x is Obj => x !== undefined);
    const tos = (rule.to ?? []).map((t) => attempt(() => operationPermission(t.operation ?? {}, tcp))).filter((x): x is Obj => x !== undefined);
    const conds = (rule.when ?? []).map((c) => attempt(() => condition(c, tcp))).filter((x): x is { permission?: Obj; principal?: Obj } => x !== undefined);
    const pAnd: Obj[] = [];
    if (froms.length) pAnd.push(orOf('or_ids', froms));
    for (const c of conds) if (c.principal) pAnd.push(c.principal);
    const permAnd: Obj[] = [];
    if (tos.length) permAnd.push(orOf('or_rules', tos));
    for (const c of conds) if (c.permission) permAnd.push(c.permission);
    principals.push(andOf('and_ids', pAnd));
    permissions.push(andOf('and_rules', permAnd));
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  return { permissions, principals };
}

function rbacGroups(view: ProxyView, policies: readonly AuthorizationPolicyModel[], tcp: boolean): { action: 'DENY' | 'ALLOW' | 'LOG'; policies: Obj }[] {
  const grpc = view.proxy.kind === 'grpc';
  const groups: Record<'DENY' | 'ALLOW' | 'LOG', Obj> = { DENY: {}, ALLOW: {}, LOG: {} };
  const present = { DENY: false, ALLOW: false, LOG: false };
  for (const ap of policies) {
    let action: 'DENY' | 'ALLOW' | 'LOG';
    if (ap.action === 'DENY') action = 'DENY';
    else if (ap.action === 'ALLOW') action = 'ALLOW';
    else if (ap.action === 'AUDIT' && !grpc) action = 'LOG';
    else {
      view.sink.add({ code: 'MCD4120', severity: 'warning', message: `AuthorizationPolicy action ${ap.action} is not supported${grpc ? ' by proxyless gRPC servers' : ''}; policy ignored`, resource: ap.key, origin: ap.origin, path: 'spec.action' });
      continue;
    }
    present[action] = true;
    ap.rules.forEach((rule, i) => {
      const p = policyOf(rule, action === 'ALLOW', tcp, (why) =>
        view.sink.add({ code: 'MCD4121', severity: 'warning', message: `${why}; ${action === 'ALLOW' ? 'this ALLOW rule matches nothing' : 'the condition is left out of this rule'}${tcp ? ' (TCP port)' : ''}`, resource: ap.key, origin: ap.origin, path: `spec.rules[${i}]` }),
      );
      if (p) groups[action][`ns[${ap.namespace}]-policy[${ap.name}]-rule[${i}]`] = p;
    });
  }
  const out: { action: 'DENY' | 'ALLOW' | 'LOG'; policies: Obj }[] = [];
  for (const action of ['DENY', 'ALLOW', 'LOG'] as const) {
    if (!present[action]) continue;
    if (action !== 'ALLOW' && Object.keys(groups[action]).length === 0) continue;
    out.push({ action, policies: groups[action] });
  }
  return out;
}

/** RBAC http filters (DENY first, then ALLOW, then AUDIT) for the policies that apply to a workload. */
export function rbacHttpFilters(view: ProxyView, policies: readonly AuthorizationPolicyModel[]): Obj[] {
  return rbacGroups(view, policies, false).map((g) => ({ name: `envoy.filters.http.rbac.${g.action.toLowerCase()}`, typed_config: any(T.httpRbac, { rules: { action: g.action, policies: g.policies } }) }));
}

/** The same as network filters for TCP ports: HTTP-only attributes make an ALLOW rule match nothing. */
export function rbacNetworkFilters(view: ProxyView, policies: readonly AuthorizationPolicyModel[], statPrefix: string): Obj[] {
  return rbacGroups(view, policies, true).map((g) => ({ name: `envoy.filters.network.rbac.${g.action.toLowerCase()}`, typed_config: any(T.networkRbac, { stat_prefix: `${statPrefix}.${g.action.toLowerCase()}`, rules: { action: g.action, policies: g.policies } }) }));
}
