// A config canary (strategy: proxies) across a leader failover (issue 13):
// three `meshcd serve --leader-elect` replicas on one folder and a real API
// server, two grpc-js-xds clients (each in its own process) behind a TCP
// balancer on loopback, as a Kubernetes Service puts replicas behind one
// address (test/helpers/kube-tcp-balancer.ts). Both clients start on the
// leader; a change to reviews' split is walked out to the first cohort (one
// proxy, the lower rank) and paused. Every replica then serves the cohort the
// new revision and the other proxy the one in force before it. The leader is
// SIGKILLed while both clients call: they reconnect through the balancer to
// the other replicas; the new leader resumes the canary at the same step
// with the same cohort (its members, the revisions in force and of the
// cohort), the cohort's client stays on v2 and the other on v1 the whole
// time, and `meshcd rollout promote` against the new leader completes it:
// both clients end on v2.

import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rank } from '../../src/rollout/cohort.js';
import { startCluster } from '../helpers/kube-cluster.js';
import { createNamespace } from '../helpers/kube-objects.js';
import { bootstrapWith, startXdsClientProcess, type XdsClientProcess } from '../helpers/kube-xds-client.js';
import { startTcpBalancer } from '../helpers/kube-tcp-balancer.js';
import { cli } from '../helpers/rollout-e2e.js';
import { eventually, renderTemplate, startBackend, startServe, tempDir, writeFileIn, type Backend, type ServeProcess } from '../helpers/xds-e2e.js';

const TARGET = 'xds:///reviews.bookinfo.svc.cluster.local:9080';
const LEASE_SECONDS = 6;
const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: config, namespace: bookinfo}
spec:
  strategy: proxies
  target: {kinds: [VirtualService, DestinationRule], namespaces: [bookinfo]}
  steps:
  - setProxies: {count: 1}
  - pause: {}
  - setProxies: {percent: 100}
  writeBack: none
