// The signing authority: where the signing key comes from, what the trust
// bundle holds, and root rotation with overlap.
//
// Two modes. Self-signed: a root generated on first start, kept under
// `<state-dir>/ca/roots/<fp>-{cert,key}.pem` with `roots.json` as the single
// atomic commit point that says which root is active and which retired roots
// still belong in the bundle (`root-cert.pem`/`root-key.pem` are copies of the
// active root for people and tools that expect Istio's names). Plug-in: an
// intermediate in a folder with Istio's file names, re-read when it changes;
// a bad new set keeps the old one.
//
// Rotation has two phases, because a peer can only accept a certificate from
// the new root once its own trust bundle holds that root:
//  1. distributing: the new root joins the bundle, the old root still signs,
//     until every live certificate was (re)issued after the rotation started
//     (its holder got the new bundle with it) or one maximum TTL has passed;
//  2. overlap: the new root signs; the old root stays in the bundle until no
//     live certificate chains to it any more, or its last possible one expired.
// Live certificates are tracked per public key in `issued.json` (the agent
// keeps its key across renewals, so a key is one workload instance).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { IssuedCert, TrustBundle } from '../api/types.js';
import { writeFileAtomic, writeSecretFile } from '../util/fs.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import {
  buildCertificate, buildName, CsrError, derToPem, keyIdentifier, OID, parseCsr, randomSerial, spkiOf,
  splitPemCerts, subjectNameOf, LeafCertificateBuilder, type ParsedCsr,
} from './x509.js';

export const DEFAULT_TTL_SECONDS = 24 * 3600;
export const MAX_TTL_SECONDS = 90 * 24 * 3600;
const ROOT_VALIDITY_DAYS = 3650;
/** notBefore is backdated so that peers with a slightly slow clock accept a fresh certificate. */
const BACKDATE_SECONDS = 60;

export interface CaOptions {
  /** meshcd's state directory; the CA keeps its files in `<stateDir>/ca/`. */
  stateDir: string;
  trustDomain?: string;
  /** Key type of a generated root: RSA 2048 (default) or ECDSA P-256. */
  rootKeyAlgorithm?: 'rsa' | 'ec';
  /** Plug-in CA folder (`ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`, `root-cert.pem`). */
  pluginDir?: string;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
  /** Shortest certificate issued; requests below are raised to it. Tests use 1. */
  minTtlSeconds?: number;
  /** Watch the plug-in folder and `roots.json` for changes made by other processes. */
  watch?: boolean;
  /** Inspect only (`meshcd ca status`): never create a root or write a file. */
  readOnly?: boolean;
  now?: () => Date;
}

/** A request the CA refuses; `reason` is the metric label, `message` is safe for the requester. */
export class CaRequestError extends Error {
  constructor(readonly reason: 'invalid_csr' | 'ttl_too_long' | 'bad_identity', message: string) {
    super(message);
    this.name = 'CaRequestError';
  }
}

export interface IssueRequest {
  /** PEM PKCS#10 request; only its key is used. */
  csrPem: string;
  /** The authenticated caller's identity: what goes into the certificate. */
  namespace: string;
  serviceAccount: string;
  /** 0 or absent: the default TTL. */
  ttlSeconds?: number;
  /** Who asked, for the audit log (never a token). */
  caller?: string;
}

export interface IssuedWorkloadCert extends IssuedCert {
  /** Leaf first, intermediates, then the signing root last (Istio's CreateCertificate response). */
  responseChainPem: string[];
}

export interface RootInfo {
  fingerprint: string;
  subject: string;
  notAfter: string;
  active: boolean;
  /** Identities whose newest, still valid certificate chains to this root. */
  activeCerts: number;
  /** When a retired root leaves the bundle at the latest. */
  retireAfter?: string;
}

export interface CaStatus {
  mode: 'self-signed' | 'plugin';
  trustDomain: string;
  signer: { subject: string; notAfter: string; fingerprint: string };
  roots: RootInfo[];
  rotation: {
    /** idle; distributing (new root in the bundle, old root signs); overlap (new root signs, old still trusted). */
    phase: 'idle' | 'distributing' | 'overlap';
    inProgress: boolean;
    /** distributing: live certificates issued before the rotation began (their holders lack the new root). */
    awaitingNewBundle: number;
    /** overlap: live certificates still chaining to an old root. */
    remainingOnOldRoots: number;
    /** The latest time the current phase can last. */
    completesBy?: string;
  };
}

