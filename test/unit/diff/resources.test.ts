import test from 'ava';
import jsonPatch from 'fast-json-patch';
import { alignKeys, annotateUnreadable, diffConfigSets, yamlDiff } from '../../../src/diff/resources.js';
import { dr, load, vs } from './_mem.js';

test('no change when files are identical', async (t) => {
  const a = await load({ 'vs.yaml': vs(90), 'dr.yaml': dr });
  const b = await load({ 'vs.yaml': vs(90), 'dr.yaml': dr });
  t.deepEqual(diffConfigSets(a.config, b.config), []);
});

test('moving a resource to another file or reordering its keys is not a change', async (t) => {
  const a = await load({ 'vs.yaml': vs(90) });
  const reordered = vs(90).replace('  hosts: [reviews]\n  http:', '  http:').replace(/\n$/, '') + '\n  hosts: [reviews]\n';
  const b = await load({ 'other/place.yaml': reordered });
  t.is(b.diagnostics.length, 0);
  t.deepEqual(diffConfigSets(a.config, b.config), []);
});

test('added, changed and removed resources, ordered by key, with origins', async (t) => {
  const a = await load({ 'vs.yaml': vs(90), 'dr.yaml': dr });
  const gw = 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: bookinfo}\nspec:\n  selector: {istio: ingressgateway}\n';
  const b = await load({ 'vs.yaml': '# moved down\n' + vs(80), 'gw.yaml': gw });
  const d = diffConfigSets(a.config, b.config);
  t.deepEqual(
    d.map((x) => [x.change, x.key, x.base?.line, x.head?.file, x.head?.line]),
    [
      ['removed', 'DestinationRule/bookinfo/reviews', 1, undefined, undefined],
      ['added', 'Gateway/bookinfo/gw', undefined, 'gw.yaml', 1],
      ['changed', 'VirtualService/bookinfo/reviews', 1, 'vs.yaml', 2],
    ],
  );
});

test('a changed weight yields a minimal YAML diff and a JSON Patch that turns base into head', async (t) => {
  const a = await load({ 'vs.yaml': vs(90) });
  const b = await load({ 'vs.yaml': vs(80) });
  const [d] = diffConfigSets(a.config, b.config);
  t.truthy(d);
  t.deepEqual(d!.patch, [
    { op: 'replace', path: '/spec/http/0/route/1/weight', value: 20 },
    { op: 'replace', path: '/spec/http/0/route/0/weight', value: 80 },
  ]);
  const minus = d!.yamlDiff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const plus = d!.yamlDiff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  t.deepEqual(minus.map((l) => l.replace(/\s+/g, ' ')), ['- weight: 90', '- weight: 10']);
  t.deepEqual(plus.map((l) => l.replace(/\s+/g, ' ')), ['+ weight: 80', '+ weight: 20']);
  t.true(d!.yamlDiff.startsWith('--- base/VirtualService/bookinfo/reviews\n+++ head/VirtualService/bookinfo/reviews\n'));
  const base = a.config.byKey.get(d!.key)!.raw;
  const patched = jsonPatch.applyPatch(structuredClone(base), d!.patch as never).newDocument;
  t.deepEqual(patched, b.config.byKey.get(d!.key)!.raw);
});

test('added and removed resources diff against /dev/null with whole-document patches', async (t) => {
  const a = await load({});
  const b = await load({ 'dr.yaml': dr });
  const [added] = diffConfigSets(a.config, b.config);
  t.is(added!.change, 'added');
  t.true(added!.yamlDiff.startsWith('--- /dev/null\n+++ head/DestinationRule/bookinfo/reviews\n'));
  t.deepEqual(added!.patch[0]!.op, 'add');
  const [removed] = diffConfigSets(b.config, a.config);
  t.is(removed!.change, 'removed');
  t.true(removed!.yamlDiff.includes('+++ /dev/null'));
  t.deepEqual(removed!.patch, [{ op: 'remove', path: '' }]);
});

test('alignKeys orders base keys like the head and keeps extra keys after', (t) => {
  const out = alignKeys({ b: 1, a: { y: 1, x: 2 }, z: 0 }, { a: { x: 0, y: 0 }, b: 2 });
  t.deepEqual(JSON.stringify(out), JSON.stringify({ a: { x: 2, y: 1 }, b: 1, z: 0 }));
});

test('yamlDiff keeps the author field order of the head', (t) => {
  const text = yamlDiff('K', undefined, { spec: { z: 1, a: 2 }, kind: 'X' });
  t.true(text.includes('+spec:\n+  z: 1\n+  a: 2\n+kind: X'));
});

test('a removal caused by a file that no longer parses carries a note', async (t) => {
  const a = await load({ 'vs.yaml': vs(90), 'dr.yaml': dr });
  const b = await load({ 'vs.yaml': vs(90).replace('hosts: [reviews]', 'hosts: [reviews'), 'dr.yaml': '' });
  const d = annotateUnreadable(diffConfigSets(a.config, b.config), b.diagnostics);
  t.deepEqual(d.map((x) => [x.key, x.change, x.note !== undefined]), [
    ['DestinationRule/bookinfo/reviews', 'removed', false],
    ['VirtualService/bookinfo/reviews', 'removed', true],
  ]);
  t.regex(d[1]!.note!, /^vs\.yaml does not load in the head \(error at line \d+\)/);
});
