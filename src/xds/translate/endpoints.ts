// ClusterLoadAssignments: a cluster's endpoints grouped by locality, each
// locality weighted by the sum of its endpoints' weights (gRPC ignores
// localities without a weight), with priorities and weights from Istio's
// locality LB when a DestinationRule sets it (./locality.ts).

import type { MeshEndpoint } from '../../mesh/model.js';
import type { Address, ClusterLoadAssignment } from '../envoy-types.js';
import { localityGroups, type LocalityContext } from './locality.js';

export function locality(text: string | undefined): Record<string, string> {
  if (!text) return {};
  const [region, zone, sub_zone] = text.split('/');
  return { ...(region ? { region } : {}), ...(zone ? { zone } : {}), ...(sub_zone ? { sub_zone } : {}) };
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** `cluster_name` + endpoints of `servicePort`, only those matching `subsetLabels`; Istio's locality LB when `lb` says so (./locality.ts). */
export function loadAssignment(clusterName: string, endpoints: readonly MeshEndpoint[], servicePort: number, subsetLabels?: Record<string, string>, lb?: LocalityContext): ClusterLoadAssignment {
  const selected = subsetLabels ? endpoints.filter((e) => Object.entries(subsetLabels).every(([k, v]) => e.labels[k] === v)) : endpoints;
  const groups = localityGroups(selected, lb).map((g) => ({
    // gRPC refuses a locality group without a locality (even an empty one).
    locality: locality(g.locality),
    lb_endpoints: g.endpoints.map((e) => ({
      endpoint: { address: socketAddress(e.address, e.ports[servicePort] ?? servicePort) },
      load_balancing_weight: { value: e.weight },
    })),
    load_balancing_weight: { value: g.weight },
    ...(g.priority ? { priority: g.priority } : {}),
  }));
  return { cluster_name: clusterName, endpoints: groups };
}