interface RootRecord {
  fingerprint: string;
  certPem: string;
  createdAt: string;
  /** Set once a root is no longer the signer. */
  retireAfter?: string;
}

interface RootsFile {
  version: 1;
  /** Self-signed mode: fingerprint of the root that signs. */
  active?: string;
  /** A rotation in its distributing phase: the next root, already in the bundle. */
  pending?: string;
  pendingSince?: string;
  roots: RootRecord[];
}

interface IssuedEntry {
  identity: string;
  root: string;
  notAfter: string;
  issuedAt: string;
}

interface IssuedFile {
  version: 2;
  /** Public key (sha256 of SPKI, 32 hex) → its newest certificate. */
  certs: Record<string, IssuedEntry>;
}

interface Signer {
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

function sameKey(cert: X509Certificate, key: KeyObject): boolean {
  const a = cert.publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return a.equals(b);
}

const issuedTotal = () => metric('counter', 'meshcd_ca_certs_issued_total', 'Workload certificates issued by the CA');
const refusedTotal = () => metric('counter', 'meshcd_ca_refused_total', 'Certificate requests refused, by reason', ['reason']);
const rootExpiry = () => metric('gauge', 'meshcd_ca_root_expiry_seconds', 'Seconds until the active root (or plug-in signing) certificate expires');
const reloadErrors = () => metric('counter', 'meshcd_ca_reload_errors_total', 'Plug-in CA or roots.json reloads rejected (the previous set stays in use)');

export function countRefusal(reason: string): void {
  refusedTotal().inc({ reason });
}

export class CertificateAuthority {
  readonly trustDomain: string;
  private readonly dir: string;
  private readonly log = logger('ca');
  private readonly now: () => Date;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly minTtl: number;
  private signer!: Signer;
  private roots: RootRecord[] = [];
  private issued: IssuedFile = { version: 2, certs: {} };
  private pending: { fingerprint: string; since: string } | undefined;
  private issuedDirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private listeners = new Set<() => void>();
  private closed = false;
  private pendingWrites = new Set<Promise<unknown>>();
  private rootsWrite: Promise<void> = Promise.resolve();
  private bundleCache: { key: string; signer: Signer; rootsPem: string[] } | undefined;

  private constructor(private readonly opts: CaOptions) {
    this.trustDomain = opts.trustDomain ?? 'cluster.local';
    this.dir = join(opts.stateDir, 'ca');
    this.now = opts.now ?? (() => new Date());
    this.defaultTtl = opts.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.maxTtl = opts.maxTtlSeconds ?? MAX_TTL_SECONDS;
    this.minTtl = opts.minTtlSeconds ?? 60;
    if (this.defaultTtl > this.maxTtl) throw new Error(`default TTL ${this.defaultTtl}s is above the maximum ${this.maxTtl}s`);
  }

  /** Opens the CA: loads or creates the root, or loads the plug-in folder. Throws with a clear message on bad files. */
  static async open(opts: CaOptions): Promise<CertificateAuthority> {
    const ca = new CertificateAuthority(opts);
    if (!opts.readOnly) await mkdir(ca.dir, { recursive: true, mode: 0o700 });
    await ca.loadIssued();
    await ca.loadRootsFile();
    if (opts.pluginDir) ca.signer = await ca.loadPlugin(opts.pluginDir);
    else await ca.loadOrCreateRoot();
    ca.updateGauge();
    await ca.writeBundleFile();
    if (opts.watch) ca.startWatching();
    return ca;
  }

  get mode(): 'self-signed' | 'plugin' {
    return this.opts.pluginDir ? 'plugin' : 'self-signed';
  }

