// Where a certificate's CPU goes, part by part, beside one RSA-2048
// signature: the floor under `npm run bench:ca`'s ratio. CPU time per
// operation (process.cpuUsage), so a busy shared machine moves it little.
//
//   npm run build && node dist/bench/ca/parts.js

import * as grpc from '@grpc/grpc-js';
import { cpus, loadavg, tmpdir } from 'node:os';
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../../src/ca/authority.js';
import { publicKeyFromSpki } from '../../src/ca/spki.js';
import { pino } from 'pino';
import { setRootLogger } from '../../src/util/log.js';

setRootLogger(pino({ level: 'silent' }));

const MS = Number(process.env.BENCH_MS ?? 1500);

/** CPU µs per call of `fn`, over about MS ms. */
function cpuPer(fn: (i: number) => void): number {
  for (let i = 0; i < 50; i++) fn(i);
  const c0 = process.cpuUsage();
  const end = Date.now() + MS;
  let n = 0;
  while (Date.now() < end) fn(n++);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

async function unaryTls(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'meshcd-bench-parts-'));
  const ca = await CertificateAuthority.open({ stateDir: dir });
  const sc = ca.issueServerCert({ dns: ['localhost'], ips: ['127.0.0.1'] });
  const method = { path: '/bench.B/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const server = new grpc.Server();
  const reply = Buffer.alloc(3500, 1); // about a CreateCertificate response (chain + trailer)
  server.addService({ Echo: method }, { Echo: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, reply) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(sc.keyPem), cert_chain: Buffer.from(sc.certChainPem) }]), (e, p) => (e ? reject(e) : resolve(p))));
  const Client = grpc.makeGenericClientConstructor({ Echo: method } as unknown as grpc.ServiceDefinition, 'B');
  const client = new Client(`localhost:${port}`, grpc.credentials.createSsl(Buffer.from(ca.trustBundle().rootsPem.join('')))) as unknown as grpc.Client & { Echo(r: Buffer, cb: (e: grpc.ServiceError | null) => void): void };
  const req = Buffer.alloc(600, 2); // about a CSR
  const call = () => new Promise<void>((resolve, reject) => client.Echo(req, (e) => (e ? reject(e) : resolve())));
  await call();
  const c0 = process.cpuUsage();
  const end = Date.now() + MS;
  let n = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (Date.now() < end) {
      await call();
      n++;
    }
  }));
  const c = process.cpuUsage(c0);
  client.close();
  server.forceShutdown();
  await ca.close();
  rmSync(dir, { recursive: true, force: true });
  return (c.user + c.system) / n;
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const data = Buffer.alloc(420, 7);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  const [ecSpki, rsaSpki] = [spki(ec.publicKey), spki(rsa.publicKey)];
  const ecSig = sign('sha256', data, ec.privateKey);
  const rsaSig = sign('sha256', data, rsa.privateKey);
  const rows: [string, number][] = [
    ['RSA-2048 signature (the CA signing a certificate; the baseline)', cpuPer(() => sign('sha256', data, rsa.privateKey))],
    ['EC P-256 CSR: verify its signature (proof of possession)', cpuPer(() => verify('sha256', data, ec.publicKey, ecSig))],
    ['EC P-256 CSR: its key from SPKI, as meshcd reads it (JWK)', cpuPer(() => publicKeyFromSpki(ecSpki))],
    ['EC P-256 CSR: its key from SPKI through OpenSSL\'s DER decoder', cpuPer(() => createPublicKey({ key: ecSpki, format: 'der', type: 'spki' }))],
    ['RSA-2048 CSR: verify its signature', cpuPer(() => verify('sha256', data, rsa.publicKey, rsaSig))],
    ['RSA-2048 CSR: its key from SPKI, as meshcd reads it (JWK)', cpuPer(() => publicKeyFromSpki(rsaSpki))],
    ['RSA-2048 CSR: its key from SPKI through OpenSSL\'s DER decoder', cpuPer(() => createPublicKey({ key: rsaSpki, format: 'der', type: 'spki' }))],
    ['a grpc-js unary call over TLS, client and server together (64 in flight)', await unaryTls()],
  ];
  const base = rows[0]![1];
  for (const [what, us] of rows) console.log(`${us.toFixed(0).padStart(6)} µs CPU  ${((us / base) * 100).toFixed(0).padStart(3)}% of a signature  ${what}`);
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
