// MCD4160: when everything of a type that a namespace's proxyless gRPC
// clients can see would not fit in one gRPC message (4 MiB), translation
// says so, naming the namespace and suggesting a Sidecar scope; with the
// scope, it does not. The size estimate stays close to the real encoding.

import test from 'ava';
import type { AnyResource } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildMeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { encodeUnchecked } from '../../../../src/xds/proto.js';
import { translateWithDiagnostics } from '../../../../src/xds/translate/index.js';
import { approxEncodedSize } from '../../../../src/xds/translate/limits.js';
import { goldenOutputs } from '../../../golden/harness.js';

const resource = (kind: string, ns: string, name: string, spec: Record<string, unknown>) =>
  ({ kind, apiVersion: 'networking.istio.io/v1', metadata: { name, namespace: ns, labels: {}, annotations: {} }, spec, origin: { file: 'gen.yaml', line: 1 }, raw: {}, digest: '' }) as unknown as AnyResource;

function mesh(services: number, scoped: boolean): AnyResource[] {
  const out: AnyResource[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns${i % 10}`;
    out.push(resource('ServiceEntry', ns, `svc${i}`, {
      hosts: [`service-number-${i}-with-a-long-descriptive-name.${ns}.svc.cluster.local`],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: 8080, name: 'grpc', protocol: 'GRPC' }, { number: 9090, name: 'http', protocol: 'HTTP' }],
      endpoints: [{ address: `10.${Math.floor(i / 250)}.${i % 250}.1`, labels: { app: `svc${i}` } }, { address: `10.${Math.floor(i / 250)}.${i % 250}.2`, labels: { app: `svc${i}` } }],
    }));
  }
  if (scoped) out.push(resource('Sidecar', 'ns0', 'default', { egress: [{ hosts: ['./*'] }] }));
  return out;
}

const client = { id: 'grpc~10.9.9.9~c.ns0~ns0.svc.cluster.local', kind: 'grpc' as const, namespace: 'ns0', labels: {}, ips: [] };

test('a namespace whose proxyless clients see too much is named, with a Sidecar suggested; the scoped one is not', (t) => {
  const run = (scoped: boolean) => {
    const config = makeConfigSet(mesh(4000, scoped));
    return translateWithDiagnostics(client, buildMeshModel(config, buildServiceIndex(config))).diagnostics.filter((d) => d.code === 'MCD4160');
  };
  const wide = run(false);
  t.true(wide.length >= 1, 'MCD4160 without a scope');
  t.regex(wide[0]!.message, /proxyless gRPC clients in namespace ns0 see 4000 services: .* MiB in one response, over gRPC's 4 MiB default receive limit.*Sidecar/);
  t.is(wide[0]!.severity, 'warning');
  t.deepEqual(run(true), []);
});

test('the size estimate is within 25% of the real encoding for every golden resource over 200 bytes, and in total', (t) => {
  let real = 0;
  let approx = 0;
  for (const r of goldenOutputs()) {
    const bytes = encodeUnchecked(r.typeUrl, r.value).length;
    const est = approxEncodedSize(r.value);
    real += bytes;
    approx += est;
    if (bytes > 200) t.true(est >= bytes * 0.75 && est <= bytes * 1.25, `${r.from} ${r.name}: ${est} estimated, ${bytes} real`);
  }
  t.true(approx >= real * 0.9 && approx <= real * 1.1, `total: ${approx} estimated, ${real} real`);
  t.log(`total: ${approx} estimated, ${real} real`);
});
