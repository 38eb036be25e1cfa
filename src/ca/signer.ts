// Where the signing key comes from: a root generated here (RSA or ECDSA), or
// a plug-in folder with Istio's file names (`ca-cert.pem`, `ca-key.pem`,
// `cert-chain.pem`, `root-cert.pem`), checked as a whole so that a bad new
// set is refused and the old one stays in use; what a load gives the
// authority (signer + rotation state read from roots.json); the folder
// watcher that tells the authority to re-read.

import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { replaceRoots, type IssuedEntry, type RotationState } from './rotation.js';
import type { CaStore, RootsFile } from './store.js';
import {
  buildCertificate, buildName, derToPem, keyIdentifier, OID, randomSerial, spkiOf, splitPemCerts, subjectNameOf, LeafCertificateBuilder,
} from './x509.js';

const ROOT_VALIDITY_DAYS = 3650;
/** notBefore is backdated so that peers with a slightly slow clock accept a fresh certificate. */
export const BACKDATE_SECONDS = 60;

export interface Signer {
  key: KeyObject;
  certDer: Buffer;
  cert: X509Certificate;
  issuerName: ReturnType<typeof subjectNameOf>;
  keyId: Buffer;
  /** Signer and intermediates, not the root (empty when the signer is the root). */
  intermediatesPem: string[];
  /** The root this signer chains to (fingerprint used for tracking). */
  rootPem: string;
  rootFingerprint: string;
  /** All roots from the plug-in root-cert.pem, or the one generated root. */
  ownRootsPem: string[];
  leafBuilder: LeafCertificateBuilder;
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

export function sameKey(cert: X509Certificate, key: KeyObject): boolean {
  const a = cert.publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return a.equals(b);
}

/** A new self-signed root; a distinct subject per root keeps chain building unambiguous during an overlap. */
export function createRoot(alg: 'rsa' | 'ec', trustDomain: string, now: Date): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = alg === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = buildName([
    { oid: OID.organization, value: trustDomain },
    { oid: OID.commonName, value: `meshcd root CA ${now.toISOString().slice(0, 19)}Z ${randomSerial().toString('hex').slice(0, 8)}` },
  ]);
  const der = buildCertificate({
    serial: randomSerial(),
    notBefore: new Date(now.getTime() - BACKDATE_SECONDS * 1000),
    notAfter: new Date(now.getTime() + ROOT_VALIDITY_DAYS * 86400 * 1000),
    subject: name,
    issuer: name,
    spkiDer: spkiOf(publicKey),
    isCa: true,
    keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
  }, privateKey);
  return { certPem: derToPem(der, 'CERTIFICATE'), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function makeSigner(cert: X509Certificate, key: KeyObject, intermediatesPem: string[], rootPem: string, ownRootsPem: string[]): Signer {
  const issuerName = subjectNameOf(cert.raw);
  const keyId = keyIdentifier(spkiOf(cert.publicKey));
  return {
    key,
    cert,
    certDer: cert.raw,
    issuerName,
    keyId,
    leafBuilder: new LeafCertificateBuilder(issuerName, keyId, key),
    intermediatesPem,
    rootPem,
    rootFingerprint: fingerprintOf(rootPem),
    ownRootsPem,
  };
}

/** A root that signs itself (self-signed mode); `where` names the key file in errors. */
export function signerFromRoot(certPem: string, key: KeyObject, where?: string): Signer {
  const cert = new X509Certificate(certPem);
  if (where && !sameKey(cert, key)) throw new Error(`${where}: key does not match the root certificate`);
  return makeSigner(cert, key, [], certPem, [certPem]);
}

/** Loads and checks a plug-in CA folder; throws a message naming the file at fault. */
export async function loadPluginSigner(dir: string, now: Date): Promise<Signer> {
  const read = async (name: string, required: boolean): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (err) {
      if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`${join(dir, name)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`);
    }
  };
  const caCertPem = (await read('ca-cert.pem', true))!;
  const caKeyPem = (await read('ca-key.pem', true))!;
  const rootPemText = (await read('root-cert.pem', true))!;
  const chainText = (await read('cert-chain.pem', false)) ?? '';
  let caCert: X509Certificate;
  let key: KeyObject;
  try {
    caCert = new X509Certificate(caCertPem);
  } catch {
    throw new Error(`${join(dir, 'ca-cert.pem')}: not a PEM certificate`);
  }
  try {
    key = createPrivateKey(caKeyPem);
  } catch {
    throw new Error(`${join(dir, 'ca-key.pem')}: not a PEM private key`);
  }
  if (!sameKey(caCert, key)) throw new Error(`${join(dir, 'ca-key.pem')}: key does not match ca-cert.pem`);
  if (!caCert.ca) throw new Error(`${join(dir, 'ca-cert.pem')}: not a CA certificate (basicConstraints CA:TRUE required)`);
  if (Date.parse(caCert.validTo) <= now.getTime()) throw new Error(`${join(dir, 'ca-cert.pem')}: expired on ${caCert.validTo}`);
  const rootsPem = splitPemCerts(rootPemText);
  if (rootsPem.length === 0) throw new Error(`${join(dir, 'root-cert.pem')}: no certificate`);
  const roots = rootsPem.map((p) => new X509Certificate(p));
  const rootFps = new Set(rootsPem.map(fingerprintOf));
  // Intermediates: cert-chain.pem minus the roots, with ca-cert.pem first.
  const caFp = fingerprintOf(caCertPem);
  const chain = splitPemCerts(chainText).filter((p) => !rootFps.has(fingerprintOf(p)) && fingerprintOf(p) !== caFp);
  const intermediates = [caCertPem.endsWith('\n') ? caCertPem : `${caCertPem}\n`, ...chain];
  // Walk up: each certificate must be signed by the next, and the last by a root.
  let child = caCert;
  for (const p of chain) {
    const parent = new X509Certificate(p);
    if (!child.verify(parent.publicKey)) throw new Error(`${join(dir, 'cert-chain.pem')}: chain is broken at "${child.subject.replace(/\n/g, ', ')}"`);
    child = parent;
  }
  const root = roots.find((r) => child.checkIssued(r) && child.verify(r.publicKey));
  if (!root) throw new Error(`${join(dir, 'ca-cert.pem')}: does not chain to any certificate in root-cert.pem`);
  return makeSigner(caCert, key, intermediates, rootsPem[roots.indexOf(root)]!, rootsPem);
}

