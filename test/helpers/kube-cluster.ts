// A real Kubernetes API server for tests, the way controller-runtime's envtest
// does it: etcd and kube-apiserver (built from their Go modules in
// test/interop/kube, pinned by its go.mod/go.sum) started on 127.0.0.1 with
// free ports, a temporary folder holding the serving certificate the API
// server makes for itself, a static token file, and a service-account signing
// key (so TokenRequest and TokenReview work). No kubelet, no controllers:
// pods are API objects, not processes, and EndpointSlices are written by the
// test as the EndpointSlice controller would.
//
// The three binaries (kube-apiserver, etcd, helm) are built once per source
// hash into $MESHCD_GO_PEERS_CACHE or node_modules/.cache/meshcd-go/ (see
// go-peers.ts); one build at a time across ava's worker processes (a lock
// folder). .ci/deps builds them ahead with the same hash.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goPeersCacheDir, goTool, INTEROP_ROOT } from './go-peers.js';
import { freePort } from './prometheus.js';

export const KUBE_INTEROP = join(INTEROP_ROOT, 'kube');
export const KUBE_TOOLS = ['kube-apiserver', 'etcd', 'helm'] as const;
export type KubeTool = (typeof KUBE_TOOLS)[number];
/** What `go build` is given, in KUBE_TOOLS order. */
const BUILD_TARGETS = ['k8s.io/kubernetes/cmd/kube-apiserver', './etcd', 'helm.sh/helm/v4/cmd/helm'];
/**
 * Link flags (test/interop/kube/ldflags, one line): stripped binaries, and
 * kube-apiserver reporting the release it is built from (`make` sets these
 * from Git; a module build has none).
 */
export const kubeLdflags = (): string => readFileSync(join(KUBE_INTEROP, 'ldflags'), 'utf8').trim();

/**
 * sha256 over go.mod, go.sum, ldflags and etcd/*.go (for each: name, NUL,
 * bytes, NUL), first 16 hex digits. .ci/deps computes the same with sha256sum.
 */
