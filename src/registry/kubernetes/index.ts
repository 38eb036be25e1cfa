// Kubernetes discovery for `meshcd serve`: one KubeDiscovery (list/watch)
// per cluster — those of the flags, and the remote clusters of Istio's
// multi-cluster Secrets (./remote.ts), added, restarted and dropped at run
// time — each cluster's objects turned into a ClusterView (pure, rebuilt
// only when that cluster changed), and the ServiceIndex served = those views
// merged with the config's own ServiceEntry/WorkloadEntry index.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { ConfigSet, ServiceIndex } from '../../api/types.js';
import { logger } from '../../util/log.js';
import { KubeDiscovery, type BackoffOptions, type DiscoveryStats, type WatchedKind } from './discovery.js';
import { MergedServiceIndex } from './merged.js';
import { buildClusterView, type ClusterView } from './view.js';
import { RemoteSecrets, type RemoteCluster } from './remote.js';
import { secretCertificates, type SecretCertificate } from './secrets.js';

export { KubeDiscovery, describeKubeError } from './discovery.js';
export { MergedServiceIndex } from './merged.js';
export { buildClusterView, inferProtocol, localityOf, serviceHostname } from './view.js';
export { parseRemoteKubeconfig, remoteClustersOf, MULTICLUSTER_LABEL } from './remote.js';
export { parseClusterFlags, type ClusterSpec } from './flags.js';
import type { ClusterSpec } from './flags.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
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
  /** Watch Istio's remote-cluster Secrets (label istio/multiCluster=true) in this namespace of the first cluster. */
  remoteSecrets?: { namespace: string };
}

/** One cluster as `GET /api/v1/clusters` shows it (istioctl remote-clusters). */
export interface ClusterStatus {
  id: string;
  /** `--kubeconfig …` / `--in-cluster`, or `Secret ns/name`. */
  source: string;
  synced: boolean;
  /** The last list/watch failure of any resource, if any. */
  lastError?: string;
  /** A changed kubeconfig whose discovery has not listed yet (the old one serves meanwhile), and its last failure. */
  pending?: { lastError?: string };
}

export class KubernetesRegistry extends EventEmitter {
  readonly discoveries: KubeDiscovery[];
  private readonly clusterDomain: string;
  private readonly views = new Map<KubeDiscovery, { generation: number; view: ClusterView }>();
  private readonly log = logger('kube');
  private readonly flags = new Map<KubeDiscovery, string>();
  /** Remote clusters from Secrets, by id; `next` is the discovery with a changed kubeconfig until it has listed. */
  private readonly remote = new Map<string, { cluster: RemoteCluster; discovery: KubeDiscovery; next?: { cluster: RemoteCluster; discovery: KubeDiscovery } }>();
  private secrets: RemoteSecrets | undefined;
  private stopped = false;

  constructor(private readonly opts: KubernetesRegistryOptions) {
    super();
    this.clusterDomain = opts.clusterDomain;
    const ids = new Set<string>();
    this.discoveries = opts.clusters.map((spec) => {
      const kubeConfig = loadKubeConfig(spec);
      if (ids.has(spec.id)) throw new Error(`${spec.flag}: cluster id "${spec.id}" is used twice`);
      ids.add(spec.id);
      const d = this.discovery(kubeConfig, spec.id);
      this.flags.set(d, spec.flag);
      return d;
    });
  }

