// Remote clusters from Secrets, as Istio does it, against two test API
// servers: `meshcd serve --kubeconfig primary=… --remote-secrets` watches
// Secrets labelled istio/multiCluster=true in its namespace of the primary
// cluster; each key is a cluster id, its value a kubeconfig. Runs in its own
// network namespace (test/helpers/netns.ts): pods are 10.244.0.x there.
//
// - no Secret yet: a grpc-js-xds client reaches only the primary's pod;
// - the Secret appears: the remote cluster's pod joins, labelled with its
//   cluster id — a DestinationRule's failoverPriority on
//   topology.istio.io/cluster keeps the client (labelled cluster "west") on
//   it; GET /api/v1/clusters lists it with its Secret;
// - the Secret's kubeconfig changes to a token the remote API server
//   refuses: the running discovery keeps serving, /api/v1/clusters shows
//   the new one failing (HTTP 401);
// - it changes again (another user's token): discovery
//   restarts with it (the remote API server's audit log shows that user's
//   list calls) and no call fails meanwhile;
// - a kubeconfig with an exec plugin is refused (named in /api/v1/clusters,
//   never run) and the running cluster keeps serving;
// - the Secret is deleted: the remote endpoints go, the client falls back to
//   the primary's pod without a failed call; zero NACKs.

