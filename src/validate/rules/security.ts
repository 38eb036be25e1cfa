// security.istio.io rules: Istio's ValidatePeerAuthentication,
// ValidateAuthorizationPolicy (with security.ValidateAttribute for `when`
// keys) and ValidateRequestAuthentication / validateJwtRule.
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { checkDuration, checkWorkloadSelector, headerNameError, isObject } from './common.js';

type TargetRefs = { targetRef?: unknown; targetRefs?: unknown };

/** validateOneOfSelectorType + validatePolicyTargetReference(s) */
function checkSelectorAndTargets(ctx: RuleContext, spec: { selector?: unknown } & TargetRefs): void {
  const refs = Array.isArray(spec.targetRefs) ? spec.targetRefs : [];
  const set = (spec.selector !== undefined ? 1 : 0) + (spec.targetRef !== undefined ? 1 : 0) + (refs.length > 0 ? 1 : 0);
  if (set > 1) ctx.error('conflict', spec.targetRef !== undefined ? 'spec.targetRef' : 'spec.targetRefs', 'only one of targetRefs or workloadSelector can be set');
  checkWorkloadSelector(ctx, 'spec.selector', spec.selector);
  const allowed = ['core/Service', 'networking.istio.io/ServiceEntry', 'gateway.networking.k8s.io/Gateway'];
  const checkRef = (path: string, r: unknown) => {
    if (!isObject(r)) return;
    if (!r.name) ctx.error('missing', path, 'targetRef name must be set');
    if (r.namespace) ctx.error('conflict', at(path, 'namespace'), 'targetRef namespace must not be set; cross namespace referencing is not supported');
    const group = typeof r.group === 'string' && r.group !== '' ? r.group : 'core';
    if (!allowed.includes(`${group}/${String(r.kind)}`)) ctx.error('conflict', at(path, 'kind'), `targetRef must be to one of Service, ServiceEntry, gateway.networking.k8s.io/Gateway but was ${String(r.group ?? '')}/${String(r.kind)}`);
  };
  checkRef('spec.targetRef', spec.targetRef);
  refs.forEach((r, i) => checkRef(at('spec.targetRefs', i), r));
}

export function checkPeerAuthentication(ctx: RuleContext, spec: PeerAuthenticationSpec & TargetRefs): void {
  const emptySelector = !isObject(spec.selector) || !isObject(spec.selector.matchLabels) || Object.keys(spec.selector.matchLabels).length === 0;
  const ports = isObject(spec.portLevelMtls) ? Object.keys(spec.portLevelMtls) : undefined;
  if (ports && ports.length > 0 && emptySelector) ctx.error('peerAuthn', 'spec.portLevelMtls', 'mesh/namespace peer authentication cannot have port level mTLS');
  if (ports && ports.length === 0) ctx.error('peerAuthn', 'spec.portLevelMtls', 'port level mTLS, if defined, must have at least one element');
  for (const p of ports ?? []) {
    const n = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!(n >= 1 && n <= 65535)) ctx.error('port', at('spec.portLevelMtls', p), `port must be in range 1..65535 (found ${JSON.stringify(p)})`);
  }
  checkWorkloadSelector(ctx, 'spec.selector', spec.selector);
}

// security.ValidateAttribute
const PLAIN_KEYS = new Set(['source.namespace', 'source.principal', 'source.serviceAccount', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'connection.sni']);
const IP_KEYS = new Set(['source.ip', 'remote.ip', 'destination.ip']);

function ipError(v: string): string | undefined {
  if (v.includes('/')) {
    const [addr, bits] = v.split('/');
    const fam = isIPv(addr!);
    const n = /^\d{1,3}$/.test(bits ?? '') ? Number(bits) : NaN;
    return fam && n >= 0 && n <= (fam === 4 ? 32 : 128) && v.split('/').length === 2 ? undefined : `bad CIDR range (${v})`;
  }
  return isIPv(v) ? undefined : `bad IP address (${v})`;
}
function isIPv(s: string): 0 | 4 | 6 {
  if (/^(\d{1,3})(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255 && !(o.length > 1 && o.startsWith('0')))) return 4;
  if (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s)) {
    try {
      new URL(`http://[${s}]/`);
      return 6;
    } catch {
      return 0;
    }
  }
  return 0;
}
function portStringError(p: string): string | undefined {
  return /^\d+$/.test(p) && Number(p) <= 65535 ? undefined : `bad port (${p})`;
}
function mapKeyError(key: string): string | undefined {
  const open = key.indexOf('[');
  return key.endsWith(']') && open > 0 && open < key.length - 2 ? undefined : `bad key (${key}): should have format a[b]`;
}

