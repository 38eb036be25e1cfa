// Certificates issued per second: in-process and through the gRPC API
// (concurrent requests on one TLS channel), beside this machine's native
// RSA-2048 signing rate measured in the same run. Goal: ≥ 50% of native.
// Audit lines are written (to /dev/null) because they are part of the cost.
//
//   npm run bench:ca            (BENCH_SECONDS=3 by default per figure)

import { cpus, loadavg } from 'node:os';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fork } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { TokenFileAuthenticator } from '../../src/ca/auth.js';
import { defaultAuth, startCaServer } from '../../src/ca/service.js';
import { buildCsr } from '../../src/ca/x509.js';
import { setRootLogger } from '../../src/util/log.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const TOKEN = 'bench-token-0123456789abcdef';

setRootLogger(pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false })));

/** Runs `fn` repeatedly for `ms` and returns [count, seconds]. */
function slice(fn: () => void, ms: number): [number, number] {
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    fn();
    n++;
  }
  return [n, Number(process.hrtime.bigint() - t0) / 1e9];
}

async function main(): Promise<void> {
  const cpu = cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'meshcd-bench-ca-'));
  try {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const tbs = Buffer.alloc(420, 7);
    const ca = await CertificateAuthority.open({ stateDir: dir });
    // Distinct keys, as real requests have; each request's CSR is parsed and verified.
    const csrs = Array.from({ length: 64 }, () => buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, {}));
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - token: ${TOKEN}\n    namespace: bench\n    serviceAccount: api\n`);
    const tokens = await TokenFileAuthenticator.load(join(dir, 'tokens.yaml'));
    const server = await startCaServer({ port: 0, ca, auth: defaultAuth(ca, [tokens]) });
    // The load generator runs in its own process (see client.ts).
    const loader = fork(join(dirname(fileURLToPath(import.meta.url)), 'client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ask = <T>(msg: object) => new Promise<T>((resolve) => {
      loader.once('message', (m) => resolve(m as T));
      loader.send(msg);
    });
    await ask({ setup: { port: server.port, roots: ca.trustBundle().rootsPem.join(''), token: TOKEN, csrs, concurrency: CONCURRENCY } });

    // The machine is shared: measure in interleaved slices so that the three
    // figures see the same background load, and compare sums.
    const rounds = Math.max(3, Math.round((SECONDS * 1000) / 300));
    const totals = { native: [0, 0], inproc: [0, 0], grpc: [0, 0] };
    let i = 0;
    let failed = 0;
    for (let r = 0; r < rounds; r++) {
      const a = slice(() => sign('sha256', tbs, privateKey), 300);
      totals.native[0]! += a[0];
      totals.native[1]! += a[1];
      const b = slice(() => {
        ca.issue({ csrPem: csrs[i++ % csrs.length]!, namespace: 'bench', serviceAccount: `sa${i % 500}` });
      }, 300);
      totals.inproc[0]! += b[0];
      totals.inproc[1]! += b[1];
      const burst = await ask<{ done: number; failed: number; seconds: number }>({ burstMs: 1000 });
      failed += burst.failed;
      totals.grpc[0]! += burst.done;
      totals.grpc[1]! += burst.seconds;
    }
    const native = totals.native[0]! / totals.native[1]!;
    const inProc = totals.inproc[0]! / totals.inproc[1]!;
    const api = totals.grpc[0]! / totals.grpc[1]!;
    console.log(`native RSA-2048 sign (crypto.sign):                     ${native.toFixed(0)} /s`);
    console.log(`in-process issue (parse+verify CSR, build, sign, audit): ${inProc.toFixed(0)} certs/s  (${((inProc / native) * 100).toFixed(0)}% of native)`);
    console.log(`gRPC CreateCertificate (TLS, ${CONCURRENCY} in flight, client in another process): ${api.toFixed(0)} certs/s  (${((api / native) * 100).toFixed(0)}% of native)${failed ? `, ${failed} failed` : ''}`);
    console.log(`goal ≥ 50% of native: in-process ${inProc / native >= 0.5 ? 'met' : 'NOT met'}, gRPC ${api / native >= 0.5 ? 'met' : 'NOT met'}  (${rounds} interleaved rounds: 300 ms native, 300 ms in-process, 1 s gRPC)`);
    loader.send({ quit: true });
    await server.close();
    await ca.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
