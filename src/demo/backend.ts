// One demo workload: a proxyless gRPC server (@grpc/grpc-js-xds XdsServer)
// whose listener, mTLS and RBAC come from meshcd, on the WorkloadEntry's
// address. Reviews v2/v3 call ratings through the mesh, as bookinfo does.
// It exports Istio's standard metrics for the requests it serves, as the
// server-side proxy would report them (reporter="destination"), so a
// Rollout's built-in templates can judge it in a real Prometheus.
// Run by `meshcd demo` with GRPC_XDS_BOOTSTRAP set to its agent's bootstrap:
//   node backend.js APP VERSION POD HOST:PORT [UPSTREAM_APP]
// DEMO_FAIL_PERCENT makes that share of calls fail with UNAVAILABLE.

import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { APPS, exitWithParent, serviceDefinition, type App, type DemoReply, type DemoRequest } from './service.js';

const ISTIO_DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** Istio's standard request metrics on 127.0.0.1:0; returns the port. */
async function istioMetrics(app: string, version: string, pod: string): Promise<{ port: number; observe(from: string, code: grpc.status, ms: number): void }> {
  const registry = new Registry();
  const labelNames = ['reporter', 'source_workload', 'source_workload_namespace', 'destination_workload', 'destination_workload_namespace', 'destination_app', 'destination_version', 'destination_service', 'destination_service_name', 'destination_service_namespace', 'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy'] as const;
  const requests = new Counter({ name: 'istio_requests_total', help: 'Requests served (Istio standard metric)', labelNames, registers: [registry] });
  const duration = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in ms (Istio standard metric)', labelNames, buckets: ISTIO_DURATION_BUCKETS, registers: [registry] });
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void registry.metrics().then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    observe(from, code, ms) {
      const labels = {
        reporter: 'destination', source_workload: from, source_workload_namespace: 'bookinfo',
        destination_workload: pod, destination_workload_namespace: 'bookinfo', destination_app: app, destination_version: version,
        destination_service: `${app}.bookinfo.svc.cluster.local`, destination_service_name: app, destination_service_namespace: 'bookinfo',
        // gRPC answers HTTP 200 with the status in grpc-status; Istio maps UNAVAILABLE to 503.
        request_protocol: 'grpc', response_code: code === grpc.status.OK ? '200' : code === grpc.status.UNAVAILABLE ? '503' : '200', grpc_response_status: String(code), response_flags: '-', connection_security_policy: 'mutual_tls',
      };
      requests.inc(labels);
      duration.observe(labels, ms);
    },
  };
}

type UnaryClient = grpc.Client & { Get(req: DemoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: DemoReply) => void): void };

async function main(): Promise<void> {
  exitWithParent();
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
  const failPercent = Math.min(100, Math.max(0, Number(process.env.DEMO_FAIL_PERCENT ?? 0) || 0));
  const metrics = await istioMetrics(app, version, pod);
  let served = 0;
  const server = new xds.XdsServer();
  server.addService(serviceDefinition(app as App), {
    Get(call: grpc.ServerUnaryCall<DemoRequest, DemoReply>, cb: grpc.sendUnaryData<DemoReply>) {
      const started = Date.now();
      const from = typeof call.request?.from === 'string' ? call.request.from.slice(0, 64) : 'unknown';
      const done = (err: grpc.ServiceError | null, reply?: DemoReply) => {
        metrics.observe(from, err ? err.code : grpc.status.OK, Date.now() - started);
        cb(err, reply);
      };
      served++;
      // Deterministic share, so a short demo shows the configured rate.
      if (failPercent > 0 && (served * 37) % 100 < failPercent) return done(Object.assign(new Error('injected failure'), { code: grpc.status.UNAVAILABLE, details: `${pod} fails ${failPercent}% of calls (meshcd demo --fail)`, metadata: new grpc.Metadata() }));
      const reply: DemoReply = { app: app!, version: version!, pod: pod! };
      if (!upstreamClient) return done(null, reply);
      upstreamClient.Get({ from: pod! }, new grpc.Metadata(), { deadline: Date.now() + 1500 }, (err, r) => {
        reply.upstream = err ? { error: `${grpc.status[err.code] ?? err.code}: ${err.details}` } : r;
        done(null, reply);
      });
    },
  });
  process.stdout.write(`metrics http://127.0.0.1:${metrics.port}/metrics\n`);
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
