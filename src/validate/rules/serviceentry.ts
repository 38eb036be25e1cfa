// ServiceEntry and WorkloadEntry rules: Istio's ValidateServiceEntry and
// validateWorkloadEntry.
import type { ServiceEntrySpec, WorkloadEntrySpec } from '../../api/istio.js';
import { at, type RuleContext } from './context.js';
import {
  checkExportTo,
  checkLabels,
  checkPort,
  checkPortName,
  checkWorkloadSelector,
  fqdnError,
  ipSubnetError,
  isIPAddress,
  isObject,
  partialWildcardError,
  protocolIsHTTP,
  protocolIsTLS,
  protocolKnown,
  wildcardDomainError,
} from './common.js';

export function checkServiceEntry(ctx: RuleContext, spec: ServiceEntrySpec): void {
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : [];
  const endpoints = Array.isArray(spec.endpoints) ? spec.endpoints : undefined;
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const resolution = spec.resolution ?? 'NONE';

  if (isObject(spec.workloadSelector)) {
    checkWorkloadSelector(ctx, 'spec.workloadSelector', spec.workloadSelector, 'labels');
    if (endpoints) ctx.error('conflict', 'spec.workloadSelector', 'only one of WorkloadSelector or Endpoints is allowed in Service Entry');
  }
  if (hosts.length === 0) ctx.error('missing', 'spec', 'service entry must have at least one host');
  hosts.forEach((h, i) => {
    if (typeof h !== 'string') return;
    const where = at('spec.hosts', i);
    if (h === '*') {
      ctx.error('host', where, `invalid host ${h}`);
      return;
    }
    const e = wildcardDomainError(h);
    if (e) ctx.error('host', where, e);
    const pw = partialWildcardError(h);
    if (pw) ctx.warn('host', where, pw);
  });

  let cidrFound = false;
  (Array.isArray(spec.addresses) ? spec.addresses : []).forEach((a, i) => {
    if (typeof a !== 'string') return;
    cidrFound ||= a.includes('/');
    const e = ipSubnetError(a);
    if (e) ctx.error('address', at('spec.addresses', i), e);
  });
  if (cidrFound && resolution !== 'NONE' && resolution !== 'STATIC') ctx.error('resolution', 'spec.resolution', 'CIDR addresses are allowed only for NONE/STATIC resolution types');

  // Istio accepts a ServiceEntry without ports, but no listener or cluster is built for it.
  if (ports.length === 0) ctx.warn('port', 'spec', 'service entry has no ports, so no traffic is routed to it; add at least one port');
  const names = new Set<string>();
  const numbers = new Set<number>();
  ports.forEach((p, i) => {
    const pp = at('spec.ports', i);
    if (!isObject(p)) return;
    if (typeof p.name === 'string') {
      if (names.has(p.name)) ctx.error('duplicate', at(pp, 'name'), `service entry port name ${JSON.stringify(p.name)} already defined`);
      names.add(p.name);
    }
    if (typeof p.number === 'number') {
      if (numbers.has(p.number)) ctx.error('duplicate', at(pp, 'number'), `service entry port ${p.number} already defined`);
      numbers.add(p.number);
    }
    if (typeof p.targetPort === 'number' && p.targetPort !== 0) {
      checkPort(ctx, at(pp, 'targetPort'), p.targetPort);
      if (resolution === 'NONE') ctx.warn('port', at(pp, 'targetPort'), 'targetPort has no effect when resolution mode is NONE');
    }
    checkPortName(ctx, at(pp, 'name'), p.name ?? '');
    if (typeof p.protocol === 'string' && p.protocol !== '' && !protocolKnown(p.protocol)) ctx.error('name', at(pp, 'protocol'), `unsupported protocol: ${p.protocol}`);
    checkPort(ctx, at(pp, 'number'), typeof p.number === 'number' ? p.number : 0);
    if ((spec.addresses ?? []).length === 0 && (!p.protocol || String(p.protocol).toUpperCase() === 'TCP')) {
      ctx.warn('address', pp, 'addresses are required for ports serving TCP (or unset) protocol when ISTIO_META_DNS_AUTO_ALLOCATE is not set on a proxy');
    }
  });

  switch (resolution) {
    case 'NONE':
      if (endpoints && endpoints.length > 0) ctx.error('resolution', 'spec.endpoints', 'no endpoints should be provided for resolution type none');
      if (spec.workloadSelector) ctx.warn('resolution', 'spec.workloadSelector', 'workloadSelector should not be set when resolution mode is NONE');
      break;
    case 'STATIC':
      if ((!endpoints || endpoints.length === 0) && !spec.workloadSelector) {
        // Istio accepts it (stricter than Istio, so a warning): nothing backs the service, and calls to it fail.
        ctx.warn('resolution', 'spec', 'a STATIC ServiceEntry with neither endpoints nor a workloadSelector has no endpoints: requests to it fail');
      }
      (endpoints ?? []).forEach((e, i) => {
        if (isObject(e)) checkWorkloadEntrySpec(ctx, at('spec.endpoints', i), e, names, false);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (!endpoints || endpoints.length === 0) {
        hosts.forEach((h, i) => {
          if (typeof h === 'string' && fqdnError(h)) ctx.error('resolution', at('spec.hosts', i), `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`);
        });
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints && endpoints.length > 1) ctx.error('resolution', 'spec.endpoints', `there must only be 0 or 1 endpoint for resolution mode ${resolution}`);
      (endpoints ?? []).forEach((e, i) => {
        if (isObject(e)) checkWorkloadEntrySpec(ctx, at('spec.endpoints', i), e, names, true);
      });
      if (spec.workloadSelector) ctx.warn('resolution', 'spec.workloadSelector', `workloadSelector should not be set when resolution mode is ${resolution}`);
      if ((spec.addresses ?? []).length > 0 && hosts.length > 1 && ports.some((p) => isObject(p) && (!p.protocol || String(p.protocol).toUpperCase() === 'TCP'))) {
        ctx.warn('resolution', 'spec.hosts', 'service entry can not have more than one host specified simultaneously with address and tcp port');
      }
      break;
  }
  if (resolution !== 'NONE' && hosts.length > 1) {
    const bad = ports.findIndex((p) => isObject(p) && !protocolIsHTTP(String(p.protocol ?? '')) && !protocolIsTLS(String(p.protocol ?? '')));
    if (bad >= 0) ctx.error('resolution', at('spec.ports', bad), 'multiple hosts provided with non-HTTP, non-TLS ports');
  }
  checkExportTo(ctx, 'spec.exportTo', spec.exportTo, { serviceEntry: true });
}

/**
 * validateWorkloadEntry. `servicePorts` is the ServiceEntry's port names when
 * checking an inline endpoint; `allowFQDN` is false where the address must be an IP.
 */
export function checkWorkloadEntrySpec(ctx: RuleContext, path: string, we: WorkloadEntrySpec, servicePorts: Set<string> | undefined, allowFQDN: boolean): void {
  const addr = typeof we.address === 'string' ? we.address : '';
  if (addr === '') {
    if (!we.network) {
      ctx.error('missing', path, 'address is required');
      return;
    }
    ctx.warn('address', path, `address is unset with network ${JSON.stringify(we.network)}`);
  }
  let unix = false;
  if (addr.startsWith('unix://')) {
    unix = true;
    const p = addr.slice('unix://'.length);
    if (p === '') ctx.error('address', at(path, 'address'), 'unix address must not be empty');
    else if (!p.startsWith('@') && (!p.startsWith('/') || p.endsWith('/'))) ctx.error('address', at(path, 'address'), `${p} is not an absolute path to a file`);
    if (we.ports && Object.keys(we.ports).length > 0) ctx.error('address', at(path, 'ports'), `unix endpoint ${addr} must not include ports`);
  } else if (addr !== '' && !isIPAddress(addr)) {
    if (!allowFQDN) ctx.error('address', at(path, 'address'), `endpoint address ${JSON.stringify(addr)} is not a valid IP address`);
    else if (fqdnError(addr)) ctx.error('address', at(path, 'address'), `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`);
  }
  if (isObject(we.ports)) {
    for (const [name, port] of Object.entries(we.ports)) {
      const pp = at(at(path, 'ports'), name);
      if (servicePorts && !servicePorts.has(name)) ctx.error('port', pp, `endpoint port ${name} (${String(port)}) is not defined by the service entry`);
      checkPortName(ctx, pp, name);
      checkPort(ctx, pp, typeof port === 'number' ? port : 0);
    }
  }
  checkLabels(ctx, at(path, 'labels'), we.labels);
  if (unix && servicePorts && servicePorts.size !== 1) ctx.error('port', path, 'exactly 1 service port required for unix endpoints');
}

export function checkWorkloadEntry(ctx: RuleContext, spec: WorkloadEntrySpec): void {
  checkWorkloadEntrySpec(ctx, 'spec', spec, undefined, true);
}