  spiffeId(namespace: string, serviceAccount: string): string {
    return `spiffe://${this.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  }

  /** Called whenever the signer or the trust bundle changes (reload, rotation, retirement). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Roots that validate workload certificates now: the active one(s) plus retired roots in their overlap window. */
  trustBundle(): TrustBundle {
    this.retireExpired();
    // Called on every CSR response: rebuilt only when roots, signer or rotation changed.
    const extra = this.roots.filter((r) => r.retireAfter || r.fingerprint === this.pending?.fingerprint);
    const key = `${this.signer.rootFingerprint}|${this.signer.ownRootsPem.length}|${extra.map((r) => r.fingerprint).join(',')}`;
    if (this.bundleCache?.key === key && this.bundleCache.signer === this.signer) return { rootsPem: [...this.bundleCache.rootsPem] };
    const seen = new Set<string>();
    const out: string[] = [];
    for (const pem of [...this.signer.ownRootsPem, ...extra.map((r) => r.certPem)]) {
      const fp = fingerprintOf(pem);
      if (seen.has(fp)) continue;
      seen.add(fp);
      out.push(pem);
    }
    this.bundleCache = { key, signer: this.signer, rootsPem: out };
    return { rootsPem: [...out] };
  }

  /** The signing certificate and intermediates (not the root): what a TLS peer sends after its leaf. */
  intermediatesPem(): string[] {
    return [...this.signer.intermediatesPem];
  }

  /** Public keys that may have signed a certificate this CA still honours (current signer, retired roots). */
  isIssuedByUs(cert: X509Certificate): boolean {
    if (cert.verify(this.signer.cert.publicKey)) return true;
    for (const r of this.roots) {
      if (!r.retireAfter) continue;
      if (cert.verify(new X509Certificate(r.certPem).publicKey)) return true;
    }
    return false;
  }

  /**
   * Issues a workload certificate for the caller's identity. The CSR only
   * contributes its public key: its subject and SANs are ignored, so a caller
   * can never obtain someone else's identity.
   */
  issue(req: IssueRequest): IssuedWorkloadCert {
    let csr: ParsedCsr;
    try {
      csr = parseCsr(req.csrPem);
    } catch (err) {
      throw new CaRequestError('invalid_csr', err instanceof CsrError ? err.message : 'malformed CSR');
    }
    return this.issueForKey(csr, req);
  }

  /** Same as issue() with an already parsed CSR (lets a caller parse once and log what was asked). */
  issueForKey(csr: ParsedCsr, req: Omit<IssueRequest, 'csrPem'>): IssuedWorkloadCert {
    const p = this.prepare(csr, req);
    return this.record(p, p.signer.leafBuilder.build(p.fields));
  }

  /**
   * issue() for servers: the signature is computed on libuv's thread pool, so
   * the gRPC API keeps serving while certificates are signed.
   */
  async issueAsync(req: IssueRequest): Promise<IssuedWorkloadCert> {
    let csr: ParsedCsr;
    try {
      csr = parseCsr(req.csrPem);
    } catch (err) {
      throw new CaRequestError('invalid_csr', err instanceof CsrError ? err.message : 'malformed CSR');
    }
    const p = this.prepare(csr, req);
    return this.record(p, await p.signer.leafBuilder.buildAsync(p.fields));
  }

  /** Checks the request and fixes every field of the certificate (identity from the caller, validity within limits). */
  private prepare(csr: ParsedCsr, req: Omit<IssueRequest, 'csrPem'>) {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(req.namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(req.serviceAccount)) {
      throw new CaRequestError('bad_identity', `identity ns="${req.namespace}" sa="${req.serviceAccount}" is not a valid namespace/service account name`);
    }
    let ttl = req.ttlSeconds && req.ttlSeconds > 0 ? Math.floor(req.ttlSeconds) : this.defaultTtl;
    if (ttl > this.maxTtl) throw new CaRequestError('ttl_too_long', `requested validity ${ttl}s exceeds the maximum of ${this.maxTtl}s`);
    ttl = Math.max(ttl, this.minTtl);
    const now = this.now();
    const signer = this.signer;
    let notAfter = new Date(now.getTime() + ttl * 1000);
    const signerEnd = new Date(signer.cert.validTo);
    if (notAfter > signerEnd) notAfter = signerEnd;
    const spiffeId = this.spiffeId(req.namespace, req.serviceAccount);
    // Key usage: digitalSignature (+ keyEncipherment for RSA), EKU server+client auth, CA:false, SAN critical.
    const fields = {
      serial: randomSerial(),
      notBefore: new Date(now.getTime() - BACKDATE_SECONDS * 1000),
      notAfter,
      spkiDer: csr.spkiDer,
      keyAlgorithm: csr.keyAlgorithm,
      uri: spiffeId,
    };
    return { csr, req, now, signer, signerEnd, spiffeId, fields };
  }

  /** Counts, tracks and audits an issued certificate. */
  private record(p: ReturnType<CertificateAuthority['prepare']>, der: Buffer): IssuedWorkloadCert {
    const { csr, req, now, signer: s, signerEnd, spiffeId, fields } = p;
    const leafPem = derToPem(der, 'CERTIFICATE');
    const serialHex = fields.serial.toString('hex');
    issuedTotal().inc();
    rootExpiry().set((signerEnd.getTime() - now.getTime()) / 1000);
    this.track(createHash('sha256').update(csr.spkiDer).digest('hex').slice(0, 32), { identity: spiffeId, root: s.rootFingerprint, notAfter: fields.notAfter.toISOString(), issuedAt: now.toISOString() });
    const asked = csr.requestedUris.filter((u) => u !== spiffeId);
    this.log.info({ audit: 'cert_issued', identity: spiffeId, serial: serialHex, notAfter: fields.notAfter.toISOString(), caller: req.caller ?? 'in-process', ...(asked.length ? { csrAskedFor: asked } : {}) }, 'certificate issued');
    return {
      chainPem: [leafPem, ...s.intermediatesPem],
      responseChainPem: [leafPem, ...s.intermediatesPem, s.rootPem],
      notAfter: fields.notAfter,
      serial: serialHex,
      spiffeId,
    };
  }

  /** A TLS server certificate for the CA's own port (and the xDS port), with a fresh native key. */
  issueServerCert(names: { dns: string[]; ips: string[] }, ttlSeconds = 30 * 24 * 3600): { certChainPem: string; keyPem: string; notAfter: Date } {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = this.now();
    const s = this.signer;
    let notAfter = new Date(now.getTime() + ttlSeconds * 1000);
    if (notAfter > new Date(s.cert.validTo)) notAfter = new Date(s.cert.validTo);
    const der = buildCertificate({
      serial: randomSerial(),
      notBefore: new Date(now.getTime() - BACKDATE_SECONDS * 1000),
      notAfter,
      subject: buildName([{ oid: OID.organization, value: this.trustDomain }]),
      issuer: s.issuerName,
      spkiDer: spkiOf(privateKey),
      isCa: false,
      keyUsage: ['digitalSignature'],
      extKeyUsage: [OID.serverAuth, OID.clientAuth],
      sans: { dns: names.dns, ips: names.ips },
      authorityKeyId: s.keyId,
    }, s.key);
    return {
      certChainPem: [derToPem(der, 'CERTIFICATE'), ...s.intermediatesPem].join(''),
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      notAfter,
    };
  }

  /**
   * Starts a root rotation (phase 1): a new root joins the trust bundle while
   * the old one keeps signing; it takes over once every workload has the new
   * bundle, and the old root leaves once nothing live chains to it.
   */
  async rotateRoot(): Promise<CaStatus> {
    if (this.opts.readOnly) throw new Error('the CA was opened read-only');
    if (this.opts.pluginDir) throw new Error('plug-in CA: rotate by adding the new root to root-cert.pem first, then replacing ca-cert.pem/ca-key.pem/cert-chain.pem (the old root stays trusted during the overlap)');
    if (this.pending) throw new Error(`a rotation is already distributing root ${this.pending.fingerprint.slice(0, 16)} (see "meshcd ca status")`);
    const now = this.now();
    const created = this.createRoot();
    await this.storeRoot(created.certPem, created.keyPem);
    const fp = fingerprintOf(created.certPem);
    this.roots.push({ fingerprint: fp, certPem: created.certPem, createdAt: now.toISOString() });
    this.pending = { fingerprint: fp, since: now.toISOString() };
    await this.writeRootsFile();
    this.log.warn({ oldRoot: this.signer.rootFingerprint, newRoot: fp }, 'root rotation started: new root added to the trust bundle; it signs once every workload has it');
    this.emit();
    this.maybePromote();
    return this.status();
  }

  /** Phase 1 → 2: the pending root becomes the signer. */
  private maybePromote(): void {
    if (!this.pending || this.opts.pluginDir) return;
    const now = this.now().getTime();
    const since = Date.parse(this.pending.since);
    const waiting = this.liveCerts().filter((c) => Date.parse(c.issuedAt) < since).length;
    if (waiting > 0 && now < since + this.maxTtl * 1000) return;
    const rec = this.roots.find((r) => r.fingerprint === this.pending!.fingerprint);
    if (!rec) {
      this.pending = undefined;
      return;
    }
    const keyPath = join(this.dir, 'roots', `${rec.fingerprint.slice(0, 16)}-key.pem`);
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(keyPath, 'utf8'));
    } catch (err) {
      this.log.error({ err: (err as Error).message, keyPath }, 'cannot read the new root key; rotation stays in its distributing phase');
      return;
    }
    const old = this.roots.find((r) => r.fingerprint === this.signer.rootFingerprint);
    if (old) old.retireAfter = new Date(Math.max(now + this.maxTtl * 1000, this.latestNotAfter(old.fingerprint))).toISOString();
    this.signer = this.signerFromRoot(rec.certPem, key);
    this.pending = undefined;
    this.log.warn({ newRoot: rec.fingerprint, oldRoot: old?.fingerprint, reason: waiting ? 'distribution window over' : 'every workload has the new root' }, 'root rotation: the new root signs from now on; the old root stays trusted until nothing uses it');
    this.background(this.writeRootsFile().then(() => this.writeCompatCopies(rec.certPem, key.export({ type: 'pkcs8', format: 'pem' }) as string)), 'cannot write roots.json');
    this.updateGauge();
    queueMicrotask(() => this.emit());
  }

  private liveCerts(): IssuedEntry[] {
    const now = this.now().getTime();
    return Object.values(this.issued.certs).filter((c) => Date.parse(c.notAfter) > now);
  }

  status(): CaStatus {
    this.maybePromote();
    this.retireExpired();
    const counts = new Map<string, number>();
    const live = this.liveCerts();
    for (const v of live) counts.set(v.root, (counts.get(v.root) ?? 0) + 1);
    const bundle = this.trustBundle().rootsPem;
    const roots: RootInfo[] = bundle.map((pem) => {
      const c = new X509Certificate(pem);
      const fp = fingerprintOf(pem);
      const rec = this.roots.find((r) => r.fingerprint === fp);
      return {
        fingerprint: fp,
        subject: c.subject.replace(/\n/g, ', '),
        notAfter: new Date(c.validTo).toISOString(),
        active: fp === this.signer.rootFingerprint,
        activeCerts: counts.get(fp) ?? 0,
        ...(rec?.retireAfter ? { retireAfter: rec.retireAfter } : {}),
      };
    });
    const old = roots.filter((r) => !r.active && r.retireAfter);
    const pending = this.pending;
    const phase = pending ? 'distributing' : old.length ? 'overlap' : 'idle';
    const completesBy = pending
      ? new Date(Date.parse(pending.since) + this.maxTtl * 1000).toISOString()
      : old.length ? old.map((r) => r.retireAfter!).sort().at(-1)! : undefined;
    return {
      mode: this.mode,
      trustDomain: this.trustDomain,
      signer: { subject: this.signer.cert.subject.replace(/\n/g, ', '), notAfter: new Date(this.signer.cert.validTo).toISOString(), fingerprint: fingerprintOf(derToPem(this.signer.certDer, 'CERTIFICATE')) },
      roots,
      rotation: {
        phase,
        inProgress: phase !== 'idle',
        awaitingNewBundle: pending ? live.filter((c) => Date.parse(c.issuedAt) < Date.parse(pending.since)).length : 0,
        remainingOnOldRoots: old.reduce((n, r) => n + r.activeCerts, 0),
        ...(completesBy ? { completesBy } : {}),
      },
    };
  }

  /** Writes pending state and stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    // emit() runs on a microtask after promotion/retirement; let it start its writes first.
    await new Promise((r) => setImmediate(r));
    while (this.pendingWrites.size) await Promise.all([...this.pendingWrites]);
    await this.flush();
  }

  /** Forces pending issuance tracking to disk (normally debounced to once a second). */
  async flush(): Promise<void> {
    if (this.opts.readOnly) return;
    this.flushing = this.flushing.then(async () => {
      if (!this.issuedDirty) return;
      this.issuedDirty = false;
      await writeFileAtomic(join(this.dir, 'issued.json'), JSON.stringify(this.issued));
    });
    return this.flushing;
  }

  // -------------------------------------------------------------------------

  /** State writes started from synchronous paths (issue); close() waits for them. */
  private background(p: Promise<unknown>, what: string): void {
    const tracked = p.catch((err) => this.log.error({ err: (err as Error).message }, what)).finally(() => this.pendingWrites.delete(tracked));
    this.pendingWrites.add(tracked);
  }

  private emit(): void {
    this.background(this.writeBundleFile(), 'cannot write trust-bundle.pem');
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'CA change listener failed');
      }
    }
  }

  /**
   * `<state-dir>/ca/trust-bundle.pem`: every root in the bundle, for agents'
   * `--ca-root-cert` (they re-read it, so a rotation does not strand them).
   */
  private async writeBundleFile(): Promise<void> {
    if (this.opts.readOnly) return;
    const text = this.trustBundle().rootsPem.join('');
    const path = join(this.dir, 'trust-bundle.pem');
    if ((await readFile(path, 'utf8').catch(() => '')) === text) return;
    await writeFileAtomic(path, text);
  }

  private updateGauge(): void {
    rootExpiry().set((Date.parse(this.signer.cert.validTo) - this.now().getTime()) / 1000);
  }

  private track(keyId: string, entry: IssuedEntry): void {
    this.issued.certs[keyId] = entry;
    this.issuedDirty = true;
    if (!this.flushTimer && !this.closed) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush().catch((err) => this.log.error({ err: (err as Error).message }, 'cannot write issued.json'));
      }, 1000);
      this.flushTimer.unref();
    }
    // Each phase of a rotation ends as soon as the last workload it waits for renews.
    if (this.pending) this.maybePromote();
    if (this.roots.some((r) => r.retireAfter)) this.retireExpired();
  }

  private latestNotAfter(root: string): number {
    let max = 0;
    for (const v of Object.values(this.issued.certs)) if (v.root === root) max = Math.max(max, Date.parse(v.notAfter));
    return max;
  }

  /** Drops retired roots whose overlap is over. */
  private retireExpired(): void {
    const now = this.now().getTime();
    const keep: RootRecord[] = [];
    let changed = false;
    for (const r of this.roots) {
      if (r.retireAfter && r.fingerprint !== this.signer?.rootFingerprint) {
        const stillUsed = Object.values(this.issued.certs).some((v) => v.root === r.fingerprint && Date.parse(v.notAfter) > now);
        if (Date.parse(r.retireAfter) <= now || !stillUsed) {
          changed = true;
          this.log.warn({ root: r.fingerprint, reason: stillUsed ? 'overlap window over' : 'every workload renewed' }, 'old root removed from the trust bundle: rotation complete');
          continue;
        }
      }
      keep.push(r);
    }
    if (!changed) return;
    this.roots = keep;
    this.background(this.writeRootsFile(), 'cannot write roots.json');
    queueMicrotask(() => this.emit());
  }

  private async loadIssued(): Promise<void> {
    try {
      const v = JSON.parse(await readFile(join(this.dir, 'issued.json'), 'utf8')) as IssuedFile;
      if (v && v.version === 2 && typeof v.certs === 'object') this.issued = v;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error({ err: (err as Error).message }, `${join(this.dir, 'issued.json')} is unreadable; issuance tracking restarts empty`);
    }
  }

  private async loadRootsFile(): Promise<RootsFile | undefined> {
    const path = join(this.dir, 'roots.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let v: RootsFile;
    try {
      v = JSON.parse(text) as RootsFile;
      if (v.version !== 1 || !Array.isArray(v.roots)) throw new Error('unexpected content');
      for (const r of v.roots) fingerprintOf(r.certPem);
    } catch (err) {
      throw new Error(`${path}: not a valid meshcd roots file (${(err as Error).message})`);
    }
    this.roots = v.roots;
    this.pending = v.pending && v.pendingSince && v.roots.some((r) => r.fingerprint === v.pending) ? { fingerprint: v.pending, since: v.pendingSince } : undefined;
    return v;
  }

  private async writeRootsFile(): Promise<void> {
    if (this.opts.readOnly) return;
    const active = this.mode === 'self-signed' ? this.signer?.rootFingerprint : undefined;
    const file: RootsFile = {
      version: 1,
      ...(active ? { active } : {}),
      ...(this.pending ? { pending: this.pending.fingerprint, pendingSince: this.pending.since } : {}),
      roots: this.roots,
    };
    // Chained so that two quick changes land on disk in the order they happened.
    const text = JSON.stringify(file, null, 2) + '\n';
    this.rootsWrite = this.rootsWrite.catch(() => undefined).then(() => writeFileAtomic(join(this.dir, 'roots.json'), text));
    await this.rootsWrite;
  }

  private createRoot(): { certPem: string; keyPem: string } {
    const alg = this.opts.rootKeyAlgorithm ?? 'rsa';
    const { privateKey, publicKey } = alg === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = this.now();
    // A distinct subject per root keeps chain building unambiguous during an overlap.
    const name = buildName([
      { oid: OID.organization, value: this.trustDomain },
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

  private async storeRoot(certPem: string, keyPem: string): Promise<void> {
    const fp = fingerprintOf(certPem).slice(0, 16);
    await mkdir(join(this.dir, 'roots'), { recursive: true, mode: 0o700 });
    await writeSecretFile(join(this.dir, 'roots', `${fp}-key.pem`), keyPem);
    await writeFileAtomic(join(this.dir, 'roots', `${fp}-cert.pem`), certPem);
  }

  private async loadOrCreateRoot(): Promise<void> {
    const file = await this.loadRootsFile();
    if (file?.active) {
      const rec = file.roots.find((r) => r.fingerprint === file.active);
      if (!rec) throw new Error(`${join(this.dir, 'roots.json')}: active root ${file.active} is not listed`);
      const keyPath = join(this.dir, 'roots', `${rec.fingerprint.slice(0, 16)}-key.pem`);
      const keyPem = await readFile(keyPath, 'utf8').catch(() => {
        throw new Error(`${keyPath}: the active root's key is missing`);
      });
      const key = createPrivateKey(keyPem);
      const cert = new X509Certificate(rec.certPem);
      if (!sameKey(cert, key)) throw new Error(`${keyPath}: key does not match the active root certificate`);
      this.signer = this.signerFromRoot(rec.certPem, key);
      await this.writeCompatCopies(rec.certPem, keyPem);
      return;
    }
    // First start, or a root put in place by hand with Istio's names.
    let certPem: string;
    let keyPem: string;
    const certPath = join(this.dir, 'root-cert.pem');
    const keyPath = join(this.dir, 'root-key.pem');
    const existing = await readFile(certPath, 'utf8').then((c) => c, () => undefined);
    if (existing) {
      certPem = existing;
      keyPem = await readFile(keyPath, 'utf8').catch(() => {
        throw new Error(`${keyPath}: missing (${certPath} exists)`);
      });
      const cert = new X509Certificate(certPem);
      if (!sameKey(cert, createPrivateKey(keyPem))) throw new Error(`${keyPath}: key does not match ${certPath}`);
      if (!cert.ca) throw new Error(`${certPath}: not a CA certificate`);
    } else {
      if (this.opts.readOnly) throw new Error(`${this.dir}: no CA here yet (it is created on the first start of "meshcd ca serve" or the control plane)`);
      ({ certPem, keyPem } = this.createRoot());
      this.log.info({ dir: this.dir, algorithm: this.opts.rootKeyAlgorithm ?? 'rsa' }, 'generated a new root CA');
    }
    await this.storeRoot(certPem, keyPem);
    const fp = fingerprintOf(certPem);
    if (!this.roots.some((r) => r.fingerprint === fp)) this.roots.push({ fingerprint: fp, certPem, createdAt: this.now().toISOString() });
    this.signer = this.signerFromRoot(certPem, createPrivateKey(keyPem));
    await this.writeRootsFile();
    await this.writeCompatCopies(certPem, keyPem);
  }

  private async writeCompatCopies(certPem: string, keyPem: string): Promise<void> {
    if (this.opts.readOnly) return;
    const certPath = join(this.dir, 'root-cert.pem');
    const current = await readFile(certPath, 'utf8').catch(() => '');
    if (current === certPem) return;
    await writeSecretFile(join(this.dir, 'root-key.pem'), keyPem);
    await writeFileAtomic(certPath, certPem);
  }

  private signerFromRoot(certPem: string, key: KeyObject): Signer {
    const cert = new X509Certificate(certPem);
    const issuerName = subjectNameOf(cert.raw);
    const keyId = keyIdentifier(spkiOf(cert.publicKey));
    return {
      key,
      cert,
      certDer: cert.raw,
      issuerName,
      keyId,
      leafBuilder: new LeafCertificateBuilder(issuerName, keyId, key),
      intermediatesPem: [],
      rootPem: certPem,
      rootFingerprint: fingerprintOf(certPem),
      ownRootsPem: [certPem],
    };
  }

  /** Loads and checks a plug-in CA folder; throws a message naming the file at fault. */
  private async loadPlugin(dir: string): Promise<Signer> {
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
    const now = this.now();
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
    const rootPem = rootsPem[roots.indexOf(root)]!;
    const issuerName = subjectNameOf(caCert.raw);
    const keyId = keyIdentifier(spkiOf(caCert.publicKey));
    return {
      key,
      cert: caCert,
      certDer: caCert.raw,
      issuerName,
      keyId,
      leafBuilder: new LeafCertificateBuilder(issuerName, keyId, key),
      intermediatesPem: intermediates,
      rootPem,
      rootFingerprint: fingerprintOf(rootPem),
      ownRootsPem: rootsPem,
    };
  }

  private startWatching(): void {
    const onEvent = () => {
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), 200);
      this.reloadTimer.unref();
    };
    const dirs = this.opts.pluginDir ? [this.opts.pluginDir, this.dir] : [this.dir];
    for (const d of dirs) {
      try {
        const w = watch(d, { persistent: false }, onEvent);
        w.on('error', (err) => this.log.error({ dir: d, err: err.message }, 'CA file watch failed'));
        this.watchers.push(w);
      } catch (err) {
        this.log.error({ dir: d, err: (err as Error).message }, 'cannot watch CA folder');
      }
    }
  }

  /** Re-reads the plug-in folder or roots.json (another process may have rotated). Keeps the old set on error. */
  async reload(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const before = this.signer.rootFingerprint + fingerprintOf(derToPem(this.signer.certDer, 'CERTIFICATE')) + this.trustBundle().rootsPem.join('');
      if (this.opts.pluginDir) {
        const next = await this.loadPlugin(this.opts.pluginDir);
        const file = await this.loadRootsFile().catch(() => undefined);
        if (!file) this.roots = [];
        if (next.rootFingerprint !== this.signer.rootFingerprint) {
          // The organisation changed root: keep trusting the old one during the overlap.
          const old = this.signer;
          const retireAfter = new Date(Math.max(this.now().getTime() + this.maxTtl * 1000, this.latestNotAfter(old.rootFingerprint))).toISOString();
          for (const pem of old.ownRootsPem) {
            const fp = fingerprintOf(pem);
            if (!next.ownRootsPem.some((p) => fingerprintOf(p) === fp) && !this.roots.some((r) => r.fingerprint === fp)) {
              this.roots.push({ fingerprint: fp, certPem: pem, createdAt: this.now().toISOString(), retireAfter });
            }
          }
          await this.writeRootsFile();
        }
        this.signer = next;
      } else {
        await this.loadOrCreateRoot();
      }
      const after = this.signer.rootFingerprint + fingerprintOf(derToPem(this.signer.certDer, 'CERTIFICATE')) + this.trustBundle().rootsPem.join('');
      if (before !== after) {
        this.log.info({ root: this.signer.rootFingerprint }, 'CA material reloaded');
        this.updateGauge();
        this.emit();
      }
      return true;
    } catch (err) {
      reloadErrors().inc();
      this.log.error({ err: (err as Error).message }, 'CA reload rejected; the previous CA material stays in use');
      return false;
    }
  }
}

/** True when `dir` holds a plug-in CA (its ca-cert.pem exists). */
export async function hasPluginFiles(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, 'ca-cert.pem'))).isFile();
  } catch {
    return false;
  }
}

/** Lists files in the CA state folder (for status output). */
export async function stateFiles(stateDir: string): Promise<string[]> {
  return readdir(join(stateDir, 'ca')).catch(() => []);
}

/** Hash of a bearer token, for comparisons that leak nothing about the token. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
