import test from 'ava';
import { diffConfigSets } from '../../../src/diff/resources.js';
import { makeReport, renderMarkdown, renderText, renderJson, MARKDOWN_MARKER, hasChanges } from '../../../src/diff/report.js';
import { dr, load, vs } from './_mem.js';

const skipped = { status: 'skipped' as const, reason: 'test' };

async function report(n = 1) {
  const a = await load({ 'vs.yaml': vs(90), 'dr.yaml': dr });
  const files: Record<string, string> = { 'vs.yaml': vs(80) };
  for (let i = 0; i < n; i++) files[`big${i}.yaml`] = dr.replace('name: reviews', `name: r${i}`) + `    trafficPolicy: {x: "${'y'.repeat(3000)}"}\n`;
  const b = await load(files);
  const diags = [{ code: 'IST0101', severity: 'error' as const, message: 'host <x> | not found', resource: 'VirtualService/bookinfo/reviews', origin: { file: 'vs.yaml', line: 9 } }];
  return makeReport({ label: 'main', revision: 'main@sha1:aaa' }, { label: 'HEAD', revision: 'HEAD@sha1:bbb' }, diffConfigSets(a.config, b.config), diags, skipped);
}

test('summary counts and validation status', async (t) => {
  const r = await report();
  t.deepEqual(r.counts, { added: 1, changed: 1, removed: 1 });
  t.is(r.validation.status, 'failed');
  t.true(hasChanges(r));
  t.regex(renderText(r), /resources: 1 added, 1 changed, 1 removed; validation of head: failed \(1 error, 0 warnings; 1 new in this change\)/);
  t.regex(renderText(r), /NEW vs\.yaml:9  ERROR  IST0101/);
  t.deepEqual(JSON.parse(renderJson(r)).counts, r.counts);
});

test('markdown has the marker, a summary table, one details block per resource and escapes HTML', async (t) => {
  const r = await report();
  const md = renderMarkdown(r);
  t.true(md.startsWith(MARKDOWN_MARKER + '\n'));
  t.regex(md, /\| 1 \| 1 \| 1 \| ❌ failed/);
  t.is(md.match(/<details>/g)?.length, 3);
  t.true(md.includes('```diff\n'));
  t.true(md.includes('host &lt;x&gt; &#124; not found'));
});

test('markdown stays under the comment budget and says what it left out', async (t) => {
  const r = await report(40);
  const md = renderMarkdown(r, { budget: 20_000 });
  t.true(md.length < 20_000);
  t.regex(md, /resource diffs left out/);
  t.regex(md, /Validation of head/);
});

test('a finding the base already had is not new', (t) => {
  const d = { code: 'IST0101', severity: 'error' as const, message: 'm', resource: 'VirtualService/a/b', origin: { file: 'x.yaml', line: 3 } };
  const moved = { ...d, origin: { file: 'x.yaml', line: 9 } };
  const other = { ...d, message: 'another' };
  const r = makeReport({ label: 'a', revision: 'a' }, { label: 'b', revision: 'b' }, [], [moved, other], skipped, [d]);
  t.deepEqual(r.validation.diagnostics.map((x) => x.introduced), [false, true]);
  t.is(r.validation.introduced, 1);
  t.false(hasChanges(r));
});

test('markdown budget covers the Envoy sections too; long tables are capped', async (t) => {
  const affected = Array.from({ length: 300 }, (_, i) => ({
    proxy: { id: `sidecar~10.0.0.${i}~p${i}.ns~ns.svc.cluster.local`, kind: 'sidecar' as const, namespace: 'ns', labels: { app: `p${i}` } },
    changes: Array.from({ length: 20 }, (_, j) => ({ type: 'cluster' as const, name: `outbound|80||s${i}-${j}.ns.svc.cluster.local`, change: 'added' as const })),
  }));
  const diags = Array.from({ length: 500 }, (_, i) => ({ code: 'MCD0204', severity: 'warning' as const, message: `finding ${i}`, origin: { file: 'a.yaml', line: i + 1 } }));
  const r = makeReport({ label: 'a', revision: 'a' }, { label: 'b', revision: 'b' }, [], diags, { status: 'computed', proxies: 300, affected, errors: [], diagnostics: [] });
  const md = renderMarkdown(r);
  t.true(md.length < 65_536, `${md.length}`);
  t.regex(md, /proxy groups left out to stay under GitHub's comment size/);
  t.regex(md, /… and 300 more findings/);
  t.regex(md, /#### Envoy impact: 300 of 300 proxies change/);
});

test('markdown links head origins when given a link base', async (t) => {
  const r = await report();
  const md = renderMarkdown(r, { linkBase: 'https://example.com/o/r/blob/abc/mesh/' });
  t.true(md.includes('<a href="https://example.com/o/r/blob/abc/mesh/vs.yaml#L1">vs.yaml:1</a>'));
  t.true(md.includes('<a href="https://example.com/o/r/blob/abc/mesh/vs.yaml#L9">vs.yaml:9</a>'));
  // A removed resource has no head file to link to.
  t.regex(md, /\(was dr\.yaml:1\) \|/);
});
