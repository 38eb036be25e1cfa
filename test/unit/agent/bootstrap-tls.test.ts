// Bootstraps pointed at meshcd's TLS port (issue 9 §1): the gRPC one uses
// gRFC A65 `tls` channel credentials from the agent's own files, Envoy's
// xds-grpc cluster presents the agent's SDS `default` certificate and checks
// meshcd's against ROOTCA. The plaintext bootstrap stays `insecure`, which
// is what @grpc/grpc-js-xds 1.14 can parse.

import test from 'ava';
import { createRequire } from 'node:module';
import { envoyBootstrap, grpcBootstrap, type BootstrapOptions } from '../../../src/agent/bootstrap.js';
import { TYPE_URL } from '../../../src/api/types.js';
import { checkResource } from '../../../src/xds/proto.js';

const require_ = createRequire(import.meta.url);
const base: BootstrapOptions = { kind: 'grpc', xdsAddress: '127.0.0.1:15012', namespace: 'shop', serviceAccount: 'cart', podName: 'cart-1', ip: '10.1.2.3', labels: { app: 'cart' }, certDir: '/var/run/meshcd', refreshIntervalSeconds: 5 };

test('gRPC bootstrap to the TLS port: A65 tls credentials from the agent files; plaintext stays insecure (grpc-js-xds parses it)', (t) => {
  const tls = grpcBootstrap({ ...base, xdsTls: true }) as { xds_servers: { channel_creds: unknown[] }[] };
  t.deepEqual(tls.xds_servers[0]!.channel_creds, [{ type: 'tls', config: { certificate_file: '/var/run/meshcd/cert-chain.pem', private_key_file: '/var/run/meshcd/key.pem', ca_certificate_file: '/var/run/meshcd/root-cert.pem', refresh_interval: '5s' } }]);
  const { validateBootstrapConfig } = require_('@grpc/grpc-js-xds/build/src/xds-bootstrap.js') as { validateBootstrapConfig(o: unknown): unknown };
  t.throws(() => validateBootstrapConfig(tls), { message: /google_default,insecure/ }, 'grpc-js-xds 1.14 cannot do TLS to the xDS server (documented)');
  const plain = grpcBootstrap({ ...base, xdsAddress: '127.0.0.1:15010' }) as { xds_servers: { channel_creds: unknown[] }[] };
  t.deepEqual(plain.xds_servers[0]!.channel_creds, [{ type: 'insecure' }]);
  t.notThrows(() => validateBootstrapConfig(plain));
});

test('Envoy bootstrap to the TLS port: xds-grpc over TLS with SDS default + ROOTCA from the agent; a valid Cluster', (t) => {
  const b = envoyBootstrap({ ...base, kind: 'sidecar', xdsAddress: 'meshcd.meshcd-system.svc:15012', sdsSocket: '/run/sds.sock', xdsTls: true }) as { static_resources: { clusters: Record<string, unknown>[] } };
  const xds = b.static_resources.clusters.find((c) => c.name === 'xds-grpc')!;
  t.like(xds, {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        sni: 'meshcd.meshcd-system.svc',
        common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }], validation_context_sds_secret_config: { name: 'ROOTCA' } },
      },
    },
  });
  t.deepEqual(checkResource(TYPE_URL.cluster, { ...xds, connect_timeout: { seconds: 1, nanos: 0 } }), []);
  const plain = envoyBootstrap({ ...base, kind: 'sidecar', sdsSocket: '/run/sds.sock' }) as { static_resources: { clusters: Record<string, unknown>[] } };
  t.false('transport_socket' in plain.static_resources.clusters[0]!);
});
