// The cluster flags (--kubeconfig, --in-cluster, --cluster-id) read without
// loading @kubernetes/client-node: serve checks them at start and loads the
// Kubernetes modules only when a cluster is given.

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
