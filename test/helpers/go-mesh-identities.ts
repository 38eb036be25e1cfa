// Mesh identities for the tests that drive grpc-go and grpc-js over mTLS:
// `meshcd serve` whose embedded CA takes bootstrap tokens, and one `meshcd agent` per
// identity writing cert files and a gRPC bootstrap (file-watcher certificate
// provider). All connection and bootstrap setup is here, so that a change in
// where secrets are served (e.g. only over the TLS port) is made in one place.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startServe, type ServeProcess } from './xds-e2e.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

export interface MeshcdProcess {
  child: ChildProcess;
  /** stdout + stderr so far (bounded to the last 256 KiB). */
  output(): string;
  match: RegExpExecArray;
  stop(): Promise<void>;
}

/** Runs `meshcd <args>` until `ready` matches its output (45 s at most). */
export function runMeshcd(args: string[], ready: RegExp): Promise<MeshcdProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MESHCD_LOG_LEVEL: 'info' } });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`meshcd ${args[0]} was not ready (${ready}) in 45 s:\n${out.slice(-4000)}`));
    }, 45000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-262144);
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, output: () => out, match: m, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`meshcd ${args[0]} exited with ${child.exitCode}:\n${out.slice(-4000)}`));
    });
  });
}

export interface MeshCa {
  address: string;
  trustBundle: string;
  tokens: Record<string, string>;
  ns: string;
}

/** Bootstrap tokens (one per service account of namespace `ns`) in Istio-style tokens.yaml, mode 0600; returns its path. */
function writeTokens(dir: string, ns: string, tokens: Record<string, string>): string {
  const file = join(dir, 'tokens.yaml');
  writeFileSync(file, `tokens:\n${Object.entries(tokens).map(([sa, tok]) => `  - name: ${sa}\n    token: ${tok}\n    namespace: ${ns}\n    serviceAccount: ${sa}\n`).join('')}`, { mode: 0o600 });
  return file;
}

/**
 * `meshcd serve` on `source` with its embedded CA accepting a bootstrap token
 * per service account of `ns` (and certificates as short as 1 s): the CA and
 * the TLS xDS port are the same address, as istiod's 15012, so an agent
 * pointed there for both writes a bootstrap that fetches config over TLS
 * with the workload's own certificate.
 */
export async function startServeWithCa(dir: string, source: string, ns: string, tokens: Record<string, string>, extra: string[] = []): Promise<{ serve: ServeProcess; ca: MeshCa }> {
  const serve = await startServe(source, ['--ca-token-file', writeTokens(dir, ns, tokens), '--ca-min-ttl', '1s', ...extra]);
  const trustBundle = join(dir, 'serve-trust-bundle.pem');
  try {
    writeFileSync(trustBundle, await (await fetch(`${serve.admin}/ca/trust-bundle.pem`)).text());
  } catch (err) {
    await serve.stop();
    throw err;
  }
  return { serve, ca: { address: serve.tls!, trustBundle, tokens, ns } };
}

export interface MeshIdentity {
  /** cert-chain.pem, key.pem, root-cert.pem. */
  certDir: string;
  /** The gRPC xDS bootstrap the agent wrote (GRPC_XDS_BOOTSTRAP). */
  bootstrap: string;
  agent: MeshcdProcess;
}

/**
 * A `meshcd agent` for service account `sa` (a proxyless gRPC workload on
 * 127.0.0.1), its bootstrap pointed at xDS server `xds`: over TLS with the
 * workload's own certificate when `xds` is the CA's address (serve's TLS
 * port; grpc-go), plaintext otherwise (grpc-js-xds 1.14 cannot do TLS to xDS).
 */
export async function startIdentity(dir: string, ca: MeshCa, xds: string, sa: string, opts: { ttl?: string; pod?: string; labels?: string } = {}): Promise<MeshIdentity> {
  const pod = opts.pod ?? `${sa}-0`;
  const certDir = join(dir, `agent-${pod}`);
  const tokenFile = join(dir, `${pod}.token`);
  writeFileSync(tokenFile, ca.tokens[sa] ?? '', { mode: 0o600 });
  const bootstrap = join(dir, `${pod}-bootstrap.json`);
  const agent = await runMeshcd([
    'agent', '--ca-address', ca.address, '--ca-root-cert', ca.trustBundle, '--token-file', tokenFile,
    '--namespace', ca.ns, '--service-account', sa, '--output-dir', certDir, '--xds-address', xds, '--bootstrap-out', bootstrap,
    '--proxy-kind', 'grpc', '--ip', '127.0.0.1', '--pod-name', pod, '--labels', opts.labels ?? `app=${sa}`,
    '--ttl', opts.ttl ?? '4s', '--cert-refresh-interval', '1s',
  ], /workload certificate renewed/);
  return { certDir, bootstrap, agent };
}

/** A port free on 127.0.0.1 now, for a server that must be named in the mesh before it binds. */
export async function freeLoopbackPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}
