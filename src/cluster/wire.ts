// `meshcd serve`'s cluster side, in one place so serve.ts has one block:
// which writers run (from flags), what they need from the CA, the cache and
// the rollout runner, and what happens when leadership changes.
//
//   --token-review [--token-audience A]  TokenReview authenticator for CSR and xDS
//   --ca-secret NAME                     the CA key in a Secret (shared by replicas)
//   --publish-root-cert [NAME]           trust bundle ConfigMap in every namespace
//   --gateway-secrets                    credentialName from kubernetes.io/tls Secrets
//   --rollout-status                     rollout status ConfigMaps and Events
//   --leader-elect [--lease-name NAME] [--lease-duration S]
//                                        one leader (Lease); rollout state in a ConfigMap
//
// Every one of them needs a cluster (--kubeconfig or --in-cluster); the first
// cluster is the one written to.

import type { Authenticator } from '../ca/auth.js';
import type { AdminServer } from '../admin/server.js';
import { json } from '../admin/server.js';
import type { XdsResource } from '../api/types.js';
import type { RolloutRunner, RolloutStore } from '../rollout/runner.js';
import type { KubernetesRegistry } from '../registry/kubernetes/index.js';
import { logger } from '../util/log.js';
import { caFromSecret, type CaSecretHandle } from './ca-secret.js';
import { GatewaySecrets } from './gateway-secrets.js';
import { checkClusterFlags, ownNamespace, type ClusterFlags } from './flags.js';
import { ClusterClient } from './kube.js';
import { LeaderElector } from './lease.js';
import { RootCertPublisher, ROOT_CERT_CONFIGMAP } from './root-cert.js';
import { RolloutStatusWriter } from './rollout-status.js';
import { ConfigMapStateStore } from './state-store.js';
import { tokenReviewAuthenticator } from './tokenreview.js';

export type { ClusterFlags } from './flags.js';


export class ClusterWiring {
  readonly client: ClusterClient | undefined;
  readonly elector: LeaderElector | undefined;
  readonly store: ConfigMapStateStore | undefined;
  private caSecret: CaSecretHandle | undefined;
  private rootCert: RootCertPublisher | undefined;
  private secrets: GatewaySecrets | undefined;
  private status: RolloutStatusWriter | undefined;
  private readonly log = logger('cluster');

  /** Checks the flags (errors name the flag); nothing is written yet. */
  constructor(private readonly flags: ClusterFlags, private readonly kube: KubernetesRegistry | undefined) {
    const { asked, seconds } = checkClusterFlags(flags, kube !== undefined);
    if (!kube || !asked.length) return;
    this.client = new ClusterClient(kube.discoveries[0]!.kubeConfig, ownNamespace(flags.namespace));
    if (flags.leaderElect) {
      this.elector = new LeaderElector(this.client, { name: flags.leaseName, leaseDurationMs: seconds * 1000, renewDeadlineMs: (seconds * 2000) / 3, retryPeriodMs: (seconds * 2000) / 15 });
      this.store = new ConfigMapStateStore(this.client);
    }
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : true;
  }

  /** Authenticators the CA adds (TokenReview). */
  authenticators(): Authenticator[] {
    return this.flags.tokenReview && this.client ? [tokenReviewAuthenticator(this.client.kubeConfig, this.flags.tokenAudience)] : [];
  }

  /** Before the CA opens: the plug-in folder made from the CA Secret, when asked for. */
  async caPluginDir(stateDir: string, ca: { rootKey: 'rsa' | 'ec'; trustDomain: string }): Promise<string | undefined> {
    if (!this.flags.caSecret || !this.client) return undefined;
    this.caSecret = await caFromSecret(this.client, this.flags.caSecret, stateDir, ca);
    return this.caSecret.pluginDir;
  }

  /** For wireRollouts: states in the cluster and the leader gate, when electing. */
  rolloutOptions(): { store?: RolloutStore; isLeader?: () => boolean } {
    return this.elector && this.store ? { store: this.store, isLeader: () => this.isLeader } : {};
  }

  /** After the CA, the cache and the runner exist: start the writers and the election. */
  attach(p: { onTrustBundle?: (fn: (pem: string) => void) => void; setCredentials: (byNamespace: ReadonlyMap<string, readonly XdsResource[]>) => void; runner: RolloutRunner; admin: AdminServer }): void {
    const client = this.client;
    if (!client || !this.kube) return;
    const canWrite = () => this.isLeader;
    const publish = this.flags.publishRootCert;
    if (publish && p.onTrustBundle) {
      const d = this.kube.discoveries[0]!;
      this.rootCert = new RootCertPublisher(client, {
        name: typeof publish === 'string' ? publish : ROOT_CERT_CONFIGMAP,
        namespaces: () => d.objects().namespaces.filter((n) => n.status?.phase !== 'Terminating').map((n) => n.metadata!.name!),
        canWrite,
      });
      const rc = this.rootCert;
      p.onTrustBundle((pem) => rc.setBundle(pem));
      this.kube.on('change', (_cluster: string, kind: string) => kind === 'namespaces' && rc.sync());
      this.kube.on('synced', () => rc.sync());
    }
    if (this.flags.gatewaySecrets) {
      const secrets = (this.secrets = new GatewaySecrets(client));
      const kube = this.kube;
      this.secrets.on('change', (byNamespace: Map<string, XdsResource[]>) => {
        p.setCredentials(byNamespace);
        kube.setCredentialSecrets(secrets.list());
      });
      this.secrets.start();
    }
    if (this.flags.rolloutStatus) {
      this.status = new RolloutStatusWriter(client, { list: () => p.runner.list(), canWrite });
      this.status.start();
    }
    const elector = this.elector;
    if (elector && this.store) {
      elector.on('leading', () => {
        void p.runner.reload();
        this.rootCert?.reset();
        this.status?.reset();
      });
      elector.on('following', () => void p.runner.reload());
      this.store.on('change', () => {
        if (!elector.isLeader) void p.runner.reload();
      });
      this.store.watch();
      elector.start();
    }
    p.admin.route('GET', '/api/v1/leader', () => json(200, { leaderElection: !!elector, isLeader: this.isLeader, ...(elector ? { identity: elector.identity, leader: elector.leader, lease: `${client.namespace}/${this.flags.leaseName}` } : {}) }));
    this.log.info({ namespace: client.namespace, leaderElection: !!elector }, 'cluster writers started');
  }

  async stop(): Promise<void> {
    this.status?.stop();
    this.rootCert?.stop();
    await this.secrets?.stop();
    await this.store?.stop();
    await this.caSecret?.stop();
    await this.elector?.stop();
  }
}
