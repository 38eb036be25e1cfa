// DestinationRule rules: Istio's ValidateDestinationRule, validateTrafficPolicy,
// validateConnectionPool, validateOutlierDetection, validateLoadBalancer and
// the client-side agent.ValidateTLS.
import type { DestinationRuleSpec, TrafficPolicy } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { checkDuration, checkExportTo, checkLabels, checkPort, checkSubsetName, checkWorkloadSelector, fqdnError, ipSubnetError, isObject, wildcardDomainError } from './common.js';

export function checkDestinationRule(ctx: RuleContext, spec: DestinationRuleSpec): void {
  if (typeof spec.host === 'string') {
    const e = wildcardDomainError(spec.host);
    if (e) ctx.error('host', 'spec.host', e);
  } else {
    ctx.error('missing', 'spec', 'destination rule must have a host');
  }
  checkTrafficPolicy(ctx, 'spec.trafficPolicy', spec.trafficPolicy, true);
  const names = new Set<string>();
  (Array.isArray(spec.subsets) ? spec.subsets : []).forEach((s, i) => {
    const sp = at('spec.subsets', i);
    if (!isObject(s)) return;
    if (typeof s.name === 'string') {
      if (names.has(s.name)) ctx.error('duplicate', at(sp, 'name'), `duplicate subset names: ${s.name}`);
      names.add(s.name);
    } else {
      ctx.error('missing', sp, 'subset name cannot be empty');
    }
    checkSubsetName(ctx, at(sp, 'name'), s.name);
    checkLabels(ctx, at(sp, 'labels'), s.labels);
    checkTrafficPolicy(ctx, at(sp, 'trafficPolicy'), s.trafficPolicy, true);
  });
  checkExportTo(ctx, 'spec.exportTo', spec.exportTo, { ruleWithSelector: spec.workloadSelector !== undefined });
  checkWorkloadSelector(ctx, 'spec.workloadSelector', spec.workloadSelector);
}

type PortPolicy = NonNullable<TrafficPolicy['portLevelSettings']>[number];

export function checkTrafficPolicy(ctx: RuleContext, path: string, policy: TrafficPolicy | PortPolicy | undefined, topLevel: boolean): void {
  if (!isObject(policy)) return;
  const p = policy as TrafficPolicy;
  if (topLevel) {
    if (!p.outlierDetection && !p.connectionPool && !p.loadBalancer && !p.tls && !p.portLevelSettings && !p.tunnel && !p.proxyProtocol) {
      ctx.error('trafficPolicy', path, 'traffic policy must have at least one field');
      return;
    }
    if (p.tunnel && p.proxyProtocol) ctx.error('conflict', at(path, 'proxyProtocol'), 'tunnel and proxyProtocol must not be set together');
  }
  checkOutlier(ctx, at(path, 'outlierDetection'), p.outlierDetection);
  checkConnectionPool(ctx, at(path, 'connectionPool'), p.connectionPool);
  checkLoadBalancer(ctx, at(path, 'loadBalancer'), p.loadBalancer, p.outlierDetection);
  checkClientTLS(ctx, at(path, 'tls'), p.tls);
  if (topLevel) {
    checkTunnel(ctx, at(path, 'tunnel'), p.tunnel);
    const ports = new Set<number>();
    (Array.isArray(p.portLevelSettings) ? p.portLevelSettings : []).forEach((pl, i) => {
      const pp = at(at(path, 'portLevelSettings'), i);
      if (!isObject(pl)) return;
      if (!isObject(pl.port)) ctx.error('port', pp, 'portTrafficPolicy must have valid port');
      else {
        const n = typeof pl.port.number === 'number' ? pl.port.number : 0;
        checkPort(ctx, at(at(pp, 'port'), 'number'), n);
        if (ports.has(n)) ctx.error('duplicate', at(at(pp, 'port'), 'number'), `port ${n} already has port level settings`);
        ports.add(n);
      }
      if (!pl.outlierDetection && !pl.connectionPool && !pl.loadBalancer && !pl.tls) ctx.error('trafficPolicy', pp, 'port traffic policy must have at least one field');
      else checkTrafficPolicy(ctx, pp, pl, false);
    });
  }
}

