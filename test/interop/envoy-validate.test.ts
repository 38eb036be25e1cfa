// Envoy's own validation rules as an oracle: every resource meshcd emits —
// the golden outputs, seeded random meshes and examples/mesh, for sidecars,
// gateways and proxyless clients — is encoded as meshcd sends it and checked
// by test/interop/envoy-validate (go-control-plane's generated types with
// unknown fields refused, and protoc-gen-validate's ValidateAll). meshcd's own
// checkResource must agree on every one: a disagreement is a bug in meshcd's checks.

import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ProxyInfo, ProxyResources } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { loadRevision, makeConfigSet } from '../../src/config/load.js';
import { buildMeshModel } from '../../src/mesh/index.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { readFolderRevision } from '../../src/source/folder.js';
import { translateWithDiagnostics } from '../../src/xds/translate/index.js';
import { checkResource, encodeUnchecked } from '../../src/xds/proto.js';
import { goldenOutputs as goldenResources } from '../golden/harness.js';
import { goPeer } from '../helpers/go-peers.js';
import { RANDOM_MESH_PROXIES, randomMesh } from '../helpers/random-mesh.js';
import { mutants } from './mutants.js';

interface Emitted {
  /** Where it came from: golden case/proxy, seed/proxy, example proxy. */
  from: string;
  typeUrl: string;
  name: string;
  value: Record<string, unknown>;
}


function fromResources(from: string, res: ProxyResources): Emitted[] {
  const out: Emitted[] = [];
  for (const [typeUrl, m] of res) for (const [name, r] of m) out.push({ from, typeUrl, name, value: r.value });
  return out;
}

function goldenOutputs(): Emitted[] {
  return goldenResources();
}

const SEEDS = Array.from({ length: 40 }, (_, i) => 1000 + i * 7919);

function randomOutputs(): Emitted[] {
  const out: Emitted[] = [];
  for (const seed of SEEDS) {
    const config = makeConfigSet(randomMesh(seed));
    const model = buildMeshModel(config, buildServiceIndex(config));
    for (const p of RANDOM_MESH_PROXIES) out.push(...fromResources(`seed ${seed} ${p.kind}/${p.namespace}`, translateWithDiagnostics(p, model).resources));
  }
  return out;
}

/** examples/mesh for every workload as a sidecar and as a proxyless client, and every Gateway's router. */
async function exampleOutputs(): Promise<Emitted[]> {
  const rev = await readFolderRevision(join(process.cwd(), 'examples', 'mesh'));
  const load = await loadRevision(rev);
  const index = buildServiceIndex(load.config);
  const model = buildMeshModel(load.config, index);
  const proxies: ProxyInfo[] = [];
  for (const w of index.workloads()) {
    const base = { namespace: w.namespace, labels: w.labels, ips: [w.address], ...(w.serviceAccount ? { serviceAccount: w.serviceAccount } : {}) };
    proxies.push({ ...base, id: `sidecar~${w.address}~${w.id}`, kind: 'sidecar' }, { ...base, id: `grpc~${w.address}~${w.id}`, kind: 'grpc' });
  }
  for (const gw of load.config.resources.filter((r) => r.kind === 'Gateway')) {
    const selector = ((gw.spec as { selector?: Record<string, string> }).selector) ?? {};
    proxies.push({ id: `router~10.9.0.1~${gw.metadata.name}`, kind: 'router', namespace: gw.metadata.namespace ?? 'default', labels: selector, ips: ['10.9.0.1'] });
  }
  const out: Emitted[] = [];
  for (const p of proxies) out.push(...fromResources(`examples/mesh ${p.id}`, translateWithDiagnostics(p, model).resources));
  return out;
}

interface GoVerdict {
  typeUrl: string;
  name: string;
  violations: string[];
}

