// The Go reference peers under test/interop (go-control-plane's Envoy
// validators, grpc-go's xDS client), built with the Go toolchain on the
// machine into a cache folder keyed by a hash of go.mod, go.sum and the
// program's *.go files: a second run with the same sources does not rebuild.
// The cache lives in $MESHCD_GO_PEERS_CACHE, else node_modules/.cache/meshcd-go.
// .ci/deps warms Go's module and build caches so that a build here is a link.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const INTEROP_ROOT = join(process.cwd(), 'test', 'interop');
export type GoPeer = 'envoy-validate' | 'grpc-go-client';

export function goPeersCacheDir(): string {
  return process.env.MESHCD_GO_PEERS_CACHE || join(process.cwd(), 'node_modules', '.cache', 'meshcd-go');
}

/** The Go binary: $GO (only it, when set), else `go` on PATH, else the usual install path; a clear error when there is none. */
export function goTool(): string {
  const candidates = process.env.GO ? [process.env.GO] : ['go', '/usr/local/go/bin/go'];
  for (const c of candidates) {
    const r = spawnSync(c, ['version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new Error(`the Go toolchain is needed to build the test peers in ${INTEROP_ROOT} (tried ${candidates.join(', ')}): install Go ≥ 1.26 or set GO=/path/to/go`);
}

/** sha256 over go.mod, go.sum and the peer's *.go files (names and bytes), first 16 hex chars. */
export function goPeerHash(peer: GoPeer): string {
  const h = createHash('sha256');
  const files = ['go.mod', 'go.sum', ...readdirSync(join(INTEROP_ROOT, peer)).filter((f) => f.endsWith('.go')).sort().map((f) => join(peer, f))];
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(INTEROP_ROOT, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

const building = new Map<GoPeer, Promise<string>>();

/** The path of the peer's binary, built once per source hash (concurrent callers share one build). */
export function goPeer(peer: GoPeer): Promise<string> {
  let p = building.get(peer);
  if (!p) {
    p = buildGoPeer(peer);
    building.set(peer, p);
    p.catch(() => building.delete(peer));
  }
  return p;
}

async function buildGoPeer(peer: GoPeer): Promise<string> {
  const dir = join(goPeersCacheDir(), goPeerHash(peer));
  const bin = join(dir, peer);
  if (existsSync(bin)) return bin;
  const go = goTool();
  mkdirSync(dir, { recursive: true });
  // Built under a unique name and renamed: another worker building the same peer never sees half a file.
  const tmp = `${bin}.tmp-${process.pid}-${Date.now()}`;
  // GOTOOLCHAIN=local: never download a toolchain; -mod=readonly: go.sum is the pin.
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly -buildvcs=false' };
  const child = spawn(go, ['build', '-trimpath', '-o', tmp, `./${peer}`], { cwd: INTEROP_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ./${peer} in ${INTEROP_ROOT} failed (exit ${code}):\n${err.trim()}`);
  }
  renameSync(tmp, bin);
  return bin;
}
