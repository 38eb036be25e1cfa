// serve's cluster flags, checked without loading @kubernetes/client-node
// (serve loads the Kubernetes modules only when a cluster is given), and
// meshcd's own namespace.

import { existsSync, readFileSync } from 'node:fs';

export interface ClusterFlags {
  namespace?: string;
  tokenReview?: boolean;
  tokenAudience: string[];
  caSecret?: string;
  publishRootCert?: string | boolean;
  gatewaySecrets?: boolean;
  rolloutStatus?: boolean;
  leaderElect?: boolean;
  leaseName: string;
  /** Seconds; the renew deadline is 2/3 of it and the retry period 2/15 (client-go's 15 s / 10 s / 2 s). */
  leaseDuration: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `--namespace`, else $POD_NAMESPACE, else the pod's service-account namespace, else `meshcd-system`. */
export function ownNamespace(flag?: string): string {
  const ns = flag || process.env.POD_NAMESPACE || (existsSync(SA_NAMESPACE_FILE) ? readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() : '') || 'meshcd-system';
  if (!DNS_LABEL.test(ns)) throw new Error(`--namespace: "${ns.slice(0, 70)}" is not a namespace name`);
  return ns;
}

/**
 * The flags' values and that every flag needing a cluster has one (errors name
 * the flag). Returns the flags that ask for the cluster, and the lease in seconds.
 */
export function checkClusterFlags(flags: ClusterFlags, hasCluster: boolean): { asked: string[]; seconds: number } {
  const asked = (['tokenReview', 'caSecret', 'publishRootCert', 'gatewaySecrets', 'rolloutStatus', 'leaderElect'] as const).filter((k) => flags[k]);
  const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (asked.length && !hasCluster) throw new Error(`${asked.map(flagName).join(', ')}: needs a cluster (--kubeconfig or --in-cluster)`);
  for (const [flag, v] of [['--ca-secret', flags.caSecret], ['--publish-root-cert', typeof flags.publishRootCert === 'string' ? flags.publishRootCert : undefined], ['--lease-name', flags.leaseName]] as const) {
    if (v !== undefined && !NAME.test(v)) throw new Error(`${flag}: "${v.slice(0, 60)}" is not a Kubernetes object name`);
  }
  if (flags.tokenAudience.some((a) => !a || a.length > 256)) throw new Error('--token-audience: an audience is 1–256 characters');
  const seconds = Number(flags.leaseDuration);
  if (!/^\d{1,4}$/.test(flags.leaseDuration) || seconds < 3) throw new Error(`--lease-duration: "${flags.leaseDuration.slice(0, 20)}" is not a whole number of seconds ≥ 3`);
  return { asked, seconds };
}
