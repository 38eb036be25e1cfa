// Sidecar rules: Istio's ValidateSidecar. (Only one selector-less Sidecar per
// namespace is a cross-resource check and belongs to the analyzers.)
import type { SidecarSpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import { checkDestination, checkPort, checkPortName, checkWorkloadSelector, fqdnError, isIPAddress, isObject, namespaceSlashHostError, protocolIsHTTP, protocolKnown } from './common.js';
import { checkServerTLS } from './gateway.js';
import { checkConnectionPool } from './destinationrule.js';

type Listener = { port?: { number?: number; protocol?: string; name?: string; targetPort?: number }; bind?: string; captureMode?: string };

export function checkSidecar(ctx: RuleContext, spec: SidecarSpec & { inboundConnectionPool?: unknown }): void {
  if (isObject(spec.workloadSelector)) {
    const sel = spec.workloadSelector;
    checkWorkloadSelector(ctx, 'spec.workloadSelector', { labels: (sel as Record<string, unknown>).labels ?? sel.matchLabels }, 'labels');
  }
  const ingress = Array.isArray(spec.ingress) ? spec.ingress : [];
  const egress = Array.isArray(spec.egress) ? spec.egress : [];
  if (ingress.length === 0 && egress.length === 0 && !spec.outboundTrafficPolicy && !spec.inboundConnectionPool) {
    ctx.error('sidecar', 'spec', 'sidecar: empty configuration provided');
    return;
  }
  if (isObject(spec.inboundConnectionPool)) checkConnectionPool(ctx, 'spec.inboundConnectionPool', spec.inboundConnectionPool);
  const ingressPorts = new Set<number>();
  ingress.forEach((l, i) => {
    const lp = at('spec.ingress', i);
    if (!isObject(l)) return;
    if (!isObject(l.port)) {
      ctx.error('port', lp, 'sidecar: port is required for ingress listeners');
      return;
    }
    if (typeof l.port.targetPort === 'number' && l.port.targetPort > 0) ctx.error('sidecar', at(at(lp, 'port'), 'targetPort'), 'targetPort has no impact on Sidecars');
    checkListenerPort(ctx, lp, l, false);
    const n = typeof l.port.number === 'number' ? l.port.number : 0;
    if (ingressPorts.has(n)) ctx.error('duplicate', at(at(lp, 'port'), 'number'), 'sidecar: ports on IP bound listeners must be unique');
    ingressPorts.add(n);
    if (typeof l.defaultEndpoint === 'string' && l.defaultEndpoint !== '') checkDefaultEndpoint(ctx, at(lp, 'defaultEndpoint'), l.defaultEndpoint);
    if (isObject(l.tls)) {
      const tp = at(lp, 'tls');
      if (Array.isArray(l.tls.subjectAltNames) && l.tls.subjectAltNames.length > 0) ctx.error('sidecar', at(tp, 'subjectAltNames'), 'sidecar: subjectAltNames is not supported in ingress tls');
      if (l.tls.httpsRedirect) ctx.error('sidecar', at(tp, 'httpsRedirect'), 'sidecar: httpsRedirect is not supported');
      if (l.tls.credentialName) ctx.error('sidecar', at(tp, 'credentialName'), 'sidecar: credentialName is not currently supported');
      if (l.tls.mode === 'ISTIO_MUTUAL' || l.tls.mode === 'AUTO_PASSTHROUGH') ctx.error('tls', at(tp, 'mode'), `configuration is invalid: cannot set mode to ${l.tls.mode} in sidecar ingress tls`);
      checkServerTLS(ctx, tp, l.tls as Parameters<typeof checkServerTLS>[2]);
    }
    const pool = (l as Record<string, unknown>).connectionPool;
    if (isObject(pool)) {
      checkConnectionPool(ctx, at(lp, 'connectionPool'), pool);
      if (isObject(pool.http) && typeof l.port.protocol === 'string' && !protocolIsHTTP(l.port.protocol)) {
        ctx.warn('sidecar', at(at(lp, 'connectionPool'), 'http'), `sidecar: HTTP connection pool settings are configured for port ${String(l.port.number)} (${JSON.stringify(l.port.name ?? '')}) but its protocol is not HTTP (${l.port.protocol}); only TCP settings will apply`);
      }
    }
  });

  const egressPorts = new Set<number>();
  const udsBinds = new Set<string>();
  let catchAll = false;
  egress.forEach((l, i) => {
    const lp = at('spec.egress', i);
    if (!isObject(l)) return;
    if (!isObject(l.port)) {
      if (catchAll) {
        ctx.error('sidecar', lp, 'sidecar: egress can have only one listener with empty port');
        return;
      }
      if (i === egress.length - 1) catchAll = true;
      else ctx.error('sidecar', lp, 'sidecar: the egress listener with empty port should be the last listener in the list');
    } else {
      if (typeof l.port.targetPort === 'number' && l.port.targetPort > 0) ctx.error('sidecar', at(at(lp, 'port'), 'targetPort'), 'targetPort has no impact on Sidecars');
      checkListenerPort(ctx, lp, l, true);
      const n = typeof l.port.number === 'number' ? l.port.number : 0;
      if (n === 0) {
        const bind = l.bind ?? '';
        if (udsBinds.has(bind)) ctx.error('duplicate', at(lp, 'bind'), 'sidecar: unix domain socket values for listeners must be unique');
        udsBinds.add(bind);
      } else {
        if (egressPorts.has(n)) ctx.error('duplicate', at(at(lp, 'port'), 'number'), 'sidecar: ports on IP bound listeners must be unique');
        egressPorts.add(n);
      }
    }
    const hosts = Array.isArray(l.hosts) ? l.hosts : [];
    if (hosts.length === 0) ctx.error('missing', lp, 'sidecar: egress listener must contain at least one host');
    const byNs = new Map<string, Set<string>>();
    hosts.forEach((h, k) => {
      if (typeof h !== 'string') return;
      const hp = at(at(lp, 'hosts'), k);
      const slash = h.indexOf('/');
      if (slash > 0) {
        const ns = h.slice(0, slash) === '.' ? ctx.namespace : h.slice(0, slash);
        const svc = h.slice(slash + 1);
        const set = byNs.get(ns) ?? new Set<string>();
        if ((svc !== '*' && (set.has(svc) || set.has('*'))) || (svc === '*' && set.size > 0)) ctx.warn('duplicate', hp, `duplicated egress host: ${h}`);
        set.add(svc);
        byNs.set(ns, set);
      }
      const e = namespaceSlashHostError(h, false);
      if (e) ctx.error('host', hp, e);
    });
    if (byNs.get('*')?.has('*') && byNs.size !== 1) ctx.warn('host', at(lp, 'hosts'), '`*/*` host select all resources, no other hosts can be added');
  });

  const tp = spec.outboundTrafficPolicy;
  if (isObject(tp) && isObject(tp.egressProxy)) {
    const ep = 'spec.outboundTrafficPolicy.egressProxy';
    if (tp.mode !== 'ALLOW_ANY') ctx.error('sidecar', ep, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode');
    else {
      const host = typeof tp.egressProxy.host === 'string' ? tp.egressProxy.host : '';
      const fe = fqdnError(host);
      if (fe) ctx.error('host', at(ep, 'host'), fe);
      if (!tp.egressProxy.port) ctx.error('port', ep, 'sidecar: egress_proxy port must be non-nil');
      else checkDestination(ctx, ep, tp.egressProxy);
    }
  }
}

function checkListenerPort(ctx: RuleContext, lp: string, l: Listener, egress: boolean): void {
  const port = l.port!;
  const pp = at(lp, 'port');
  if (typeof port.name === 'string' && port.name !== '') checkPortName(ctx, at(pp, 'name'), port.name);
  if (typeof port.protocol === 'string' && port.protocol !== '' && !protocolKnown(port.protocol)) ctx.error('name', at(pp, 'protocol'), `unsupported protocol: ${port.protocol}`);
  const bind = typeof l.bind === 'string' ? l.bind : '';
  const n = typeof port.number === 'number' ? port.number : 0;
  if (egress && n === 0) {
    if (!bind.startsWith('unix://')) ctx.error('address', at(lp, 'bind'), 'sidecar: ports with 0 value must have a unix domain socket bind address');
    if (l.captureMode && l.captureMode !== 'DEFAULT' && l.captureMode !== 'NONE') ctx.error('sidecar', at(lp, 'captureMode'), 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners');
    return;
  }
  checkPort(ctx, at(pp, 'number'), n);
  if (bind !== '' && !isIPAddress(bind)) ctx.error('address', at(lp, 'bind'), `${bind} is not a valid IP`);
}

function checkDefaultEndpoint(ctx: RuleContext, path: string, ep: string): void {
  if (ep.startsWith('unix://')) {
    const p = ep.slice('unix://'.length);
    if (p === '' || (!p.startsWith('@') && (!p.startsWith('/') || p.endsWith('/')))) ctx.error('address', path, `${p} is not an absolute path to a file`);
    return;
  }
  const m = /^(\[[^\]]*\]|[^:]*):([^:]*)$/.exec(ep);
  if (!m) {
    ctx.error('address', path, `address ${ep}: missing port in address`);
    return;
  }
  const host = m[1]!.replace(/^\[|\]$/g, '');
  if (host !== '' && !['127.0.0.1', '0.0.0.0', '::1', '::'].includes(host)) {
    ctx.error('sidecar', path, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset');
  }
  if (!/^\d+$/.test(m[2]!)) ctx.error('port', path, `sidecar: defaultEndpoint port (${m[2]}) is not a number`);
  else checkPort(ctx, path, Number(m[2]));
}