export function attributeError(key: string, values: readonly string[]): string | undefined {
  if (key.startsWith('request.headers[') || key.startsWith('request.auth.claims[') || key.startsWith('experimental.envoy.filters.')) return mapKeyError(key);
  if (IP_KEYS.has(key)) {
    for (const v of values) {
      const e = ipError(v);
      if (e) return e;
    }
    return undefined;
  }
  if (key === 'destination.port') {
    for (const v of values) {
      const e = portStringError(v);
      if (e) return e;
    }
    return undefined;
  }
  if (PLAIN_KEYS.has(key)) return undefined;
  return `unknown attribute (${key})`;
}

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'] as const;
const OPERATION_FIELDS = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

function pathTemplateError(p: string): string | undefined {
  if (!p.includes('{') && !p.includes('}')) {
    // Istio matches `*` only as the whole path, a prefix (`/api/*`) or a suffix (`*.png`).
    if (p.includes('*') && p !== '*' && !p.endsWith('*') && !p.startsWith('*')) return `path ${JSON.stringify(p)}: "*" is only supported as a prefix, a suffix or the whole path`;
    return undefined;
  }
  // Envoy URI templates: `{*}` matches one segment, `{**}` the rest; `{**}` must be the last operator.
  const segs = p.split('/');
  let sawDoubleStar = false;
  for (const s of segs) {
    if (!s.includes('{') && !s.includes('}')) continue;
    if ((s !== '{*}' && s !== '{**}') || sawDoubleStar) {
      return `invalid or unsupported path ${p}. Contains unsupported path template: use whole segments {*} or {**}, with {**} as the last operator`;
    }
    if (s === '{**}') sawDoubleStar = true;
  }
  return undefined;
}

