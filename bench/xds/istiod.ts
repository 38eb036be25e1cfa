// istiod beside meshcd: pilot-discovery built from the istio.io/istio module
// that bench/istiod/go.mod pins (Go's `tool` directive names istio's own
// pilot/cmd/pilot-discovery main; nothing is patched), cached by a hash of
// go.mod and go.sum so that a second run does not rebuild, and started
// without Kubernetes: its file config source (--configDir, watched) holds
// the same mesh files meshcd reads, ServiceEntries and WorkloadEntries for
// discovery, `--registries` empty. Its CA is meshcd's root plugged in
// (ROOT_CA_DIR with Istio's ca-cert.pem / ca-key.pem / cert-chain.pem /
// root-cert.pem), so the bench's clients present the same client
// certificates on istiod's TLS port (15012's ClientCertAuthenticator checks
// the node's namespace and service account against them, as meshcd does).

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { now } from './proc.js';
import type { Server } from './scale.js';

export const ISTIOD_MODULE = resolve('bench/istiod');

function goTool(): string {
  const candidates = process.env.GO ? [process.env.GO] : ['go', '/usr/local/go/bin/go'];
  for (const c of candidates) if (spawnSync(c, ['version']).status === 0) return c;
  throw new Error(`istiod: the Go toolchain is needed to build pilot-discovery from ${ISTIOD_MODULE} (tried ${candidates.join(', ')}); set GO=/path/to/go`);
}