`;

interface Status {
  phase: string;
  stepIndex: number;
  cohort?: { members: string[]; eligible: number; acked: boolean };
  revisions?: { inForce: string; canary?: string };
}

const get = async <T>(s: ServeProcess, path: string): Promise<T> => (await (await fetch(`${s.admin}${path}`)).json()) as T;
const status = (s: ServeProcess) => get<Status>(s, '/api/v1/rollouts/bookinfo/config');
const isLeader = async (s: ServeProcess) => (await get<{ isLeader: boolean }>(s, '/api/v1/leader').catch(() => undefined))?.isLeader === true;

/** `meshcd proxy-status` of one replica: the revision each proxy connected to it is served. */
async function proxyStatus(s: ServeProcess): Promise<Record<string, string>> {
  const r = await cli(['proxy-status', '--server', s.admin, '-o', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as { proxies: { proxy: string; revision: string }[] }).proxies.map((p) => [p.proxy, p.revision]));
}

test('a config canary paused at its first cohort survives a leader failover (SIGKILL): the new leader resumes it at the same step with the same cohort, then promotion completes', async (t) => {
  t.timeout(300_000);
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  await createNamespace(cluster, 'meshcd-system');
  await createNamespace(cluster, 'bookinfo');
  const { dir: root, remove } = await tempDir('meshcd-e2e-kube-canary-');
  t.teardown(remove);
  const dir = join(root, 'mesh');
  await mkdir(dir);
  const backends: Backend[] = [await startBackend('v1'), await startBackend('v2')];
  t.teardown(() => Promise.all(backends.map((b) => b.close())).then(() => undefined));
  const mesh = (w1: number, w2: number) => renderTemplate('mesh.yaml.tmpl', { P_V1: backends[0]!.port, P_V2: backends[1]!.port, WEIGHT_V1: w1, WEIGHT_V2: w2 });
  await writeFileIn(dir, 'mesh.yaml', await mesh(100, 0));
  await writeFileIn(dir, 'rollout.yaml', ROLLOUT);
  const tokenFile = join(root, 'admin-token');
  await writeFile(tokenFile, 'e2e-kube-canary-admin-token-0123456789\n', { mode: 0o600 });

  const flags = ['--no-ca', '--kubeconfig', cluster.kubeconfig, '--namespace', 'meshcd-system', '--leader-elect', '--lease-duration', String(LEASE_SECONDS), '--admin-token-file', tokenFile];
  const replicas: ServeProcess[] = [];
  for (let i = 0; i < 3; i++) replicas.push(await startServe(dir, flags));
  t.teardown(() => Promise.all(replicas.map((r) => r.stop())).then(() => undefined));
  for (const r of replicas) await eventually(async () => ((await status(r)).phase ? true : Promise.reject(new Error('no Rollout yet'))), 60_000, 200);
  const leader = async (among: ServeProcess[]) => {
    for (const r of among) if (await isLeader(r)) return r;
    throw new Error('no leader yet');
  };
  const first = await eventually(() => leader(replicas), 30_000, 200);
  const others = replicas.filter((r) => r !== first);

  // The balancer sends new connections to the leader only, until it is killed; then to the other two in turn.
  // (startTcpBalancer reads this list on each new connection.)
  const route = [first.xds];
  const lb = await startTcpBalancer(route);
  t.teardown(() => lb.close());
  const [cohortId, restId] = ['a', 'b', 'c'].map((p) => `sidecar~127.0.0.1~client-${p}.bookinfo~bookinfo.svc.cluster.local`).sort((x, y) => rank(x) - rank(y)) as [string, string];
  const clients = new Map<string, XdsClientProcess>();
  for (const id of [cohortId, restId]) {
    const c = await startXdsClientProcess(TARGET, bootstrapWith({ servers: [lb.address], nodeId: id, namespace: 'bookinfo' }));
    t.teardown(() => c.close());
    clients.set(id, c);
  }
  const cohortClient = clients.get(cohortId)!;
  const restClient = clients.get(restId)!;
  t.deepEqual((await restClient.run({ n: 10 })).versions, { v1: 10 });
  const oldRevision = await eventually(async () => {
    const p = await proxyStatus(first);
    if (!p[cohortId] || !p[restId]) throw new Error(`clients on the leader: ${JSON.stringify(p)}`);
    return p[restId];
  }, 20_000, 200);

  // The change: reviews' split all to v2. The leader hands it to the first cohort (one proxy) and pauses.
  await writeFileIn(dir, 'mesh.yaml', await mesh(0, 100));
  const paused = await eventually(async () => {
    const s = await status(first);
    if (s.phase !== 'Paused' || s.stepIndex !== 1) throw new Error(`${s.phase} at step ${s.stepIndex}`);
    return s;
  }, 60_000, 200);
  t.deepEqual(paused.cohort?.members, [cohortId], 'the lower rank goes first');
  t.true(paused.cohort?.acked);
  t.is(paused.cohort?.eligible, 2);
  const newRevision = paused.revisions?.canary ?? '';
  t.truthy(newRevision);
  t.not(newRevision, oldRevision);
  t.deepEqual(paused.revisions, { inForce: oldRevision, canary: newRevision });
  t.deepEqual(await proxyStatus(first), { [cohortId]: newRevision, [restId]: oldRevision });
  t.deepEqual((await cohortClient.until(20, (r) => r.versions.v2 === 20)).versions, { v2: 20 });
  t.deepEqual((await restClient.run({ n: 20 })).versions, { v1: 20 });
  // Every follower serves the same: the same step, the same cohort, the same two revisions.
  for (const r of others) {
    await eventually(async () => {
      const s = await status(r);
      if (s.phase !== 'Paused' || s.stepIndex !== 1 || s.revisions?.inForce !== oldRevision || s.revisions?.canary !== newRevision) throw new Error(`follower ${replicas.indexOf(r)}: ${JSON.stringify(s.revisions)} ${s.phase} at ${s.stepIndex}`);
    }, 20_000, 200);
    t.deepEqual((await status(r)).cohort?.members, [cohortId]);
  }

  // Both clients call without pause while the leader is SIGKILLed; they reconnect through the balancer.
  route.push(...others.map((r) => r.xds));
  const calls = [cohortClient, restClient].map((c) => c.run({ durationMs: 25_000, everyMs: 20 }));
  await new Promise((r) => setTimeout(r, 2000));
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  const second = await eventually(() => leader(others), 40_000, 200);
  t.log(`leader ${replicas.indexOf(first)} SIGKILLed; replica ${replicas.indexOf(second)} leads after ${Date.now() - killedAt} ms`);
  const where = await eventually(async () => {
    const m = new Map<string, ServeProcess>();
    for (const r of others) for (const id of Object.keys(await proxyStatus(r))) m.set(id, r);
    if (!m.has(cohortId) || !m.has(restId)) throw new Error(`reconnected: ${[...m.keys()].join(', ')}`);
    return m;
  }, 40_000, 200);
  t.log(`cohort client on replica ${replicas.indexOf(where.get(cohortId)!)}, the other on replica ${replicas.indexOf(where.get(restId)!)}`);
  const [duringCohort, duringRest] = await Promise.all(calls);
  t.log(`calls across the failover: cohort ${JSON.stringify(duringCohort!.versions)} (${duringCohort!.failed} failed), rest ${JSON.stringify(duringRest!.versions)} (${duringRest!.failed} failed)`);
  t.deepEqual(Object.keys(duringCohort!.versions), ['v2'], 'the cohort stays on the new revision across the failover');
  t.deepEqual(Object.keys(duringRest!.versions), ['v1'], 'the other proxy never gets the new revision');

  // The new leader resumed the canary where the old one left it; so does every replica.
  for (const r of others) {
    const s = await eventually(async () => {
      const x = await status(r);
      if (x.revisions?.inForce !== oldRevision) throw new Error(`replica ${replicas.indexOf(r)}: ${JSON.stringify(x.revisions)}`);
      return x;
    }, 20_000, 200);
    t.like(s, { phase: 'Paused', stepIndex: 1 });
    t.deepEqual(s.cohort?.members, [cohortId]);
    t.deepEqual(s.revisions, { inForce: oldRevision, canary: newRevision });
  }
  t.is((await proxyStatus(where.get(cohortId)!))[cohortId], newRevision);
  t.is((await proxyStatus(where.get(restId)!))[restId], oldRevision);
  t.deepEqual((await cohortClient.run({ n: 20 })).versions, { v2: 20 });
  t.deepEqual((await restClient.run({ n: 20 })).versions, { v1: 20 });

  // Promotion through the new leader completes the canary: both clients on v2.
  const promoted = await cli(['rollout', 'promote', 'bookinfo/config', '--server', second.admin, '--token-file', tokenFile, '-o', 'json']);
  t.is(promoted.code, 0, promoted.stderr);
  await eventually(async () => {
    const s = await status(second);
    if (s.phase !== 'Succeeded') throw new Error(`${s.phase} at step ${s.stepIndex}:\n${second.stderr().slice(-3000)}`);
  }, 60_000, 200);
  t.deepEqual((await restClient.until(20, (r) => r.versions.v2 === 20)).versions, { v2: 20 });
  t.deepEqual((await cohortClient.run({ n: 20 })).versions, { v2: 20 });
  for (const r of others) {
    await eventually(async () => {
      const s = await status(r);
      if (s.phase !== 'Succeeded') throw new Error(`replica ${replicas.indexOf(r)}: ${s.phase}`);
    }, 20_000, 200);
  }
  t.is((await proxyStatus(where.get(restId)!))[restId], newRevision);
});
