// One demo workload: a proxyless gRPC server (@grpc/grpc-js-xds XdsServer)
// whose listener, mTLS and RBAC come from meshcd, on the WorkloadEntry's
// address. Reviews v2/v3 call ratings through the mesh, as bookinfo does.
// Run by `meshcd demo` with GRPC_XDS_BOOTSTRAP set to its agent's bootstrap:
//   node backend.js APP VERSION POD HOST:PORT [UPSTREAM_APP]

import * as grpc from '@grpc/grpc-js';
import { APPS, serviceDefinition, type App, type DemoReply, type DemoRequest } from './service.js';

type UnaryClient = grpc.Client & { Get(req: DemoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: DemoReply) => void): void };

async function main(): Promise<void> {
  const [app, version, pod, address, upstream] = process.argv.slice(2);
  if (!app || !APPS.includes(app as App) || !version || !pod || !address) {
    process.stderr.write('usage: backend.js APP VERSION POD HOST:PORT [UPSTREAM_APP]\n');
    process.exit(2);
  }
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
  let upstreamClient: UnaryClient | undefined;
  if (upstream) {
    const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(upstream as App), upstream);
    upstreamClient = new Ctor(`xds:///${upstream}.bookinfo.svc.cluster.local:9080`, new xds.XdsChannelCredentials(grpc.credentials.createInsecure())) as unknown as UnaryClient;
  }
  const server = new xds.XdsServer();
  server.addService(serviceDefinition(app as App), {
    Get(call: grpc.ServerUnaryCall<DemoRequest, DemoReply>, cb: grpc.sendUnaryData<DemoReply>) {
      const reply: DemoReply = { app: app!, version: version!, pod: pod! };
      if (!upstreamClient) return cb(null, reply);
      upstreamClient.Get({ from: pod! }, new grpc.Metadata(), { deadline: Date.now() + 1500 }, (err, r) => {
        reply.upstream = err ? { error: `${grpc.status[err.code] ?? err.code}: ${err.details}` } : r;
        cb(null, reply);
      });
    },
  });
  // The XdsServer serves only once meshcd has sent its listener (xds.istio.io/grpc/lds/inbound/HOST:PORT).
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => (err ? reject(err) : resolve())),
  );
  process.stdout.write(`${pod} serving ${app} ${version} on ${address}\n`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`backend: ${err.message}\n`);
  process.exit(1);
});
