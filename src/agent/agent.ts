// The workload agent: keeps one workload's identity certificate fresh.
//
// The private key is generated here and never leaves the machine. It is kept
// across renewals on purpose: gRPC's file watcher reads cert-chain.pem and
// key.pem separately, so replacing both would open a window where it pairs a
// new certificate with an old key and refuses connections; with a stable key
// a renewal changes one file, atomically.

import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { writeFileAtomic, writeSecretFile } from '../util/fs.js';
import { logger } from '../util/log.js';
import { metric } from '../util/metrics.js';
import { CaCallError, requestCertificate } from '../ca/client.js';
import { buildCsr, splitPemCerts, uriSans } from '../ca/x509.js';
import { parseSpiffeId, spiffeId as workloadSpiffeId } from '../xds/names.js';

export interface AgentOptions {
  /** host:port of the CA (meshcd's TLS port, 15012). */
  caAddress: string;
  /** PEM file with the root(s) that validate the CA's TLS certificate; re-read on every attempt. */
  caRootCertFile: string;
  /** File holding a bootstrap or service-account token (never on the command line). */
  tokenFile?: string;
  namespace: string;
  serviceAccount: string;
  /** Where cert-chain.pem, key.pem (0600) and root-cert.pem are written. */
  outputDir: string;
  /** Requested certificate lifetime; 0 or absent lets the CA choose (24 h). */
  ttlSeconds?: number;
  keyAlgorithm?: 'ec' | 'rsa';
  /** TLS name to expect on the CA's certificate when the address is not one of its names. */
  caServerName?: string;
  /** Renew when this fraction of the certificate's life has passed (default 0.5). */
  renewAtFraction?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** gRPC's file watcher refresh written into the bootstrap: warn when a certificate's life is too short for it. */
  fileRefreshSeconds?: number;
}

/**
 * The longest refresh interval for gRPC's file watcher that never leaves it
 * holding an expired certificate. The watcher reads cert-chain.pem only every
 * interval; a certificate it reads has at least (1 - renewAt) of its life
 * left (it is renewed then), and half of that is kept as margin for a slow
 * renewal. With 4 s certificates renewed at half life this is 1 s; with 24 h
 * ones far more than the 60 s default.
 */
export function maxRefreshSeconds(ttlSeconds: number, renewAtFraction = 0.5): number {
  // (the epsilon keeps 100 s at 0.8 from flooring 9.999… to 9)
  return Math.max(1, Math.floor((ttlSeconds * (1 - renewAtFraction)) / 2 + 1e-9));
}

export interface IdentityMaterial {
  certChainPem: string;
  keyPem: string;
  rootsPem: string;
  notAfter: Date;
  spiffeId: string;
  /** When the agent got it: the CA backdates notBefore, so life is counted from here. */
  receivedAt: Date;
}

const expirySeconds = () => metric('gauge', 'meshcd_agent_cert_expiry_seconds', 'Seconds until the served workload certificate expires', ['identity']);
const renewals = () => metric('counter', 'meshcd_agent_renewals_total', 'Certificate requests by the agent, by result', ['identity', 'result']);
const expiring = () => metric('gauge', 'meshcd_agent_cert_expiring', '1 when the served certificate is past 75% of its life (or expired) and could not be renewed', ['identity']);

export class WorkloadAgent {
  private key: KeyObject | undefined;
  private keyPem = '';
  private material: IdentityMaterial | undefined;
  private bundle: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private refreshWarned = false;
  private listeners = new Set<(m: IdentityMaterial) => void>();
  private readonly log = logger('agent');
  private readySignal!: () => void;
  /** Resolves when the agent first has a valid certificate (from disk or from the CA). */
  readonly ready: Promise<void>;

  constructor(private readonly o: AgentOptions) {
    this.ready = new Promise((r) => (this.readySignal = r));
  }

  get identity(): string {
    return this.material?.spiffeId ?? `ns/${this.o.namespace}/sa/${this.o.serviceAccount}`;
  }

  current(): IdentityMaterial | undefined {
    return this.material;
  }

  /** Called after each successful renewal (and once for material found on disk). */
  onUpdate(listener: (m: IdentityMaterial) => void): () => void {
    this.listeners.add(listener);
    if (this.material) listener(this.material);
    return () => this.listeners.delete(listener);
  }

  /** Loads valid material from the output folder if any, then starts the renewal loop. Does not wait for the CA. */
  async start(): Promise<void> {
    await this.loadExisting();
    if (!this.key) {
      const { privateKey } = this.o.keyAlgorithm === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      this.key = privateKey;
      this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    }
    if (this.material && !this.dueForRenewal()) {
      this.readySignal();
      this.publish();
      this.schedule(this.renewDelayMs());
    } else {
      if (this.material) this.publish();
      this.schedule(0);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
  }

  /** Renews now (used by tests and by SIGHUP). */
  async renewNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.attempt();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.attempt(), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
  }

