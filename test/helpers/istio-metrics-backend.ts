// A test backend that exports Istio's standard request metrics as Istio's
// telemetry emits them (server-side reporter): istio_requests_total and
// istio_request_duration_milliseconds (buckets, with Istio's default bucket
// boundaries), labelled reporter, destination_service, destination_version,
// destination_workload(_namespace), request_protocol, response_code and
// grpc_response_status. The test drives the traffic: record() adds requests
// at once, and steady() adds a fixed mix every tick until stopped.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const ISTIO_DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

const LABELS = ['reporter', 'source_workload', 'source_workload_namespace', 'destination_service', 'destination_service_name', 'destination_service_namespace', 'destination_workload', 'destination_workload_namespace', 'destination_version', 'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy'] as const;

export interface Requests {
  /** FQDN, e.g. reviews.bookinfo.svc.cluster.local */
  host: string;
  version: string;
  count: number;
  /** HTTP status (gRPC calls answer 200). Default 200. */
  code?: number;
  /** gRPC status code; set for gRPC requests (0 = OK). */
  grpcStatus?: number;
  durationMs?: number;
}

export interface IstioMetricsBackend {
  /** `127.0.0.1:<port>`, a Prometheus scrape target (path /metrics). */
  target: string;
  record(r: Requests): void;
  /** Every `everyMs`, record each mix entry; returns a function that stops it. */
  steady(mix: Requests[], everyMs?: number): () => void;
  close(): Promise<void>;
}

export async function startIstioMetricsBackend(): Promise<IstioMetricsBackend> {
  const registry = new Registry();
  const requests = new Counter({ name: 'istio_requests_total', help: 'Requests (Istio standard metric)', labelNames: LABELS, registers: [registry] });
  const duration = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration (Istio standard metric)', labelNames: LABELS, buckets: ISTIO_DURATION_BUCKETS, registers: [registry] });
  const timers = new Set<NodeJS.Timeout>();
  const record = (r: Requests) => {
    const [name, namespace = 'default'] = r.host.split('.');
    const grpc = r.grpcStatus !== undefined;
    const labels = {
      reporter: 'destination',
      source_workload: 'loadgen',
      source_workload_namespace: namespace,
      destination_service: r.host,
      destination_service_name: name!,
      destination_service_namespace: namespace,
      destination_workload: `${name}-${r.version}`,
      destination_workload_namespace: namespace,
      destination_version: r.version,
      request_protocol: grpc ? 'grpc' : 'http',
      response_code: String(r.code ?? 200),
      grpc_response_status: grpc ? String(r.grpcStatus) : '',
      response_flags: '-',
      connection_security_policy: 'mutual_tls',
    };
    requests.inc(labels, r.count);
    if (r.count > 0) for (let i = 0; i < r.count; i++) duration.observe(labels, r.durationMs ?? 10);
    else duration.zero(labels);
  };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404);
      res.end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    record,
    steady(mix, everyMs = 100) {
      const timer = setInterval(() => mix.forEach(record), everyMs);
      timers.add(timer);
      return () => {
        clearInterval(timer);
        timers.delete(timer);
      };
    },
    async close() {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