/** The wire bytes meshcd would send (encodeUnchecked: so that a resource meshcd's checks refuse still reaches the oracle). */
function wire(items: Emitted[]): { typeUrl: string; name: string; bytes: Buffer }[] {
  return items.map((i) => ({ typeUrl: i.typeUrl, name: i.name, bytes: encodeUnchecked(i.typeUrl, i.value) }));
}

async function envoyValidate(items: { typeUrl: string; name: string; bytes: Buffer }[]): Promise<GoVerdict[]> {
  const bin = await goPeer('envoy-validate');
  const input = JSON.stringify(items.map((i) => ({ typeUrl: i.typeUrl, name: i.name, value: i.bytes.toString('base64') })));
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  child.stdin.end(input);
  if ((await code) !== 0) throw new Error(`envoy-validate exited ${await code}: ${err.trim()}`);
  const verdicts = JSON.parse(out) as GoVerdict[];
  if (verdicts.length !== items.length) throw new Error(`envoy-validate answered ${verdicts.length} verdicts for ${items.length} resources`);
  return verdicts;
}

/** One line per resource where the two checkers differ, or where either finds a fault. */
async function compare(items: Emitted[]): Promise<{ disagreements: string[]; faults: string[] }> {
  const verdicts = await envoyValidate(wire(items));
  const disagreements: string[] = [];
  const faults: string[] = [];
  items.forEach((it, i) => {
    const ours = checkResource(it.typeUrl, it.value);
    const envoy = verdicts[i]!.violations;
    const where = `${it.from}: ${it.typeUrl.split('.').pop()} ${it.name}`;
    if ((ours.length === 0) !== (envoy.length === 0)) disagreements.push(`${where}: meshcd says [${ours.join('; ')}], Envoy's rules say [${envoy.join('; ')}]`);
    for (const v of [...ours.map((e) => `meshcd: ${e}`), ...envoy.map((e) => `envoy: ${e}`)]) faults.push(`${where}: ${v}`);
  });
  return { disagreements, faults };
}

test.before('build test/interop/envoy-validate', async (t) => {
  t.timeout(600_000, 'a cold build of go-control-plane takes minutes on two cores');
  await goPeer('envoy-validate');
});

for (const [set, collect] of [['golden outputs', async () => goldenOutputs()], ['random meshes', async () => randomOutputs()], ['examples/mesh for sidecars, gateways and proxyless clients', exampleOutputs]] as const) {
  test(`Envoy's validators and meshcd's checks agree on every resource: ${set}`, async (t) => {
    t.timeout(300_000, 'thousands of resources through two checkers on a shared machine');
    const items = await collect();
    t.true(items.length > 10, `${items.length} resources`);
    const kinds = new Set(items.map((i) => i.typeUrl));
    t.true(kinds.has(TYPE_URL.listener) && kinds.has(TYPE_URL.route) && kinds.has(TYPE_URL.cluster), `types covered: ${[...kinds].join(', ')}`);
    const { disagreements, faults } = await compare(items);
    t.log(`${items.length} resources of ${kinds.size} types checked by both`);
    t.deepEqual(disagreements, []);
    t.deepEqual(faults.slice(0, 20), []);
  });
}

