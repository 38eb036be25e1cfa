// Load generator for bench/ca/run.ts, in its own process so that the CA
// server's figure is not charged with the client's CPU. Driven over IPC:
// {port, roots, token, csrs, concurrency} once, then {burstMs} → {done, failed, seconds, cpuMicros}.

import * as grpc from '@grpc/grpc-js';
import { certificateServiceDefinition, type CertificateRequestMessage, type CertificateResponseMessage } from '../../src/ca/service.js';

interface Setup {
  port: number;
  roots: string;
  token: string;
  csrs: string[];
  concurrency: number;
}

let client: (grpc.Client & { CreateCertificate(r: CertificateRequestMessage, cb: (e: grpc.ServiceError | null, v?: CertificateResponseMessage) => void): void }) | undefined;
let setup: Setup | undefined;

function call(n: number): Promise<void> {
  return new Promise((resolve, reject) => client!.CreateCertificate({ csr: setup!.csrs[n % setup!.csrs.length]!, validity_duration: 3600 }, (e) => (e ? reject(e) : resolve())));
}

process.on('message', (msg: { setup?: Setup; burstMs?: number; quit?: boolean }) => {
  void (async () => {
    if (msg.quit) {
      client?.close();
      process.exit(0);
    }
    if (msg.setup) {
      setup = msg.setup;
      const Client = grpc.makeGenericClientConstructor(certificateServiceDefinition(), 'IstioCertificateService');
      const token = setup.token;
      const creds = grpc.credentials.combineChannelCredentials(
        grpc.credentials.createSsl(Buffer.from(setup.roots)),
        grpc.credentials.createFromMetadataGenerator((_p, cb) => {
          const md = new grpc.Metadata();
          md.set('authorization', `Bearer ${token}`);
          cb(null, md);
        }),
      );
      client = new Client(`localhost:${setup.port}`, creds) as unknown as typeof client;
      await call(0);
      process.send!({ ready: true });
      return;
    }
    const end = Date.now() + (msg.burstMs ?? 300);
    let done = 0;
    let failed = 0;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    await Promise.all(Array.from({ length: setup!.concurrency }, async (_, w) => {
      let n = w;
      while (Date.now() < end) {
        try {
          await call(n);
          done++;
        } catch {
          failed++;
        }
        n += setup!.concurrency;
      }
    }));
    const cpu = process.cpuUsage(cpu0);
    process.send!({ done, failed, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuMicros: cpu.user + cpu.system });
  })();
});