/** True when `dir` holds a plug-in CA (its ca-cert.pem exists). */
export async function hasPluginFiles(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, 'ca-cert.pem'))).isFile();
  } catch {
    return false;
  }
}

/** Calls `onChange` (debounced by 200 ms) when a file in one of `dirs` changes; does not hold the process open. */
export function watchFolders(dirs: string[], onChange: () => void, log: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const onEvent = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 200);
    timer.unref();
  };
  for (const d of dirs) {
    try {
      const w = watch(d, { persistent: false }, onEvent);
      w.on('error', (err) => log.error({ dir: d, err: err.message }, 'CA file watch failed'));
      watchers.push(w);
    } catch (err) {
      log.error({ dir: d, err: (err as Error).message }, 'cannot watch CA folder');
    }
  }
  return () => {
    for (const w of watchers) w.close();
    if (timer) clearTimeout(timer);
  };
}

/** What a load of the signing material gives: the signer, the rotation state, and the pending root's signer if there is one. */
export interface LoadedMaterial {
  signer: Signer;
  rotation: RotationState;
  pendingSigner?: Signer;
}

function pendingOf(file: RootsFile | undefined): RotationState['pending'] {
  return file?.pending && file.pendingSince && file.roots.some((r) => r.fingerprint === file.pending) ? { fingerprint: file.pending, since: file.pendingSince } : undefined;
}

/**
 * Plug-in mode: the folder's signer. `current` is the signer in use (on a
 * reload): when the new set chains to another organisation root, the old
 * root stays trusted for the overlap. roots.json only records those.
 */
