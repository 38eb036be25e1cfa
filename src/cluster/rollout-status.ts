// Rollout status for kubectl users: per Rollout a ConfigMap
// `meshcd-rollout-<name>` in the Rollout's namespace (phase, step, canary
// weight, and the whole status as JSON), and a Kubernetes Event
// (events.k8s.io/v1, regarding that ConfigMap) for every new history entry
// of the rollout (step, pause, promotion, rollback…): `kubectl get cm
// meshcd-rollout-reviews -o yaml`, `kubectl events --for cm/meshcd-rollout-reviews`.
// The runner's status is read every `intervalMs`; only what changed is
// written, and only by the leader (`canWrite`). The ConfigMap's `announced`
// key names the last history entry sent as an Event, so a new leader goes
// on from there instead of repeating or skipping.

import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import type { RolloutStatus } from '../rollout/runner.js';
import { logger } from '../util/log.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';
import { ClusterClient, MANAGED_BY } from './kube.js';

const historyKey = (h: RolloutStatus['history'][number]): string => `${h.at}|${h.phase}|${h.stepIndex}|${h.canaryWeight}`;

export const statusConfigMapName = (rollout: string): string => `meshcd-rollout-${rollout}`.slice(0, 253);

export interface RolloutStatusOptions {
  list: () => readonly RolloutStatus[];
  canWrite?: () => boolean;
  intervalMs?: number;
}

export class RolloutStatusWriter {
  private readonly written = new Map<string, string>();
  /** Per rollout: history entries already sent as Events (by their `at`). */
  private readonly sent = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly log = logger('cluster');
  private readonly instance = process.env.POD_NAME || hostname();

  constructor(private readonly client: ClusterClient, private readonly o: RolloutStatusOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.o.intervalMs ?? 2000);
    this.timer.unref?.();
  }

  /** Write what changed since the last flush. */
  async flush(): Promise<void> {
    if (this.busy || (this.o.canWrite && !this.o.canWrite())) return;
    this.busy = true;
    try {
      for (const s of this.o.list()) await this.one(s);
    } finally {
      this.busy = false;
    }
  }

  private async one(s: RolloutStatus): Promise<void> {
    const key = `${s.namespace}/${s.name}`;
    const name = statusConfigMapName(s.name);
    const keys = s.history.map(historyKey);
    const last = keys[keys.length - 1] ?? '';
    const json = JSON.stringify(s);
    if (this.written.get(key) === json && this.sent.get(key)?.has(last)) return;
    let cm: k8s.V1ConfigMap | undefined;
    try {
      cm = await this.client.configMap(s.namespace, name);
    } catch (err) {
      this.log.warn({ rollout: key, reason: describeKubeError(err) }, 'cannot read the rollout status ConfigMap; retrying');
      return;
    }
    let sent = this.sent.get(key);
    if (!sent) {
      // What a previous leader announced is marked in the ConfigMap: a new leader does not repeat it.
      const marker = cm?.data?.announced;
      const upTo = marker ? keys.indexOf(marker) : -1;
      this.sent.set(key, (sent = new Set(marker && upTo < 0 ? keys : keys.slice(0, upTo + 1))));
    }
    for (const h of s.history) {
      const hk = historyKey(h);
      if (sent.has(hk)) continue;
      try {
        await this.client.events.createNamespacedEvent({
          namespace: s.namespace,
          body: {
            metadata: { generateName: `${name}-`, namespace: s.namespace, labels: { ...MANAGED_BY } },
            eventTime: new k8s.V1MicroTime(Date.parse(h.at)),
            reportingController: 'meshcd.io/rollout',
            reportingInstance: this.instance.slice(0, 128),
            action: 'Step',
            reason: h.phase,
            type: h.phase === 'Failed' || h.phase === 'Aborted' ? 'Warning' : 'Normal',
            note: `${h.message} (step ${h.stepIndex}, canary weight ${h.canaryWeight}%)`.slice(0, 1024),
            regarding: { apiVersion: 'v1', kind: 'ConfigMap', namespace: s.namespace, name, ...(cm?.metadata?.uid ? { uid: cm.metadata.uid } : {}) },
          },
        });
        sent.add(hk);
      } catch (err) {
        this.log.warn({ rollout: key, reason: describeKubeError(err) }, 'cannot write a rollout Event; retrying');
        break;
      }
    }
    const announced = [...keys].reverse().find((k) => sent!.has(k));
    try {
      await this.client.apply<k8s.V1ConfigMap>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: s.namespace, labels: { ...MANAGED_BY, 'meshcd.io/rollout': s.name } },
        data: {
          phase: s.phase,
          stepIndex: String(s.stepIndex),
          canaryWeight: String(s.canaryWeight),
          ...(s.reason ? { reason: s.reason } : {}),
          ...(announced ? { announced } : {}),
          'status.json': JSON.stringify(s, null, 2),
        },
      });
      this.written.set(key, json);
    } catch (err) {
      this.log.warn({ rollout: key, reason: describeKubeError(err) }, 'cannot write the rollout status ConfigMap; retrying');
    }
  }

  /** Becoming leader: check everything again (what was announced is read back from the ConfigMaps). */
  reset(): void {
    this.written.clear();
    this.sent.clear();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
