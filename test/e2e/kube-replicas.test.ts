// Proxies spread over replicas; a replica going away moves its proxies to the
// others with no config gap. Three `meshcd serve --leader-elect` replicas on
// one folder and one test API server, behind a TCP balancer on loopback (as
// a Kubernetes Service puts them behind one address;
// test/helpers/kube-tcp-balancer.ts). Two grpc-js-xds and two grpc-go
// clients connect through it, each landing on a replica in turn. While all
// four call without pause, the replica holding the most of them is
// SIGKILLed: their xDS streams break, they reconnect through the balancer to
// the other replicas, and
// - not one call fails (they keep the config they had, and the new replica
//   serves the same one),
// - the new replica's ACKed versions per type are the ones the killed
//   replica had sent (content-addressed versions: the same revision gives
//   the same versions on every replica),
// - no NACK on either side.

import test from 'ava';
import { serverNacks, startGoClient, type GoClient } from '../helpers/go-grpc-client.js';
import { bootstrapWith, startXdsClientProcess, type XdsClientProcess } from '../helpers/kube-xds-client.js';
import { startTcpBalancer } from '../helpers/kube-tcp-balancer.js';
import { startCluster } from '../helpers/kube-cluster.js';
import { createNamespace } from '../helpers/kube-objects.js';
import { eventually, renderTemplate, startBackend, startServe, tempDir, writeFileIn, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const TARGET = 'xds:///reviews.bookinfo.svc.cluster.local:9080';
const CALL_MS = 12_000;

interface Syncz {
  proxies: { proxy: string; types: Record<string, { ackedVersion?: string }>; lastNack?: unknown }[];
}
const syncz = async (s: ServeProcess): Promise<Syncz> => (await (await fetch(`${s.admin}/debug/syncz`)).json()) as Syncz;
/** Per connected proxy, its ACKed version of each type. */
const acked = (z: Syncz): Map<string, Record<string, string | undefined>> => new Map(z.proxies.map((p) => [p.proxy, Object.fromEntries(Object.entries(p.types).map(([t, s]) => [t.replace(/^.*\./, ''), s.ackedVersion]))]));

test('three replicas behind one address: SIGKILL one, its proxies move to the others with zero failed calls, the same versions and zero NACKs', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  await createNamespace(cluster, 'meshcd-system');
  const { dir, remove } = await tempDir('meshcd-e2e-replicas-');
  t.teardown(remove);
  const backends: Backend[] = [await startBackend('v1'), await startBackend('v2')];
  t.teardown(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
  await writeFileIn(dir, 'mesh.yaml', await renderTemplate('mesh.yaml.tmpl', { P_V1: backends[0]!.port, P_V2: backends[1]!.port, WEIGHT_V1: 50, WEIGHT_V2: 50 }));

  const flags = ['--no-ca', '--kubeconfig', cluster.kubeconfig, '--namespace', 'meshcd-system', '--leader-elect', '--lease-duration', '6'];
  const replicas: ServeProcess[] = [];
  for (let i = 0; i < 3; i++) replicas.push(await startServe(dir, flags));
  t.teardown(() => Promise.all(replicas.map((r) => r.stop())).then(() => undefined));
  for (const r of replicas) {
    await eventually(async () => {
      if (!/accepted dir@/.test(r.stdout())) throw new Error('not accepted yet');
    }, 60_000, 200);
  }
  const lb = await startTcpBalancer(replicas.map((r) => r.xds));
  t.teardown(() => lb.close());

  // Four clients, one after the other: the balancer spreads their connections.
  const js: XdsClientProcess[] = [];
  const go: GoClient[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await startXdsClientProcess(TARGET, bootstrapWith({ servers: [lb.address], nodeId: `grpc-js-${i}`, namespace: 'bookinfo' }));
    t.teardown(() => c.close());
    js.push(c);
    const g = await startGoClient(bootstrapWith({ servers: [lb.address], nodeId: `grpc-go-${i}`, namespace: 'bookinfo' }));
    t.teardown(() => g.stop());
    const first = await g.run({ target: TARGET, n: 1, wait_ms: 30_000 });
    t.is(first.ok, 1, first.errors.join('; '));
    go.push(g);
  }
  const ids = ['grpc-js-0', 'grpc-go-0', 'grpc-js-1', 'grpc-go-1'];
  const where = async () => {
    const m = new Map<string, number>();
    for (const [i, r] of replicas.entries()) {
      if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
      for (const p of (await syncz(r)).proxies) if (ids.includes(p.proxy)) m.set(p.proxy, i);
    }
    return m;
  };
  const before = await eventually(async () => {
    const m = await where();
    if (m.size < 4) throw new Error(`${m.size} of 4 clients connected`);
    return m;
  }, 20_000, 200);
  const spread = [0, 1, 2].map((i) => [...before.values()].filter((x) => x === i).length);
  t.log(`clients per replica: ${spread.join(', ')} (balancer connections ${JSON.stringify(Object.values(lb.connections()))})`);
  t.true(spread.filter((n) => n > 0).length >= 2, 'the clients are spread over replicas');

  // The victim: the replica holding the most clients. Its proxies' ACKed versions now:
  const victim = spread.indexOf(Math.max(...spread));
  const moved = ids.filter((id) => before.get(id) === victim);
  const versionsBefore = acked(await syncz(replicas[victim]!));

  // All four call without pause while the victim is killed.
  const jsCalls = js.map((c) => c.run({ durationMs: CALL_MS, everyMs: 10 }));
  const goCalls = go.map((g) => g.run({ target: TARGET, duration_ms: CALL_MS }));
  await new Promise((r) => setTimeout(r, 2000));
  const killedAt = Date.now();
  replicas[victim]!.child.kill('SIGKILL');
  const after = await eventually(async () => {
    const m = await where();
    const back = moved.filter((id) => m.has(id) && m.get(id) !== victim);
    if (back.length < moved.length) throw new Error(`${back.length} of ${moved.length} moved clients reconnected`);
    return m;
  }, 30_000, 100);
  t.log(`replica ${victim} (${moved.join(', ')}) SIGKILLed; all reconnected within ${Date.now() - killedAt} ms to replicas ${moved.map((id) => after.get(id)).join(', ')}`);

  const jsResults = await Promise.all(jsCalls);
  const goResults = await Promise.all(goCalls);
  for (const [i, r] of jsResults.entries()) {
    t.is(r.failed, 0, `grpc-js-${i}: ${r.failed} of ${r.calls} calls failed: ${r.errors.join('; ')}`);
    t.true(r.calls > 100 && !!r.versions.v1 && !!r.versions.v2, `grpc-js-${i}: ${JSON.stringify(r.versions)}`);
  }
  for (const [i, r] of goResults.entries()) {
    t.is(r.ok, r.calls, `grpc-go-${i}: ${r.calls - r.ok} of ${r.calls} calls failed: ${r.errors.join('; ')}`);
    t.true(r.calls > 100, `grpc-go-${i}: ${r.calls} calls`);
    t.deepEqual(r.nacks, [], `grpc-go-${i} NACKed nothing`);
  }
  t.log(`calls during the kill: grpc-js ${jsResults.map((r) => r.calls).join(', ')}, grpc-go ${goResults.map((r) => r.calls).join(', ')}; failed 0`);

  // The moved proxies ACKed on their new replica the very versions the killed one had sent.
  for (const id of moved) {
    const now = await eventually(async () => {
      const v = acked(await syncz(replicas[after.get(id)!]!)).get(id);
      if (!v || Object.values(v).some((x) => !x)) throw new Error(`${id}: not all types ACKed yet: ${JSON.stringify(v)}`);
      return v;
    }, 10_000, 200);
    t.deepEqual(now, versionsBefore.get(id), `${id} is on the same versions`);
  }
  for (const [i, r] of replicas.entries()) if (i !== victim) t.deepEqual(await serverNacks(r.admin), [], `replica ${i} saw no NACK`);
});
