// Remote clusters from Secrets, as istiod reads them: Secrets in meshcd's
// namespace labelled `istio/multiCluster: "true"` (what `istioctl
// create-remote-secret` makes), each data key a cluster id and its value a
// kubeconfig for that cluster. Watched on the first cluster: a Secret added,
// changed or removed at run time adds, restarts or drops those clusters'
// discovery (./discovery.ts); their endpoints carry the cluster id
// (topology.istio.io/cluster) like every other cluster's.
//
// A kubeconfig from a Secret may only carry credentials inline (a token,
// client certificate/key data, basic auth) and an https server with CA data:
// exec plugins, auth providers and file paths (token-file, client-certificate,
// certificate-authority, …) are refused — whoever can write a Secret in
// meshcd's namespace must not make meshcd run a command or read its files
// (istiod refuses the same unless told otherwise). Errors name the Secret and
// key and the field, never a value.
//
// parseRemoteKubeconfig is pure; RemoteSecrets does the watching.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { logger } from '../../util/log.js';
import { metric } from '../../util/metrics.js';
import { describeKubeError } from './discovery.js';

export const MULTICLUSTER_LABEL = 'istio/multiCluster';
const CLUSTER_ID = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Bounds on what one Secret may make meshcd do. */
const MAX_KUBECONFIG_BYTES = 256 * 1024;
const MAX_CLUSTERS_PER_SECRET = 64;

const remoteGauge = metric('gauge', 'meshcd_kube_remote_clusters', 'Remote clusters discovered from istio/multiCluster Secrets', []);
const secretErrors = metric('counter', 'meshcd_kube_remote_secret_errors_total', 'Remote-cluster Secret entries refused (bad kubeconfig, duplicate or reserved cluster id)', []);

const USER_FIELDS = new Set(['token', 'client-certificate-data', 'client-key-data', 'username', 'password']);
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name']);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A kubeconfig from a remote-cluster Secret → a KubeConfig with its current
 * context only; throws an Error starting with `where` on anything refused.
 */
export function parseRemoteKubeconfig(text: string, where: string): k8s.KubeConfig {
  if (Buffer.byteLength(text) > MAX_KUBECONFIG_BYTES) throw new Error(`${where}: kubeconfig larger than ${MAX_KUBECONFIG_BYTES / 1024} KiB`);
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    throw new Error(`${where}: not YAML (${(err as Error).message.split('\n')[0]!.slice(0, 120)})`);
  }
  if (!isObj(doc)) throw new Error(`${where}: not a kubeconfig (no mapping)`);
  const current = doc['current-context'];
  if (typeof current !== 'string' || !current) throw new Error(`${where}: no current-context`);
  const named = (list: unknown, kind: string, name: string): Record<string, unknown> => {
    const hit = Array.isArray(list) ? list.find((x) => isObj(x) && x.name === name) : undefined;
    const body = isObj(hit) ? hit[kind] : undefined;
    if (!isObj(body)) throw new Error(`${where}: ${kind} "${name.slice(0, 60)}" of the current context is not defined`);
    return body;
  };
  const context = named(doc.contexts, 'context', current);
  const clusterName = typeof context.cluster === 'string' ? context.cluster : '';
  const userName = typeof context.user === 'string' ? context.user : '';
  const cluster = named(doc.clusters, 'cluster', clusterName);
  const user = userName ? named(doc.users, 'user', userName) : {};
  for (const k of Object.keys(cluster)) if (!CLUSTER_FIELDS.has(k)) throw new Error(`${where}: cluster field "${k.slice(0, 40)}" is not allowed in a remote-cluster Secret (only ${[...CLUSTER_FIELDS].join(', ')})`);
  for (const k of Object.keys(user)) if (!USER_FIELDS.has(k)) throw new Error(`${where}: user field "${k.slice(0, 40)}" is not allowed in a remote-cluster Secret (inline credentials only: ${[...USER_FIELDS].join(', ')})`);
  const server = cluster.server;
  if (typeof server !== 'string' || !/^https:\/\/[^\s/?#]+/.test(server)) throw new Error(`${where}: cluster "${clusterName.slice(0, 60)}" has no https server URL`);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'remote', server, ...(str(cluster['certificate-authority-data']) ? { caData: str(cluster['certificate-authority-data']) } : {}), ...(cluster['insecure-skip-tls-verify'] === true ? { skipTLSVerify: true } : {}), ...(str(cluster['tls-server-name']) ? { tlsServerName: str(cluster['tls-server-name']) } : {}) }],
    users: [{ name: 'remote', ...(str(user.token) ? { token: str(user.token) } : {}), ...(str(user['client-certificate-data']) ? { certData: str(user['client-certificate-data']) } : {}), ...(str(user['client-key-data']) ? { keyData: str(user['client-key-data']) } : {}), ...(str(user.username) ? { username: str(user.username) } : {}), ...(str(user.password) ? { password: str(user.password) } : {}) }],
    contexts: [{ name: 'remote', cluster: 'remote', user: 'remote' }],
    currentContext: 'remote',
  });
  return kc;
}

/** One remote cluster wanted by a Secret. */
export interface RemoteCluster {
  id: string;
  /** `namespace/name` of the Secret. */
  secret: string;
  kubeConfig: k8s.KubeConfig;
  /** Digest of the kubeconfig text: a change restarts the cluster's discovery. */
  digest: string;
}

