// IST0171 NegativeConditionStatus, as Istio's conditions analyzer, for the
// kinds meshcd manages: a resource exported from a cluster carries status
// conditions, and one of those Istio treats as negative is present —
// ServiceEntry / WorkloadEntry `istio.io/WaypointBound` False;
// AuthorizationPolicy `ZtunnelAccepted` or `WaypointAccepted` False, and
// `WaypointAccepted` with reason PartiallyInvalid (whatever its status; a
// False one is then reported twice, as Istio does). Reported at the resource.

import type { MeshKind } from '../../api/istio.js';
import type { AnyResource } from '../../api/types.js';
import { arr, isObj, type AnalysisContext, type Analyzer } from './context.js';

const NEGATIVE: Partial<Record<MeshKind, Record<string, string>>> = {
  ServiceEntry: { 'istio.io/WaypointBound': 'False' },
  WorkloadEntry: { 'istio.io/WaypointBound': 'False' },
  AuthorizationPolicy: { ZtunnelAccepted: 'False', WaypointAccepted: 'False' },
};

export const negativeConditions: Analyzer = {
  name: 'conditions/negative-status',
  codes: [{ code: 'IST0171', name: 'NegativeConditionStatus', severity: 'warning', description: 'A resource carries a status condition Istio treats as negative (WaypointBound, ZtunnelAccepted, WaypointAccepted False).' }],
  run(ctx: AnalysisContext) {
    for (const [kind, negative] of Object.entries(NEGATIVE) as [MeshKind, Record<string, string>][]) {
      for (const r of ctx.config.ofKind(kind) as readonly AnyResource[]) {
        const status = r.raw.status;
        if (!isObj(status)) continue;
        for (const c of arr(status.conditions as unknown[] | undefined)) {
          if (!isObj(c)) continue;
          const type = typeof c.type === 'string' ? c.type : '';
          const reason = typeof c.reason === 'string' ? c.reason : '';
          const message = typeof c.message === 'string' ? c.message : '';
          const text = `A condition with a negative status is present: type=${type}, reason=${reason}, message=${message}.`;
          if (negative[type] !== undefined && negative[type] === c.status) ctx.report(r, 'IST0171', 'warning', text);
          if (kind === 'AuthorizationPolicy' && type === 'WaypointAccepted' && reason === 'PartiallyInvalid') ctx.report(r, 'IST0171', 'warning', text);
        }
      }
    }
  },
};
