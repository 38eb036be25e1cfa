// Config canary figures at scale (issue 13): what a config canary costs
// meshcd in memory and push time. The rig (mesh.ts): SERVICES services in
// NAMESPACES namespaces, PROXIES simulated sidecars, and a `strategy:
// proxies` Rollout covering DestinationRules in ns0. One commit changes
// every DestinationRule of ns0 (a connection pool), which changes the
// clusters of ns0's PROXIES/NAMESPACES sidecars:
//   - step 1 (10% of the affected): webhook → every cohort proxy ACKed the
//     new clusters; and whether any other proxy got a push;
//   - RSS of meshcd serve before, with the two revisions held, after;
//   - promote (100%): command → every affected proxy ACKed the new clusters.
//
//   npm run build && node dist/bench/rollout/canary.js
//   PROXIES=500 SERVICES=200 node dist/bench/rollout/canary.js

import './quiet.js';
import { percentile, type Sidecar } from './fleet.js';
import { NAMESPACES, rssOf, runBench, SERVICES, serviceFile, startBenchMesh, until } from './mesh.js';

const ROLLOUT = `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: config, namespace: ns0}
spec:
  strategy: proxies
  target: {kinds: [DestinationRule], namespaces: [ns0]}
  steps:
  - setProxies: {percent: 10}
  - pause: {}
  - setProxies: {percent: 100}
  - pause: {}
  writeBack: none
`;

interface Status {
  phase: string;
  stepIndex: number;
  cohort?: { members: string[]; eligible: number; acked: boolean };
  history: { at: string; message: string }[];
}

/** When each proxy first ACKed a Cluster response after `since` (undefined: none yet). */
const clusterAck = (p: Sidecar, since: number) => p.clusters.find((c) => c.at >= since)?.at;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function canaryBench(): Promise<void> {
  const mesh = await startBenchMesh(ROLLOUT, 'svc0.ns0.svc.cluster.local');
  const pid = mesh.serve.child.pid!;
  const status = () => mesh.rollout<Status>('ns0/config');
  try {
    await settle(3000);
    const rssBefore = await rssOf(pid);
    const changed: Record<string, string> = {};
    for (let i = 0; i < SERVICES; i += NAMESPACES) changed[`mesh/svc${i}.yaml`] = serviceFile(i, 100, 0, '  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 100}}\n');
    const hookAt = await mesh.change(changed, `ns0: connection pools for ${Object.keys(changed).length} DestinationRules`);
    const first = await until('the first cohort ACKed', async () => {
      const s = await status();
      return s.phase === 'Paused' && s.stepIndex === 1 ? s : undefined;
    });
    const members = new Set(first.cohort?.members ?? []);
    const cohort = mesh.fleet.sidecars.filter((p) => members.has(p.id));
    const others = mesh.fleet.sidecars.filter((p) => !members.has(p.id));
    const cohortTimes = cohort.map((p) => (clusterAck(p, hookAt) ?? NaN) - hookAt);
    const strays = others.filter((p) => clusterAck(p, hookAt) !== undefined).length;
    console.log(`step 1 (10%): ${cohort.length} of ${first.cohort?.eligible} affected proxies in the cohort; webhook → every cohort proxy ACKed the new clusters: max ${Math.max(...cohortTimes)} ms (p50 ${percentile(cohortTimes, 50)} ms); rollout saw the cohort ACKed ${Date.parse(first.history.find((h) => /every cohort proxy ACKed/.test(h.message))!.at) - hookAt} ms after the webhook`);
    const when = (re: RegExp) => Date.parse(first.history.find((h) => re.test(h.message))?.at ?? '') - hookAt;
    console.log(`  of which: webhook → revision accepted and the walk started ${when(/walking out the change/)} ms (fetch, load, validation of the ${Object.keys(changed).length}-file commit); → cohort selected ${when(/^cohort: /)} ms; → cohort ACKed ${when(/every cohort proxy ACKed/)} ms`);
    console.log(`proxies outside the cohort that got new clusters: ${strays} of ${others.length} (goal 0)`);
    const took = /finding the affected proxies took (\d+) ms/.exec(mesh.serve.stderr());
    if (took) console.log(`of which the cache working out the affected proxies (both revisions' snapshots for every connected proxy): ${took[1]} ms`);
    await settle(3000);
    const rssCanary = await rssOf(pid);
    console.log(`meshcd serve RSS: ${rssBefore.toFixed(0)} MB before, ${rssCanary.toFixed(0)} MB with both revisions held (+${(rssCanary - rssBefore).toFixed(0)} MB)`);

    const promoteAt = Date.now();
    await mesh.command('ns0/config', 'promote');
    await until('every affected proxy on the new revision', async () => {
      const s = await status();
      return s.phase === 'Paused' && s.stepIndex === 3 ? s : undefined;
    });
    const all = mesh.affected.map((p) => (clusterAck(p, hookAt) ?? NaN) - promoteAt);
    const late = mesh.affected.filter((p) => !members.has(p.id)).map((p) => (clusterAck(p, promoteAt) ?? NaN) - promoteAt);
    console.log(`promote (100%): command → every other affected proxy ACKed the new clusters: max ${Math.max(...late)} ms (p50 ${percentile(late, 50)} ms); ${all.filter((x) => !Number.isNaN(x)).length}/${mesh.affected.length} affected on the new revision`);
    await mesh.command('ns0/config', 'promote');
    await until('Succeeded', async () => ((await status()).phase === 'Succeeded' ? true : undefined));
    await settle(3000);
    console.log(`meshcd serve RSS after promotion: ${(await rssOf(pid)).toFixed(0)} MB; NACKs: ${mesh.fleet.sidecars.reduce((a, p) => a + p.nacks, 0)}; stream errors: ${mesh.fleet.streamErrors}`);
  } finally {
    await mesh.close();
  }
}

runBench(import.meta.url, canaryBench);