export function checkAuthorizationPolicy(ctx: RuleContext, spec: AuthorizationPolicySpec): void {
  checkSelectorAndTargets(ctx, spec);
  const action = spec.action ?? 'ALLOW';
  const rules = spec.rules;
  // Istio sees an empty list as no rules at all (proto3 repeated fields).
  const noRules = !Array.isArray(rules) || rules.length === 0;
  if (action === 'CUSTOM') {
    if (noRules) ctx.error('authz', 'spec', 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
    else if (!isObject(spec.provider) || !spec.provider.name) ctx.error('authz', isObject(spec.provider) ? 'spec.provider' : 'spec.action', '`provider.name` must not be empty');
    (Array.isArray(rules) ? rules : []).forEach((rule, i) => {
      if (!isObject(rule)) return;
      const rp = at('spec.rules', i);
      (Array.isArray(rule.from) ? rule.from : []).forEach((f, j) => {
        const src = isObject(f) ? f.source : undefined;
        if (!isObject(src)) return;
        for (const field of ['namespaces', 'notNamespaces', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'] as const) {
          if (Array.isArray(src[field]) && src[field]!.length > 0) {
            ctx.error('authz', at(at(at(at(rp, 'from'), j), 'source'), field), `From.${field[0]!.toUpperCase()}${field.slice(1)} is currently not supported with CUSTOM action`);
          }
        }
      });
      (Array.isArray(rule.when) ? rule.when : []).forEach((w, j) => {
        if (!isObject(w) || typeof w.key !== 'string') return;
        if (w.key === 'source.namespace' || w.key === 'source.principal' || w.key.startsWith('request.auth.')) {
          ctx.error('authz', at(at(at(rp, 'when'), j), 'key'), `${w.key} is currently not supported with CUSTOM action`);
        }
      });
    });
  }
  if (spec.provider !== undefined && action !== 'CUSTOM') ctx.error('authz', 'spec.provider', `\`provider\` must not be with non CUSTOM action, found ${action}`);
  if (action === 'DENY' && noRules) {
    ctx.error('authz', 'spec', 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
  }

  (Array.isArray(rules) ? rules : []).forEach((rule, i) => {
    const rp = at('spec.rules', i);
    if (!isObject(rule)) {
      ctx.error('authz', rp, `\`rule\` must not be nil, found at rule ${i}`);
      return;
    }
    if (Array.isArray(rule.from) && rule.from.length === 0) ctx.error('authz', at(rp, 'from'), `\`from\` must not be empty, found at rule ${i}`);
    let fromExists = false, toExists = false, tcpInFrom = false, tcpInTo = false;
    (Array.isArray(rule.from) ? rule.from : []).forEach((f, j) => {
      const fp = at(at(rp, 'from'), j);
      if (!isObject(f) || !isObject(f.source)) {
        ctx.error('authz', fp, `\`from.source\` must not be nil, found at rule ${i}`);
        return;
      }
      fromExists = true;
      const src = f.source;
      const sp = at(fp, 'source');
      if (SOURCE_FIELDS.every((k) => !Array.isArray(src[k]) || src[k]!.length === 0)) ctx.error('authz', sp, `\`from.source\` must not be empty, found at rule ${i}`);
      const has = (k: (typeof SOURCE_FIELDS)[number]) => Array.isArray(src[k]) && src[k]!.length > 0;
      if (has('serviceAccounts') && (has('namespaces') || has('principals'))) {
        ctx.error('conflict', at(sp, 'serviceAccounts'), 'Cannot set serviceAccounts with namespaces or principals');
      }
      for (const k of SOURCE_FIELDS) {
        const list = src[k];
        if (!Array.isArray(list)) continue;
        list.forEach((v, n) => {
          if (typeof v !== 'string') return;
          const vp = at(at(sp, k), n);
          if (v === '') ctx.error('authz', vp, `empty value not allowed, found in ${k}`);
          else if (k.toLowerCase().endsWith('ipblocks')) {
            const e = ipError(v);
            if (e) ctx.error('address', vp, e);
          } else if ((k === 'principals' || k === 'notPrincipals') && v.startsWith('spiffe://')) {
            ctx.warn('authz', vp, `principal ${JSON.stringify(v)} should not include the spiffe:// prefix; Istio matches "<trust-domain>/ns/<namespace>/sa/<service-account>"`);
          }
        });
        if (['principals', 'notPrincipals', 'ipBlocks', 'notIpBlocks', 'namespaces', 'notNamespaces', 'remoteIpBlocks', 'notRemoteIpBlocks'].includes(k)) tcpInFrom = true;
      }
    });
    if (Array.isArray(rule.to) && rule.to.length === 0) ctx.error('authz', at(rp, 'to'), `\`to\` must not be empty, found at rule ${i}`);
    (Array.isArray(rule.to) ? rule.to : []).forEach((t, j) => {
      const tp = at(at(rp, 'to'), j);
      if (!isObject(t) || !isObject(t.operation)) {
        ctx.error('authz', tp, `\`to.operation\` must not be nil, found at rule ${i}`);
        return;
      }
      toExists = true;
      const op = t.operation;
      const opp = at(tp, 'operation');
      if (OPERATION_FIELDS.every((k) => !Array.isArray(op[k]) || op[k]!.length === 0)) ctx.error('authz', opp, `\`to.operation\` must not be empty, found at rule ${i}`);
      for (const k of OPERATION_FIELDS) {
        const list = op[k];
        if (!Array.isArray(list)) continue;
        if (k === 'ports' || k === 'notPorts') tcpInTo = true;
        list.forEach((v, n) => {
          if (typeof v !== 'string') return;
          const vp = at(at(opp, k), n);
          if (v === '') ctx.error('authz', vp, `empty value not allowed, found in ${k}`);
          else if (k === 'ports' || k === 'notPorts') {
            const e = portStringError(v);
            if (e) ctx.error('port', vp, e);
          } else if (k === 'paths' || k === 'notPaths') {
            const e = pathTemplateError(v);
            if (e) ctx.error('authz', vp, e);
          }
        });
      }
    });
    (Array.isArray(rule.when) ? rule.when : []).forEach((c, j) => {
      const cp = at(at(rp, 'when'), j);
      if (!isObject(c)) return;
      const key = typeof c.key === 'string' ? c.key : '';
      const values = Array.isArray(c.values) ? c.values.filter((v): v is string => typeof v === 'string') : [];
      const notValues = Array.isArray(c.notValues) ? c.notValues.filter((v): v is string => typeof v === 'string') : [];
      if (key === '') {
        ctx.error('authz', at(cp, 'key'), '`key` must not be empty');
        return;
      }
      if (values.length === 0 && notValues.length === 0) {
        ctx.error('authz', cp, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
        return;
      }
      const ve = attributeError(key, values);
      if (ve) ctx.error('authz', ve.startsWith('unknown attribute') || ve.startsWith('bad key') ? at(cp, 'key') : at(cp, 'values'), `invalid \`value\` for \`key\` ${key}: ${ve}`);
      const ne = ve ? undefined : attributeError(key, notValues);
      if (ne) ctx.error('authz', at(cp, 'notValues'), `invalid \`notValue\` for \`key\` ${key}: ${ne}`);
    });
    if (((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo)) && action === 'DENY') {
      ctx.warn('authz', rp, 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port');
    }
  });
}

export function checkRequestAuthentication(ctx: RuleContext, spec: RequestAuthenticationSpec & TargetRefs): void {
  checkSelectorAndTargets(ctx, spec);
  const issuers = new Map<string, number>();
  (Array.isArray(spec.jwtRules) ? spec.jwtRules : []).forEach((rule, i) => {
    const rp = at('spec.jwtRules', i);
    if (!isObject(rule)) return;
    // Istio's validateJwtRule: an issuer or a jwksUri (the issuer is then taken from the keys' URI).
    if (!rule.issuer && !rule.jwksUri) ctx.error('jwt', rp, 'issuer or jwksUri must be non-empty string');
    else if (rule.issuer) {
      if (issuers.has(rule.issuer)) ctx.warn('duplicate', at(rp, 'issuer'), `issuer ${JSON.stringify(rule.issuer)} is also used by jwtRules[${issuers.get(rule.issuer)}]; only one of the rules will be used`);
      issuers.set(rule.issuer, i);
    }
    (Array.isArray(rule.audiences) ? rule.audiences : []).forEach((a, j) => {
      if (a === '') ctx.error('jwt', at(at(rp, 'audiences'), j), 'audience must be non-empty string');
    });
    if (typeof rule.jwksUri === 'string' && rule.jwksUri !== '') {
      const e = jwksUriError(rule.jwksUri);
      if (e) ctx.error('jwt', at(rp, 'jwksUri'), e);
    }
    if (typeof rule.jwks === 'string' && rule.jwks !== '') {
      const e = jwksError(rule.jwks);
      if (e) ctx.error('jwt', at(rp, 'jwks'), e);
      if (rule.jwksUri) ctx.error('conflict', at(rp, 'jwks'), 'only one of jwks or jwksUri may be set: jwks (inline keys) would silently take precedence over jwksUri');
    }
    (Array.isArray(rule.fromHeaders) ? rule.fromHeaders : []).forEach((h, j) => {
      const hp = at(at(rp, 'fromHeaders'), j);
      if (!isObject(h)) ctx.error('jwt', hp, 'location header name must be non-null');
      else if (!h.name) ctx.error('jwt', hp, 'location header name must be non-empty string');
    });
    (Array.isArray(rule.fromParams) ? rule.fromParams : []).forEach((p, j) => {
      if (p === '') ctx.error('jwt', at(at(rp, 'fromParams'), j), 'location query must be non-empty string');
    });
    const r = rule as typeof rule & { fromCookies?: unknown; outputClaimToHeaders?: unknown; timeout?: unknown; spaceDelimitedClaims?: unknown };
    (Array.isArray(r.spaceDelimitedClaims) ? r.spaceDelimitedClaims : []).forEach((c, j) => {
      // Stricter than Istio (it does not check these names): a warning.
      if (c === '') ctx.warn('jwt', at(at(rp, 'spaceDelimitedClaims'), j), 'space delimited claim name must be non-empty string');
    });
    (Array.isArray(r.fromCookies) ? r.fromCookies : []).forEach((c, j) => {
      if (c === '') ctx.error('jwt', at(at(rp, 'fromCookies'), j), 'cookie name must be non-empty string');
    });
    (Array.isArray(r.outputClaimToHeaders) ? r.outputClaimToHeaders : []).forEach((o, j) => {
      const op = at(at(rp, 'outputClaimToHeaders'), j);
      if (!isObject(o) || !o.claim || !o.header) ctx.error('jwt', op, 'outputClaimToHeaders header and claim value must be non-empty string');
      else {
        const e = headerNameError(String(o.header));
        if (e) ctx.error('header', at(op, 'header'), e);
      }
    });
    if (typeof rule.outputPayloadToHeader === 'string' && rule.outputPayloadToHeader !== '') {
      // Stricter than Istio (it checks only outputClaimToHeaders): a warning.
      const e = headerNameError(rule.outputPayloadToHeader);
      if (e) ctx.warn('header', at(rp, 'outputPayloadToHeader'), e);
    }
    if (typeof r.timeout === 'string') checkDuration(ctx, at(rp, 'timeout'), r.timeout);
  });
}

/** security.ParseJwksURI: an http(s) URL with a host. */
function jwksUriError(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `jwksUri ${JSON.stringify(uri)} is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `URI scheme ${JSON.stringify(u.protocol.replace(/:$/, ''))} is not supported (jwksUri must be http or https)`;
  if (!u.hostname) return `jwksUri ${JSON.stringify(uri)} has no host`;
  return undefined;
}

/** A JWKS document: JSON with a `keys` array of objects that each have `kty`. */
function jwksError(jwks: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(jwks);
  } catch (err) {
    return `jwks parse error: ${(err as Error).message}`;
  }
  const keys = isObject(doc) ? doc.keys : undefined;
  if (!Array.isArray(keys)) return 'jwks parse error: expected a JSON object with a "keys" array';
  const bad = keys.findIndex((k) => !isObject(k) || typeof k.kty !== 'string');
  return bad >= 0 ? `jwks parse error: keys[${bad}] has no "kty"` : undefined;
}
