// A rollout's overlay reaches every proxy that routes to its target, and
// only those: `meshcd serve` on a folder with two namespaces (services
// exported to their own namespace only) and raw ADS clients that behave as
// an Envoy sidecar (wildcard CDS/LDS, RDS by the names its listeners use)
// or a proxyless gRPC client (one listener by name). Each step of a walk
// (the first weight, a promotion) is pushed to the sidecar and the
// proxyless client of reviews' namespace that call reviews, and to no one
// else: not to a proxyless client in the same namespace that only calls
// details, not to a sidecar of the other namespace. Zero NACKs.

import test from 'ava';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { cli } from '../helpers/rollout-e2e.js';
import { AdsTestClient, grpcNode, type DecodedResponse } from '../helpers/xds-client.js';
import { eventually, startServe, tempDir, writeFileIn } from '../helpers/xds-e2e.js';

const service = (name: string, ns: string, port: number, subsets: boolean) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  exportTo: ["."]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: grpc, protocol: GRPC}]
  endpoints:
  - {address: 10.9.${port % 250}.1, labels: {version: v1}}
  - {address: 10.9.${port % 250}.2, labels: {version: v2}}
---
${subsets ? `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}.${ns}.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
` : ''}`;

const reviewsVs = (w1: number, w2: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  exportTo: ["."]
  http:
  - name: primary
    route:
    - {destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}, weight: ${w1}}
    - {destination: {host: reviews.bookinfo.svc.cluster.local, subset: v2}, weight: ${w2}}
`;

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: bookinfo}
spec:
  target: {virtualService: reviews, route: primary}
  steps:
  - setWeight: 30
  - pause: {}
  writeBack: none
