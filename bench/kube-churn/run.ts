// Pod churn at scale: a real kube-apiserver (test/helpers/kube-cluster.ts)
// with SERVICES Services (each exported to its own namespace only) and their
// EndpointSlices; meshcd's Kubernetes discovery, snapshot cache and
// translator in this process with PROXIES sidecars registered (watchers of
// the cache, as the xDS server registers streams — no gRPC here); then
// CHANGES endpoint replacements within WINDOW_MS, written by a child process,
// only in the first half of the namespaces. Prints: convergence (last write →
// last snapshot change), meshcd's CPU during the storm, cache rebuilds,
// pushes per affected proxy, pushes to unaffected proxies (should be 0),
// which resource types changed (should be EDS only), and whether every proxy
// ended with the last endpoint written.
//
//   npm run bench:kube-churn
//   SERVICES=200 PROXIES=400 CHANGES=100 npm run bench:kube-churn

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ProxyInfo, TypeUrl } from '../../src/api/types.js';
import { TYPE_URL } from '../../src/api/types.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { KubernetesRegistry } from '../../src/registry/kubernetes/index.js';
import { SnapshotCache, translatingBuilder, type EncodedSnapshot } from '../../src/xds/cache/index.js';
import { meshTranslator } from '../../src/xds/server/translator.js';
import { startCluster } from '../../test/helpers/kube-cluster.js';
import { loadYaml } from '../../test/helpers/revision.js';

const SERVICES = Number(process.env.SERVICES ?? 1000);
const NAMESPACES = Number(process.env.NAMESPACES ?? 10);
const PROXIES = Number(process.env.PROXIES ?? 2000);
const CHANGES = Number(process.env.CHANGES ?? 500);
const WINDOW_MS = Number(process.env.WINDOW_MS ?? 10_000);
const CHANGING = Math.max(1, Math.floor(NAMESPACES / 2));

const say = (s: string) => process.stdout.write(`${s}\n`);
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : 0);

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

