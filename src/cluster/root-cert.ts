// The CA's trust bundle as a ConfigMap in every namespace (istiod's
// `istio-ca-root-cert`, key `root-cert.pem`), so workloads mount it. Written
// by server-side apply when the bundle changes or a namespace appears, only
// where the content differs from what was last written; failures are retried.
// Only the leader writes when replicas elect one (`canWrite`).

import { createHash } from 'node:crypto';
import { logger } from '../util/log.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';
import { ClusterClient, MANAGED_BY } from './kube.js';

export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert';

export interface RootCertOptions {
  name?: string;
  /** Namespaces that exist now (active ones). */
  namespaces: () => readonly string[];
  canWrite?: () => boolean;
  retryMs?: number;
}

export class RootCertPublisher {
  private pem: string | undefined;
  private readonly written = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly log = logger('cluster');
  readonly name: string;

  constructor(private readonly client: ClusterClient, private readonly o: RootCertOptions) {
    this.name = o.name ?? ROOT_CERT_CONFIGMAP;
  }

  setBundle(pem: string): void {
    this.pem = pem;
    this.sync();
  }

  /** Namespaces or leadership changed: write what is missing. */
  sync(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = true;
    void this.publish().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.sync();
      }
    });
  }

  private async publish(): Promise<void> {
    const pem = this.pem;
    if (!pem || (this.o.canWrite && !this.o.canWrite())) return;
    const digest = createHash('sha256').update(pem).digest('hex');
    let failed = 0;
    for (const ns of this.o.namespaces()) {
      if (this.written.get(ns) === digest) continue;
      try {
        await this.client.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: this.name, namespace: ns, labels: { ...MANAGED_BY, 'istio.io/config': 'true' } }, data: { 'root-cert.pem': pem } });
        this.written.set(ns, digest);
      } catch (err) {
        failed++;
        this.log.warn({ configMap: `${ns}/${this.name}`, reason: describeKubeError(err) }, 'cannot publish the root certificate; retrying');
      }
    }
    if (failed && !this.stopped) {
      this.timer = setTimeout(() => this.sync(), this.o.retryMs ?? 5000);
      this.timer.unref?.();
    }
  }

  /** Forget what was written (a new leader checks every namespace again). */
  reset(): void {
    this.written.clear();
    this.sync();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
