// The serve-side work of one rollout step or rollback, in process: the
// cache's builder (meshTranslator, as serve wires it) prepares the next
// revision — the same ConfigSet and ServiceIndex, another overlay on svc0's
// primary route — and builds one proxy class per namespace from it
// (bench/rollout's mesh: SERVICES services in NAMESPACES namespaces, each
// sidecar seeing its own namespace). Push and ACK are push.ts's figures;
// this is what is left of them on the server before the first byte is sent.
//
//   PARTS=step npm run bench:rollout
//   STEPS=200 node dist/bench/rollout/step.js

import './quiet.js';
import type { AnyResource, ProxyInfo, RolloutOverlay } from '../../src/api/types.js';
import { digestOf, makeConfigSet } from '../../src/config/load.js';
import { parseConfigText } from '../../src/config/parse.js';
import { buildServiceIndex } from '../../src/registry/config.js';
import { translatingBuilder, type ClassBuild } from '../../src/xds/cache/builder.js';
import { meshTranslator } from '../../src/xds/server/translator.js';
import { percentile } from './fleet.js';
import { host, NAMESPACES, SERVICES, serviceFile } from './mesh.js';

const STEPS = Number(process.env.STEPS ?? 100);

export function stepBench(): void {
  const text = Array.from({ length: SERVICES }, (_, i) => serviceFile(i, 100, 0)).join('---\n');
  const resources = parseConfigText('mesh.yaml', text).documents.map((d) => {
    const v = d.value as { kind: string; apiVersion: string; metadata: { name: string; namespace: string }; spec: unknown };
    return { kind: v.kind, apiVersion: v.apiVersion, metadata: { name: v.metadata.name, namespace: v.metadata.namespace, labels: {}, annotations: {} }, spec: v.spec, origin: { file: 'mesh.yaml', line: d.line }, raw: v, digest: digestOf(v) } as unknown as AnyResource;
  });
  const config = makeConfigSet(resources);
  const index = buildServiceIndex(config);
  const builder = translatingBuilder(meshTranslator());
  const proxies: ProxyInfo[] = Array.from({ length: NAMESPACES }, (_, n) => ({ id: `p${n}`, kind: 'sidecar', namespace: `ns${n}`, labels: {}, ips: [`10.100.0.${n}`] }));
  const overlay = (v1: number): RolloutOverlay => ({ overrides: [{ virtualService: 'VirtualService/ns0/svc0', routeIndex: 0, destinations: [{ host: host(0), subset: 'v1', weight: v1 }, { host: host(0), subset: 'v2', weight: 100 - v1 }] }] });
  let revision = builder.prepare('r0', { config, index, overlay: overlay(100) });
  const built = new Map<string, ClassBuild>(proxies.map((p) => [p.id, revision.build(p, undefined)]));
  const times: number[] = [];
  for (let i = 1; i <= STEPS; i++) {
    const t0 = performance.now();
    // Odd steps walk to 50%, even steps roll back to 100/0.
    revision = builder.prepare(`r${i}`, { config, index, overlay: overlay(i % 2 ? 50 : 100) }, revision);
    for (const p of proxies) built.set(p.id, revision.build(p, built.get(p.id)));
    times.push(performance.now() - t0);
  }
  const ms = (p: number) => `${percentile(times, p).toFixed(1)} ms`;
  console.log(`rollout step in process (${SERVICES} services, ${NAMESPACES} namespaces; next revision prepared and one sidecar class per namespace built), ${STEPS} steps: p50 ${ms(50)}, p99 ${ms(99)}, max ${ms(100)}`);
}

if (process.argv[1]?.endsWith('/step.js')) stepBench();