async function main(): Promise<void> {
  process.env.MESHCD_LOG_LEVEL ??= 'warn';
  say(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const cluster = await startCluster();
  try {
    const t0 = performance.now();
    for (let n = 0; n < NAMESPACES; n++) await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: `ns${n}` } });
    await pool(Array.from({ length: SERVICES }, (_, i) => i), 16, async (i) => {
      const ns = `ns${i % NAMESPACES}`;
      const a = 1 + (i % 250);
      const b = 1 + (Math.floor(i / 250) % 250);
      const s = await cluster.request('POST', `/api/v1/namespaces/${ns}/services`, { metadata: { name: `svc${i}`, annotations: { 'networking.istio.io/exportTo': '.' } }, spec: { selector: { app: `svc${i}` }, ports: [{ name: 'http', port: 9080 }] } });
      const e = await cluster.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        metadata: { name: `svc${i}`, labels: { 'kubernetes.io/service-name': `svc${i}` } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 9080, protocol: 'TCP' }],
        endpoints: [{ addresses: [`10.${b}.${a}.1`], conditions: { ready: true } }, { addresses: [`10.${b}.${a}.2`], conditions: { ready: true } }],
      });
      if (s.status !== 201 || e.status !== 201) throw new Error(`creating svc${i}: ${s.status}/${e.status}`);
    });
    say(`cluster: ${SERVICES} Services + EndpointSlices (2 endpoints each) in ${NAMESPACES} namespaces, exportTo "." — created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const registry = new KubernetesRegistry({ clusters: [{ id: 'bench', kubeconfig: cluster.kubeconfig, flag: 'bench' }], clusterDomain: 'cluster.local' });
    const t1 = performance.now();
    await registry.start(120_000);
    say(`discovery: first list of every resource in ${((performance.now() - t1) / 1000).toFixed(2)} s`);
    const config = (await loadYaml({ 'empty.yaml': '' })).config;
    const configIndex = buildServiceIndex(config);
    const builder = translatingBuilder(meshTranslator());
    const cache = new SnapshotCache(builder);
    const update = () => cache.update({ config, index: registry.index(config, configIndex) }, 'bench');
    update();
    cache.flush();

    const pushes = new Map<string, number>();
    const changedTypes = new Set<TypeUrl>();
    const last = new Map<string, EncodedSnapshot>();
    const nsOf = new Map<string, number>();
    let lastPushAt = 0;
    const t2 = performance.now();
    for (let p = 0; p < PROXIES; p++) {
      const n = p % NAMESPACES;
      const ip = `10.200.${Math.floor(p / 250)}.${p % 250}`;
      const proxy: ProxyInfo = { id: `sidecar~${ip}~p${p}.ns${n}~ns${n}.svc.cluster.local`, kind: 'sidecar', namespace: `ns${n}`, labels: { app: `p${p}` }, ips: [ip] };
      nsOf.set(proxy.id, n);
      const w = cache.watch(proxy, (snap) => {
        const before = last.get(proxy.id);
        if (before) {
          for (const t of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint] as TypeUrl[]) {
            const a = before.encoded.get(t);
            const b = snap.encoded.get(t);
            const same = a?.size === b?.size && [...(a ?? [])].every(([k, v]) => b?.get(k)?.version === v.version);
            if (!same) changedTypes.add(t);
          }
        }
        last.set(proxy.id, snap);
        pushes.set(proxy.id, (pushes.get(proxy.id) ?? 0) + 1);
        lastPushAt = Date.now();
      });
      if (w.current) last.set(proxy.id, w.current);
    }
    say(`proxies: ${PROXIES} sidecars registered (${PROXIES / NAMESPACES} per namespace, each sees the ${SERVICES / NAMESPACES} services of its namespace) in ${((performance.now() - t2) / 1000).toFixed(2)} s, ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB RSS`);
    pushes.clear();

    registry.on('change', update);
    const rebuilds0 = cache.rebuilds;
    const translations0 = builder.translations;
    const reused0 = builder.reused;
    const cpu0 = process.cpuUsage();
    const caFile = join(cluster.dir, 'ca.pem');
    await writeFile(caFile, cluster.caPem);
    const writer = spawn(process.execPath, [join(process.cwd(), 'dist/bench/kube-churn/writer.js'), cluster.server, cluster.adminToken, caFile, String(SERVICES), String(NAMESPACES), String(CHANGING), String(CHANGES), String(WINDOW_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => writer.once('exit', r));
    const result = JSON.parse(out) as { writes: number; failed: number; firstAt: number; lastAt: number; changed: Record<string, string> };
    // Quiet for 3 s: converged.
    while (Date.now() - Math.max(lastPushAt, result.lastAt) < 3000) await new Promise((r) => setTimeout(r, 200));
    const cpu = process.cpuUsage(cpu0);
    say(`storm: ${result.writes} endpoint replacements (${result.failed} failed) in ${((result.lastAt - result.firstAt) / 1000).toFixed(1)} s, in ${CHANGING} of ${NAMESPACES} namespaces (${Object.keys(result.changed).length} distinct services)`);
    say(`convergence: last write → last snapshot change ${Math.max(0, lastPushAt - result.lastAt)} ms`);
    say(`meshcd CPU during the storm and convergence: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${(((cpu.user + cpu.system) / 1e3 / (Math.max(lastPushAt, result.lastAt) - result.firstAt)) * 100).toFixed(0)}% of one core); rebuilds ${cache.rebuilds - rebuilds0}, proxy-class builds ${builder.translations - translations0} (${builder.reused - reused0} of them given their last snapshot again: nothing they are built from changed), ${(((cpu.user + cpu.system) / (builder.translations - translations0))).toFixed(0)} µs of CPU per class build`);
    const affected = [...nsOf].filter(([, n]) => n < CHANGING).map(([id]) => pushes.get(id) ?? 0);
    const unaffected = [...nsOf].filter(([, n]) => n >= CHANGING).map(([id]) => pushes.get(id) ?? 0);
    say(`pushes: affected proxies p50 ${pct(affected, 50)}, max ${Math.max(...affected)}; unaffected proxies ${unaffected.reduce((a, b) => a + b, 0)} in total`);
    say(`resource types changed: ${[...changedTypes].map((t) => t.split('.').pop()).join(', ') || 'none'}`);
    // Every proxy of a changed namespace ends with the last endpoint written for each changed service.
    let wrong = 0;
    for (const [id, n] of nsOf) {
      if (n >= CHANGING) continue;
      const eds = last.get(id)?.encoded.get(TYPE_URL.endpoint);
      for (const [svc, ip] of Object.entries(result.changed)) {
        if (!svc.endsWith(`.ns${n}`)) continue;
        const name = [...(eds?.keys() ?? [])].find((k) => k.endsWith(`|${svc.split('.')[0]}.ns${n}.svc.cluster.local`));
        const text = name ? JSON.stringify(eds!.get(name)!.value ?? '') : '';
        if (!text.includes(`"${ip}"`)) wrong++;
      }
    }
    say(`final state: ${wrong === 0 ? 'every affected proxy has the last endpoint of every changed service' : `${wrong} (proxy, service) pairs without the last endpoint`}`);
    cache.close();
    await registry.stop();
  } finally {
    await cluster.stop();
  }
}

await main();