  private lifetime(): { start: number; end: number } | undefined {
    if (!this.material) return undefined;
    return { start: this.material.receivedAt.getTime(), end: this.material.notAfter.getTime() };
  }

  private renewDelayMs(): number {
    const l = this.lifetime();
    if (!l) return 0;
    const f = this.o.renewAtFraction ?? 0.5;
    return l.start + (l.end - l.start) * f - Date.now();
  }

  private dueForRenewal(): boolean {
    return this.renewDelayMs() <= 0;
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.renew();
      this.failures = 0;
      expiring().set({ identity: this.identity }, 0);
      this.schedule(this.renewDelayMs());
    } catch (err) {
      this.failures++;
      renewals().inc({ identity: this.identity, result: 'error' });
      const min = this.o.minBackoffMs ?? 1000;
      const max = this.o.maxBackoffMs ?? 30_000;
      const backoff = Math.min(max, min * 2 ** Math.min(this.failures - 1, 16)) * (0.8 + Math.random() * 0.4);
      this.warnIfExpiring(err as Error);
      this.log.warn({ identity: this.identity, attempt: this.failures, retryInMs: Math.round(backoff), err: (err as Error).message }, 'certificate request failed; retrying');
      this.schedule(backoff);
    }
  }

  /** Loud when the served certificate nears expiry and renewal keeps failing: an expired identity breaks every connection. */
  private warnIfExpiring(err: Error): void {
    const l = this.lifetime();
    if (!l) return;
    const left = l.end - Date.now();
    if (left <= 0) {
      expiring().set({ identity: this.identity }, 1);
      this.log.error({ identity: this.identity, expiredAt: new Date(l.end).toISOString(), err: err.message }, 'WORKLOAD CERTIFICATE EXPIRED: peers will refuse this workload until the CA is reachable');
    } else if (left < (l.end - l.start) * 0.25) {
      expiring().set({ identity: this.identity }, 1);
      this.log.error({ identity: this.identity, expiresInSeconds: Math.round(left / 1000), err: err.message }, 'workload certificate expires soon and cannot be renewed');
    }
  }

  private async readToken(): Promise<string | undefined> {
    if (!this.o.tokenFile) return undefined;
    try {
      return (await readFile(this.o.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new Error(`${this.o.tokenFile}: cannot read the token file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  private async caRoots(): Promise<string> {
    let fromFile = '';
    try {
      fromFile = await readFile(this.o.caRootCertFile, 'utf8');
    } catch (err) {
      if (!this.bundle.length) throw new Error(`${this.o.caRootCertFile}: cannot read the CA root certificate (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const all = [...splitPemCerts(fromFile), ...this.bundle];
    if (!all.length) throw new Error(`${this.o.caRootCertFile}: no PEM certificate in it`);
    return [...new Set(all)].join('');
  }

  private async renew(): Promise<void> {
    const csrPem = buildCsr(this.key!, { uris: [workloadSpiffeId(this.trustDomainHint(), this.o.namespace, this.o.serviceAccount)] });
    const caRootsPem = await this.caRoots();
    const base = {
      address: this.o.caAddress, caRootsPem, csrPem,
      ...(this.o.ttlSeconds ? { ttlSeconds: this.o.ttlSeconds } : {}),
      ...(this.o.caServerName ? { serverName: this.o.caServerName } : {}),
    };
    const l = this.lifetime();
    let res;
    if (this.material && l && l.end > Date.now() + 250) {
      // Renewal authenticates with the current certificate (mTLS).
      try {
        res = await requestCertificate({ ...base, clientCert: { certChainPem: this.material.certChainPem, keyPem: this.keyPem } });
      } catch (err) {
        if (!(err instanceof CaCallError && err.code === grpc.status.UNAUTHENTICATED) || !this.o.tokenFile) throw err;
        this.log.warn({ identity: this.identity, err: err.message }, 'renewal with the current certificate refused; falling back to the token');
      }
    }
    if (!res) {
      const token = await this.readToken();
      if (token === undefined && !this.material) throw new Error('no credentials: give --token-file for the first certificate');
      res = await requestCertificate({ ...base, ...(token !== undefined ? { token } : {}) });
    }
    if (res.certChainPem.length < 2) throw new Error(`CA ${this.o.caAddress}: response has no chain`);
    // Istio's response ends with the root; the files hold leaf + intermediates and the whole bundle.
    const chain = res.certChainPem.slice(0, -1);
    const leaf = new X509Certificate(chain[0]!);
    if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(this.key!).export({ type: 'spki', format: 'der' }))) {
      throw new Error(`CA ${this.o.caAddress}: returned a certificate for another key`);
    }
    const spiffeId = uriSans(leaf)[0] ?? '';
    if (!spiffeId.endsWith(`/ns/${this.o.namespace}/sa/${this.o.serviceAccount}`)) {
      throw new Error(`CA ${this.o.caAddress}: issued "${spiffeId}", not the configured ns/${this.o.namespace}/sa/${this.o.serviceAccount} (check the token's identity)`);
    }
    this.bundle = res.trustBundlePem;
    this.checkRefresh(leaf);
    const material: IdentityMaterial = {
      certChainPem: chain.join(''),
      keyPem: this.keyPem,
      rootsPem: res.trustBundlePem.join(''),
      notAfter: new Date(leaf.validTo),
      spiffeId,
      receivedAt: new Date(),
    };
    await this.write(material);
    this.material = material;
    renewals().inc({ identity: this.identity, result: 'ok' });
    this.log.info({ identity: spiffeId, serial: leaf.serialNumber, notAfter: material.notAfter.toISOString(), roots: res.trustBundlePem.length }, 'workload certificate renewed');
    this.readySignal();
    this.publish();
  }

  /** The CA decides the lifetime (without --ttl, or clamped): say so when gRPC's file watcher would outlive it. */
  private checkRefresh(leaf: X509Certificate): void {
    const refresh = this.o.fileRefreshSeconds;
    if (refresh === undefined || this.refreshWarned) return;
    const life = (Date.parse(leaf.validTo) - Date.now()) / 1000;
    const limit = maxRefreshSeconds(life, this.o.renewAtFraction ?? 0.5);
    if (refresh <= limit) return;
    this.refreshWarned = true;
    this.log.warn({ identity: this.identity, lifeSeconds: Math.round(life), refreshSeconds: refresh, maxRefreshSeconds: limit }, "certificates live too short for gRPC's file watcher refresh in the bootstrap: it would serve an expired certificate between reads; give --ttl or a shorter --cert-refresh-interval");
  }

  private trustDomainHint(): string {
    const id = this.material?.spiffeId;
    return (id ? parseSpiffeId(id)?.trustDomain : undefined) ?? 'cluster.local';
  }

  private async write(m: IdentityMaterial): Promise<void> {
    const dir = this.o.outputDir;
    const existingKey = await readFile(join(dir, 'key.pem'), 'utf8').catch(() => '');
    // Roots first: a peer's new certificate may already chain to a root that only the new bundle has.
    await writeFileAtomic(join(dir, 'root-cert.pem'), m.rootsPem);
    if (existingKey !== m.keyPem) await writeSecretFile(join(dir, 'key.pem'), m.keyPem);
    await writeFileAtomic(join(dir, 'cert-chain.pem'), m.certChainPem);
  }

  private publish(): void {
    const m = this.material!;
    expirySeconds().set({ identity: m.spiffeId }, (m.notAfter.getTime() - Date.now()) / 1000);
    for (const l of this.listeners) {
      try {
        l(m);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'agent update listener failed');
      }
    }
    // Keep the expiry gauge honest between renewals and warn before expiry even if no attempt is running.
    if (this.watchdog) clearTimeout(this.watchdog);
    const l = this.lifetime()!;
    const warnAt = l.start + (l.end - l.start) * 0.8 - Date.now();
    if (warnAt > 0 && !this.stopped) {
      this.watchdog = setTimeout(() => {
        if (this.material === m) this.warnIfExpiring(new Error('not renewed by 80% of its life'));
      }, Math.min(warnAt, 2 ** 31 - 1));
      this.watchdog.unref();
    }
  }

  private async loadExisting(): Promise<void> {
    const dir = this.o.outputDir;
    let certPem: string;
    let keyPem: string;
    let rootsPem: string;
    try {
      [certPem, keyPem, rootsPem] = await Promise.all(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(dir, f), 'utf8')));
    } catch {
      return;
    }
    try {
      const key = createPrivateKey(keyPem!);
      const leaf = new X509Certificate(splitPemCerts(certPem!)[0]!);
      const spiffeId = uriSans(leaf)[0] ?? '';
      if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))) throw new Error('key.pem does not match cert-chain.pem');
      if (!spiffeId.endsWith(`/ns/${this.o.namespace}/sa/${this.o.serviceAccount}`)) throw new Error(`cert-chain.pem is for ${spiffeId}`);
      this.key = key;
      this.keyPem = keyPem!;
      this.bundle = splitPemCerts(rootsPem!);
      if (Date.parse(leaf.validTo) > Date.now()) {
        const written = (await stat(join(dir, 'cert-chain.pem'))).mtime;
        this.material = { certChainPem: certPem!, keyPem: keyPem!, rootsPem: rootsPem!, notAfter: new Date(leaf.validTo), spiffeId, receivedAt: written };
        this.log.info({ identity: spiffeId, notAfter: leaf.validTo }, 'using the certificate found in the output folder');
      }
    } catch (err) {
      this.log.warn({ dir, err: (err as Error).message }, 'ignoring existing certificate files');
    }
  }
}
