// The demo's bookinfo services over gRPC: one method `Get` per app
// (`/bookinfo.v1.Reviews/Get`, …), messages as JSON so no .proto file has to
// ship. Paths follow gRPC's `/package.Service/Method`, which is what the
// example AuthorizationPolicies name.

import type * as grpc from '@grpc/grpc-js';

export interface DemoRequest {
  /** Who is calling (for the answer's trace). */
  from: string;
}

export interface DemoReply {
  app: string;
  version: string;
  pod: string;
  /** What this backend's own upstream call answered (reviews → ratings). */
  upstream?: DemoReply | { error: string };
}

export const APPS = ['productpage', 'details', 'reviews', 'ratings'] as const;
export type App = (typeof APPS)[number];

const MAX_MESSAGE = 64 * 1024;

function serialize(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

function deserialize<T>(b: Buffer): T {
  if (b.length > MAX_MESSAGE) throw new Error('message too large');
  return JSON.parse(b.toString('utf8')) as T;
}

export function servicePath(app: App): string {
  return `/bookinfo.v1.${app[0]!.toUpperCase()}${app.slice(1)}/Get`;
}

export function serviceDefinition(app: App): grpc.ServiceDefinition {
  return {
    Get: {
      path: servicePath(app),
      requestStream: false,
      responseStream: false,
      requestSerialize: serialize,
      requestDeserialize: (b: Buffer) => deserialize<DemoRequest>(b),
      responseSerialize: serialize,
      responseDeserialize: (b: Buffer) => deserialize<DemoReply>(b),
    },
  };
}

/** A demo process ends with the demo that started it, even when that one was killed (SIGKILL leaves orphans holding the workload ports). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
}