test('the oracle sees what Envoy refuses: unknown fields, empty names, out-of-range values', async (t) => {
  const broken: Emitted[] = [
    { from: 'hand-made', typeUrl: TYPE_URL.cluster, name: 'no-name', value: { name: '', type: 'STATIC', connect_timeout: { seconds: 1 } } },
    { from: 'hand-made', typeUrl: TYPE_URL.route, name: 'no-domains', value: { name: 'r', virtual_hosts: [{ name: 'vh', domains: [] }] } },
    { from: 'hand-made', typeUrl: TYPE_URL.endpoint, name: 'weight-zero', value: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } }, load_balancing_weight: { value: 0 } }] }] } },
  ];
  const verdicts = await envoyValidate(wire(broken));
  for (const [i, v] of verdicts.entries()) {
    t.true(v.violations.length > 0, `${broken[i]!.name}: Envoy's rules flag it`);
    t.true(checkResource(broken[i]!.typeUrl, broken[i]!.value).length > 0, `${broken[i]!.name}: meshcd's checks flag it`);
  }
  t.regex(verdicts[0]!.violations.join(' '), /Name|name/);
  // Field 999 (varint 1) appended to a good cluster, and the same inside an Any (a TLS context): unknown fields are refused at any depth.
  const good = { name: 'c', type: 'STATIC', connect_timeout: { seconds: 1 } };
  const extra = Buffer.from([0xb8, 0x3e, 0x01]);
  const [top] = await envoyValidate([{ typeUrl: TYPE_URL.cluster, name: 'extra', bytes: Buffer.concat([encodeUnchecked(TYPE_URL.cluster, good), extra]) }]);
  t.regex(top!.violations.join(' '), /unknown field\(s\) \[999\]/);
  const tls = { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'x' };
  const inner = { ...good, transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: tls } };
  const [clean] = await envoyValidate(wire([{ from: 'hand-made', typeUrl: TYPE_URL.cluster, name: 'tls', value: inner }]));
  t.deepEqual(clean!.violations, [], 'a well-formed Any inside passes');
});

// Where the two checkers still differ on a field emptied in a golden
// resource ("meshcd accepts": Envoy would NACK what meshcd sends; "meshcd
// rejects": meshcd is stricter). A "meshcd accepts" entry is a bug in
// src/xds/proto.ts: fix it there and drop it here (this test fails until the
// list matches). What is left is stricter on purpose:
const KNOWN_DISAGREEMENTS = [
  // Rds.config_source: {required: true} in the protos meshcd loads; Envoy v1.40's protos dropped the rule, but
  // proxyless clients refuse an RDS without one (grpc-go: "LDS's RDS configSource is not ADS or Self",
  // grpc-js-xds: "rds.config_source.ads and rds.config_source.self both unset"), so for api_listener (what
  // they get) meshcd's rule is the right one. For sidecars' filter chains it is only stricter than Envoy:
  // meshcd always sets ADS there, so no emitted resource is refused by it.
  'Listener api_listener.api_listener.rds: meshcd rejects',
  'Listener filter_chains[].filters[].typed_config.rds: meshcd rejects',
].sort();

test('one field emptied at a time in every golden resource: meshcd and Envoy refuse the same mutants, but for the known differences', async (t) => {
  t.timeout(300_000, 'thousands of mutants through two checkers on a shared machine');
  const base = goldenOutputs().filter((i) => i.typeUrl !== TYPE_URL.secret);
  const items: (Emitted & { path: string })[] = [];
  for (const it of base) for (const m of mutants(it.value, 400)) items.push({ ...it, value: m.value, path: m.path });
  const verdicts = await envoyValidate(wire(items));
  const found = new Map<string, string>();
  items.forEach((it, i) => {
    const ours = checkResource(it.typeUrl, it.value);
    const envoy = verdicts[i]!.violations;
    if ((ours.length === 0) === (envoy.length === 0)) return;
    const key = `${it.typeUrl.split('.').pop()} ${it.path.replace(/\[\d+\]/g, '[]')}: meshcd ${ours.length ? 'rejects' : 'accepts'}`;
    if (!found.has(key)) found.set(key, `${it.from} ${it.name}: meshcd [${ours.slice(0, 2).join('; ')}] envoy [${envoy.slice(0, 2).join('; ')}]`);
  });
  t.log(`${items.length} mutants of ${base.length} golden resources; ${found.size} kinds of disagreement`);
  for (const [k, v] of found) if (!KNOWN_DISAGREEMENTS.includes(k)) t.log(`new: ${k}\n  e.g. ${v}`);
  t.true(items.length > 1000);
  t.deepEqual([...found.keys()].sort(), KNOWN_DISAGREEMENTS);
});
