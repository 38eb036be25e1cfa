// Gateway credentials from Kubernetes TLS Secrets (`credentialName`): every
// Secret of type kubernetes.io/tls, in every namespace, becomes the same SDS
// resources as `--credentials-dir` makes from files (tls.crt + tls.key, and
// ca.crt as `<name>-cacert`), by namespace; which gateway may read which is
// decided by the same policy (src/xds/server/authorize.ts). A Secret whose
// certificate does not parse or match its key is left out with an error
// naming it (never its content).

import { EventEmitter } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import type { XdsResource } from '../api/types.js';
import { credentialResources } from '../xds/server/credentials.js';
import { logger } from '../util/log.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';
import type { ClusterClient } from './kube.js';

const TLS = 'kubernetes.io/tls';

export function credentialsFromSecrets(secrets: readonly k8s.V1Secret[]): { byNamespace: Map<string, XdsResource[]>; errors: string[] } {
  const byNamespace = new Map<string, XdsResource[]>();
  const errors: string[] = [];
  const sorted = [...secrets].sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
  for (const s of sorted) {
    const ns = s.metadata?.namespace;
    const name = s.metadata?.name;
    if (!ns || !name || s.type !== TLS) continue;
    const part = (k: string) => (s.data?.[k] !== undefined ? Buffer.from(s.data[k]!, 'base64').toString('utf8') : undefined);
    const crt = part('tls.crt');
    const key = part('tls.key');
    const ca = part('ca.crt');
    try {
      const list = credentialResources(name, { ...(crt !== undefined ? { crt } : {}), ...(key !== undefined ? { key } : {}), ...(ca ? { ca } : {}) }, (f) => `Secret ${ns}/${name} key ${f}`);
      if (!list.length) continue;
      let l = byNamespace.get(ns);
      if (!l) byNamespace.set(ns, (l = []));
      l.push(...list);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { byNamespace, errors };
}

/** Watches TLS Secrets cluster-wide; emits 'change' with the credentials by namespace. */
export class GatewaySecrets extends EventEmitter {
  private readonly lw: k8s.ListWatch<k8s.V1Secret>;
  private stopped = false;
  private synced = false;
  private readonly log = logger('cluster');
  private reported = new Set<string>();

  constructor(client: ClusterClient) {
    super();
    const field = `type=${TLS}`;
    this.lw = new k8s.ListWatch<k8s.V1Secret>('/api/v1/secrets', new k8s.Watch(client.kubeConfig), async () => {
      const r = await client.core.listSecretForAllNamespaces({ fieldSelector: field });
      setImmediate(() => {
        this.synced = true;
        this.changed();
      });
      return r;
    }, false, undefined, field);
    const changed = () => this.synced && this.changed();
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('delete', changed);
    this.lw.on('error', (err) => {
      this.log.warn({ reason: describeKubeError(err) }, 'list/watch of TLS Secrets failed; keeping the credentials known so far and retrying');
      if (!this.stopped) setTimeout(() => void this.lw.start().catch(() => undefined), 5000).unref();
    });
  }

  private changed(): void {
    const { byNamespace, errors } = credentialsFromSecrets(this.lw.list());
    for (const e of errors) if (!this.reported.has(e)) this.log.error({ reason: e }, 'gateway credential left out');
    this.reported = new Set(errors);
    this.emit('change', byNamespace, errors);
  }

  /** The TLS Secrets listed now (for the analyzers' view of credentialName: registry/kubernetes/secrets.ts). */
  list(): readonly k8s.V1Secret[] {
    return this.lw.list();
  }

  start(): void {
    void this.lw.start().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.lw.stop();
  }
}
