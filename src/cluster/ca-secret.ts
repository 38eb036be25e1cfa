// The CA's signing key in a Kubernetes Secret, so that every replica issues
// under the same root and a new pod on another node has it: the Secret holds
// Istio's plug-in CA keys (ca-cert.pem, ca-key.pem, cert-chain.pem,
// root-cert.pem — istiod's `cacerts` layout). When it does not exist, the
// first replica makes a root and creates it (a replica that loses the race
// takes the winner's). Its content is written to a 0700 folder under the
// state dir (key 0600) that the CA reads as its plug-in folder and watches;
// a change of the Secret (rotation by an operator) is written there again.
// The key is never put in a ConfigMap, a log line or an error.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createRoot } from '../ca/signer.js';
import { writeFileAtomic } from '../util/fs.js';
import { logger } from '../util/log.js';
import { ClusterClient, httpStatus, MANAGED_BY } from './kube.js';
import { describeKubeError } from '../registry/kubernetes/discovery.js';

export const CA_SECRET_KEYS = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'] as const;

function decoded(secret: k8s.V1Secret, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of CA_SECRET_KEYS) {
    const v = secret.data?.[k];
    if (v !== undefined) out[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  if (!out['ca-cert.pem'] || !out['ca-key.pem']) throw new Error(`${where}: needs the keys ca-cert.pem and ca-key.pem (Istio's cacerts layout)`);
  out['root-cert.pem'] ??= out['ca-cert.pem'];
  out['cert-chain.pem'] ??= out['ca-cert.pem'];
  return out;
}

async function materialize(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The key first would let a watcher load a new key with an old cert; write certificates first, the key, then the chain.
  for (const k of ['root-cert.pem', 'cert-chain.pem', 'ca-cert.pem', 'ca-key.pem'] as const) await writeFileAtomic(join(dir, k), files[k]!, k === 'ca-key.pem' ? 0o600 : 0o644);
}

export interface CaSecretHandle {
  /** The plug-in folder to give the CA. */
  pluginDir: string;
  /** True when this replica created the Secret. */
  created: boolean;
  stop(): Promise<void>;
}

/**
 * Reads (or creates) Secret `name` in the client's namespace and keeps
 * `<stateDir>/ca-secret/` equal to it. Errors name the Secret, never its content.
 */
export async function caFromSecret(client: ClusterClient, name: string, stateDir: string, opts: { rootKey: 'rsa' | 'ec'; trustDomain: string; now?: () => Date }): Promise<CaSecretHandle> {
  const ns = client.namespace;
  const where = `Secret ${ns}/${name}`;
  const dir = join(stateDir, 'ca-secret');
  const log = logger('cluster').child({ secret: `${ns}/${name}` });
  let secret: k8s.V1Secret | undefined;
  try {
    secret = await client.secret(ns, name);
  } catch (err) {
    throw new Error(`${where}: cannot read it (${describeKubeError(err)})`);
  }
  let created = false;
  if (!secret) {
    const root = createRoot(opts.rootKey, opts.trustDomain, opts.now?.() ?? new Date());
    const data = { 'ca-cert.pem': root.certPem, 'ca-key.pem': root.keyPem, 'cert-chain.pem': root.certPem, 'root-cert.pem': root.certPem };
    try {
      secret = await client.core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name, labels: { ...MANAGED_BY } }, type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) },
      });
      created = true;
      log.info('created the CA Secret with a new root');
    } catch (err) {
      if (httpStatus(err) !== 409) throw new Error(`${where}: cannot create it (${describeKubeError(err)})`);
      // Another replica created it first: use theirs.
      secret = await client.secret(ns, name);
      if (!secret) throw new Error(`${where}: created by another replica, then gone`);
    }
  }
  await materialize(dir, decoded(secret, where));
  // Follow changes (an operator rotating the CA): the CA watches the folder.
  const lw = new k8s.ListWatch<k8s.V1Secret>(
    `/api/v1/namespaces/${ns}/secrets`,
    new k8s.Watch(client.kubeConfig),
    () => client.core.listNamespacedSecret({ namespace: ns, fieldSelector: `metadata.name=${name}` }),
    false,
    undefined,
    `metadata.name=${name}`,
  );
  let last = secret.metadata?.resourceVersion;
  const onChange = (s: k8s.V1Secret) => {
    if (s.metadata?.resourceVersion === last) return;
    last = s.metadata?.resourceVersion;
    let files: Record<string, string>;
    try {
      files = decoded(s, where);
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'the CA Secret changed to something unusable; the CA keeps its current key');
      return;
    }
    void materialize(dir, files).then(
      () => log.info('the CA Secret changed; the CA reloads it'),
      (err: Error) => log.error({ reason: err.message }, 'cannot write the CA Secret to the state dir'),
    );
  };
  lw.on('add', onChange);
  lw.on('update', onChange);
  let stopped = false;
  lw.on('error', () => {
    if (!stopped) setTimeout(() => void lw.start().catch(() => undefined), 5000).unref();
  });
  void lw.start().catch(() => undefined);
  return {
    pluginDir: dir,
    created,
    stop: async () => {
      stopped = true;
      await lw.stop();
    },
  };
}