`;

function routeNames(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) for (const x of v) routeNames(x, out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === 'route_config_name' && typeof x === 'string' ? out.add(x) : routeNames(x, out));
  return out;
}

/** A raw ADS client that keeps itself in sync and records every response after `mark()`. */
class Proxy {
  readonly client: AdsTestClient;
  private routes: string[] = [];
  private clusters: string[] = [];
  after: DecodedResponse[] = [];
  private recording = false;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(xds: string, id: string, namespace: string, readonly kind: 'sidecar' | 'grpc', private readonly listener?: string) {
    this.client = new AdsTestClient(xds, grpcNode(id, namespace, kind === 'grpc' ? { GENERATOR: 'grpc' } : {}));
    this.client.request(TYPE_URL.listener, listener ? [listener] : []);
    if (kind === 'sidecar') this.client.request(TYPE_URL.cluster, []);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let r: DecodedResponse;
      try {
        r = await this.client.next(undefined, 1000);
      } catch {
        if (this.client.error) return;
        continue;
      }
      if (this.recording) this.after.push(r);
      const names = r.type_url === TYPE_URL.listener ? (this.listener ? [this.listener] : []) : r.type_url === TYPE_URL.route ? this.routes : r.type_url === TYPE_URL.endpoint ? this.clusters : [];
      this.client.request(r.type_url, names, r);
      if (r.type_url === TYPE_URL.listener) {
        const wanted = [...routeNames(r.values)].sort();
        if (wanted.join() !== this.routes.join()) {
          this.routes = wanted;
          this.client.request(TYPE_URL.route, wanted);
        }
      } else if (r.type_url === TYPE_URL.cluster) {
        const eds = r.names.filter((n) => n.startsWith('outbound|'));
        if (eds.join() !== this.clusters.join()) {
          this.clusters = eds;
          this.client.request(TYPE_URL.endpoint, eds);
        }
      } else if (r.type_url === TYPE_URL.route) this.lastRoutes = r;
    }
  }

  lastRoutes: DecodedResponse | undefined;

  /** Weights (subset → weight) of reviews' route in the last RouteConfiguration received, or undefined when it has no reviews route. */
  reviewsWeights(): Record<string, number> | undefined {
    for (const rc of (this.lastRoutes?.values ?? []) as { virtual_hosts?: { domains: string[]; routes: { route?: { weighted_clusters?: { clusters: { name: string; weight: { value: number } }[] }; cluster?: string } }[] }[] }[]) {
      for (const vh of rc.virtual_hosts ?? []) {
        if (!vh.domains.some((d) => d.startsWith('reviews.bookinfo.svc.cluster.local'))) continue;
        const r = vh.routes.at(-1)!.route!;
        const subset = (c: string) => c.split('|')[2] ?? c;
        return r.cluster ? { [subset(r.cluster)]: 100 } : Object.fromEntries(r.weighted_clusters!.clusters.map((c) => [subset(c.name), c.weight.value]));
      }
    }
    return undefined;
  }

  mark(): void {
    this.after = [];
    this.recording = true;
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.close();
  }
}

test('each rollout step is pushed to the proxies that route to the target, and to no other proxy', async (t) => {
  const { dir, remove } = await tempDir('meshcd-e2e-rollout-scope-');
  t.teardown(remove);
  await writeFileIn(dir, 'bookinfo.yaml', `${service('reviews', 'bookinfo', 9080, true)}${service('details', 'bookinfo', 9081, false)}${reviewsVs(100, 0)}`);
  await writeFileIn(dir, 'shop.yaml', service('cart', 'shop', 9082, false).replace(/---\n$/, ''));
  await writeFileIn(dir, 'rollout.yaml', ROLLOUT);
  const { dir: secrets, remove: removeSecrets } = await tempDir('meshcd-e2e-rollout-scope-token-');
  t.teardown(removeSecrets);
  const token = join(secrets, 'token');
  await writeFileIn(secrets, 'token', 'scope-test-admin-token-0123456789\n');
  const serve = await startServe(dir, ['--no-ca', '--admin-token-file', token]);
  t.teardown(() => serve.stop());

  const proxies = {
    sidecar: new Proxy(serve.xds, 'sidecar~10.1.0.1~productpage-1.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', 'sidecar'),
    grpcReviews: new Proxy(serve.xds, 'sidecar~10.1.0.2~frontend-1.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', 'grpc', 'reviews.bookinfo.svc.cluster.local:9080'),
    grpcDetails: new Proxy(serve.xds, 'sidecar~10.1.0.3~frontend-2.bookinfo~bookinfo.svc.cluster.local', 'bookinfo', 'grpc', 'details.bookinfo.svc.cluster.local:9081'),
    otherNamespace: new Proxy(serve.xds, 'sidecar~10.2.0.1~cart-1.shop~shop.svc.cluster.local', 'shop', 'sidecar'),
  };
  t.teardown(() => Promise.all(Object.values(proxies).map((p) => p.close())));
  await eventually(async () => {
    for (const [name, p] of Object.entries(proxies)) if (!p.lastRoutes) throw new Error(`${name} has no routes yet`);
  }, 30_000, 100);
  t.deepEqual(proxies.sidecar.reviewsWeights(), { v1: 100 });
  t.deepEqual(proxies.grpcReviews.reviewsWeights(), { v1: 100 });
  t.is(proxies.grpcDetails.reviewsWeights(), undefined, 'details callers do not route to reviews');
  t.is(proxies.otherNamespace.reviewsWeights(), undefined, 'reviews is not exported to shop');
  await new Promise((r) => setTimeout(r, 1500));

  const affected = [proxies.sidecar, proxies.grpcReviews];
  const unaffected = { grpcDetails: proxies.grpcDetails, otherNamespace: proxies.otherNamespace };
  const step = async (what: string, act: () => Promise<void>, expected: Record<string, number>) => {
    for (const p of Object.values(proxies)) p.mark();
    await act();
    await eventually(async () => {
      for (const p of affected) if (JSON.stringify(p.reviewsWeights()) !== JSON.stringify(expected)) throw new Error(`${what}: ${p.kind} has ${JSON.stringify(p.reviewsWeights())}`);
    }, 20_000, 100);
    // Give a stray push time to show up.
    await new Promise((r) => setTimeout(r, 2000));
    for (const p of affected) t.deepEqual([...new Set(p.after.map((r) => r.type_url))], [TYPE_URL.route], `${what}: ${p.kind} got the route change and nothing else`);
    for (const [name, p] of Object.entries(unaffected)) t.deepEqual(p.after.map((r) => `${r.type_url} ${r.names.join(',')}`), [], `${what}: no push to ${name}`);
  };

  // The change is committed; the Rollout serves its first step (30%) instead of Git's 0/100.
  await step('first step', () => writeFileIn(dir, 'bookinfo.yaml', `${service('reviews', 'bookinfo', 9080, true)}${service('details', 'bookinfo', 9081, false)}${reviewsVs(0, 100)}`), { v1: 70, v2: 30 });
  await step(
    'promotion',
    async () => {
      const r = await cli(['rollout', 'promote', 'bookinfo/reviews', '--server', serve.admin, '--token-file', token]);
      t.is(r.code, 0, r.stderr);
    },
    { v2: 100 },
  );
  const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { proxy: string; lastNack?: unknown }[] };
  t.is(syncz.proxies.length, 4);
  t.deepEqual(syncz.proxies.filter((p) => p.lastNack), []);
});
