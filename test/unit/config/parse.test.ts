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

test('the fast reader and the thorough one agree on documents and lines', async (t) => {
  const { parseFast, parseThorough } = await import('../../../src/config/parse.js');
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const f = join(d, e);
      if (statSync(f).isDirectory()) walk(f);
      else if (/\.(ya?ml|json)$/.test(f)) files.push(f);
    }
  };
  walk('examples/mesh');
  t.true(files.length > 3);
  const samples = files.map((f) => readFileSync(f, 'utf8'));
  samples.push('# lead\n\n---\n# c\nkind: A\nm: 0o14\nb: "yes"\nd: 2020-01-01\nf: 1.5e3\nz: ~\n---\n---\n"quoted": [1, {a: b}]\n');
  // a word YAML 1.1 reads differently only in a comment or quoted: read the fast way, as the thorough one reads it
  samples.push('# enabled: yes\nkind: A\nname: "on"\nlist: [a, "no"]  # or: off\n');
  for (const text of samples) {
    const fast = parseFast(text, { maxFileBytes: 1e7, maxDepth: 64, maxAliasCount: 100, maxDocuments: 1e4 });
    t.truthy(fast);
    t.deepEqual(fast, parseThorough('x.yaml', text, { maxFileBytes: 1e7, maxDepth: 64, maxAliasCount: 100, maxDocuments: 1e4 }));
  }
});

test('values YAML 1.1 and 1.2 read differently go the thorough way and are read as Kubernetes reads them', async (t) => {
  const { parseFast, parseThorough } = await import('../../../src/config/parse.js');
  const limits = { maxFileBytes: 1e7, maxDepth: 64, maxAliasCount: 100, maxDocuments: 1e4 };
  const text = 'kind: A\nn: 1\nb: yes\nports: [0755, 1_000]\naddresses: [1.2.3.4, 001:db8::]\nt: 190:20:30\nd: 2020-01-01\n';
  t.is(parseFast(text, limits), undefined, 'the fast reader passes the file on');
  t.deepEqual(parseThorough('x.yaml', text, limits).documents[0]?.value, { kind: 'A', false: 1, b: true, ports: [493, 1000], addresses: ['1.2.3.4', '001:db8::'], t: '190:20:30', d: '2020-01-01' });
  const inf = parseThorough('x.yaml', 'kind: A\nv: .inf\n', limits);
  t.is(inf.diagnostics[0]?.code, 'MCD0001');
  t.regex(inf.diagnostics[0]!.message, /JSON cannot represent: Kubernetes refuses it/);
});
