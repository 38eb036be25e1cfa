// What every writer in src/cluster shares: meshcd's own namespace, the API
// clients of one kubeconfig, server-side apply as field manager `meshcd`, and
// the HTTP status of a failed call.

import * as k8s from '@kubernetes/client-node';

export const FIELD_MANAGER = 'meshcd';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'meshcd' } as const;
/** The HTTP status of a failed client-node call (404, 409, …), if it has one. */
export function httpStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export class ClusterClient {
  readonly core: k8s.CoreV1Api;
  readonly coordination: k8s.CoordinationV1Api;
  readonly events: k8s.EventsV1Api;
  readonly objects: k8s.KubernetesObjectApi;

  constructor(readonly kubeConfig: k8s.KubeConfig, readonly namespace: string) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.coordination = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    this.events = kubeConfig.makeApiClient(k8s.EventsV1Api);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  /** Server-side apply (create or update the fields meshcd owns). */
  apply<T extends k8s.KubernetesObject>(obj: T): Promise<T> {
    return this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
  }

  /** A ConfigMap, or undefined when there is none. */
  async configMap(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ namespace, name });
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** A Secret, or undefined when there is none. */
  async secret(namespace: string, name: string): Promise<k8s.V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }
}