export async function loadPluginMaterial(
  store: CaStore, dir: string, current: Signer | undefined, issued: Readonly<Record<string, IssuedEntry>>, now: Date, maxTtlMs: number,
): Promise<LoadedMaterial> {
  const next = await loadPluginSigner(dir, now);
  const file = current ? await store.readRoots().catch(() => undefined) : await store.readRoots();
  const pending = pendingOf(file);
  const base: RotationState = { active: current?.rootFingerprint ?? next.rootFingerprint, roots: file?.roots ?? [], ...(pending ? { pending } : {}) };
  const oldOwn = (current?.ownRootsPem ?? []).map((certPem) => ({ fingerprint: fingerprintOf(certPem), certPem }));
  const replaced = replaceRoots(base, { active: next.rootFingerprint, ownRoots: next.ownRootsPem.map(fingerprintOf) }, oldOwn, issued, now.getTime(), maxTtlMs);
  if (replaced.effects.length) await store.writeRoots(replaced.state, false);
  return { signer: next, rotation: replaced.state };
}

export interface SelfSignedOptions {
  trustDomain: string;
  rootKeyAlgorithm: 'rsa' | 'ec';
  /** Never create a root (`meshcd ca status`): an empty folder is an error. */
  readOnly: boolean;
  now: Date;
  log: Logger;
}

/**
 * Self-signed mode: the active root from roots.json, else a root put in place
 * by hand with Istio's names, else a new one (unless read-only). The pending
 * root's key is read here too, so that promotion later does no I/O.
 */
export async function loadSelfSignedMaterial(store: CaStore, o: SelfSignedOptions): Promise<LoadedMaterial> {
  const file = await store.readRoots();
  const roots = [...(file?.roots ?? [])];
  const pending = pendingOf(file);
  let signer: Signer;
  if (file?.active) {
    const rec = roots.find((r) => r.fingerprint === file.active);
    if (!rec) throw new Error(`${store.path('roots.json')}: active root ${file.active} is not listed`);
    const { key, keyPem } = await store.readRootKey(rec.fingerprint);
    signer = signerFromRoot(rec.certPem, key, store.rootKeyPath(rec.fingerprint));
    await store.writeCompatCopies(rec.certPem, keyPem);
  } else {
    let root = await store.readCompatRoot();
    if (root) {
      const cert = new X509Certificate(root.certPem);
      if (!sameKey(cert, createPrivateKey(root.keyPem))) throw new Error(`${store.path('root-key.pem')}: key does not match ${store.path('root-cert.pem')}`);
      if (!cert.ca) throw new Error(`${store.path('root-cert.pem')}: not a CA certificate`);
    } else {
      if (o.readOnly) throw new Error(`${store.dir}: no CA here yet (it is created on the first start of "meshcd ca serve" or the control plane)`);
      root = createRoot(o.rootKeyAlgorithm, o.trustDomain, o.now);
      o.log.info({ dir: store.dir, algorithm: o.rootKeyAlgorithm }, 'generated a new root CA');
    }
    const fp = fingerprintOf(root.certPem);
    await store.storeRoot(fp, root.certPem, root.keyPem);
    if (!roots.some((r) => r.fingerprint === fp)) roots.push({ fingerprint: fp, certPem: root.certPem, createdAt: o.now.toISOString() });
    signer = signerFromRoot(root.certPem, createPrivateKey(root.keyPem));
    await store.writeRoots({ active: fp, roots, ...(pending ? { pending } : {}) }, true);
    await store.writeCompatCopies(root.certPem, root.keyPem);
  }
  const rotation: RotationState = { active: signer.rootFingerprint, roots, ...(pending ? { pending } : {}) };
  let pendingSigner: Signer | undefined;
  if (pending && pending.fingerprint !== signer.rootFingerprint) {
    const rec = roots.find((r) => r.fingerprint === pending.fingerprint)!;
    try {
      pendingSigner = signerFromRoot(rec.certPem, (await store.readRootKey(rec.fingerprint)).key, store.rootKeyPath(rec.fingerprint));
    } catch (err) {
      o.log.error({ err: (err as Error).message }, 'cannot read the new root key; rotation stays in its distributing phase');
    }
  }
  return { signer, rotation, ...(pendingSigner ? { pendingSigner } : {}) };
}
