// Relative route weights (issue 12) through real clients. Istio's webhook
// accepts destination weights that do not sum to 100 (pkg/config/validation:
// only a negative weight, or a total of 0 with several destinations, is an
// error), and istiod does not rescale them (pilot/pkg/networking/core/route:
// one destination gets the whole route whatever its weight; with several, a
// weight-0 destination is left out and the others are sent as they are, for
// Envoy and gRPC to read as relative). `istioSplit` below is that rule; each
// case's expected shares come from it, and the test checks, for each case:
//   - `meshcd validate`: no error, and MCD0230's stated split (a warning)
//     when the weights of several destinations do not sum to 100;
//   - the route configuration meshcd serves: Istio's clusters and weights;
//   - grpc-go's xDS client (as a workload: certificate from serve's CA,
//     config over TLS) and @grpc/grpc-js-xds (plaintext port): the observed
//     split, within 4 points (> 3σ at these call counts), a left-out
//     destination never called, and zero NACKs on either side.

import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { serverNacks, startGoClient, type GoAnswer, type GoClient } from '../helpers/go-grpc-client.js';
import { goPeer } from '../helpers/go-peers.js';
import { startIdentity, startServeWithCa } from '../helpers/go-mesh-identities.js';
import { callEcho, eventually, startBackend, tempDir, writeFileIn, xdsClient, type ServeProcess } from '../helpers/xds-e2e.js';

type EchoClient = Awaited<ReturnType<typeof xdsClient>>;
import { runValidate } from '../../src/cli/validate.js';

const HOST = 'reviews.bookinfo.svc.cluster.local';
const TARGET = `xds:///${HOST}:9080`;
const GO_TOKEN = 'e2e-relative-weights-token-0123456789';
const JS_ID = 'sidecar~127.0.0.1~client-js.bookinfo~bookinfo.svc.cluster.local';
const VERSIONS = ['v1', 'v2', 'v3'] as const;

interface Case {
  name: string;
  /** The x-case header value that selects the route; none for the last, catch-all route. */
  header?: string;
  /** Subset → weight as written in the VirtualService (undefined: no weight field). */
  weights: [string, number | undefined][];
  calls: number;
}

const CASES: Case[] = [
  { name: 'single-weight-0', header: 'single', weights: [['v3', 0]], calls: 200 },
  { name: 'over-100-with-a-zero', header: 'three', weights: [['v1', 0], ['v2', 150], ['v3', 50]], calls: 2000 },
  { name: 'one-third', weights: [['v1', 1], ['v2', 2]], calls: 3000 },
];

/** Istio's rule (route.go): each destination's share of the route's traffic. */
function istioSplit(weights: readonly [string, number | undefined][]): Record<string, number> {
  if (weights.length === 1) return { [weights[0]![0]]: 1 };
  const live = weights.filter(([, w]) => (w ?? 0) > 0);
  const total = live.reduce((s, [, w]) => s + w!, 0);
  return Object.fromEntries(live.map(([v, w]) => [v, w! / total]));
}

function meshYaml(ports: Record<string, number>): string {
  const we = VERSIONS.map((v) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-${v}, namespace: bookinfo}
spec:
  address: 127.0.0.1
  ports: {grpc: ${ports[v]}}
  labels: {app: reviews, version: ${v}}
`);
  const routes = CASES.map((c) => {
    const match = c.header ? `\n    match:\n    - headers:\n        x-case: {exact: ${c.header}}` : '';
    const dests = c.weights.map(([v, w]) => `\n    - destination: {host: ${HOST}, subset: ${v}}${w === undefined ? '' : `\n      weight: ${w}`}`).join('');
    return `  - name: ${c.name}${match}\n    route:${dests}`;
  });
  return [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: reviews}}
`,
    ...we,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: ${HOST}
  subsets:
${VERSIONS.map((v) => `  - {name: ${v}, labels: {version: ${v}}}`).join('\n')}
`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [${HOST}]
  http:
${routes.join('\n')}
`,
  ].join('---\n');
}

/** Undone in reverse order after the tests. */
const undo: (() => Promise<unknown> | unknown)[] = [];
let ctx: { serve: ServeProcess; dir: string; go: GoClient; js: EchoClient };

test.before(async (t) => {
  t.timeout(600_000, 'the first build of grpc-go-client on a cold machine');
  await goPeer('grpc-go-client');
  const work = await tempDir('meshcd-e2e-weights-');
  undo.push(work.remove);
  const dir = join(work.dir, 'mesh');
  await mkdir(dir);
  const ports: Record<string, number> = {};
  for (const v of VERSIONS) {
    const b = await startBackend(v);
    undo.push(() => b.close());
    ports[v] = b.port;
  }
  await writeFileIn(dir, 'reviews.yaml', meshYaml(ports));
  const { serve, ca } = await startServeWithCa(work.dir, dir, 'bookinfo', { 'client-go': GO_TOKEN });
  undo.push(() => serve.stop());
  const goId = await startIdentity(work.dir, ca, ca.address, 'client-go', { pod: 'client-go', ttl: '1h' });
  undo.push(() => goId.agent.stop());
  const go = await startGoClient(goId.bootstrap);
  undo.push(() => go.stop());
  const js = await xdsClient(TARGET, serve.xds, JS_ID);
  undo.push(() => js.close());
  await eventually(() => callEcho(js, {}, {}, 2000), 15000);
  ctx = { serve, dir, go, js };
});

test.after.always(async () => {
  for (const f of undo.reverse()) await f();
});

