// The signing authority: issues workload and server certificates, and runs
// the root rotation.
//
// The rooms around it: `signer.ts` loads the signing material (a generated
// root, or a plug-in folder with Istio's names, re-read on change; a bad new
// set keeps the old one); `store.ts` keeps the CA's files (atomic writes,
// `roots.json` as the commit point); `rotation.ts` decides the rotation's
// next state as a pure function. This file runs that decision's effects on
// issue, on explicit calls (rotate, reload, open) and on the timer the
// decision asks for. No getter changes state.
//
// Live certificates are tracked per public key in `issued.json` (the agent
// keeps its key across renewals, so a key is one workload instance).

import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { TrustBundle } from '../api/types.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { buildCertificate, buildName, CsrError, derToPem, OID, parseCsr, parseCsrAsync, randomSerial, spkiOf, type ParsedCsr } from './x509.js';
import { advance, extraBundleRoots, startRotation, summarize, type RotationState, type RotationStep } from './rotation.js';
import { BACKDATE_SECONDS, createRoot, fingerprintOf, loadPluginMaterial, loadSelfSignedMaterial, signerFromRoot, watchFolders, type LoadedMaterial, type Signer } from './signer.js';
import { CaStore, type IssuedFile } from './store.js';
import { spiffeId } from '../xds/names.js';
import { CaRequestError, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, type CaOptions, type CaStatus, type IssueRequest, type IssuedWorkloadCert, type RootInfo } from './types.js';

export { fingerprintOf, hasPluginFiles } from './signer.js';
export { CaRequestError, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, type CaOptions, type CaStatus, type IssueRequest, type IssuedWorkloadCert, type RootInfo } from './types.js';
export { stateFiles } from './store.js';

const issuedTotal = () => metric('counter', 'meshcd_ca_certs_issued_total', 'Workload certificates issued by the CA');
const refusedTotal = () => metric('counter', 'meshcd_ca_refused_total', 'Certificate requests refused, by reason', ['reason']);
const rootExpiry = () => metric('gauge', 'meshcd_ca_root_expiry_seconds', 'Seconds until the active root (or plug-in signing) certificate expires');
const reloadErrors = () => metric('counter', 'meshcd_ca_reload_errors_total', 'Plug-in CA or roots.json reloads rejected (the previous set stays in use)');

export function countRefusal(reason: string): void {
  refusedTotal().inc({ reason });
}

export class CertificateAuthority {
  readonly trustDomain: string;
  private readonly store: CaStore;
  private readonly log = logger('ca');
  private readonly now: () => Date;
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly minTtl: number;
  private signer!: Signer;
  private rotation: RotationState = { active: '', roots: [] };
  /** The pending root's key, loaded when the rotation starts or is read from roots.json: promotion does no I/O. */
  private pendingSigner: Signer | undefined;
  private issued: IssuedFile = { version: 2, certs: {} };
  private issuedDirty = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;
  private listeners = new Set<() => void>();
  private emitQueued = false;
  private closed = false;
  private pendingWrites = new Set<Promise<unknown>>();
  private bundleCache: { key: string; signer: Signer; rootsPem: string[] } | undefined;

  private constructor(private readonly opts: CaOptions) {
    this.trustDomain = opts.trustDomain ?? 'cluster.local';
    this.store = new CaStore(opts.stateDir, opts.readOnly ?? false);
    this.now = opts.now ?? (() => new Date());
    this.defaultTtl = opts.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.maxTtl = opts.maxTtlSeconds ?? MAX_TTL_SECONDS;
    this.minTtl = opts.minTtlSeconds ?? 60;
    if (this.defaultTtl > this.maxTtl) throw new Error(`default TTL ${this.defaultTtl}s is above the maximum ${this.maxTtl}s`);
  }

  /** Opens the CA: loads or creates the root, or loads the plug-in folder. Throws with a clear message on bad files. */
  static async open(opts: CaOptions): Promise<CertificateAuthority> {
    const ca = new CertificateAuthority(opts);
    // A plug-in folder is checked before anything is created in the state folder.
    if (!opts.pluginDir) await ca.store.ensureDir();
    const issued = await ca.store.readIssued();
    if (issued.problem) ca.log.error({ err: issued.problem }, `${ca.store.path('issued.json')} is unreadable; issuance tracking restarts empty`);
    ca.issued = issued.file;
    const loaded = await ca.load();
    ca.adopt(loaded);
    if (opts.pluginDir) await ca.store.ensureDir();
    ca.updateGauge();
    await ca.store.writeBundle(ca.trustBundle().rootsPem.join(''));
    // A phase may have ended while the CA was down.
    ca.step();
    if (opts.watch) ca.stopWatching = watchFolders(opts.pluginDir ? [opts.pluginDir, ca.store.dir] : [ca.store.dir], () => void ca.reload(), ca.log);
    return ca;
  }

