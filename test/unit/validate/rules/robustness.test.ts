// The rules layer must never throw or crash on a resource, even one the
// schema layer would have filtered out (validate() filters; other callers may not).
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { validate } from '../../../../src/validate/index.js';
import { loadYaml } from './helper.js';

const oddValues = [null, 0, -1, 1.5, '', 'x', true, [], {}, [null], { a: null }, [1, 'a'], 99999999999];

/** Every field of the document replaced in turn by every odd value. */
function* mangle(doc: unknown, path: (string | number)[] = []): Generator<(string | number)[]> {
  if (Array.isArray(doc)) for (let i = 0; i < doc.length; i++) yield* mangle(doc[i], [...path, i]);
  else if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) {
    yield [...path, k];
    yield* mangle(v, [...path, k]);
  }
}

test('rules never crash on mangled resources of any kind', async (t) => {
  const text = await readFile('test/fixtures/validate-rules/valid-all-kinds.yaml', 'utf8');
  const base = await loadYaml(text);
  let runs = 0;
  const crashes: string[] = [];
  for (const r of base.config.resources) {
    const paths = [...mangle(r.raw.spec, ['spec'])];
    for (const p of paths) {
      for (const odd of oddValues) {
        const raw = structuredClone(r.raw) as Record<string, unknown>;
        let node: Record<string | number, unknown> = raw;
        for (const seg of p.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
        node[p[p.length - 1]!] = odd;
        const spec = raw.spec;
        // Locating re-reads the file; this test is about crashes, so the resource's own origin will do.
        const mangled = { ...base, locate: () => r.origin, config: { ...base.config, resources: [{ ...r, raw, spec }] } } as unknown as typeof base;
        const diags = checkRules(mangled);
        runs++;
        const crash = diags.find((d) => d.code === 'MCD0299');
        if (crash) crashes.push(`${r.kind} ${p.join('.')} = ${JSON.stringify(odd)}: ${crash.message}`);
      }
    }
  }
  t.deepEqual(crashes, []);
  t.true(runs > 1000);
});

test('validate(): a schema-invalid resource is reported by the schema layer only; others still get rule checks', async (t) => {
  const load = await loadYaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      wieght: 50
    - destination: {host: b}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: good-schema}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: 50
    - destination: {host: b}
      weight: 10
`);
  const diags = validate(load);
  const bad = diags.filter((d) => d.resource === 'VirtualService/default/bad');
  t.deepEqual(bad.map((d) => d.code), ['MCD0100']);
  t.true(checkSchema(load).length === 1);
  const good = diags.filter((d) => d.resource === 'VirtualService/default/good-schema' && d.code === 'MCD0230');
  t.is(good.length, 1);
  t.is(good[0]!.origin?.line, 19);
});

test('the schema layer reports mangled documents without crashing', async (t) => {
  const { checkSchema: schema } = await import('../../../../src/validate/schema.js');
  const text = await readFile('test/fixtures/validate-rules/valid-all-kinds.yaml', 'utf8');
  const base = await loadYaml(text);
  const problems: string[] = [];
  let runs = 0;
  for (const r of base.config.resources) {
    for (const p of mangle(r.raw)) {
      if (p[0] === 'apiVersion' || p[0] === 'kind') continue;
      for (const odd of [null, 1.5, 'x', [], {}]) {
        const raw = structuredClone(r.raw) as Record<string, unknown>;
        let node: Record<string | number, unknown> = raw;
        for (const seg of p.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
        node[p[p.length - 1]!] = odd;
        const mangled = { ...base, locate: () => r.origin, config: { ...base.config, resources: [{ ...r, raw }] } } as unknown as typeof base;
        const diags = schema(mangled);
        runs++;
        const crash = diags.find((d) => d.code === 'MCD0109' || !d.origin || !d.path);
        if (crash) problems.push(`${r.kind} ${p.join('.')} = ${JSON.stringify(odd)}: ${crash.code} ${crash.message}`);
      }
    }
  }
  t.deepEqual(problems, []);
  t.true(runs > 1000);
});