const pct = (p: number) => (Number.isInteger(100 * p) ? String(100 * p) : (100 * p).toFixed(1));

test.serial('validate: every case is valid; several destinations not summing to 100 get MCD0230 with the split Istio gives', async (t) => {
  const { report } = await runValidate(ctx.dir, { translation: false, defaultPolicies: false });
  t.deepEqual(report.diagnostics.filter((d) => d.severity === 'error'), []);
  const warned = report.diagnostics.filter((d) => d.code === 'MCD0230');
  const expected = CASES.filter((c) => c.weights.length > 1 && c.weights.reduce((s, [, w]) => s + (w ?? 0), 0) !== 100);
  t.is(warned.length, expected.length, JSON.stringify(report.diagnostics));
  for (const c of expected) {
    const i = CASES.indexOf(c);
    const w = warned.find((d) => d.path === `spec.http[${i}].route`);
    t.truthy(w, `MCD0230 at spec.http[${i}].route: ${JSON.stringify(warned)}`);
    const split = istioSplit(c.weights);
    for (const [v] of c.weights) t.true(w!.message.includes(`${HOST} (${v}) ${pct(split[v] ?? 0)}%`), `${c.name}: ${v} ${pct(split[v] ?? 0)}% in "${w!.message}"`);
  }
});

/** Each route's clusters as served: subset → weight (null for a route with one `cluster`). */
function servedRoutes(dump: unknown): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  const subset = (cluster: string) => cluster.split('|')[2]!;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const action = o.route as Record<string, unknown> | undefined;
    if (typeof o.name === 'string' && action && typeof action === 'object' && !Array.isArray(action)) {
      const wc = (action.weightedClusters ?? action.weighted_clusters) as { clusters: { name: string; weight: number | { value: number } }[] } | undefined;
      if (typeof action.cluster === 'string') out[o.name] = { [subset(action.cluster)]: null };
      else if (wc) out[o.name] = Object.fromEntries(wc.clusters.map((c) => [subset(c.name), typeof c.weight === 'object' ? c.weight.value : c.weight]));
    }
    Object.values(o).forEach(walk);
  };
  walk(dump);
  return out;
}

test.serial('serve sends Istio\'s clusters and weights: the one destination alone, weight-0 destinations left out, the rest as written', async (t) => {
  const dump = (await (await fetch(`${ctx.serve.admin}/debug/config_dump?proxy=${encodeURIComponent(JS_ID)}`)).json()) as unknown;
  const served = servedRoutes(dump);
  const expected = Object.fromEntries(
    CASES.map((c) => [`bookinfo/reviews/${c.name}`, c.weights.length === 1 ? { [c.weights[0]![0]]: null } : Object.fromEntries(c.weights.filter(([, w]) => (w ?? 0) > 0) as [string, number][])]),
  );
  t.deepEqual(served, expected, JSON.stringify(dump).slice(0, 4000));
});

const summary = (a: GoAnswer) => `calls=${a.calls} ok=${a.ok} backends=${JSON.stringify(a.backends)} codes=${JSON.stringify(a.codes)} errors=${a.errors.join(' | ')}`;

async function jsCounts(c: Case): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const headers: Record<string, string> = c.header ? { 'x-case': c.header } : {};
  for (let i = 0; i < c.calls; i += 50) {
    const batch = Math.min(50, c.calls - i);
    for (const r of await Promise.all(Array.from({ length: batch }, () => callEcho(ctx.js, {}, headers)))) counts[r.version] = (counts[r.version] ?? 0) + 1;
  }
  return counts;
}

function checkSplit(t: import('ava').ExecutionContext, client: string, c: Case, counts: Record<string, number>): void {
  const split = istioSplit(c.weights);
  const seen = Object.keys(counts).filter((v) => counts[v]! > 0).sort();
  t.deepEqual(seen, Object.keys(split).sort(), `${client} ${c.name}: backends called ${JSON.stringify(counts)}`);
  const shares = Object.fromEntries(Object.keys(split).map((v) => [v, (100 * (counts[v] ?? 0)) / c.calls]));
  t.log(`${client} ${c.name} over ${c.calls} calls: ${Object.entries(shares).map(([v, s]) => `${v} ${s.toFixed(1)}% (Istio ${pct(split[v]!)}%)`).join(', ')}`);
  for (const v of Object.keys(split)) t.true(Math.abs(shares[v]! - 100 * split[v]!) <= 4, `${client} ${c.name}: ${v} got ${shares[v]!.toFixed(1)}%, Istio's split gives ${pct(split[v]!)}%`);
}

for (const c of CASES) {
  test.serial(`grpc-go and grpc-js split ${c.name} (${c.weights.map(([v, w]) => `${v}=${w}`).join(', ')}) as Istio does`, async (t) => {
    const a = await ctx.go.run({ target: TARGET, n: c.calls, concurrency: 20, wait_ms: 15000, ...(c.header ? { metadata: { 'x-case': c.header } } : {}) });
    t.is(a.ok, c.calls, summary(a));
    checkSplit(t, 'grpc-go', c, a.backends);
    checkSplit(t, 'grpc-js', c, await jsCounts(c));
  });
}

test.serial('zero NACKs from grpc-go and grpc-js', async (t) => {
  const idle = await ctx.go.run({ target: TARGET, n: 0 });
  t.deepEqual(idle.nacks, [], 'grpc-go NACKed nothing');
  t.deepEqual(await serverNacks(ctx.serve.admin), [], 'meshcd recorded no NACK (grpc-js and grpc-go)');
});