export interface RemoteEntryError {
  secret: string;
  key: string;
  error: string;
  /** The kubeconfig itself was refused (not a duplicate or reserved id): a cluster already running under this id keeps running. */
  kubeconfig?: boolean;
}

/**
 * The remote clusters a set of Secrets asks for (pure): Secrets in name
 * order, keys in order; a cluster id already taken (by a flag or an earlier
 * Secret) or not a cluster id is refused, as is a bad kubeconfig.
 */
export function remoteClustersOf(secrets: readonly k8s.V1Secret[], reserved: ReadonlySet<string>): { clusters: RemoteCluster[]; errors: RemoteEntryError[] } {
  const clusters: RemoteCluster[] = [];
  const errors: RemoteEntryError[] = [];
  const taken = new Map<string, string>();
  const sorted = [...secrets].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const s of sorted) {
    const secret = `${s.metadata?.namespace}/${s.metadata?.name}`;
    const keys = Object.keys(s.data ?? {}).sort();
    if (keys.length > MAX_CLUSTERS_PER_SECRET) {
      errors.push({ secret, key: '', error: `Secret ${secret}: ${keys.length} keys, more than ${MAX_CLUSTERS_PER_SECRET} clusters; ignored` });
      continue;
    }
    for (const id of keys) {
      const where = `Secret ${secret} key "${id.slice(0, 63)}"`;
      const refuse = (error: string) => errors.push({ secret, key: id, error });
      if (!CLUSTER_ID.test(id)) {
        refuse(`${where}: not a cluster id (letters, digits, -_. ; up to 63)`);
        continue;
      }
      if (reserved.has(id)) {
        refuse(`${where}: cluster id "${id}" is meshcd's own (--cluster-id / --kubeconfig); ignored`);
        continue;
      }
      const other = taken.get(id);
      if (other) {
        refuse(`${where}: cluster id "${id}" is already given by Secret ${other}; ignored`);
        continue;
      }
      const text = Buffer.from(s.data![id]!, 'base64').toString('utf8');
      try {
        const kubeConfig = parseRemoteKubeconfig(text, where);
        taken.set(id, secret);
        clusters.push({ id, secret, kubeConfig, digest: createHash('sha256').update(text).digest('hex') });
      } catch (err) {
        errors.push({ secret, key: id, error: (err as Error).message, kubeconfig: true });
      }
    }
  }
  return { clusters, errors };
}

export interface RemoteSecretsOptions {
  /** The first cluster's config (where the Secrets are). */
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  /** Cluster ids of the flag-given clusters. */
  reserved: ReadonlySet<string>;
  /** Called with the clusters wanted now (after every Secret change), and the ids whose new kubeconfig was refused (a running one keeps running). */
  apply: (clusters: readonly RemoteCluster[], refused: ReadonlySet<string>) => void;
}

/** Watches the multi-cluster Secrets of one namespace and hands the wanted clusters to `apply`. */
export class RemoteSecrets extends EventEmitter {
  private readonly lw: k8s.ListWatch<k8s.V1Secret>;
  private readonly log = logger('kube');
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;
  listed = false;
  errors: RemoteEntryError[] = [];
  lastError: string | undefined;

  constructor(private readonly opts: RemoteSecretsOptions) {
    super();
    const core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const labelSelector = `${MULTICLUSTER_LABEL}=true`;
    this.lw = new k8s.ListWatch<k8s.V1Secret>(
      `/api/v1/namespaces/${opts.namespace}/secrets`,
      new k8s.Watch(opts.kubeConfig),
      async () => {
        const r = await core.listNamespacedSecret({ namespace: opts.namespace, labelSelector });
        this.attempt = 0;
        if (!this.listed) setImmediate(() => ((this.listed = true), this.sync()));
        return r;
      },
      false,
      labelSelector,
    );
    for (const ev of ['add', 'update', 'delete'] as const) this.lw.on(ev, () => this.listed && this.sync());
    this.lw.on('error', (err) => this.failed(err));
  }

  private sync(): void {
    if (this.stopped) return;
    const { clusters, errors } = remoteClustersOf(this.lw.list(), this.opts.reserved);
    const before = new Set(this.errors.map((e) => e.error));
    for (const e of errors) {
      if (before.has(e.error)) continue;
      secretErrors.inc();
      this.log.warn({ secret: e.secret, key: e.key }, e.error);
    }
    this.errors = errors;
    remoteGauge.set(clusters.length);
    this.opts.apply(clusters, new Set(errors.filter((e) => e.kubeconfig).map((e) => e.key)));
    this.emit('synced');
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.lastError = describeKubeError(err);
    const delay = Math.round(Math.min(30_000, 1000 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4));
    this.attempt = Math.min(this.attempt + 1, 30);
    this.log.warn({ namespace: this.opts.namespace, reason: this.lastError, retryInMs: delay }, 'remote-cluster Secrets: list/watch failed; keeping the clusters known so far and retrying');
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.lw.start().catch((e) => this.failed(e)), delay);
    this.retry.unref?.();
  }

  start(): void {
    void this.lw.start().catch((e) => this.failed(e));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.lw.stop();
  }
}
