// Kubernetes discovery end to end: a real API server (test/helpers/kube-cluster.ts),
// `meshcd serve --kubeconfig`, echo backends as "pods" on 10.244.0.x and a
// @grpc/grpc-js-xds client. The file runs itself inside a network namespace
// of its own (test/helpers/netns.ts): the API server refuses loopback
// addresses in EndpointSlices, and pod addresses there never leave it.
//
// - pods and EndpointSlice endpoints appearing and disappearing change where
//   the client's calls go; a DestinationRule subset in Git selects pods by
//   their labels;
// - the API server becomes unreachable (a cut network path) while endpoints
//   change and etcd is compacted: meshcd keeps serving the endpoints it has,
//   reconnects with backoff, gets 410 Gone for its old resourceVersion,
//   relists, and the client then reaches the new pod — with no failed call
//   throughout and zero NACKs;
// - two clusters (two API servers, `--kubeconfig east=… --kubeconfig west=…`)
//   with the same Service: one service with both clusters' endpoints, and
//   Istio's locality failover (DestinationRule localityLbSetting + outlier
//   detection) keeps the client in its own region until its region's
//   endpoint goes away, then fails over to the other cluster, and back.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inPodNetwork, podIp, runSelfInPodNetwork, startCuttableProxy } from '../helpers/netns.js';
import { startClientProcess } from '../helpers/xds-client-process.js';
import { kubeconfigYaml, startCluster } from '../helpers/kube-cluster.js';
import { createNamespace, createNode, createPod, createService, deletePod, putEndpointSlice } from '../helpers/kube-objects.js';
import { callEcho, eventually, startBackend, startServe, xdsClient, type Backend } from '../helpers/xds-e2e.js';

const MESH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo.demo.svc.cluster.local]
  http:
  - match: [{headers: {x-subset: {exact: v2}}}]
    route: [{destination: {host: echo.demo.svc.cluster.local, subset: v2}}]
    timeout: 5s
  - route: [{destination: {host: echo.demo.svc.cluster.local}}]
    timeout: 5s
`;

const TARGET_PORT = 8080;
const PORTS = [{ name: 'grpc', port: TARGET_PORT }];

async function backendOn(ip: string, version: string): Promise<Backend> {
  return startBackend(version, new grpc.Server(), (s) => new Promise((resolve, reject) => s.bindAsync(`${ip}:${TARGET_PORT}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))));
}

