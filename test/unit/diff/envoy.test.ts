// Envoy impact over an injected translator: which proxies are derived, how
// their resources are compared, how identical changes are grouped. The
// translator here is a small stand-in with one route per VirtualService and
// one cluster per service port, so these tests do not depend on src/xds.
import test from 'ava';
import type { ConfigSet, Diagnostic, ProxyInfo, ProxyResources, ServiceIndex, TypeUrl, XdsResource } from '../../../src/api/types.js';
import { TYPE_URL } from '../../../src/api/types.js';
import { digestOf } from '../../../src/config/load.js';
import { buildServiceIndex } from '../../../src/registry/config.js';
import { deriveProxies, diffProxyResources, envoyImpact, groupByChanges, type EnvoyTranslator } from '../../../src/diff/envoy.js';
import { load, vs } from './_mem.js';

const se = (name: string, labels: string[], ns = 'bookinfo') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
${labels.map((l, i) => `  - {address: 10.0.${name.length}.${i + 1}, labels: {app: ${name}, version: ${l}}}`).join('\n')}
`;
const gw = 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: edge}\nspec: {selector: {istio: ingressgateway}}\n';

function res(name: string, value: Record<string, unknown>): XdsResource {
  return { name, value, version: digestOf(value).slice(0, 16) };
}

interface Model {
  config: ConfigSet;
  index: ServiceIndex;
}

const translator: EnvoyTranslator<Model> = {
  buildMeshModel: (config, index) => ({ config, index }),
  buildServiceIndex,
  translationKey: (p) => `${p.kind}|${p.namespace}`,
  translate(proxy: ProxyInfo, m: Model): ProxyResources {
    const routes = new Map<string, XdsResource>();
    const clusters = new Map<string, XdsResource>();
    for (const v of m.config.ofKind('VirtualService')) if (proxy.kind !== 'router') routes.set(v.metadata.name, res(v.metadata.name, { spec: v.raw.spec }));
    for (const s of m.index.services()) clusters.set(`outbound|9080||${s.hostname}`, res(s.hostname, { eds: s.hostname }));
    return new Map<TypeUrl, Map<string, XdsResource>>([
      [TYPE_URL.route, routes],
      [TYPE_URL.cluster, clusters],
    ]);
  },
};

test('proxies: one sidecar per (namespace, labels), one router per Gateway selector, one grpc client per namespace', async (t) => {
  const l = await load({ 'se.yaml': se('reviews', ['v1', 'v2']) + '---\n' + se('ratings', ['v1']), 'gw.yaml': gw });
  const ps = deriveProxies(l.config, buildServiceIndex(l.config));
  t.deepEqual(ps.map((p) => p.id), [
    'grpc~0.0.0.0~grpc-client.bookinfo~bookinfo.svc.cluster.local',
    'grpc~0.0.0.0~grpc-client.edge~edge.svc.cluster.local',
    'router~0.0.0.0~public.edge~edge.svc.cluster.local',
    'sidecar~10.0.7.1~ratings.bookinfo~bookinfo.svc.cluster.local',
    'sidecar~10.0.7.1~reviews.bookinfo~bookinfo.svc.cluster.local',
    'sidecar~10.0.7.2~reviews.bookinfo~bookinfo.svc.cluster.local',
  ]);
  t.deepEqual(ps.find((p) => p.kind === 'router')!.labels, { istio: 'ingressgateway' });
});

test('a weight change touches the route of every non-router proxy; grouped as one change', async (t) => {
  const files = { 'se.yaml': se('reviews', ['v1', 'v2']), 'gw.yaml': gw };
  const a = await load({ ...files, 'vs.yaml': vs(90) });
  const b = await load({ ...files, 'vs.yaml': vs(50) });
  const impact = envoyImpact(a.config, b.config, translator);
  t.deepEqual(impact.errors, []);
  t.is(impact.proxies, 5);
  t.deepEqual(impact.affected.map((p) => p.proxy.kind), ['grpc', 'grpc', 'sidecar', 'sidecar']);
  const groups = groupByChanges(impact.affected);
  t.is(groups.length, 1);
  t.deepEqual(groups[0]!.changes.map((c) => [c.type, c.name, c.change]), [['route', 'reviews', 'changed']]);
  t.deepEqual(groups[0]!.changes[0]!.patch, [
    { op: 'replace', path: '/spec/http/0/route/1/weight', value: 50 },
    { op: 'replace', path: '/spec/http/0/route/0/weight', value: 50 },
  ]);
});

test('a new service adds a cluster for everyone; a removed one removes it; unchanged proxies are not listed', async (t) => {
  const a = await load({ 'se.yaml': se('reviews', ['v1']) });
  const b = await load({ 'se.yaml': se('reviews', ['v1']) + '---\n' + se('ratings', ['v1']) });
  const up = envoyImpact(a.config, b.config, translator);
  // ratings' own sidecar and grpc client exist only in the head; all see the new cluster.
  t.true(up.affected.every((p) => p.changes.some((c) => c.type === 'cluster' && c.change === 'added' && c.name === 'outbound|9080||ratings.bookinfo.svc.cluster.local')));
  const down = envoyImpact(b.config, a.config, translator);
  t.true(down.affected.every((p) => p.changes.every((c) => c.change === 'removed')));
  const same = envoyImpact(a.config, a.config, translator);
  t.deepEqual(same.affected, []);
});

test('a translator failure is reported, not thrown', async (t) => {
  const a = await load({ 'se.yaml': se('reviews', ['v1']) });
  const broken: EnvoyTranslator<Model> = { ...translator, translate: () => { throw new Error('boom'); } };
  const r = envoyImpact(a.config, a.config, broken);
  t.deepEqual(r.affected, []);
  t.regex(r.errors[0]!, /^base: translating for .* failed: boom$/);
});

test('diffProxyResources compares by version and ignores unknown type URLs', (t) => {
  const v1 = res('c', { a: 1 });
  const base: ProxyResources = new Map([[TYPE_URL.cluster, new Map([['c', v1]])]]);
  const head: ProxyResources = new Map([[TYPE_URL.cluster, new Map([['c', res('c', { a: 2 })]])], ['type.googleapis.com/x.Y' as TypeUrl, new Map([['y', v1]])]]);
  t.deepEqual(diffProxyResources(base, head), [{ type: 'cluster', name: 'c', change: 'changed', patch: [{ op: 'replace', path: '/a', value: 2 }] }]);
  t.deepEqual(diffProxyResources(base, base), []);
});

test('translation findings of the head are collected per proxy kind, new ones marked', async (t) => {
  const withFindings: EnvoyTranslator<Model> = {
    ...translator,
    translateWithDiagnostics(proxy, m) {
      const diagnostics: Diagnostic[] = [];
      if (proxy.kind === 'grpc') {
        for (const v of m.config.ofKind('VirtualService')) {
          if (JSON.stringify(v.raw).includes('"weight":50')) diagnostics.push({ code: 'MCD0500', severity: 'warning', message: 'even split', resource: `VirtualService/${v.metadata.namespace}/${v.metadata.name}` });
        }
        diagnostics.push({ code: 'MCD0501', severity: 'warning', message: 'always' });
      }
      return { resources: translator.translate(proxy, m), diagnostics };
    },
  };
  const files = { 'se.yaml': se('reviews', ['v1']) };
  const a = await load({ ...files, 'vs.yaml': vs(90) });
  const b = await load({ ...files, 'vs.yaml': vs(50) });
  const r = envoyImpact(a.config, b.config, withFindings);
  t.deepEqual(r.diagnostics.map((f) => [f.proxyKind, f.diagnostic.code, f.introduced]), [['grpc', 'MCD0500', true], ['grpc', 'MCD0501', false]]);
});
