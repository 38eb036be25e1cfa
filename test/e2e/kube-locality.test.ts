// Locality load balancing with Kubernetes endpoints, where the proxy's
// locality comes from its xDS node (bootstrap `node.locality`, as Envoy and
// gRPC send it) — the clients here are not pods meshcd knows — and the
// policy from Istio's mesh-wide MeshConfig localityLbSetting, which a
// DestinationRule's own setting replaces. Runs in its own network namespace
// (test/helpers/netns.ts): pods are 10.244.0.x there.
//
// - echo has a pod in us-east and one in us-west (their nodes' topology
//   labels); a grpc-js-xds client whose bootstrap says us-east and a grpc-go
//   client whose bootstrap says us-west each stay in their own region
//   (MeshConfig localityLbSetting {enabled: true} + a DestinationRule with
//   outlier detection only), with zero NACKs on both sides;
// - the east pod goes away: the east client fails over to the west pod;
// - the DestinationRule sets localityLbSetting {enabled: false}: both spread
//   over both regions again.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGoClient, goEventually, serverNacks } from '../helpers/go-grpc-client.js';
import { assertPassedInPodNetwork, inPodNetwork, podIp } from '../helpers/netns.js';
import { bootstrapWith, startXdsClientProcess } from '../helpers/kube-xds-client.js';
import { startCluster } from '../helpers/kube-cluster.js';
import { createNamespace, createNode, createPod, createService, putEndpointSlice } from '../helpers/kube-objects.js';
import { eventually, startBackend, startServe, type Backend } from '../helpers/xds-e2e.js';

const TARGET_PORT = 8080;
const PORTS = [{ name: 'grpc', port: TARGET_PORT }];
const MESH_CONFIG = `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  localityLbSetting: {enabled: true}
`;
const dr = (extra = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
${extra}`;

if (!inPodNetwork()) {
  test('locality from the xDS node and the mesh-wide setting (in its own network namespace)', (t) => assertPassedInPodNetwork(t, import.meta.url, 1));
} else {
  test('clients keep to the region their bootstrap names (mesh-wide setting), fail over, and spread when the DestinationRule turns it off', async (t) => {
    const cluster = await startCluster();
    t.teardown(() => cluster.stop());
    const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-loc-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'mesh.yaml'), `${MESH_CONFIG}---\n${dr()}`);

    const backends: Backend[] = [];
    for (const [n, version] of [[41, 'us-east'], [42, 'us-west']] as const) {
      backends.push(await startBackend(version, new grpc.Server(), (s) => new Promise((resolve, reject) => s.bindAsync(`${podIp(n)}:${TARGET_PORT}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))))));
    }
    t.teardown(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
    await createNamespace(cluster, 'demo');
    await createNode(cluster, 'node-east', 'us-east', 'us-east-1a');
    await createNode(cluster, 'node-west', 'us-west', 'us-west-1a');
    await createService(cluster, 'demo', 'echo', [{ name: 'grpc', port: 7070, targetPort: TARGET_PORT }]);
    await createPod(cluster, 'demo', 'echo-east', podIp(41), { app: 'echo' }, { node: 'node-east' });
    await createPod(cluster, 'demo', 'echo-west', podIp(42), { app: 'echo' }, { node: 'node-west' });
    const both = [{ ip: podIp(41), pod: 'echo-east', node: 'node-east' }, { ip: podIp(42), pod: 'echo-west', node: 'node-west' }];
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, both);

    const serve = await startServe(dir, ['--kubeconfig', cluster.kubeconfig, '--no-ca']);
    t.teardown(() => serve.stop().then(() => undefined));
    await eventually(async () => {
      if (!/accepted dir@/.test(serve.stdout())) throw new Error(`not accepted yet:\n${serve.stdout()}`);
    }, 60_000);

    // Neither client is a pod: its locality is only what its bootstrap says.
    const target = 'xds:///echo.demo.svc.cluster.local:7070';
    const east = await startXdsClientProcess(target, bootstrapWith({ servers: [serve.xds], nodeId: 'grpc-js-east', namespace: 'demo', locality: { region: 'us-east', zone: 'us-east-1a' } }));
    t.teardown(() => east.close());
    const west = await startGoClient(bootstrapWith({ servers: [serve.xds], nodeId: 'grpc-go-west', namespace: 'demo', locality: { region: 'us-west', zone: 'us-west-1a' } }));
    t.teardown(() => west.stop());
    const goSpec = { target, n: 20, wait_ms: 20_000 };

    const e1 = await east.run({ n: 20 });
    t.deepEqual([e1.versions, e1.errors], [{ 'us-east': 20 }, []], 'grpc-js-xds in us-east stays in us-east');
    const w1 = await west.run(goSpec);
    t.deepEqual([w1.backends, w1.errors], [{ 'us-west': 20 }, []], 'grpc-go in us-west stays in us-west');
    const dump = await (await fetch(`${serve.admin}/debug/config_dump?proxy=grpc-js-east`)).text();
    t.regex(dump, /"priority":\s*1\b/, 'the other region is the failover priority');

    // The east pod is not ready any more: the east client fails over to us-west.
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, [{ ...both[0]!, ready: false }, both[1]!]);
    const e2 = await east.until(10, (r) => !r.versions['us-east'] && r.errors.length === 0);
    t.deepEqual([e2.versions, e2.errors], [{ 'us-west': 10 }, []]);
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, both);
    const e3 = await east.until(10, (r) => !r.versions['us-west'] && r.errors.length === 0);
    t.deepEqual(e3.versions, { 'us-east': 10 }, 'and back');

    // The DestinationRule's own setting replaces the mesh's: turned off, both spread.
    await writeFile(join(dir, 'mesh.yaml'), `${MESH_CONFIG}---\n${dr('    loadBalancer:\n      localityLbSetting: {enabled: false}\n')}`);
    const e4 = await east.until(40, (r) => !!r.versions['us-east'] && !!r.versions['us-west'] && r.errors.length === 0);
    t.true(!!e4.versions['us-east'] && !!e4.versions['us-west'], `grpc-js-xds spreads: ${JSON.stringify(e4)}`);
    const w4 = await goEventually(west, { ...goSpec, n: 40 }, (a) => !!a.backends['us-east'] && !!a.backends['us-west']);
    t.true(!!w4.backends['us-east'] && !!w4.backends['us-west'], `grpc-go spreads: ${JSON.stringify(w4.backends)}`);
    t.deepEqual(w4.nacks, [], 'grpc-go NACKed nothing');
    t.deepEqual(await serverNacks(serve.admin), [], 'meshcd saw no NACK');
  });
}
