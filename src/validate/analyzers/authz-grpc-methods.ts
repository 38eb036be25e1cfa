// MCD0313 AuthorizationPolicyMethodsOnGrpc (meshcd only): an
// AuthorizationPolicy rule whose operations match on HTTP methods alone
// (`to.operation.methods`, no paths, hosts or ports), none of them POST, on a
// policy that selects a workload serving gRPC (a service port of protocol
// GRPC). Every gRPC call is an HTTP/2 POST, so such a rule never matches
// gRPC traffic: an ALLOW rule lets none through, a DENY rule stops none.
// gRPC methods are matched by path (`/package.Service/Method`).

import type { Workload } from '../../api/types.js';
import { arr, isObj, selectorLabels, type AnalysisContext, type Analyzer } from './context.js';

function methodsOnly(op: Record<string, unknown>): string[] | undefined {
  const methods = arr(op.methods as unknown[] | undefined).filter((m): m is string => typeof m === 'string');
  if (methods.length === 0) return undefined;
  for (const f of ['paths', 'notPaths', 'hosts', 'notHosts', 'ports', 'notPorts']) if (arr(op[f] as unknown[] | undefined).length > 0) return undefined;
  return methods;
}

export const authzGrpcMethods: Analyzer = {
  name: 'authorizationpolicy/grpc-methods',
  codes: [{ code: 'MCD0313', name: 'AuthorizationPolicyMethodsOnGrpc', severity: 'warning', description: 'An AuthorizationPolicy rule matches HTTP methods only (not POST) on workloads that serve gRPC, whose calls are all POST: the rule never matches them.' }],
  run(ctx: AnalysisContext) {
    // Workload id → its gRPC ports (`9090 grpc`), from the services in front of it.
    let grpcPorts: Map<string, string[]> | undefined;
    const grpcOf = (w: Workload): string[] => {
      if (!grpcPorts) {
        grpcPorts = new Map();
        for (const svc of ctx.index.services()) {
          const ports = svc.ports.filter((p) => p.protocol === 'GRPC').map((p) => `${p.number} ${p.name}`);
          if (ports.length === 0) continue;
          for (const sw of ctx.serviceWorkloads(svc)) grpcPorts.set(sw.id, [...new Set([...(grpcPorts.get(sw.id) ?? []), ...ports])]);
        }
      }
      return grpcPorts.get(w.id) ?? [];
    };
    for (const ap of ctx.config.ofKind('AuthorizationPolicy')) {
      const action = typeof ap.spec.action === 'string' ? ap.spec.action : 'ALLOW';
      if (action !== 'ALLOW' && action !== 'DENY') continue;
      const rules = arr(ap.spec.rules);
      if (rules.length === 0) continue;
      const grpc = ctx.workloadsSelected(selectorLabels(ap.spec.selector), ap.metadata.namespace).filter((w) => grpcOf(w).length > 0);
      if (grpc.length === 0) continue;
      const example = grpc[0]!;
      const who = `${example.id.split('/').slice(1).join('/')} (gRPC port ${grpcOf(example).join(', ')})${grpc.length > 1 ? ` and ${grpc.length - 1} more` : ''}`;
      rules.forEach((rule, i) => {
        if (!isObj(rule)) return;
        arr(rule.to as unknown[] | undefined).forEach((to, j) => {
          if (!isObj(to) || !isObj(to.operation)) return;
          const methods = methodsOnly(to.operation);
          if (!methods || methods.some((m) => m.toUpperCase() === 'POST')) return;
          const effect = action === 'ALLOW' ? 'this ALLOW rule lets no gRPC call through' : 'this DENY rule stops no gRPC call';
          ctx.report(ap, 'MCD0313', 'warning', `rule ${i} matches only HTTP methods ${methods.join(', ')}, but it applies to ${who}, where every call is a POST: ${effect}; match gRPC methods by path (/package.Service/Method)`, `spec.rules[${i}].to[${j}].operation.methods`);
        });
      });
    }
  },
};
