import test from 'ava';
import { parseConfigText, parseConfigFile, lineOfPath } from '../../../src/config/parse.js';

test('multi-document YAML keeps each document line', (t) => {
  const r = parseConfigText('a.yaml', 'a: 1\n---\n# c\nb: 2\n');
  t.deepEqual(r.diagnostics, []);
  t.deepEqual(r.documents.map((d) => d.line), [1, 4]);
});

test('List objects are unwrapped with item lines', (t) => {
  const r = parseConfigText('l.yaml', 'kind: List\nitems:\n- kind: A\n  x: 1\n- kind: B\n');
  t.deepEqual(r.documents.map((d) => [d.line, d.listIndex]), [[3, 0], [5, 1]]);
});

const bombs: [string, string, RegExp][] = [
  ['alias bomb', 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n', /alias bomb/],
  ['deep nesting', 'a: ' + '['.repeat(200) + ']'.repeat(200) + '\n', /nests deeper/],
  ['syntax error', 'a: [1, 2\nb: 3\n', /YAML syntax error/],
  ['duplicate key', 'a: 1\na: 2\n', /YAML syntax error/],
];
for (const [name, text, re] of bombs) {
  test(`refuses ${name} with a located error`, (t) => {
    const r = parseConfigText('bad.yaml', text);
    t.is(r.documents.length, 0);
    t.true(r.diagnostics.length > 0);
    t.regex(r.diagnostics[0]!.message, re);
    t.is(r.diagnostics[0]!.origin?.file, 'bad.yaml');
  });
}

test('refuses binary and oversized files', (t) => {
  t.regex(parseConfigFile('b.yaml', new Uint8Array([0x61, 0, 0x62])).diagnostics[0]!.message, /binary/);
  const big = new Uint8Array(5 * 1024 * 1024).fill(0x61);
  t.regex(parseConfigFile('big.yaml', big).diagnostics[0]!.message, /over the .*limit/);
});

test('lineOfPath finds nested keys and list items', (t) => {
  const text = 'x: 1\n---\nspec:\n  http:\n  - route:\n    - weight: 10\n    - weight: 90\n';
  t.is(lineOfPath(text, 3, ['spec', 'http', 0, 'route', 1, 'weight']), 7);
  t.is(lineOfPath(text, 3, ['spec', 'http']), 4);
});
