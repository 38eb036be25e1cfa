// Golden files: input YAML → MeshModel and Envoy resources per proxy. One
// feature per case (test/fixtures/golden/<case>/input, small), the two
// scenario cases (bookinfo, edge) besides them. Output is split per proxy and
// resource type: expected/_model.json and expected/<proxy>/<type>.json
// (listeners, routes, clusters, endpoints, secrets, diagnostics; a type a
// proxy does not get has no file). `UPDATE_GOLDEN=1` rewrites them and
// removes every file it did not write (stale outputs of renamed proxies or
// types); review the diff like code. Every resource must also pass
// checkResource (unknown fields, validate.rules) and the snapshot
// consistency rules.

import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { translateWithDiagnostics } from '../../src/xds/translate/index.js';
import { checkResource } from '../../src/xds/proto.js';
import { GOLDEN_KINDS, GOLDEN_ROOT, consistencyErrors, goldenCases, loadCase } from './harness.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

function compare(file: string, actual: unknown, written: Set<string>): { ok: boolean; expected?: unknown } {
  const text = JSON.stringify(actual, null, 2) + '\n';
  written.add(file);
  if (UPDATE) {
    writeFileSync(file, text);
    return { ok: true };
  }
  if (!existsSync(file)) return { ok: false, expected: `(missing ${relative(GOLDEN_ROOT, file)}; run with UPDATE_GOLDEN=1)` };
  const expected = JSON.parse(readFileSync(file, 'utf8'));
  return { ok: JSON.stringify(expected) === JSON.stringify(JSON.parse(text)), expected };
}

/** Files under `dir` (recursively). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

const cases = goldenCases();

test('there are golden cases', (t) => {
  t.true(cases.length > 0);
});

for (const name of cases) {
  test(`golden ${name}`, async (t) => {
    const c = await loadCase(name);
    t.deepEqual(c.loadDiagnostics.filter((d) => !d.startsWith('MCD0010')), [], 'fixture loads cleanly');
    const outDir = join(GOLDEN_ROOT, name, 'expected');
    const written = new Set<string>();
    if (UPDATE) mkdirSync(outDir, { recursive: true });
    const model = compare(join(outDir, '_model.json'), c.model, written);
    if (!model.ok) t.deepEqual(c.model as unknown, model.expected, `mesh model differs from ${name}/expected/_model.json`);
    for (const [proxyName, proxy] of Object.entries(c.proxies)) {
      const r = translateWithDiagnostics(proxy, c.model);
      const dir = join(outDir, proxyName);
      if (UPDATE) mkdirSync(dir, { recursive: true });
      const parts: Record<string, unknown> = {};
      for (const [k, url] of Object.entries(GOLDEN_KINDS)) {
        const m = r.resources.get(url) ?? new Map();
        const obj: Record<string, unknown> = {};
        for (const [rn, res] of m) {
          obj[rn] = res.value;
          t.deepEqual(checkResource(url, res.value), [], `${proxyName}: ${k} ${rn} would be rejected`);
        }
        if (Object.keys(obj).length) parts[k] = obj;
      }
      const diagnostics = r.diagnostics.map((d) => `${d.severity} ${d.code}${d.resource ? ` ${d.resource}` : ''}${d.path ? ` ${d.path}` : ''}: ${d.message}`);
      if (diagnostics.length) parts.diagnostics = diagnostics;
      t.deepEqual(consistencyErrors(r.resources), [], `${proxyName}: snapshot is inconsistent`);
      for (const [part, value] of Object.entries(parts)) {
        const cmp = compare(join(dir, `${part}.json`), value, written);
        if (!cmp.ok) t.deepEqual(value, cmp.expected, `${proxyName} ${part} differs from ${name}/expected/${proxyName}/${part}.json (UPDATE_GOLDEN=1 to accept)`);
      }
    }
    const stale = filesUnder(outDir).filter((f) => !written.has(f));
    if (UPDATE) {
      for (const f of stale) rmSync(f);
      for (const d of readdirSync(outDir, { withFileTypes: true })) if (d.isDirectory() && readdirSync(join(outDir, d.name)).length === 0) rmSync(join(outDir, d.name), { recursive: true });
    } else {
      t.deepEqual(stale.map((f) => relative(GOLDEN_ROOT, f)), [], 'outputs no proxy of the case produces (UPDATE_GOLDEN=1 removes them)');
    }
  });
}
