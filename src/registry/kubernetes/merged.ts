// The ServiceIndex meshcd serves when Kubernetes discovery is on: the
// clusters' views (./view.ts) together with the config's own ServiceEntry /
// WorkloadEntry index, with Istio's precedence. Pure.
//
// - A Kubernetes Service and a ServiceEntry for the same host in the same
//   namespace: the Service wins and the ServiceEntry's host is left out
//   (istiod's rule since 1.x: "k8s service takes precedence over SE").
// - The same Service (name and namespace) in several clusters is one
//   service whose endpoints are the union of the clusters' (namespace
//   sameness); its definition is the first cluster's.
// - A Service's selector also selects WorkloadEntries of its namespace, and a
//   ServiceEntry's workloadSelector also selects Pods, as in Istio.
// - For analyzers (as istioctl analyze against a cluster): workloads() also
//   holds the pods that are no endpoint (Pending, host network),
//   namespaces() every cluster namespace with its labels, and
//   selectedWorkloads() a Service's pods by its selector, ready or not;
//   and, when the Secrets are read (--gateway-secrets), credentialSecret():
//   whether a Gateway's credentialName names a valid TLS credential at the
//   time the index was built (./secrets.ts).

import type { ConfigSet, CredentialSecret, Resource, Service, ServiceIndex, Workload } from '../../api/types.js';
import { labelsMatch, ServiceTable } from '../config.js';
import { validAt, type SecretCertificate } from './secrets.js';
import type { ClusterView } from './view.js';

/** The gateway credential Secrets read (`namespace/name` → certificate window) and the time to judge them at. */
export interface CredentialSecrets {
  at: number;
  certificates: ReadonlyMap<string, SecretCertificate>;
}

export class MergedServiceIndex extends ServiceTable implements ServiceIndex {
  private readonly all: Workload[];
  private readonly nsLabels = new Map<string, Record<string, string>>();
  /** Selector and cluster pods (endpoints and not) of each Kubernetes service, for selectedWorkloads(). */
  private readonly selectorOf = new Map<Service, Record<string, string>>();
  private readonly podsByNamespace = new Map<string, Workload[]>();
  /** Present only when the Secrets were read: without them analyzers leave credentialName unchecked. */
  readonly credentialSecret?: (namespace: string, name: string) => CredentialSecret | undefined;

  constructor(config: ConfigSet, configIndex: ServiceIndex, clusters: readonly ClusterView[], secrets?: CredentialSecrets) {
    super();
    if (secrets) {
      this.credentialSecret = (namespace, name) => {
        const cert = secrets.certificates.get(`${namespace}/${name}`);
        return cert === undefined ? undefined : { valid: validAt(cert, secrets.at) };
      };
    }
    const configWorkloads = configIndex.workloads();
    const workloadEntries = configWorkloads.filter((w) => w.id.startsWith('WorkloadEntry/'));
    const pods = clusters.flatMap((c) => c.pods);
    const kube = new Map<string, { service: Service; endpoints: Workload[]; seen: Set<string> }>();
    for (const c of clusters) {
      for (const [ns, labels] of c.namespaceLabels) if (!this.nsLabels.has(ns)) this.nsLabels.set(ns, labels);
      for (const s of c.services) {
        const key = `${s.hostname}|${s.namespace}`;
        let entry = kube.get(key);
        if (!entry) {
          entry = { service: s, endpoints: [], seen: new Set() };
          kube.set(key, entry);
          const sel = c.selectors.get(s);
          if (sel) this.selectorOf.set(s, sel);
          if (sel) {
            for (const we of workloadEntries) if (we.namespace === s.namespace && labelsMatch(sel, we.labels)) entry.endpoints.push(we);
          }
        }
        for (const w of c.endpoints.get(s) ?? []) {
          const id = `${w.address}|${w.labels['topology.istio.io/cluster'] ?? ''}`;
          if (entry.seen.has(id)) continue;
          entry.seen.add(id);
          entry.endpoints.push(w);
        }
      }
    }
    for (const { service, endpoints } of kube.values()) this.addService(service, endpoints);
    for (const s of configIndex.services()) {
      if (kube.has(`${s.hostname}|${s.namespace}`)) continue;
      let eps = configIndex.workloadsFor(s.hostname, s.namespace);
      const sel = serviceEntrySelector(config, s);
      if (sel) {
        const selected = pods.filter((p) => p.namespace === s.namespace && labelsMatch(sel, p.labels));
        if (selected.length) eps = [...eps, ...selected];
      }
      this.addService(s, eps);
    }
    this.all = [...configWorkloads, ...pods, ...clusters.flatMap((c) => c.analysisPods)];
    for (const w of this.all) {
      if (!w.id.startsWith('Pod/') && !w.id.startsWith('WorkloadEntry/')) continue;
      let l = this.podsByNamespace.get(w.namespace);
      if (!l) this.podsByNamespace.set(w.namespace, (l = []));
      l.push(w);
    }
  }

  workloads(): readonly Workload[] {
    return this.all;
  }

  /** A namespace's labels (from the first cluster that has it), for policies that select namespaces. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.nsLabels.get(namespace);
  }

  /** Every namespace of every cluster, with its labels. */
  namespaces(): ReadonlyMap<string, Readonly<Record<string, string>>> {
    return this.nsLabels;
  }

  /** A Kubernetes Service's pods (and WorkloadEntries) by its selector, ready or not; undefined for other services. */
  selectedWorkloads(hostname: string, namespace: string): readonly Workload[] | undefined {
    const s = this.service(hostname, namespace);
    const sel = s && this.selectorOf.get(s);
    if (!s || !sel) return undefined;
    return (this.podsByNamespace.get(s.namespace) ?? []).filter((w) => labelsMatch(sel, w.labels));
  }
}

function serviceEntrySelector(config: ConfigSet, s: Service): Record<string, string> | undefined {
  if (!s.resource?.startsWith('ServiceEntry/')) return undefined;
  const se = config.byKey.get(s.resource) as Resource<'ServiceEntry'> | undefined;
  const sel = se?.spec.workloadSelector?.labels ?? se?.spec.workloadSelector?.matchLabels;
  return sel && Object.keys(sel).length > 0 ? sel : undefined;
}
