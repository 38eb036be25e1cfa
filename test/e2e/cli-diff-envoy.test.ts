// Envoy-level impact through the real CLI and, when this build has it, the
// real mesh model and xDS translation (src/mesh, src/xds/translate).
import test from 'ava';
import { existsSync } from 'node:fs';
import { FIXTURES, meshcd } from '../golden/diff/_repo.js';

const hasTranslation = existsSync('dist/src/mesh/index.js') && existsSync('dist/src/xds/translate/index.js');

interface Report {
  envoy:
    | { status: 'skipped'; reason: string }
    | { status: 'computed'; proxies: number; errors: string[]; affected: { proxy: { id: string; kind: string }; changes: { type: string; name: string; change: string }[] }[] };
}

test('a weight change shows which proxies get a different route', (t) => {
  const r = meshcd(['diff', '-o', 'json', 'base', 'cases/change-weight-folder'], FIXTURES);
  t.is(r.stderr, '');
  t.is(r.code, 1);
  const { envoy } = JSON.parse(r.stdout) as Report;
  if (!hasTranslation) {
    t.deepEqual(envoy, { status: 'skipped', reason: 'the xDS translation is not part of this build' });
    return;
  }
  if (envoy.status !== 'computed') return t.fail(`envoy impact not computed: ${envoy.reason}`);
  t.deepEqual(envoy.errors, []);
  // Three workloads (reviews v1, v2, ratings v1) and the bookinfo grpc client.
  t.is(envoy.proxies, 4);
  const sidecars = envoy.affected.filter((p) => p.proxy.kind === 'sidecar');
  t.is(sidecars.length, 3);
  for (const p of sidecars) t.true(p.changes.some((c) => c.type === 'route' && c.change === 'changed'), p.proxy.id);
  // Adding a VirtualService with a route for a host that already had a default route changes, not adds, resources.
  const text = meshcd(['diff', 'base', 'cases/change-weight-folder'], FIXTURES);
  t.regex(text.stdout, /envoy impact: 4 of 4 proxies change/);
  t.regex(text.stdout, /weighted_clusters\/clusters\/0\/weight\/value 50/);
});

test('no resource change: the Envoy impact is not computed', (t) => {
  const r = meshcd(['diff', '-o', 'json', 'base', 'base'], FIXTURES);
  t.is(r.code, 0);
  t.deepEqual((JSON.parse(r.stdout) as Report).envoy, { status: 'skipped', reason: 'no resource changes' });
});