function checkOutlier(ctx: RuleContext, path: string, o: TrafficPolicy['outlierDetection']): void {
  if (!isObject(o)) return;
  if (typeof o.baseEjectionTime === 'string') checkDuration(ctx, at(path, 'baseEjectionTime'), o.baseEjectionTime);
  if (typeof o.interval === 'string') checkDuration(ctx, at(path, 'interval'), o.interval);
  if (typeof o.consecutiveErrors === 'number' && o.consecutiveErrors !== 0) {
    ctx.warn('deprecated', at(path, 'consecutiveErrors'), 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead');
  }
  if (!o.splitExternalLocalOriginErrors && typeof o.consecutiveLocalOriginFailures === 'number' && o.consecutiveLocalOriginFailures > 0) {
    ctx.error('trafficPolicy', at(path, 'consecutiveLocalOriginFailures'), 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false');
  }
  for (const f of ['consecutive5xxErrors', 'consecutiveGatewayErrors', 'consecutiveLocalOriginFailures'] as const) {
    const v = o[f];
    if (typeof v === 'number' && v < 0) ctx.error('trafficPolicy', at(path, f), `outlier detection ${f} cannot be negative`);
  }
  for (const f of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = o[f];
    if (typeof v === 'number' && (v < 0 || v > 100)) ctx.error('percentage', at(path, f), `percentage ${v} is not in range 0..100`);
  }
}

export function checkConnectionPool(ctx: RuleContext, path: string, cp: TrafficPolicy['connectionPool']): void {
  if (!isObject(cp)) return;
  if (!cp.http && !cp.tcp) {
    ctx.error('trafficPolicy', path, 'connection pool must have at least one field');
    return;
  }
  const h = cp.http;
  if (isObject(h)) {
    const hp = at(path, 'http');
    const nonNeg: [keyof typeof h, string][] = [
      ['http1MaxPendingRequests', 'http1 max pending requests must be non-negative'],
      ['http2MaxRequests', 'http2 max requests must be non-negative'],
      ['maxRequestsPerConnection', 'max requests per connection must be non-negative'],
      ['maxRetries', 'max retries must be non-negative'],
      ['maxConcurrentStreams', 'max concurrent streams must be non-negative'],
    ];
    for (const [f, msg] of nonNeg) {
      const v = h[f];
      if (typeof v === 'number' && v < 0) ctx.error('trafficPolicy', at(hp, f), msg);
    }
    if (typeof h.idleTimeout === 'string') checkDuration(ctx, at(hp, 'idleTimeout'), h.idleTimeout);
    if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol) ctx.error('conflict', at(hp, 'useClientProtocol'), 'use client protocol must not be true when H2UpgradePolicy is UPGRADE');
  }
  const t = cp.tcp;
  if (isObject(t)) {
    const tp = at(path, 'tcp');
    if (typeof t.maxConnections === 'number' && t.maxConnections < 0) ctx.error('trafficPolicy', at(tp, 'maxConnections'), 'max connections must be non-negative');
    for (const f of ['connectTimeout', 'maxConnectionDuration', 'idleTimeout'] as const) {
      const v = t[f];
      if (typeof v === 'string') checkDuration(ctx, at(tp, f), v);
    }
    if (isObject(t.tcpKeepalive)) {
      for (const f of ['time', 'interval'] as const) {
        const v = t.tcpKeepalive[f];
        if (typeof v === 'string') checkDuration(ctx, at(at(tp, 'tcpKeepalive'), f), v);
      }
    }
  }
}

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

function checkLoadBalancer(ctx: RuleContext, path: string, lb: TrafficPolicy['loadBalancer'], outlier: unknown): void {
  if (!isObject(lb)) return;
  const ch = lb.consistentHash;
  if (isObject(ch)) {
    const cp = at(path, 'consistentHash');
    if (isObject(ch.httpCookie)) {
      if (!ch.httpCookie.name) ctx.error('trafficPolicy', at(cp, 'httpCookie'), 'name required for HttpCookie');
      if (typeof ch.httpCookie.ttl === 'string') checkDuration(ctx, at(at(cp, 'httpCookie'), 'ttl'), ch.httpCookie.ttl, { allowZero: true });
    }
    if (typeof ch.minimumRingSize === 'number' && ch.minimumRingSize !== 0) {
      ctx.warn('deprecated', at(cp, 'minimumRingSize'), "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
      if (ch.ringHash || ch.maglev) ctx.error('conflict', at(cp, 'minimumRingSize'), 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
    }
    if (isObject(ch.maglev)) {
      const size = typeof ch.maglev.tableSize === 'number' ? ch.maglev.tableSize : 0;
      const mp = at(at(cp, 'maglev'), 'tableSize');
      if (size === 0) ctx.error('trafficPolicy', at(cp, 'maglev'), 'tableSize must be set for maglev');
      else if (size >= 5000011) ctx.error('trafficPolicy', mp, 'tableSize must be less than 5000011 for maglev');
      else if (!isPrime(size)) ctx.error('trafficPolicy', mp, 'tableSize must be a prime number for maglev');
    }
  }
  checkLocalityLb(ctx, at(path, 'localityLbSetting'), lb.localityLbSetting, outlier);
  const warmup = (lb as Record<string, unknown>).warmup;
  if (isObject(warmup)) {
    const wp = at(path, 'warmup');
    if (typeof warmup.duration !== 'string') ctx.error('missing', wp, 'warmup.duration is required');
    else checkDuration(ctx, at(wp, 'duration'), warmup.duration);
    if (typeof warmup.minimumPercent === 'number' && (warmup.minimumPercent < 0 || warmup.minimumPercent > 100)) {
      ctx.error('percentage', at(wp, 'minimumPercent'), `warmup minimumPercent ${warmup.minimumPercent} is not in range 0..100`);
    }
    if (typeof warmup.aggression === 'number' && warmup.aggression < 1) ctx.error('trafficPolicy', at(wp, 'aggression'), `warmup aggression ${warmup.aggression} must be at least 1`);
  }
  if (typeof lb.warmupDurationSecs === 'string') checkDuration(ctx, at(path, 'warmupDurationSecs'), lb.warmupDurationSecs);
}

export function checkLocalityLb(ctx: RuleContext, path: string, l: unknown, outlier: unknown): void {
  if (!isObject(l)) return;
  const distribute = Array.isArray(l.distribute) ? l.distribute : [];
  const failover = Array.isArray(l.failover) ? l.failover : [];
  const failoverPriority = Array.isArray(l.failoverPriority) ? l.failoverPriority : [];
  if (distribute.length > 0 && failover.length > 0) {
    ctx.error('conflict', at(path, 'failover'), "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  distribute.forEach((d, i) => {
    const dp = at(at(path, 'distribute'), i);
    if (!isObject(d) || !isObject(d.to)) return;
    let total = 0;
    for (const [loc, w] of Object.entries(d.to)) {
      if (typeof w !== 'number' || w <= 0 || w > 100) {
        ctx.error('weight', at(at(dp, 'to'), loc), 'locality weight must be in range [1, 100]');
        return;
      }
      total += w;
    }
    if (total !== 100) ctx.error('weight', at(dp, 'to'), `total locality weight ${total} != 100`);
  });
  if ((failover.length > 0 || failoverPriority.length > 0) && !outlier) {
    ctx.warn('trafficPolicy', path, 'outlier detection policy must be provided for failover');
  }
  failover.forEach((f, i) => {
    const fp = at(at(path, 'failover'), i);
    if (!isObject(f)) return;
    const from = String(f.from ?? ''), to = String(f.to ?? '');
    if (from === to) ctx.error('trafficPolicy', fp, 'locality lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) ctx.error('trafficPolicy', fp, 'locality lb failover only specify region');
    if (from.includes('*') || to.includes('*')) ctx.error('trafficPolicy', fp, "locality lb failover region should not contain '*' wildcard");
  });
}

function checkTunnel(ctx: RuleContext, path: string, t: unknown): void {
  if (!isObject(t)) return;
  if (typeof t.protocol === 'string' && t.protocol !== '' && t.protocol !== 'CONNECT' && t.protocol !== 'POST') ctx.error('trafficPolicy', at(path, 'protocol'), 'tunnel protocol must be "CONNECT" or "POST"');
  const host = typeof t.targetHost === 'string' ? t.targetHost : '';
  if (fqdnError(host) && ipSubnetError(host)) ctx.error('host', at(path, 'targetHost'), `tunnel target host must be valid FQDN or IP address: ${JSON.stringify(host)}`);
  checkPort(ctx, at(path, 'targetPort'), typeof t.targetPort === 'number' ? t.targetPort : 0);
}

/** agent.ValidateTLS (client side). */
function checkClientTLS(ctx: RuleContext, path: string, tls: TrafficPolicy['tls']): void {
  if (!isObject(tls)) return;
  const s = tls as NonNullable<TrafficPolicy['tls']> & { caCrl?: string };
  if (s.insecureSkipVerify) {
    if (s.mode === 'SIMPLE' && (s.caCertificates || s.credentialName || s.subjectAltNames)) {
      ctx.error('tls', at(path, 'insecureSkipVerify'), 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true');
    }
    if (s.mode === 'MUTUAL' && (s.caCertificates || s.subjectAltNames)) {
      ctx.error('tls', at(path, 'insecureSkipVerify'), 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }
  if ((s.mode === 'SIMPLE' || s.mode === 'MUTUAL') && s.credentialName) {
    if (s.clientCertificate || s.caCertificates || s.privateKey || s.caCrl) {
      ctx.error('tls', at(path, 'credentialName'), 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
    }
    return;
  }
  if (s.mode === 'MUTUAL') {
    if (!s.clientCertificate) ctx.error('tls', path, 'client certificate required for mutual tls');
    if (!s.privateKey) ctx.error('tls', path, 'private key required for mutual tls');
  }
  if (s.mode === 'ISTIO_MUTUAL' && (s.clientCertificate || s.privateKey || s.caCertificates || s.credentialName)) {
    ctx.warn('tls', path, 'ISTIO_MUTUAL uses the mesh certificates; clientCertificate, privateKey, caCertificates and credentialName are ignored');
  }
}
