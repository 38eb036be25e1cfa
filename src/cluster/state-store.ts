// Persisted state in a ConfigMap of meshcd's namespace (`meshcd-state`, one
// key `<name>.json` per document), for replicas: whichever pod leads next
// reads what the last leader wrote, wherever it runs. Same read/write shape
// as src/state's StateStore. Writes replace the ConfigMap with the
// resourceVersion last read, so a stale writer (a leader that lost the Lease
// without knowing) fails with 409 instead of overwriting its successor;
// followers watch the ConfigMap and are told when it changed.

import { EventEmitter } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import { logger } from '../util/log.js';
import { ClusterClient, httpStatus, MANAGED_BY } from './kube.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';

/** A ConfigMap holds at most 1 MiB; stay well below. */
const MAX_BYTES = 900 * 1024;

export class ConfigMapStateStore extends EventEmitter {
  private lw: k8s.ListWatch<k8s.V1ConfigMap> | undefined;
  private current: k8s.V1ConfigMap | undefined;
  private stopped = false;
  private readonly log = logger('cluster');

  constructor(private readonly client: ClusterClient, readonly name = 'meshcd-state') {
    super();
  }

  private where(): string {
    return `ConfigMap ${this.client.namespace}/${this.name}`;
  }

  async read<T>(doc: string): Promise<T | undefined> {
    let cm: k8s.V1ConfigMap | undefined;
    try {
      cm = await this.client.configMap(this.client.namespace, this.name);
    } catch (err) {
      throw new Error(`${this.where()}: cannot read it (${describeKubeError(err)})`);
    }
    this.current = cm;
    const text = cm?.data?.[`${doc}.json`];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      this.log.warn({ configMap: this.where(), key: `${doc}.json` }, 'not JSON; ignored');
      return undefined;
    }
  }

  async write(doc: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    if (Buffer.byteLength(text) > MAX_BYTES) throw new Error(`${this.where()}: ${doc}.json would be ${Buffer.byteLength(text)} bytes, over ${MAX_BYTES}`);
    const ns = this.client.namespace;
    const base = this.current ?? (await this.client.configMap(ns, this.name));
    const body: k8s.V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.name, namespace: ns, labels: { ...MANAGED_BY }, ...(base?.metadata?.resourceVersion ? { resourceVersion: base.metadata.resourceVersion } : {}) },
      data: { ...(base?.data ?? {}), [`${doc}.json`]: text },
    };
    try {
      this.current = base ? await this.client.core.replaceNamespacedConfigMap({ namespace: ns, name: this.name, body }) : await this.client.core.createNamespacedConfigMap({ namespace: ns, body });
    } catch (err) {
      this.current = undefined;
      const status = httpStatus(err);
      throw new Error(`${this.where()}: cannot write ${doc}.json (${status === 409 ? 'changed by another replica since it was read' : describeKubeError(err)})`);
    }
  }

  /** Emits 'change' when another writer changed the ConfigMap. */
  watch(): void {
    const ns = this.client.namespace;
    this.lw = new k8s.ListWatch<k8s.V1ConfigMap>(
      `/api/v1/namespaces/${ns}/configmaps`,
      new k8s.Watch(this.client.kubeConfig),
      () => this.client.core.listNamespacedConfigMap({ namespace: ns, fieldSelector: `metadata.name=${this.name}` }),
      false,
      undefined,
      `metadata.name=${this.name}`,
    );
    const changed = (cm: k8s.V1ConfigMap) => {
      if (cm.metadata?.resourceVersion && cm.metadata.resourceVersion === this.current?.metadata?.resourceVersion) return;
      this.emit('change');
    };
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('error', () => {
      if (!this.stopped) setTimeout(() => void this.lw?.start().catch(() => undefined), 2000).unref();
    });
    void this.lw.start().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.lw?.stop();
  }
}