if (!inPodNetwork()) {
  test('Kubernetes discovery e2e (in its own network namespace)', async (t) => {
    const r = await runSelfInPodNetwork(import.meta.url);
    t.log(r.output.split('\n').filter((l) => /✔|✘|passed|failed/.test(l)).join('\n'));
    t.is(r.code, 0, r.output);
    t.regex(r.output, /3 tests passed/);
  });
} else {
  const versions = async (client: Awaited<ReturnType<typeof xdsClient>>, n: number, headers: Record<string, string> = {}) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await callEcho(client, {}, headers);
      seen[r.version] = (seen[r.version] ?? 0) + 1;
    }
    return seen;
  };

  test.serial('pods and endpoints appearing and disappearing reach a grpc-js-xds client; subsets select pods by labels; an outage with compaction relists without dropping endpoints', async (t) => {
    const cluster = await startCluster({ watchCache: false });
    t.teardown(() => cluster.stop());
    const proxy = await startCuttableProxy(cluster.server.replace('https://', ''));
    t.teardown(() => proxy.close());
    const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-e2e-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'mesh.yaml'), MESH);
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeconfigYaml(`https://${proxy.address}`, cluster.caPem, cluster.adminToken, 'admin'), { mode: 0o600 });

    await createNamespace(cluster, 'demo');
    await createNode(cluster, 'node-a', 'eu', 'eu-1a');
    await createService(cluster, 'demo', 'echo', [{ name: 'grpc', port: 7070, targetPort: TARGET_PORT }]);
    const v1 = await backendOn(podIp(11), 'v1');
    const v2 = await backendOn(podIp(12), 'v2');
    const v3 = await backendOn(podIp(13), 'v3');
    t.teardown(() => Promise.all([v1.close(), v2.close(), v3.close()]).then(() => undefined));
    await createPod(cluster, 'demo', 'echo-v1', podIp(11), { app: 'echo', version: 'v1' }, { node: 'node-a' });
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(11), pod: 'echo-v1', node: 'node-a' }]);

    const serve = await startServe(dir, ['--kubeconfig', kubeconfig, '--no-ca']);
    t.teardown(() => serve.stop().then(() => undefined));
    await eventually(async () => {
      if (!/accepted dir@/.test(serve.stdout())) throw new Error(`not accepted yet:\n${serve.stdout()}`);
    }, 60_000);
    t.regex(serve.stdout(), /kubernetes: listed Kubernetes/);
    t.is((await fetch(`${serve.admin}/ready`)).status, 200);

    const client = await xdsClient('xds:///echo.demo.svc.cluster.local:7070', serve.xds, `sidecar~${podIp(100)}~client.demo~demo.svc.cluster.local`, 'demo');
    t.teardown(() => client.close());
    await eventually(() => callEcho(client), 30_000);
    t.deepEqual(await versions(client, 10), { v1: 10 });

    // A second pod joins the EndpointSlice: traffic spreads; the v2 subset (by pod label) gets only it.
    await createPod(cluster, 'demo', 'echo-v2', podIp(12), { app: 'echo', version: 'v2' }, { node: 'node-a' });
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(11), pod: 'echo-v1', node: 'node-a' }, { ip: podIp(12), pod: 'echo-v2', node: 'node-a' }]);
    await eventually(async () => {
      const seen = await versions(client, 20);
      if (!seen.v2) throw new Error(`v2 not reached yet: ${JSON.stringify(seen)}`);
    }, 20_000);
    t.deepEqual(await versions(client, 10, { 'x-subset': 'v2' }), { v2: 10 });

    // The first pod goes away (not ready, then deleted): no call reaches it any more.
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(11), pod: 'echo-v1', ready: false }, { ip: podIp(12), pod: 'echo-v2', node: 'node-a' }]);
    await deletePod(cluster, 'demo', 'echo-v1');
    await eventually(async () => {
      const seen = await versions(client, 10);
      if (seen.v1) throw new Error(`v1 still reached: ${JSON.stringify(seen)}`);
    }, 20_000);
    t.deepEqual(await versions(client, 20), { v2: 20 });

    // Outage: the path to the API server is cut. While meshcd cannot see it, a third pod
    // joins and etcd is compacted, so meshcd's resourceVersions are gone.
    const metricValue = async (name: string, resource: string) => {
      const text = await (await fetch(`${serve.admin}/metrics`)).text();
      const m = new RegExp(`^${name}\\{[^}]*resource="${resource}"[^}]*\\} (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    const listsBefore = await metricValue('meshcd_kube_relists_total', 'endpointslices');
    proxy.cut();
    let failed = 0;
    let calls = 0;
    let stopCalling = false;
    const caller = (async () => {
      while (!stopCalling) {
        calls++;
        await callEcho(client).catch(() => failed++);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // A failed assertion must not leave the caller running: it would keep the test worker alive for ever.
    t.teardown(async () => {
      stopCalling = true;
      await caller;
    });
    await createPod(cluster, 'demo', 'echo-v3', podIp(13), { app: 'echo', version: 'v3' }, { node: 'node-a' });
    await putEndpointSlice(cluster, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(12), pod: 'echo-v2', node: 'node-a' }, { ip: podIp(13), pod: 'echo-v3', node: 'node-a' }]);
    for (let i = 0; i < 5; i++) await cluster.request('POST', '/api/v1/namespaces/demo/configmaps', { metadata: { generateName: 'churn-' } });
    await cluster.compactEtcd();
    await new Promise((r) => setTimeout(r, 3000));
    t.is(v3.calls, 0, 'meshcd cannot know of v3 during the outage');
    proxy.resume();
    await eventually(async () => {
      if (v3.calls === 0) throw new Error('v3 not reached yet');
    }, 60_000, 200);
    stopCalling = true;
    await caller;
    t.is(failed, 0, `${failed} of ${calls} calls failed during the outage and relist`);
    t.true((await metricValue('meshcd_kube_watch_gone_total', 'endpointslices')) >= 1, 'the resumed watch got 410 Gone');
    t.true((await metricValue('meshcd_kube_relists_total', 'endpointslices')) > listsBefore, 'and relisted');
    t.true((await metricValue('meshcd_kube_watch_failures_total', 'endpointslices')) >= 1, 'the outage was seen as a failure and retried');

    const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { lastNack?: unknown }[]; refused: unknown[] };
    t.deepEqual([...syncz.proxies.filter((p) => p.lastNack), ...syncz.refused], []);
  });

  const FAILOVER_MESH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      localityLbSetting: {enabled: true}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
`;

  test.serial('two clusters, one service; locality failover to the other cluster and back', async (t) => {
    const [east, west] = await Promise.all([startCluster(), startCluster()]);
    t.teardown(() => Promise.all([east.stop(), west.stop()]).then(() => undefined));
    const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-mc-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'mesh.yaml'), FAILOVER_MESH);
    const backends = [await backendOn(podIp(21), 'us-east'), await backendOn(podIp(22), 'us-west')];
    t.teardown(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
    const regions = [[east, 'us-east', podIp(21), 'echo-east'], [west, 'us-west', podIp(22), 'echo-west']] as const;
    for (const [c, region, ip, pod] of regions) {
      await createNamespace(c, 'demo');
      await createNode(c, 'node-1', region, `${region}-1a`);
      await createService(c, 'demo', 'echo', [{ name: 'grpc', port: 7070, targetPort: TARGET_PORT }]);
      await createPod(c, 'demo', pod, ip, { app: 'echo', version: region }, { node: 'node-1' });
      await putEndpointSlice(c, 'demo', 'echo', 'echo-a', PORTS, [{ ip, pod, node: 'node-1' }]);
    }
    // The client is a pod in the east cluster (its locality is its node's), behind a Service of its own.
    await createService(east, 'demo', 'client', [{ name: 'grpc', port: 9090 }]);
    await createPod(east, 'demo', 'client', podIp(100), { app: 'client' }, { node: 'node-1' });
    await putEndpointSlice(east, 'demo', 'client', 'client-a', [{ name: 'grpc', port: 9090 }], [{ ip: podIp(100), pod: 'client', node: 'node-1' }]);

    const serve = await startServe(dir, ['--kubeconfig', `east=${east.kubeconfig}`, '--kubeconfig', `west=${west.kubeconfig}`, '--no-ca']);
    t.teardown(() => serve.stop().then(() => undefined));
    await eventually(async () => {
      if (!/accepted dir@/.test(serve.stdout())) throw new Error('not accepted yet');
    }, 60_000);
    t.regex(serve.stdout(), /kubernetes: listed east, west/);
    // In its own process: grpc-js-xds's priority policy keeps a timer after its channel closes.
    const remote = await startClientProcess('xds:///echo.demo.svc.cluster.local:7070', serve.xds, `sidecar~${podIp(100)}~client.demo~demo.svc.cluster.local`, 'demo');
    t.teardown(() => remote.close());
    const spread = async (n: number) => {
      const r = await remote.calls(n);
      if (r.errors.length) throw new Error(`calls failed: ${r.errors.slice(0, 3).join('; ')}`);
      return r.versions;
    };
    // Same region first: every call stays in us-east although us-west has an endpoint too.
    t.deepEqual(await spread(20), { 'us-east': 20 });
    const dump = await (await fetch(`${serve.admin}/debug/config_dump?proxy=${encodeURIComponent(`sidecar~${podIp(100)}~client.demo~demo.svc.cluster.local`)}`)).text();
    t.regex(dump, /"priority":\s*1\b/, 'the other region is the failover priority');

    // The east endpoint goes away: failover to the west cluster.
    await putEndpointSlice(east, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(21), pod: 'echo-east', node: 'node-1', ready: false }]);
    await eventually(async () => {
      const seen = await spread(10);
      if (seen['us-east']) throw new Error(`still east: ${JSON.stringify(seen)}`);
    }, 20_000, 100);
    t.deepEqual(await spread(20), { 'us-west': 20 });
    // And back when it returns.
    await putEndpointSlice(east, 'demo', 'echo', 'echo-a', PORTS, [{ ip: podIp(21), pod: 'echo-east', node: 'node-1' }]);
    await eventually(async () => {
      const seen = await spread(10);
      if (seen['us-west']) throw new Error(`still west: ${JSON.stringify(seen)}`);
    }, 20_000, 100);
    t.deepEqual(await spread(20), { 'us-east': 20 });
    const syncz = (await (await fetch(`${serve.admin}/debug/syncz`)).json()) as { proxies: { lastNack?: unknown }[]; refused: unknown[] };
    t.deepEqual([...syncz.proxies.filter((p) => p.lastNack), ...syncz.refused], []);
  });

  test.serial('serve refuses an unreadable kubeconfig with exit 2 and a line naming the flag', async (t) => {
    const r = await startServe('examples/mesh', ['--kubeconfig', '/nonexistent/kubeconfig', '--no-ca']).then(
      () => undefined,
      (err: Error) => err.message,
    );
    t.truthy(r);
    t.regex(r!, /exited with 2/);
    t.regex(r!, /error: --kubeconfig \/nonexistent\/kubeconfig: \/nonexistent\/kubeconfig does not exist/);
  });
}
