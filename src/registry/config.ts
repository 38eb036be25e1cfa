// ServiceIndex from the config itself: ServiceEntry (hosts, ports,
// resolution, inline endpoints, workloadSelector) and WorkloadEntry. Pure.
// Kubernetes discovery (later) implements the same ServiceIndex interface.

import type { ConfigSet, Protocol, Service, ServiceIndex, ServicePort, Workload } from '../api/types.js';
import { resourceKey } from '../api/types.js';
import type { Resource } from '../api/types.js';
import type { WorkloadEntrySpec } from '../api/istio.js';

const PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL']);

export function normalizeProtocol(p: string | undefined): Protocol {
  const up = (p ?? '').toUpperCase();
  return (PROTOCOLS.has(up) ? up : 'UNKNOWN') as Protocol;
}

/** `exportTo` as Istio reads it: `.` is the own namespace, `*` everyone, `~` nobody. */
export function resolveExportTo(exportTo: readonly string[] | undefined, namespace: string): string[] {
  if (!exportTo || exportTo.length === 0) return ['*'];
  if (exportTo.includes('~')) return [];
  return [...new Set(exportTo.map((e) => (e === '.' ? namespace : e)))];
}

export function isVisibleTo(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes('*') || exportTo.includes(namespace);
}

export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

function workloadFromEntry(id: string, namespace: string, spec: WorkloadEntrySpec, extraLabels: Record<string, string> = {}): Workload | undefined {
  if (typeof spec.address !== 'string' || spec.address === '') return undefined;
  return {
    id,
    namespace,
    address: spec.address,
    ports: { ...(spec.ports ?? {}) },
    labels: { ...extraLabels, ...(spec.labels ?? {}) },
    ...(spec.locality ? { locality: spec.locality } : {}),
    ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
    ...(spec.serviceAccount ? { serviceAccount: spec.serviceAccount } : {}),
    ...(spec.network ? { network: spec.network } : {}),
  };
}

/**
 * Services by host with their endpoints, and the lookup both service indexes
 * share (this one and ./kubernetes/merged.ts): a host seen from a namespace
 * is its own namespace's definition first, then one exported to it.
 */
export abstract class ServiceTable {
  private readonly list: Service[] = [];
  private readonly byHost = new Map<string, Service[]>();
  private readonly endpoints = new Map<Service, readonly Workload[]>();

  protected addService(s: Service, eps: readonly Workload[]): void {
    this.list.push(s);
    let l = this.byHost.get(s.hostname);
    if (!l) this.byHost.set(s.hostname, (l = []));
    l.push(s);
    this.endpoints.set(s, eps);
  }

  services(): readonly Service[] {
    return this.list;
  }

  service(hostname: string, namespace?: string): Service | undefined {
    const l = this.byHost.get(hostname);
    if (!l) return undefined;
    if (namespace === undefined) return l[0];
    return l.find((s) => s.namespace === namespace) ?? l.find((s) => isVisibleTo(s.exportTo, namespace));
  }

  workloadsFor(hostname: string, namespace?: string): readonly Workload[] {
    const s = this.service(hostname, namespace);
    return s ? (this.endpoints.get(s) ?? []) : [];
  }
}

export class ConfigServiceIndex extends ServiceTable implements ServiceIndex {
  private readonly allWorkloads: Workload[] = [];
  /** allWorkloads by namespace, and by namespace and label (`ns\0key\0value`): a ServiceEntry's selector looks only at workloads that have its first label. */
  private readonly entriesByNamespace = new Map<string, Workload[]>();
  private readonly entriesByLabel = new Map<string, Workload[]>();

  constructor(config: ConfigSet) {
    super();
    const entries = config.ofKind('WorkloadEntry');
    for (const we of entries) {
      const w = workloadFromEntry(resourceKey('WorkloadEntry', we.metadata.namespace, we.metadata.name), we.metadata.namespace, we.spec);
      if (w) this.addWorkload(w);
    }
    for (const se of config.ofKind('ServiceEntry')) this.addServiceEntry(se);
  }

  private addWorkload(w: Workload): void {
    this.allWorkloads.push(w);
    const add = (m: Map<string, Workload[]>, k: string) => {
      const l = m.get(k);
      if (l) l.push(w);
      else m.set(k, [w]);
    };
    add(this.entriesByNamespace, w.namespace);
    for (const [k, v] of Object.entries(w.labels)) add(this.entriesByLabel, `${w.namespace}\0${k}\0${v}`);
  }

  private addServiceEntry(se: Resource<'ServiceEntry'>): void {
    const ns = se.metadata.namespace;
    const spec = se.spec;
    const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
      number: p.number,
      protocol: normalizeProtocol(p.protocol),
      name: p.name,
      ...(p.targetPort ? { targetPort: p.targetPort } : {}),
    }));
    const key = resourceKey('ServiceEntry', ns, se.metadata.name);
    let workloads: Workload[] = [];
    // Istio spells ServiceEntry's selector `workloadSelector.labels`.
    const sel = spec.workloadSelector?.labels ?? spec.workloadSelector?.matchLabels;
    if (sel) {
      const first = Object.entries(sel)[0];
      const candidates = first ? this.entriesByLabel.get(`${ns}\0${first[0]}\0${first[1]}`) : this.entriesByNamespace.get(ns);
      workloads = (candidates ?? []).filter((w) => labelsMatch(sel, w.labels));
    } else {
      (spec.endpoints ?? []).forEach((ep, i) => {
        const w = workloadFromEntry(`${key}#${i}`, ns, ep);
        if (w) {
          workloads.push(w);
          this.addWorkload(w);
        }
      });
    }
    const exportTo = resolveExportTo(spec.exportTo, ns);
    for (const host of spec.hosts ?? []) {
      const svc: Service = {
        hostname: host,
        namespace: ns,
        ports,
        resolution: spec.resolution ?? 'NONE',
        location: spec.location ?? 'MESH_EXTERNAL',
        addresses: [...(spec.addresses ?? [])],
        exportTo,
        origin: se.origin,
        resource: key,
      };
      this.addService(svc, workloads);
    }
  }

  workloads(): readonly Workload[] {
    return this.allWorkloads;
  }
}

export function buildServiceIndex(config: ConfigSet): ServiceIndex {
  return new ConfigServiceIndex(config);
}