export function kubeToolsHash(): string {
  const h = createHash('sha256');
  const files = ['go.mod', 'go.sum', 'ldflags', ...readdirSync(join(KUBE_INTEROP, 'etcd')).filter((f) => f.endsWith('.go')).sort().map((f) => `etcd/${f}`)];
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(KUBE_INTEROP, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

export function kubeToolsDir(): string {
  return join(goPeersCacheDir(), `kube-${kubeToolsHash()}`);
}

let building: Promise<Record<KubeTool, string>> | undefined;

/** Paths of kube-apiserver, etcd and helm, built when the cache lacks them. */
export function kubeTools(): Promise<Record<KubeTool, string>> {
  building ??= buildKubeTools().catch((err) => {
    building = undefined;
    throw err;
  });
  return building;
}

function toolPaths(dir: string): Record<KubeTool, string> {
  return Object.fromEntries(KUBE_TOOLS.map((t) => [t, join(dir, t)])) as Record<KubeTool, string>;
}

async function buildKubeTools(): Promise<Record<KubeTool, string>> {
  const dir = kubeToolsDir();
  const paths = toolPaths(dir);
  const ready = () => KUBE_TOOLS.every((t) => existsSync(paths[t]));
  if (ready()) return paths;
  mkdirSync(goPeersCacheDir(), { recursive: true });
  const lock = `${dir}.lock`;
  // One build at a time: another worker holding the lock is waited for (a lock older than 40 min is stale).
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (ready()) return paths;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 40 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    if (ready()) return paths;
    const go = goTool();
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly -buildvcs=false' };
    const child = spawn(go, ['build', '-trimpath', `-ldflags=${kubeLdflags()}`, '-o', `${tmp}/`, ...BUILD_TARGETS], { cwd: KUBE_INTEROP, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`go build ${BUILD_TARGETS.join(' ')} in ${KUBE_INTEROP} failed (exit ${code}):\n${err.trim()}`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return paths;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface StaticUser {
  token: string;
  user: string;
  groups?: string[];
}

export interface TestCluster {
  /** `https://127.0.0.1:<port>` */
  server: string;
  /** PEM roots for the API server's self-made serving certificate. */
  caPem: string;
  /** A token of `admin` in system:masters. */
  adminToken: string;
  /** A kubeconfig file for `admin` (mode 0600), and one for any token. */
  kubeconfig: string;
  kubeconfigFor(token: string, name: string): Promise<string>;
  /** `http://127.0.0.1:<port>` of etcd's client API. */
  etcd: string;
  /** The temporary folder (removed by stop). */
  dir: string;
  /** A raw request to the API server (JSON in and out); as admin unless a token is given. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** Compact etcd at its current revision (physical): every older resourceVersion is gone. */
  compactEtcd(): Promise<number>;
  /** The audit log's events (with `audit: true`): who called what, and the answer's status. */
  auditEvents(): Promise<AuditEvent[]>;
  /** Stop the API server only (etcd keeps its data), and start it again on the same port. */
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
  stage: string;
}

export interface ClusterOptions {
  /** Write an audit log of every request (Metadata level), read with auditEvents(). */
  audit?: boolean;
  /** kube-apiserver --watch-cache (default true); false sends every watch to etcd, so compaction alone makes an old resourceVersion 410 Gone. */
  watchCache?: boolean;
  /** Extra users for the static token file. */
  users?: StaticUser[];
  readyTimeoutMs?: number;
  extraArgs?: string[];
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  done: boolean;
}

function startProc(bin: string, args: string[], onOutput: (s: string) => void): Proc {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, done: false, exited: Promise.resolve() };
  p.exited = new Promise<void>((r) =>
    child.once('exit', () => {
      p.done = true;
      r();
    }),
  );
  child.once('error', (err) => onOutput(`\nspawn ${bin}: ${err.message}`));
  child.stdout!.on('data', (c: Buffer) => onOutput(c.toString()));
  child.stderr!.on('data', (c: Buffer) => onOutput(c.toString()));
  return p;
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p || p.done) return;
  p.child.kill('SIGTERM');
  const killer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(killer);
}

function rawRequest(url: string, opts: { method: string; token?: string; caPem?: string; body?: unknown; timeoutMs?: number }): Promise<{ status: number; body: any }> {
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = opts.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const fn = u.protocol === 'https:' ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(u, { method: opts.method, headers, ...(opts.caPem ? { ca: opts.caPem } : {}), timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (e.g. /readyz)
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function kubeconfigYaml(server: string, caPem: string, token: string, user: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    `    user: ${user}`,
    'current-context: test',
    '',
  ].join('\n');
}

/** Starts etcd and kube-apiserver on loopback and waits until /readyz answers ok. */
export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const tools = await kubeTools();
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-'));
  let output = '';
  const onOutput = (s: string) => (output = (output + s).slice(-16_000));
  const adminToken = randomBytes(24).toString('hex');
  const users: StaticUser[] = [{ token: adminToken, user: 'admin', groups: ['system:masters'] }, ...(opts.users ?? [])];
  await writeFile(join(dir, 'tokens.csv'), users.map((u, i) => `${u.token},${u.user},uid-${i}${u.groups?.length ? `,"${u.groups.join(',')}"` : ''}`).join('\n') + '\n', { mode: 0o600 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProc(tools.etcd, [
    '--name=test', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=test=${peerUrl}`,
    '--unsafe-no-fsync', '--log-level=warn',
  ], onOutput);
  const server = `https://127.0.0.1:${apiPort}`;
  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${join(dir, 'certs')}`,
    `--secure-port=${apiPort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.96.0.0/16',
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    // No controller-manager creates service accounts' defaults here; pods name theirs.
    '--disable-admission-plugins=ServiceAccount',
    '--enable-priority-and-fairness=false',
    // The lease reconciler would write 127.0.0.1 into the kubernetes Service's endpoints, which validation refuses.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true', '--profiling=false',
    `--watch-cache=${opts.watchCache ?? true}`,
    ...(opts.audit ? [`--audit-policy-file=${join(dir, 'audit-policy.yaml')}`, `--audit-log-path=${join(dir, 'audit.log')}`, '--audit-log-mode=blocking'] : []),
    ...(opts.extraArgs ?? []),
  ];
  if (opts.audit) await writeFile(join(dir, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n');
  let api: Proc | undefined;
  const request = (method: string, path: string, body?: unknown, token?: string) => rawRequest(server + path, { method, token: token ?? adminToken, caPem, body });
  let caPem = '';
  const stopAll = async () => {
    await stopProc(api);
    await stopProc(etcd);
  };
  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (etcd.done || api?.done) throw new Error(`${etcd.done ? 'etcd' : 'kube-apiserver'} exited before the API server was ready:\n${output.slice(-6000)}`);
      const crt = join(dir, 'certs', 'apiserver.crt');
      if (!caPem && existsSync(crt)) caPem = await readFile(crt, 'utf8');
      if (caPem) {
        try {
          const r = await request('GET', '/readyz');
          if (r.status === 200) return;
        } catch {
          // not listening yet
        }
      }
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready at ${server} after ${opts.readyTimeoutMs ?? 120_000} ms:\n${output.slice(-6000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const startApiserver = async () => {
    api = startProc(tools['kube-apiserver'], apiArgs, onOutput);
    await waitReady();
  };
  try {
    await startApiserver();
  } catch (err) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const kubeconfigFor = async (token: string, name: string) => {
    const file = join(dir, `kubeconfig-${name}`);
    await writeFile(file, kubeconfigYaml(server, caPem, token, name), { mode: 0o600 });
    return file;
  };
  const kubeconfig = await kubeconfigFor(adminToken, 'admin');
  return {
    server,
    get caPem() {
      return caPem;
    },
    adminToken,
    kubeconfig,
    kubeconfigFor,
    etcd: etcdUrl,
    dir,
    request,
    async compactEtcd() {
      const range = await rawRequest(`${etcdUrl}/v3/kv/range`, { method: 'POST', body: { key: Buffer.from('/').toString('base64') } });
      const revision = Number(range.body?.header?.revision);
      if (!Number.isFinite(revision) || revision < 1) throw new Error(`etcd /v3/kv/range gave no revision: ${JSON.stringify(range.body).slice(0, 300)}`);
      const c = await rawRequest(`${etcdUrl}/v3/kv/compaction`, { method: 'POST', body: { revision: String(revision), physical: true } });
      if (c.status !== 200) throw new Error(`etcd compaction at ${revision}: HTTP ${c.status} ${JSON.stringify(c.body).slice(0, 300)}`);
      return revision;
    },
    async auditEvents() {
      const text = await readFile(join(dir, 'audit.log'), 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);
    },
    stopApiserver: () => stopProc(api),
    startApiserver,
    log: () => output,
    async stop() {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