import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverNacks } from '../helpers/go-grpc-client.js';
import { assertPassedInPodNetwork, inPodNetwork, podIp } from '../helpers/netns.js';
import { bootstrapWith, startXdsClientProcess } from '../helpers/kube-xds-client.js';
import { kubeconfigYaml, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { createNamespace, createNode, createPod, createService, putEndpointSlice } from '../helpers/kube-objects.js';
import { eventually, startBackend, startServe, type Backend } from '../helpers/xds-e2e.js';

const TARGET_PORT = 8080;
const MESH = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo.demo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/cluster]
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
`;
const USER2 = { token: 'user2-token-0123456789abcdef', user: 'user2', groups: ['system:masters'] };

if (!inPodNetwork()) {
  test('remote clusters from Secrets (in its own network namespace)', (t) => assertPassedInPodNetwork(t, import.meta.url, 1));
} else {
  test('a remote cluster added, changed and removed through its Secret at run time', async (t) => {
    const [primary, west] = await Promise.all([startCluster(), startCluster({ audit: true, users: [USER2] })]);
    t.teardown(() => Promise.all([primary.stop(), west.stop()]).then(() => undefined));
    const dir = await mkdtemp(join(tmpdir(), 'meshcd-kube-remote-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'mesh.yaml'), MESH);

    const backends: Backend[] = [];
    const pods: [TestCluster, number, string][] = [[primary, 51, 'primary'], [west, 52, 'west']];
    for (const [c, n, version] of pods) {
      backends.push(await startBackend(version, new grpc.Server(), (s) => new Promise((resolve, reject) => s.bindAsync(`${podIp(n)}:${TARGET_PORT}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))))));
      await createNamespace(c, 'demo');
      await createNode(c, 'node-1', 'eu', 'eu-1a');
      await createService(c, 'demo', 'echo', [{ name: 'grpc', port: 7070, targetPort: TARGET_PORT }]);
      await createPod(c, 'demo', `echo-${version}`, podIp(n), { app: 'echo' }, { node: 'node-1' });
      await putEndpointSlice(c, 'demo', 'echo', 'echo-a', [{ name: 'grpc', port: TARGET_PORT }], [{ ip: podIp(n), pod: `echo-${version}`, node: 'node-1' }]);
    }
    t.teardown(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
    await createNamespace(primary, 'meshcd-system');

    const serve = await startServe(dir, ['--kubeconfig', `primary=${primary.kubeconfig}`, '--remote-secrets', '--namespace', 'meshcd-system', '--no-ca']);
    t.teardown(() => serve.stop().then(() => undefined));
    await eventually(async () => {
      if (!/accepted dir@/.test(serve.stdout())) throw new Error(`not accepted yet:\n${serve.stdout()}`);
    }, 60_000);
    const clusters = async () => (await (await fetch(`${serve.admin}/api/v1/clusters`)).json()) as { clusters: { id: string; source: string; synced: boolean }[]; secretErrors: { secret: string; key: string; error: string }[] };

    const client = await startXdsClientProcess('xds:///echo.demo.svc.cluster.local:7070', bootstrapWith({ servers: [serve.xds], nodeId: 'client-west', namespace: 'demo', labels: { 'topology.istio.io/cluster': 'west' } }));
    t.teardown(() => client.close());
    t.deepEqual((await client.run({ n: 10 })).versions, { primary: 10 }, 'no Secret: the primary cluster only');

    // The Secret appears: the west cluster's pod, labelled with its cluster id, is the client's first priority.
    const secretPath = '/api/v1/namespaces/meshcd-system/secrets';
    const secret = (kubeconfig: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'istio-remote-secret-west', namespace: 'meshcd-system', labels: { 'istio/multiCluster': 'true' } }, stringData: { west: kubeconfig } });
    const put = async (kubeconfig: string) => {
      const r = await primary.request('PUT', `${secretPath}/istio-remote-secret-west`, secret(kubeconfig));
      if (r.status !== 200) throw new Error(`PUT Secret: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    };
    const created = await primary.request('POST', secretPath, secret(kubeconfigYaml(west.server, west.caPem, west.adminToken, 'admin')));
    t.is(created.status, 201);
    const toWest = await client.until(10, (r) => r.versions.west === 10, 30_000);
    t.deepEqual(toWest.versions, { west: 10 });
    t.like((await clusters()).clusters, [{ id: 'primary', source: `--kubeconfig primary=${primary.kubeconfig}`, synced: true }, { id: 'west', source: 'Secret meshcd-system/istio-remote-secret-west', synced: true }]);
    t.is(((await clusters()).clusters[1] as { pending?: unknown }).pending, undefined);

    // A kubeconfig whose token the remote API server refuses: the running discovery keeps serving; the new one is shown failing.
    await put(kubeconfigYaml(west.server, west.caPem, 'no-such-token-0000', 'nobody'));
    const pending = await eventually(async () => {
      const w = (await clusters()).clusters.find((c) => c.id === 'west') as { pending?: { lastError?: string } } | undefined;
      if (!w?.pending?.lastError) throw new Error(`no failing pending kubeconfig yet: ${JSON.stringify(w)}`);
      return w;
    }, 20_000, 200);
    t.regex(pending.pending!.lastError!, /HTTP 401/);
    t.deepEqual((await client.run({ n: 10 })).versions, { west: 10 }, 'the old discovery keeps serving');

    // The kubeconfig changes to another user's token: discovery restarts with it, no call fails.
    const during = client.run({ durationMs: 6000, everyMs: 20 });
    await put(kubeconfigYaml(west.server, west.caPem, USER2.token, 'user2'));
    await eventually(async () => {
      const listed = (await west.auditEvents()).filter((e) => e.user.username === 'user2' && e.verb === 'list' && e.objectRef?.resource === 'endpointslices');
      if (!listed.length) throw new Error('user2 has not listed endpointslices yet');
    }, 20_000, 200);
    const changed = await during;
    await eventually(async () => {
      const w = (await clusters()).clusters.find((c) => c.id === 'west') as { pending?: unknown; synced: boolean } | undefined;
      if (w?.pending || !w?.synced) throw new Error(`user2's discovery has not taken over yet: ${JSON.stringify(w)}`);
    }, 20_000, 200);
    t.is(changed.failed, 0, `${changed.failed} of ${changed.calls} calls failed while the kubeconfig changed: ${changed.errors.join('; ')}`);
    t.deepEqual(Object.keys(changed.versions), ['west']);

    // A kubeconfig that would run a command is refused and named; the running cluster keeps serving.
    await put(kubeconfigYaml(west.server, west.caPem, USER2.token, 'user2').replace(`    token: ${USER2.token}`, '    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/touch, args: [/tmp/meshcd-remote-exec-ran]}'));
    const refused = await eventually(async () => {
      const c = await clusters();
      if (!c.secretErrors.length) throw new Error('not refused yet');
      return c;
    }, 20_000, 200);
    t.regex(refused.secretErrors[0]!.error, /^Secret meshcd-system\/istio-remote-secret-west key "west": user field "exec" is not allowed/);
    t.notRegex(JSON.stringify(refused), /\/bin\/touch|user2-token/);
    t.deepEqual((await client.run({ n: 10 })).versions, { west: 10 }, 'the running cluster keeps serving');
    t.notRegex(serve.stderr() + serve.stdout(), /user2-token/, 'no token in the logs');

    // The Secret goes: so do the west endpoints; the client falls back to the primary without a failed call.
    const fallback = client.run({ durationMs: 5000, everyMs: 20 });
    t.is((await primary.request('DELETE', `${secretPath}/istio-remote-secret-west`)).status, 200);
    const after = await fallback;
    t.is(after.failed, 0, `${after.failed} of ${after.calls} calls failed when the Secret was deleted: ${after.errors.join('; ')}`);
    t.deepEqual((await client.until(10, (r) => r.versions.primary === 10)).versions, { primary: 10 });
    t.deepEqual((await clusters()).clusters.map((c) => c.id), ['primary']);
    t.deepEqual(await serverNacks(serve.admin), []);
  });
}
