// Seeded random meshes: whatever the mix of features, every resource for
// every proxy kind passes checkResource (unknown fields, validate.rules),
// proxyless resources pass grpc-js-xds's own validation, and snapshots are
// consistent. Seeds are fixed so a failure reproduces.

import test from 'ava';
import { createRequire } from 'node:module';
import { TYPE_URL } from '../../../../src/api/types.js';
import { makeConfigSet } from '../../../../src/config/load.js';
import { buildMeshModel } from '../../../../src/mesh/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import { translateWithDiagnostics } from '../../../../src/xds/translate/index.js';
import { checkResource, encodeResource } from '../../../../src/xds/proto.js';
import { consistencyErrors } from '../../../golden/harness.js';
import { RANDOM_MESH_PROXIES, randomMesh } from '../../../helpers/random-mesh.js';

process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
const require_ = createRequire(import.meta.url);

const context = {
  bootstrap: { certificateProviders: { default: { plugin_name: 'file_watcher', config: {} } }, node: { id: 'x' }, xdsServers: [], authorities: {} },
  server: { serverUri: 'localhost:15010', channelCredentials: { type: 'insecure' }, serverFeatures: [] },
};

let decoders: Record<string, { decode(c: unknown, r: { type_url: string; value: Buffer }): { error?: string } }> | undefined;
function grpcDecoders() {
  if (decoders) return decoders;
  require_('@grpc/grpc-js-xds').register();
  const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
  decoders = {
    [TYPE_URL.listener]: require_(`${base}listener-resource-type`).ListenerResourceType.get(),
    [TYPE_URL.route]: require_(`${base}route-config-resource-type`).RouteConfigurationResourceType.get(),
    [TYPE_URL.cluster]: require_(`${base}cluster-resource-type`).ClusterResourceType.get(),
    [TYPE_URL.endpoint]: require_(`${base}endpoint-resource-type`).EndpointResourceType.get(),
  };
  return decoders;
}

const SEEDS = Array.from({ length: 40 }, (_, i) => 1000 + i * 7919);

test('random meshes translate to acceptable, consistent resources for every proxy kind', (t) => {
  let checked = 0;
  for (const seed of SEEDS) {
    const config = makeConfigSet(randomMesh(seed));
    const model = buildMeshModel(config, buildServiceIndex(config));
    const proxies = RANDOM_MESH_PROXIES;
    for (const p of proxies) {
      const out = translateWithDiagnostics(p, model);
      const problems: string[] = [...consistencyErrors(out.resources)];
      for (const [url, m] of out.resources) {
        for (const [name, r] of m) {
          for (const e of checkResource(url, r.value)) problems.push(`${name}: ${e}`);
          if (p.kind === 'grpc' && grpcDecoders()[url]) {
            const d = grpcDecoders()[url]!.decode(context, { type_url: url, value: encodeResource(url, r.value) });
            if (d.error) problems.push(`${name}: grpc-js-xds: ${d.error}`);
          }
          checked++;
        }
      }
      if (problems.length > 0) {
        t.fail(`seed ${seed}, proxy ${p.kind}/${p.namespace}: ${problems.slice(0, 5).join(' | ')}`);
        return;
      }
    }
  }
  t.true(checked > 1000, `checked ${checked} resources`);
});
