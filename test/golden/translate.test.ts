// Golden files: input YAML → MeshModel and Envoy resources per proxy.
// `UPDATE_GOLDEN=1` rewrites test/fixtures/golden/<case>/expected/*.json;
// review the diff like code. Every resource must also pass checkResource
// (unknown fields, validate.rules) and the snapshot consistency rules.

import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TYPE_URL } from '../../src/api/types.js';
import { translateWithDiagnostics } from '../../src/xds/translate/index.js';
import { checkResource } from '../../src/xds/proto.js';
import { GOLDEN_ROOT, consistencyErrors, loadCase } from './harness.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';
const KINDS = { listeners: TYPE_URL.listener, routes: TYPE_URL.route, clusters: TYPE_URL.cluster, endpoints: TYPE_URL.endpoint, secrets: TYPE_URL.secret } as const;

function compare(file: string, actual: unknown): { ok: boolean; expected?: unknown } {
  const text = JSON.stringify(actual, null, 2) + '\n';
  if (UPDATE) {
    writeFileSync(file, text);
    return { ok: true };
  }
  if (!existsSync(file)) return { ok: false, expected: `(missing ${file}; run with UPDATE_GOLDEN=1)` };
  const expected = JSON.parse(readFileSync(file, 'utf8'));
  return { ok: JSON.stringify(expected) === JSON.stringify(JSON.parse(text)), expected };
}

const cases = readdirSync(GOLDEN_ROOT).filter((d) => existsSync(join(GOLDEN_ROOT, d, 'proxies.json'))).sort();

test('there are golden cases', (t) => {
  t.true(cases.length > 0);
});

for (const name of cases) {
  test(`golden ${name}`, async (t) => {
    const c = await loadCase(name);
    t.deepEqual(c.loadDiagnostics.filter((d) => !d.startsWith('MCD0010')), [], 'fixture loads cleanly');
    const outDir = join(GOLDEN_ROOT, name, 'expected');
    if (UPDATE) mkdirSync(outDir, { recursive: true });
    const model = compare(join(outDir, '_model.json'), c.model);
    t.true(model.ok, `mesh model differs from ${name}/expected/_model.json`);
    for (const [proxyName, proxy] of Object.entries(c.proxies)) {
      const r = translateWithDiagnostics(proxy, c.model);
      const out: Record<string, unknown> = {};
      for (const [k, url] of Object.entries(KINDS)) {
        const m = r.resources.get(url) ?? new Map();
        const obj: Record<string, unknown> = {};
        for (const [rn, res] of m) {
          obj[rn] = res.value;
          const errors = checkResource(url, res.value);
          t.deepEqual(errors, [], `${proxyName}: ${k} ${rn} would be rejected`);
        }
        out[k] = obj;
      }
      out.diagnostics = r.diagnostics.map((d) => `${d.severity} ${d.code}${d.resource ? ` ${d.resource}` : ''}${d.path ? ` ${d.path}` : ''}: ${d.message}`);
      t.deepEqual(consistencyErrors(r.resources), [], `${proxyName}: snapshot is inconsistent`);
      const cmp = compare(join(outDir, `${proxyName}.json`), out);
      if (!cmp.ok) t.deepEqual(out, cmp.expected, `${proxyName} differs from ${name}/expected/${proxyName}.json (UPDATE_GOLDEN=1 to accept)`);
      else t.pass();
    }
  });
}
