// ClusterLoadAssignments: a cluster's endpoints grouped by locality, each
// locality weighted by the sum of its endpoints' weights (gRPC ignores
// localities without a weight).

import type { MeshEndpoint } from '../../mesh/model.js';
import { cmp } from '../../mesh/names.js';
import type { Address, ClusterLoadAssignment } from '../envoy-types.js';

export function locality(text: string | undefined): Record<string, string> {
  if (!text) return {};
  const [region, zone, sub_zone] = text.split('/');
  return { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(sub_zone ? { sub_zone } : {}) };
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** `cluster_name` + endpoints of `servicePort`, only those matching `subsetLabels`. */
export function loadAssignment(clusterName: string, endpoints: readonly MeshEndpoint[], servicePort: number, subsetLabels?: Record<string, string>): ClusterLoadAssignment {
  const byLocality = new Map<string, MeshEndpoint[]>();
  for (const e of endpoints) {
    if (subsetLabels && !Object.entries(subsetLabels).every(([k, v]) => e.labels[k] === v)) continue;
    const key = e.locality ?? '';
    let l = byLocality.get(key);
    if (!l) byLocality.set(key, (l = []));
    l.push(e);
  }
  const groups = [...byLocality.keys()].sort(cmp).map((loc) => {
    const list = byLocality.get(loc)!;
    const lb_endpoints = list.map((e) => ({
      endpoint: { address: socketAddress(e.address, e.ports[servicePort] ?? servicePort) },
      load_balancing_weight: { value: e.weight },
    }));
    return {
      // gRPC refuses a locality group without a locality (even an empty one).
      locality: locality(loc),
      lb_endpoints,
      load_balancing_weight: { value: list.reduce((s, e) => s + e.weight, 0) },
    };
  });
  return { cluster_name: clusterName, endpoints: groups };
}
