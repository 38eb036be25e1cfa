// The resources meshcd sends a proxyless client must pass grpc-js-xds's own
// validation (what decides ACK or NACK): encode them with Envoy's protos and
// run them through @grpc/grpc-js-xds 1.14's resource decoders.

import test from 'ava';
import { createRequire } from 'node:module';
import { TYPE_URL } from '../../../../src/api/types.js';
import { translate } from '../../../../src/xds/translate/index.js';
import { encodeResource } from '../../../../src/xds/proto.js';
import { loadCase } from '../../../golden/harness.js';

// grpc-js-xds reads its feature switches when first loaded; RBAC is off by default.
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
const require_ = createRequire(import.meta.url);

interface Decoder {
  decode(ctx: unknown, res: { type_url: string; value: Buffer }): { name: string; error?: string };
}

function decoders(): Record<string, Decoder> {
  require_('@grpc/grpc-js-xds').register();
  const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
  return {
    [TYPE_URL.listener]: require_(`${base}listener-resource-type`).ListenerResourceType.get(),
    [TYPE_URL.route]: require_(`${base}route-config-resource-type`).RouteConfigurationResourceType.get(),
    [TYPE_URL.cluster]: require_(`${base}cluster-resource-type`).ClusterResourceType.get(),
    [TYPE_URL.endpoint]: require_(`${base}endpoint-resource-type`).EndpointResourceType.get(),
  };
}

const context = {
  bootstrap: { certificateProviders: { default: { plugin_name: 'file_watcher', config: {} } }, node: { id: 'x' }, xdsServers: [], authorities: {} },
  server: { serverUri: 'localhost:15010', channelCredentials: { type: 'insecure' }, serverFeatures: [] },
};

for (const [fixture, proxy] of [['bookinfo', 'grpc-productpage'], ['bookinfo', 'grpc-ratings-server'], ['edge', 'grpc-web']] as const) {
  test(`grpc-js-xds accepts every resource for ${fixture}/${proxy}`, async (t) => {
    const c = await loadCase(fixture);
    const res = translate(c.proxies[proxy]!, c.model);
    const dec = decoders();
    let n = 0;
    for (const [url, m] of res) {
      const d = dec[url];
      if (!d) continue;
      for (const [name, r] of m) {
        const out = d.decode(context, { type_url: url, value: encodeResource(url, r.value) });
        t.is(out.error, undefined, `${name}`);
        t.is(out.name, name);
        n++;
      }
    }
    t.true(n > 20, `checked ${n} resources`);
  });
}

test('the decoders do refuse what grpc-js-xds refuses (the check above can fail)', (t) => {
  const dec = decoders();
  const route = { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, redirect: { path_redirect: '/x' } }] }] };
  const out = dec[TYPE_URL.route]!.decode(context, { type_url: TYPE_URL.route, value: encodeResource(TYPE_URL.route, route) });
  t.regex(out.error ?? '', /unsupported action/);
});
