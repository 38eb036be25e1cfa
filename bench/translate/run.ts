// Translation cost on a generated mesh: buildMeshModel once, then translate
// for one sidecar, one proxyless gRPC client and one gateway. Prints figures
// and the machine; no goals are asserted here.
//   npm run build && node dist/bench/translate/run.js [services=1000]

import os from 'node:os';
import type { AnyResource, ProxyInfo } from '../../src/api/types.js';
import { makeConfigSet } from '../../src/config/load.js';
import { buildMeshModel } from '../../src/mesh/index.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { translate } from '../../src/xds/translate/index.js';

const N = Number(process.argv[2] ?? 1000);

function res(kind: string, ns: string, name: string, spec: unknown): AnyResource {
  return { kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec, origin: { file: 'gen', line: 1 }, raw: {}, digest: '' } as unknown as AnyResource;
}

const list: AnyResource[] = [];
for (let i = 0; i < N; i++) {
  const ns = `ns${i % 20}`;
  const name = `svc${i}`;
  list.push(res('ServiceEntry', ns, name, {
    hosts: [`${name}.${ns}.svc.cluster.local`], location: 'MESH_INTERNAL', resolution: 'STATIC',
    ports: [{ number: 8080, name: 'http', protocol: 'HTTP' }],
    endpoints: [1, 2].map((k) => ({ address: `10.${i >> 8}.${i & 255}.${k}`, labels: { app: name, version: `v${k}` }, serviceAccount: name })),
  }));
  list.push(res('DestinationRule', ns, name, { host: name, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }));
  list.push(res('VirtualService', ns, name, { hosts: [name], http: [
    { match: [{ headers: { 'x-canary': { exact: 'y' } } }], route: [{ destination: { host: name, subset: 'v2' } }] },
    { route: [{ destination: { host: name, subset: 'v1' }, weight: 90 }, { destination: { host: name, subset: 'v2' }, weight: 10 }] },
  ] }));
}
list.push(res('Gateway', 'ns0', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }));
list.push(res('VirtualService', 'ns0', 'edge', { hosts: ['*'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'svc0' } }] }] }));

const config = makeConfigSet(list);
const ms = (t: number) => (performance.now() - t).toFixed(0);
let t = performance.now();
const model = buildMeshModel(config, buildServiceIndex(config));
console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, Node ${process.version}`);
console.log(`mesh: ${N} services (2 endpoints, 2 subsets, 1 VirtualService each)`);
console.log(`buildMeshModel: ${ms(t)} ms`);
const proxies: ProxyInfo[] = [
  { id: 'sidecar', kind: 'sidecar', namespace: 'ns1', labels: { app: 'svc1' }, ips: ['10.0.1.1'] },
  { id: 'grpc', kind: 'grpc', namespace: 'ns1', labels: { app: 'svc1' }, ips: ['10.0.1.1'] },
  { id: 'router', kind: 'router', namespace: 'ns0', labels: { istio: 'ingressgateway' }, ips: ['10.9.0.1'] },
];
function size(r: ReturnType<typeof translate>): string {
  let n = 0;
  let bytes = 0;
  for (const m of r.values()) for (const x of m.values()) { n++; bytes += JSON.stringify(x.value).length; }
  return `${n} resources, ${(bytes / 1e6).toFixed(1)} MB JSON`;
}
for (const p of proxies) {
  t = performance.now();
  const r = translate(p, model);
  const cold = ms(t);
  // Another workload of the same namespace: its outbound config is shared (memoized per model), only inbound is
  // built. Gateways are not memoized (a second replica is a second full translation, unless the cache shares its key).
  const other = p.kind === 'router' ? { ...p, id: 'router-2', ips: ['10.9.0.2'] } : { ...p, id: `${p.id}-2`, labels: { app: 'svc21' }, ips: ['10.0.21.1'] };
  t = performance.now();
  translate(other, model);
  const warm = ms(t);
  console.log(`translate ${p.kind.padEnd(7)}: first ${cold} ms, another workload same namespace ${warm} ms (${size(r)})`);
}
console.log(`heap used: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
