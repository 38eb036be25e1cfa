// The demo's client: productpage's identity calling reviews and details
// through `xds:///` targets at a steady rate (a share of calls as the test
// user `end-user: jason`), printing one JSON line of counts per second.
// Run by `meshcd demo` with GRPC_XDS_BOOTSTRAP set to productpage's agent
// bootstrap:  node client.js RATE_PER_SECOND JASON_PERCENT

import * as grpc from '@grpc/grpc-js';
import { exitWithParent, serviceDefinition, type App, type DemoReply, type DemoRequest } from './service.js';

type UnaryClient = grpc.Client & { Get(req: DemoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: DemoReply) => void): void };

export interface DemoTick {
  /** ms since epoch. */
  at: number;
  /** app → version (or `ratings:<version>` suffix chains) → calls answered. */
  answered: Record<string, Record<string, number>>;
  /** gRPC status name → count. */
  errors: Record<string, number>;
  lastError?: string;
}

async function main(): Promise<void> {
  exitWithParent();
  const rate = Math.min(200, Math.max(1, Number(process.argv[2] ?? 20)));
  const jasonPercent = Math.min(100, Math.max(0, Number(process.argv[3] ?? 20)));
  const xds = await import('@grpc/grpc-js-xds');
  xds.register();
  const clients = new Map<App, UnaryClient>();
  for (const app of ['reviews', 'details'] as const) {
    const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(app), app);
    clients.set(app, new Ctor(`xds:///${app}.bookinfo.svc.cluster.local:9080`, new xds.XdsChannelCredentials(grpc.credentials.createInsecure())) as unknown as UnaryClient);
  }
  let tick: DemoTick = { at: Date.now(), answered: {}, errors: {} };
  let n = 0;
  const call = () => {
    n++;
    const app: App = n % 4 === 0 ? 'details' : 'reviews';
    const md = new grpc.Metadata();
    if (app === 'reviews' && (n * 37) % 100 < jasonPercent) md.set('end-user', 'jason');
    clients.get(app)!.Get({ from: 'productpage' }, md, { deadline: Date.now() + 3000 }, (err, r) => {
      if (err || !r) {
        const code = err ? grpc.status[err.code] ?? String(err.code) : 'EMPTY';
        tick.errors[code] = (tick.errors[code] ?? 0) + 1;
        tick.lastError = `${app}: ${code}: ${err?.details ?? ''}`;
        return;
      }
      const up = r.upstream && 'version' in r.upstream ? ` → ratings ${r.upstream.version}` : r.upstream ? ' → ratings failed' : '';
      const per = (tick.answered[app] ??= {});
      const key = `${r.version}${up}`;
      per[key] = (per[key] ?? 0) + 1;
    });
  };
  const timer = setInterval(call, 1000 / rate);
  const report = setInterval(() => {
    process.stdout.write(JSON.stringify(tick) + '\n');
    tick = { at: Date.now(), answered: {}, errors: {} };
  }, 1000);
  const stop = () => {
    clearInterval(timer);
    clearInterval(report);
    for (const c of clients.values()) c.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`client: ${err.message}\n`);
  process.exit(1);
});
