// What Node itself keeps for many TLS HTTP/2 connections that each received
// a few MiB: a bare `node:http2` server (no gRPC, no meshcd) sends every
// client stream `--messages` writes of `--bytes` each, at most `--budget`
// MiB in flight across all of them (the same bound as serve's
// --xds-push-budget), and its RSS, V8 heap and memory outside the heap are
// printed once every client has read everything and the connections stay
// open (as proxies' do). This is the floor under serve's RSS at that many
// connections: memory Node's TLS and HTTP/2 layers hold per connection.
//
//   node dist/bench/xds/node-memory.js [--connections 2000] [--messages 4]
//     [--bytes 700000] [--budget 64] [--plaintext]
//
// The defaults match `bench:xds:scale --scenario realistic --proxies 2000
// --services 1000`: 2,000 proxies received 5,380 MiB of full config, about
// 4 responses of 700 KB each.

import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { buildCertificate, buildName, derToPem, OID, randomSerial, spkiOf } from '../../src/ca/x509.js';
import { machineLine } from '../machine.js';
import { memoryOf } from './proc.js';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '2000' },
    messages: { type: 'string', default: '4' },
    bytes: { type: 'string', default: '700000' },
    budget: { type: 'string', default: '64' },
    plaintext: { type: 'boolean', default: false },
    role: { type: 'string', default: 'main' },
    port: { type: 'string' },
  },
});

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

function certificate(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = buildName([{ oid: OID.commonName, value: 'localhost' }]);
  const der = buildCertificate({ serial: randomSerial(), notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000), subject: name, issuer: name, spkiDer: spkiOf(publicKey), isCa: false, keyUsage: ['digitalSignature'], sans: { dns: ['localhost'] } }, privateKey);
  return { cert: derToPem(der, 'CERTIFICATE'), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** The server: answers every stream with `messages` writes, at most `budget` bytes in flight across all streams. */
function server(): void {
  const tls = !flags.plaintext;
  const s = tls ? http2.createSecureServer(certificate()) : http2.createServer();
  const size = Number(flags.bytes);
  const payload = Buffer.alloc(size, 7);
  const budget = Number(flags.budget) * MiB;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const pump = () => {
    while (waiting.length && inFlight < budget) waiting.shift()!();
  };
  s.on('stream', (stream) => {
    let sent = 0;
    stream.respond({ ':status': 200 });
    const next = () => {
      if (sent++ >= Number(flags.messages)) return void stream.end();
      waiting.push(() => {
        inFlight += size;
        // A copy per write, as a server framing a message per client does.
        stream.write(Buffer.from(payload), () => {
          inFlight -= size;
          next();
          pump();
        });
      });
      pump();
    };
    next();
  });
  s.listen(0, '127.0.0.1', () => process.send!({ port: (s.address() as { port: number }).port }));
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd !== 'memory') return;
    const u = process.memoryUsage();
    process.send!({ heap: u.heapUsed, external: u.external });
  });
}

/** The clients: one connection and one stream each, reading everything. */
function clients(): void {
  const n = Number(flags.connections);
  const scheme = flags.plaintext ? 'http' : 'https';
  let done = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const session = http2.connect(`${scheme}://127.0.0.1:${flags.port}`, { rejectUnauthorized: false });
    session.on('error', (err) => process.send!({ error: err.message }));
    const req = session.request({ ':path': '/' });
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      if (++done === n) process.send!({ done, bytes });
    });
  }
}

function message<T>(child: ChildProcess, pick: (m: Record<string, unknown>) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: Record<string, unknown>) => {
      if (typeof m.error === 'string') reject(new Error(m.error));
      else if (pick(m)) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}

async function main(): Promise<void> {
  const self = new URL(import.meta.url).pathname;
  const common = ['--connections', flags.connections!, '--messages', flags.messages!, '--bytes', flags.bytes!, '--budget', flags.budget!, ...(flags.plaintext ? ['--plaintext'] : [])];
  console.log(machineLine());
  const srv = fork(self, [...common, '--role', 'server'], { stdio: 'inherit' });
  const { port } = await message<{ port: number }>(srv, (m) => 'port' in m);
  const idle = await memoryOf(srv.pid!);
  const t0 = performance.now();
  const cl = fork(self, [...common, '--role', 'clients', '--port', String(port)], { stdio: 'inherit' });
  try {
    const got = await message<{ done: number; bytes: number }>(cl, (m) => 'done' in m);
    await new Promise((r) => setTimeout(r, 2000));
    const mem = await memoryOf(srv.pid!);
    srv.send({ cmd: 'memory' });
    const v8 = await message<{ heap: number; external: number }>(srv, (m) => 'heap' in m);
    console.log(`bare node:http2 server over ${flags.plaintext ? 'plaintext' : 'TLS'}: ${got.done} connections, ${mib(got.bytes)} sent in ${((performance.now() - t0) / 1000).toFixed(1)} s (${flags.messages} writes of ${flags.bytes} bytes per stream, at most ${flags.budget} MiB in flight)`);
    console.log(`  server RSS ${mib(mem.rss)} with the connections open (peak ${mib(mem.peak)}; ${mib(idle.rss)} before any connection); V8 heap ${mib(v8.heap)}, memory outside it ${mib(v8.external)}`);
  } finally {
    cl.kill();
    srv.kill();
  }
}

if (flags.role === 'server') server();
else if (flags.role === 'clients') clients();
else
  main().catch((err: Error) => {
    console.error(`node-memory: ${err.message}`);
    process.exitCode = 1;
  });