/** The pinned istio.io/istio version (from go.mod). */
export function istioVersion(): string {
  return /istio\.io\/istio (\S+)/.exec(readFileSync(join(ISTIOD_MODULE, 'go.mod'), 'utf8'))?.[1] ?? 'unknown';
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) h.update(f).update('\0').update(readFileSync(join(ISTIOD_MODULE, f))).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** pilot-discovery, built once per source hash into node_modules/.cache/meshcd-go/ (or $MESHCD_GO_PEERS_CACHE). */
export async function istiodBinary(): Promise<{ bin: string; builtSeconds?: number }> {
  const cache = process.env.MESHCD_GO_PEERS_CACHE || resolve('node_modules/.cache/meshcd-go');
  const dir = join(cache, `pilot-discovery-${sourceHash()}`);
  const bin = join(dir, 'pilot-discovery');
  if (existsSync(bin)) return { bin };
  const go = goTool();
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  const t0 = now();
  process.stdout.write(`  building pilot-discovery ${istioVersion()} (first run only; cached in ${dir})…\n`);
  const child = spawn(go, ['build', '-trimpath', '-o', tmp, 'istio.io/istio/pilot/cmd/pilot-discovery'], {
    cwd: ISTIOD_MODULE,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly -buildvcs=false' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const code = await new Promise<number | null>((r, j) => {
    child.once('error', j);
    child.once('exit', r);
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`istiod: go build istio.io/istio/pilot/cmd/pilot-discovery in ${ISTIOD_MODULE} failed (exit ${code}):\n${err.trim()}`);
  }
  renameSync(tmp, bin);
  return { bin, builtSeconds: (now() - t0) / 1000 };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

export interface Istiod extends Server {
  version: string;
  /** The plaintext xDS port (istiod's 15010). */
  plainTarget: string;
  /** What gave istiod its Kubernetes config cluster, if anything. */
  kubernetes?: string;
  builtSeconds?: number;
  output(): string;
}

interface KubeCluster {
  kubeconfig: string;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

/**
 * A Kubernetes API server for istiod, when the tree has the test helper
 * that runs one (test/helpers/kube-cluster.ts: etcd + kube-apiserver built
 * from their Go modules). Loaded by path so that this file builds without it.
 */
async function kubeCluster(namespaces: string[]): Promise<KubeCluster | undefined> {
  const helper = resolve('dist/test/helpers/kube-cluster.js');
  if (!existsSync(helper)) return undefined;
  const mod = (await import(pathToFileURL(helper).href)) as { startCluster(): Promise<KubeCluster> };
  const c = await mod.startCluster();
  for (const name of ['istio-system', ...namespaces]) {
    const r = await c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    if (r.status >= 300 && r.status !== 409) {
      await c.stop();
      throw new Error(`kube-apiserver refused namespace ${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
  }
  return c;
}

/**
 * Starts pilot-discovery on the mesh folder with meshcd's root (from
 * meshcd's `<state-dir>/ca`) as its plugged-in CA. With a Kubernetes API
 * server (see kubeCluster) istiod gets it as its config cluster (namespaces
 * only: the mesh still comes from --configDir); without one this istio line
 * cannot start, and the error says why.
 */
export async function startIstiod(o: { meshDir: string; work: string; caDir: string; namespaces: string[] }): Promise<Istiod> {
  const { bin, builtSeconds } = await istiodBinary();
  const kube = await kubeCluster(o.namespaces);
  const home = join(o.work, 'istiod');
  const cacerts = join(home, 'cacerts');
  await mkdir(cacerts, { recursive: true });
  const root = join(o.caDir, 'root-cert.pem');
  await copyFile(root, join(cacerts, 'root-cert.pem'));
  await copyFile(root, join(cacerts, 'ca-cert.pem'));
  await copyFile(root, join(cacerts, 'cert-chain.pem'));
  await copyFile(join(o.caDir, 'root-key.pem'), join(cacerts, 'ca-key.pem'));
  const meshConfig = join(home, 'mesh.yaml');
  await writeFile(meshConfig, 'trustDomain: cluster.local\nrootNamespace: istio-system\n');
  const [grpcPort, httpPort, tlsPort, monPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(bin, [
    'discovery',
    '--configDir', o.meshDir,
    ...(kube ? ['--registries', 'Kubernetes', '--kubeconfig', kube.kubeconfig] : ['--registries', '']),
    '--meshConfig', meshConfig,
    '--networksConfig', join(home, 'none.yaml'),
    '--grpcAddr', `127.0.0.1:${grpcPort}`,
    '--httpAddr', `127.0.0.1:${httpPort}`,
    '--secureGRPCAddr', `127.0.0.1:${tlsPort}`,
    '--monitoringAddr', `127.0.0.1:${monPort}`,
    '--httpsAddr', '',
    '--domain', 'cluster.local',
    '--log_output_level', 'default:warn',
  ], {
    cwd: home,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROOT_CA_DIR: cacerts, POD_NAMESPACE: 'istio-system', POD_NAME: 'istiod-bench', REVISION: 'default', PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: 'false', PILOT_ENABLE_WORKLOAD_ENTRY_HEALTHCHECKS: 'false' },
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-64_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      await kube?.stop();
      // This istio line's ServiceEntry controller reads namespaces from the Kubernetes config cluster even in file mode.
      if (/multicluster\.\(\*Controller\)\.ConfigCluster/.test(out)) {
        throw new Error(`istiod (pilot-discovery ${istioVersion()}) cannot run without a Kubernetes API server: with --configDir and no Kubernetes registry it has no multicluster controller, and serviceentry.newController dereferences multiclusterController.ConfigCluster() (pilot/pkg/serviceregistry/serviceentry/controller.go:224) — nil pointer panic at start`);
      }
      throw new Error(`istiod exited with ${child.exitCode} before it was ready:\n${out.slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await kube?.stop();
      throw new Error(`istiod was not ready in 120 s:\n${out.slice(-4000)}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/ready`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    name: 'istiod',
    pid: child.pid!,
    target: `127.0.0.1:${tlsPort}`,
    plainTarget: `127.0.0.1:${grpcPort}`,
    tls: { rootsPem: readFileSync(root, 'utf8'), serverName: 'istiod.istio-system.svc' },
    version: istioVersion(),
    ...(builtSeconds !== undefined ? { builtSeconds } : {}),
    ...(kube ? { kubernetes: 'etcd + kube-apiserver on loopback (namespaces only; not counted in istiod\'s CPU and RSS)' } : {}),
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await kube?.stop();
    },
  };
}
