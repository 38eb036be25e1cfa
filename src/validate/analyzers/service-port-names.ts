// Kubernetes Service ports (only when serve discovers a cluster; a
// ServiceEntry always names its protocol), as istioctl analyze's
// service.PortNameAnalyzer reads them:
// IST0118 PortNameIsNotUnderNamingConvention — neither `appProtocol` nor
//   the port name's prefix names a protocol (and the port is not a
//   well-known TCP one), so the port is served as unknown: HTTP features do
//   not apply to it.
// IST0150 ExternalNameServiceTypeInvalidPortName — the same, or a port named
//   `tcp`, on an ExternalName Service.
// The Service is not in Git: findings name it (Service/<ns>/<name>) with no
// file or line. Unlike Istio, services of an Istio control plane or Gateway
// API deployments are not skipped (the index has no Service labels).

import type { AnalysisContext, Analyzer } from './context.js';

export const servicePortNames: Analyzer = {
  name: 'service/port-names',
  codes: [
    { code: 'IST0118', name: 'PortNameIsNotUnderNamingConvention', severity: 'info', description: 'A Kubernetes Service port whose name and appProtocol name no protocol.' },
    { code: 'IST0150', name: 'ExternalNameServiceTypeInvalidPortName', severity: 'warning', description: 'An ExternalName Service port whose name names no protocol, or is `tcp`.' },
  ],
  run(ctx: AnalysisContext) {
    for (const svc of ctx.index.services()) {
      const key = svc.resource;
      if (!key?.startsWith('Service/')) continue;
      const externalName = svc.resolution === 'DNS';
      svc.ports.forEach((p, i) => {
        if (p.protocol !== 'UNKNOWN' && !(externalName && p.name === 'tcp')) return;
        if (externalName) ctx.reportObject(key, 'IST0150', 'warning', 'Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly', `spec.ports[${i}].name`);
        else ctx.reportObject(key, 'IST0118', 'info', `Port name ${p.name} (port: ${p.number}, targetPort: ${p.targetPort ?? p.number}) doesn't follow the naming convention of Istio port.`, `spec.ports[${i}].name`);
      });
    }
  },
};