  private discovery(kubeConfig: k8s.KubeConfig, id: string, onSynced?: () => void): KubeDiscovery {
    const d = new KubeDiscovery({ kubeConfig, clusterId: id, ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}) });
    d.on('change', (kind: WatchedKind) => this.emit('change', id, kind));
    d.on('synced', () => {
      if (d.synced) {
        this.log.info({ cluster: id }, 'first list of every resource done');
        onSynced?.();
        this.emit('synced', id);
      }
    });
    return d;
  }

  /**
   * Starts every cluster's list/watch; resolves when all listed once, or
   * rejects naming what is missing after timeoutMs (they keep retrying).
   * Remote clusters from Secrets start once the first cluster has listed;
   * meshcd does not wait for them (a remote API server that is down must not
   * keep it from serving).
   */
  async start(timeoutMs?: number): Promise<void> {
    const first = this.discoveries[0];
    if (this.opts.remoteSecrets && first) {
      this.secrets = new RemoteSecrets({ kubeConfig: first.kubeConfig, namespace: this.opts.remoteSecrets.namespace, reserved: new Set(this.discoveries.map((d) => d.clusterId)), apply: (c, refused) => this.applyRemote(c, refused) });
      this.secrets.on('synced', () => this.emit('synced', 'secrets'));
    }
    await Promise.all(this.discoveries.map((d) => d.start(timeoutMs)));
    this.secrets?.start();
  }

  /**
   * The remote clusters the Secrets want now: new ones discovered, gone ones
   * dropped (their endpoints with them). A changed kubeconfig starts a new
   * discovery and serves the old one's objects until the new one has listed,
   * so endpoints do not blink out meanwhile; a refused new kubeconfig keeps
   * the running one (the error is logged and shown in clusters()). A remote
   * cluster counts once it has listed every resource.
   */
  private applyRemote(wanted: readonly RemoteCluster[], refused: ReadonlySet<string> = new Set()): void {
    if (this.stopped) return;
    const byId = new Map(wanted.map((c) => [c.id, c]));
    let changed = false;
    const drop = (d: KubeDiscovery) => {
      this.views.delete(d);
      void d.stop();
    };
    for (const [id, r] of this.remote) {
      const w = byId.get(id);
      if (!w && refused.has(id)) continue;
      if (!w) {
        this.remote.delete(id);
        drop(r.discovery);
        if (r.next) drop(r.next.discovery);
        changed = true;
        this.log.info({ cluster: id, secret: r.cluster.secret }, 'remote cluster removed from its Secret: its endpoints are dropped');
        continue;
      }
      const current = r.next?.cluster ?? r.cluster;
      if (w.digest === current.digest && w.secret === current.secret) continue;
      if (r.next) drop(r.next.discovery);
      this.log.info({ cluster: id, secret: w.secret }, 'remote cluster\'s kubeconfig changed: discovering with the new one; the old one serves until it has listed');
      const next = { cluster: w, discovery: this.discovery(w.kubeConfig, id, () => this.promote(id)) };
      r.next = next;
      void next.discovery.start(24 * 3600_000).catch(() => undefined);
    }
    for (const c of wanted) {
      if (this.remote.has(c.id)) continue;
      const d = this.discovery(c.kubeConfig, c.id, () => this.emit('change', c.id, 'clusters'));
      this.remote.set(c.id, { cluster: c, discovery: d });
      this.log.info({ cluster: c.id, secret: c.secret }, 'remote cluster from a Secret: discovering');
      // Its first list is not awaited; failures are retried inside with backoff.
      void d.start(24 * 3600_000).catch(() => undefined);
    }
    if (changed) this.emit('change', 'secrets', 'clusters');
  }

  /** A changed remote cluster's new discovery has listed: it replaces the old. */
  private promote(id: string): void {
    const r = this.remote.get(id);
    if (!r?.next || !r.next.discovery.synced) return;
    const old = r.discovery;
    this.remote.set(id, { cluster: r.next.cluster, discovery: r.next.discovery });
    this.views.delete(old);
    void old.stop();
    this.emit('change', id, 'clusters');
  }

  /** Flag-given clusters listed once, and the remote-cluster Secrets too when watched. */
  get synced(): boolean {
    return this.discoveries.every((d) => d.synced) && (!this.secrets || this.secrets.listed);
  }

  /** Every cluster discovered now: the flags' first, then the Secrets' by id (with a changed kubeconfig's discovery still listing). */
  allDiscoveries(): KubeDiscovery[] {
    const remote = [...this.remote.values()].sort((a, b) => a.cluster.id.localeCompare(b.cluster.id));
    return [...this.discoveries, ...remote.flatMap((r) => (r.next ? [r.discovery, r.next.discovery] : [r.discovery]))];
  }

  /** Each cluster with where it comes from and whether it has listed (admin: GET /api/v1/clusters). */
  clusters(): { clusters: ClusterStatus[]; secretErrors: { secret: string; key: string; error: string }[] } {
    const status = (d: KubeDiscovery, source: string): ClusterStatus => {
      const errs = Object.values(d.stats()).map((s) => s.lastError).filter((e): e is string => !!e);
      return { id: d.clusterId, source, synced: d.synced, ...(errs.length ? { lastError: errs[0] } : {}) };
    };
    return {
      clusters: [
        ...this.discoveries.map((d) => status(d, this.flags.get(d) ?? '')),
        ...[...this.remote.values()].sort((a, b) => a.cluster.id.localeCompare(b.cluster.id)).map((r) => {
          const s = status(r.discovery, `Secret ${r.cluster.secret}`);
          if (!r.next) return s;
          const n = status(r.next.discovery, '');
          return { ...s, pending: n.lastError ? { lastError: n.lastError } : {} };
        }),
      ],
      secretErrors: this.secrets?.errors ?? [],
    };
  }

  /** Each cluster's view, rebuilt only when its objects changed since the last call; remote clusters once they have listed. */
  clusterViews(): ClusterView[] {
    const remote = [...this.remote.values()].sort((a, b) => a.cluster.id.localeCompare(b.cluster.id)).map((r) => r.discovery).filter((d) => d.synced);
    return [...this.discoveries, ...remote].map((d) => {
      const cached = this.views.get(d);
      if (cached && cached.generation === d.generation) return cached.view;
      const view = buildClusterView(d.objects(), { clusterDomain: this.clusterDomain });
      this.views.set(d, { generation: d.generation, view });
      return view;
    });
  }

  /**
   * The index to serve with an accepted config: Kubernetes services and the
   * config's ServiceEntries, Istio's precedence. The same object as last time
   * when the config, its index and every cluster's view are the same objects
   * (a rollout step changes only the overlay), so the mesh model's
   * overlay-only path applies under Kubernetes too.
   */
  index(config: ConfigSet, configIndex: ServiceIndex): MergedServiceIndex {
    const views = this.clusterViews();
    const last = this.lastIndex;
    const secrets = this.credentialCertificates;
    if (last && last.config === config && last.configIndex === configIndex && last.secrets === secrets && last.views.length === views.length && last.views.every((v, i) => v === views[i])) return last.index;
    const index = new MergedServiceIndex(config, configIndex, views, secrets ? { at: Date.now(), certificates: secrets } : undefined);
    this.lastIndex = { config, configIndex, views, secrets, index };
    return index;
  }

  private lastIndex: { config: ConfigSet; configIndex: ServiceIndex; views: readonly ClusterView[]; secrets: ReadonlyMap<string, SecretCertificate> | undefined; index: MergedServiceIndex } | undefined;
  private credentialCertificates: ReadonlyMap<string, SecretCertificate> | undefined;

  /**
   * The gateway credential Secrets `--gateway-secrets` lists (cluster/
   * gateway-secrets.ts), for the analyzers (IST0101/IST0161 on
   * credentialName): only each certificate's validity window is kept. Until
   * the first call the indexes have no credentialSecret(), so nothing is
   * reported about Secrets not listed yet.
   */
  setCredentialSecrets(secrets: readonly k8s.V1Secret[]): void {
    this.credentialCertificates = secretCertificates(secrets);
  }

  stats(): Record<string, Record<WatchedKind, DiscoveryStats>> {
    return Object.fromEntries([...this.discoveries, ...[...this.remote.values()].map((r) => r.discovery)].map((d) => [d.clusterId, d.stats()]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.secrets?.stop();
    await Promise.all(this.allDiscoveries().map((d) => d.stop()));
  }
}