  get mode(): 'self-signed' | 'plugin' {
    return this.opts.pluginDir ? 'plugin' : 'self-signed';
  }

  spiffeId(namespace: string, serviceAccount: string): string {
    return spiffeId(this.trustDomain, namespace, serviceAccount);
  }

  /** Called whenever the signer or the trust bundle changes (reload, rotation, retirement). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Roots that validate workload certificates now: the signer's own root(s), a pending root, retired roots in their overlap window. */
  trustBundle(): TrustBundle {
    // Called on every CSR response: rebuilt only when roots, signer or rotation changed.
    const extra = extraBundleRoots(this.rotation);
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
    for (const r of this.rotation.roots) {
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
   * issue() for servers: the CSR's signature is checked and the certificate
   * signed on libuv's thread pool, so the gRPC API keeps serving while the
   * other core does the public-key work.
   */
  async issueAsync(req: IssueRequest): Promise<IssuedWorkloadCert> {
    let csr: ParsedCsr;
    try {
      csr = await parseCsrAsync(req.csrPem);
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
    const now = this.now();
    const created = createRoot(this.opts.rootKeyAlgorithm ?? 'rsa', this.trustDomain, now);
    const fingerprint = fingerprintOf(created.certPem);
    const started = startRotation(this.rotation, { fingerprint, certPem: created.certPem, createdAt: now.toISOString() }, now.getTime());
    await this.store.storeRoot(fingerprint, created.certPem, created.keyPem);
    this.pendingSigner = signerFromRoot(created.certPem, createPrivateKey(created.keyPem));
    this.log.warn({ oldRoot: this.signer.rootFingerprint, newRoot: fingerprint }, 'root rotation started: new root added to the trust bundle; it signs once every workload has it');
    this.apply(started);
    await this.store.settle();
    this.step();
    return this.status();
  }

  /** Runs what the rotation says is due now (the timer does this on its own; tests and tools call it). */
  checkRotation(): CaStatus {
    this.step();
    return this.status();
  }

  /** A view: changes nothing, even when a phase is due (the timer, the next issue or checkRotation() moves it). */
  status(): CaStatus {
    const bundle = this.trustBundle().rootsPem;
    const fps = bundle.map(fingerprintOf);
    const s = summarize(this.rotation, this.issued.certs, this.now().getTime(), this.maxTtl * 1000, fps);
    const roots: RootInfo[] = bundle.map((pem, i) => {
      const c = new X509Certificate(pem);
      const fp = fps[i]!;
      const rec = this.rotation.roots.find((r) => r.fingerprint === fp);
      return {
        fingerprint: fp,
        subject: c.subject.replace(/\n/g, ', '),
        notAfter: new Date(c.validTo).toISOString(),
        active: fp === this.signer.rootFingerprint,
        activeCerts: s.liveByRoot.get(fp) ?? 0,
        ...(rec?.retireAfter ? { retireAfter: rec.retireAfter } : {}),
      };
    });
    return {
      mode: this.mode,
      trustDomain: this.trustDomain,
      signer: { subject: this.signer.cert.subject.replace(/\n/g, ', '), notAfter: new Date(this.signer.cert.validTo).toISOString(), fingerprint: fingerprintOf(derToPem(this.signer.certDer, 'CERTIFICATE')) },
      roots,
      rotation: {
        phase: s.phase,
        inProgress: s.phase !== 'idle',
        awaitingNewBundle: s.awaitingNewBundle,
        remainingOnOldRoots: s.remainingOnOldRoots,
        ...(s.completesBy ? { completesBy: s.completesBy } : {}),
      },
    };
  }

  /** Writes pending state and stops watching. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWatching?.();
    this.stopWatching = undefined;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.flushTimer = undefined;
    // A queued change notification starts its writes on a microtask; let it run first.
    await new Promise((r) => setImmediate(r));
    while (this.pendingWrites.size) await Promise.all([...this.pendingWrites]);
    await this.flush();
  }

  /** Forces pending issuance tracking to disk (normally debounced to once a second); expired entries are dropped. */
  async flush(): Promise<void> {
    if (!this.issuedDirty) return this.store.settle();
    this.issuedDirty = false;
    const now = this.now().getTime();
    for (const [k, v] of Object.entries(this.issued.certs)) if (Date.parse(v.notAfter) <= now) delete this.issued.certs[k];
    await this.store.writeIssued(this.issued);
  }

  /** Re-reads the plug-in folder or roots.json (another process may have rotated). Keeps the old set on error. */
  async reload(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const before = this.fingerprintOfState();
      const loaded = await this.load();
      if (this.closed) return false;
      this.adopt(loaded);
      this.step();
      if (before !== this.fingerprintOfState()) {
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

  // -------------------------------------------------------------------------
  // The rotation's runner.

  /** Asks the rotation what is due now and runs its effects. */
  private step(): void {
    this.apply(advance({
      state: this.rotation,
      issued: this.issued.certs,
      now: this.now().getTime(),
      maxTtlMs: this.maxTtl * 1000,
      signable: new Set(this.pendingSigner ? [this.pendingSigner.rootFingerprint] : []),
    }));
  }

  private apply(r: RotationStep): void {
    this.rotation = r.state;
    for (const e of r.effects) {
      switch (e.type) {
        case 'WriteRoots':
          this.background(this.store.writeRoots(this.rotation, this.mode === 'self-signed'), 'cannot write roots.json');
          break;
        case 'Promote': {
          const next = this.pendingSigner!;
          this.signer = next;
          this.pendingSigner = undefined;
          this.log.warn({ newRoot: e.root, oldRoot: e.previous, reason: e.reason }, 'root rotation: the new root signs from now on; the old root stays trusted until nothing uses it');
          this.background(this.store.writeCompatCopies(next.rootPem, next.key.export({ type: 'pkcs8', format: 'pem' }) as string), 'cannot write root-cert.pem');
          this.updateGauge();
          break;
        }
        case 'DropPending':
          this.pendingSigner = undefined;
          break;
        case 'Retire':
          this.log.warn({ root: e.root, reason: e.reason }, 'old root removed from the trust bundle: rotation complete');
          break;
        case 'Distribute':
          this.emit();
          break;
      }
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (r.wakeAt !== undefined && !this.closed && !this.opts.readOnly) {
      this.wakeTimer = setTimeout(() => this.step(), Math.max(0, Math.min(r.wakeAt - this.now().getTime(), 2 ** 31 - 1)));
      this.wakeTimer.unref();
    }
  }

  /** Signer root, signer certificate and bundle: a change of any of these is news for listeners. */
  private fingerprintOfState(): string {
    return this.signer.rootFingerprint + fingerprintOf(derToPem(this.signer.certDer, 'CERTIFICATE')) + this.trustBundle().rootsPem.join('');
  }

  private load(): Promise<LoadedMaterial> {
    const now = this.now();
    return this.opts.pluginDir
      ? loadPluginMaterial(this.store, this.opts.pluginDir, this.signer as Signer | undefined, this.issued.certs, now, this.maxTtl * 1000)
      : loadSelfSignedMaterial(this.store, { trustDomain: this.trustDomain, rootKeyAlgorithm: this.opts.rootKeyAlgorithm ?? 'rsa', readOnly: this.opts.readOnly ?? false, now, log: this.log });
  }

  private adopt(l: LoadedMaterial): void {
    this.signer = l.signer;
    this.rotation = l.rotation;
    this.pendingSigner = l.pendingSigner;
  }

  /** State writes started from synchronous paths (issue); close() waits for them. */
  private background(p: Promise<unknown>, what: string): void {
    const tracked = p.catch((err) => this.log.error({ err: (err as Error).message }, what)).finally(() => this.pendingWrites.delete(tracked));
    this.pendingWrites.add(tracked);
  }

  /**
   * Tells listeners (once per burst, on a microtask) and rewrites
   * `<state-dir>/ca/trust-bundle.pem`, which agents' `--ca-root-cert` re-read,
   * so a rotation does not strand them.
   */
  private emit(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      this.background(this.store.writeBundle(this.trustBundle().rootsPem.join('')), 'cannot write trust-bundle.pem');
      for (const l of this.listeners) {
        try {
          l();
        } catch (err) {
          this.log.error({ err: (err as Error).message }, 'CA change listener failed');
        }
      }
    });
  }

  private updateGauge(): void {
    rootExpiry().set((Date.parse(this.signer.cert.validTo) - this.now().getTime()) / 1000);
  }

  private track(keyId: string, entry: IssuedFile['certs'][string]): void {
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
    this.step();
  }
}


/** Hash of a bearer token, for comparisons that leak nothing about the token. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
