// Kubernetes discovery for `meshcd serve`: one KubeDiscovery (list/watch)
// per cluster, each cluster's objects turned into a ClusterView (pure,
// rebuilt only when that cluster changed), and the ServiceIndex served =
// those views merged with the config's own ServiceEntry/WorkloadEntry index.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { ConfigSet, ServiceIndex } from '../../api/types.js';
import { logger } from '../../util/log.js';
import { KubeDiscovery, type BackoffOptions, type DiscoveryStats, type WatchedKind } from './discovery.js';
import { MergedServiceIndex } from './merged.js';
import { buildClusterView, type ClusterView } from './view.js';

export { KubeDiscovery, describeKubeError } from './discovery.js';
export { MergedServiceIndex } from './merged.js';
export { buildClusterView, inferProtocol, localityOf, serviceHostname } from './view.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const CLUSTER_ID = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** One cluster to discover: a kubeconfig file (its current context) or the pod's own service account. */
export interface ClusterSpec {
  id: string;
  kubeconfig?: string;
  inCluster?: boolean;
  /** Where it came from, for errors (`--kubeconfig east=/x`). */
  flag: string;
}

/** `--kubeconfig [id=]file`: without an id the first is `defaultId`, the others are named by their file's current context. */
export function parseClusterFlags(kubeconfigs: readonly string[], inCluster: boolean, defaultId: string): ClusterSpec[] {
  const out: ClusterSpec[] = [];
  if (inCluster) out.push({ id: defaultId, inCluster: true, flag: '--in-cluster' });
  for (const v of kubeconfigs) {
    const m = /^([^=/]+)=(.+)$/.exec(v);
    const flag = `--kubeconfig ${v}`;
    const id = m ? m[1]! : out.length === 0 ? defaultId : '';
    const file = m ? m[2]! : v;
    if (id && !CLUSTER_ID.test(id)) throw new Error(`${flag}: "${id}" is not a cluster id (letters, digits, -_. ; up to 63)`);
    out.push({ id, kubeconfig: file, flag });
  }
  if (!CLUSTER_ID.test(defaultId)) throw new Error(`--cluster-id: "${defaultId}" is not a cluster id (letters, digits, -_. ; up to 63)`);
  return out;
}

/** A KubeConfig for a cluster; errors name the flag and the file, never a credential. */
export function loadKubeConfig(spec: ClusterSpec): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (spec.inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(`${SA_DIR}/token`)) throw new Error(`${spec.flag}: not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST unset or ${SA_DIR}/token missing)`);
    kc.loadFromCluster();
    return kc;
  }
  const file = spec.kubeconfig!;
  if (!existsSync(file)) throw new Error(`${spec.flag}: ${file} does not exist`);
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new Error(`${spec.flag}: ${file} is not a readable kubeconfig (${(err as Error).message.split('\n')[0]!.slice(0, 200)})`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${spec.flag}: ${file} has no current context with a cluster (current-context: "${kc.getCurrentContext() || ''}")`);
  if (!/^https?:\/\//.test(cluster.server)) throw new Error(`${spec.flag}: ${file}: cluster "${cluster.name}" has no http(s) server URL`);
  if (!spec.id) spec.id = kc.getCurrentContext();
  return kc;
}

export interface KubernetesRegistryOptions {
  clusters: readonly ClusterSpec[];
  clusterDomain: string;
  backoff?: Partial<BackoffOptions>;
}

export class KubernetesRegistry extends EventEmitter {
  readonly discoveries: KubeDiscovery[];
  private readonly clusterDomain: string;
  private readonly views = new Map<KubeDiscovery, { generation: number; view: ClusterView }>();
  private readonly log = logger('kube');

  constructor(opts: KubernetesRegistryOptions) {
    super();
    this.clusterDomain = opts.clusterDomain;
    const ids = new Set<string>();
    this.discoveries = opts.clusters.map((spec) => {
      const kubeConfig = loadKubeConfig(spec);
      if (ids.has(spec.id)) throw new Error(`${spec.flag}: cluster id "${spec.id}" is used twice`);
      ids.add(spec.id);
      const d = new KubeDiscovery({ kubeConfig, clusterId: spec.id, ...(opts.backoff ? { backoff: opts.backoff } : {}) });
      d.on('change', (kind: WatchedKind) => this.emit('change', spec.id, kind));
      d.on('synced', () => {
        if (d.synced) {
          this.log.info({ cluster: spec.id }, 'first list of every resource done');
          this.emit('synced', spec.id);
        }
      });
      return d;
    });
  }

  /** Starts every cluster's list/watch; resolves when all listed once, or rejects naming what is missing after timeoutMs (they keep retrying). */
  async start(timeoutMs?: number): Promise<void> {
    await Promise.all(this.discoveries.map((d) => d.start(timeoutMs)));
  }

  get synced(): boolean {
    return this.discoveries.every((d) => d.synced);
  }

  /** Each cluster's view, rebuilt only when its objects changed since the last call. */
  clusterViews(): ClusterView[] {
    return this.discoveries.map((d) => {
      const cached = this.views.get(d);
      if (cached && cached.generation === d.generation) return cached.view;
      const view = buildClusterView(d.objects(), { clusterDomain: this.clusterDomain });
      this.views.set(d, { generation: d.generation, view });
      return view;
    });
  }

  /** The index to serve with an accepted config: Kubernetes services and the config's ServiceEntries, Istio's precedence. */
  index(config: ConfigSet, configIndex: ServiceIndex): MergedServiceIndex {
    return new MergedServiceIndex(config, configIndex, this.clusterViews());
  }

  stats(): Record<string, Record<WatchedKind, DiscoveryStats>> {
    return Object.fromEntries(this.discoveries.map((d) => [d.clusterId, d.stats()]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.discoveries.map((d) => d.stop()));
  }
}
