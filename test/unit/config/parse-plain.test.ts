// parse-plain.ts reads the usual Kubernetes YAML shapes itself and must give
// exactly what js-yaml's reader gives (values, key order, document lines) for
// every text it takes; anything else it must pass on (undefined). Checked on
// every YAML file in the repository, on generated documents written by both
// YAML libraries in many styles, and on randomly mutated copies of both.

import test, { type ExecutionContext } from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { dump } from 'js-yaml';
import { LineCounter, parseAllDocuments, stringify, type Document } from 'yaml';
import { locatePlain, parsePlainYaml, plainLineOfPath } from '../../../src/config/parse-plain.js';
import { DEFAULT_LIMITS, lineOfPath, parseConfigText, parseFast, parseForLocate, parseWithJsYaml, type ParsedDocument } from '../../../src/config/parse.js';

const isList = (d: ParsedDocument) => typeof (d.value as { kind?: unknown }).kind === 'string' && ((d.value as { kind: string }).kind).endsWith('List');

/** What the plain reader gives for `text` agrees with js-yaml's, or it passed the text on. */
function agrees(text: string): { taken: boolean; ok: boolean; why?: string } {
  let plain: ParsedDocument[] | undefined;
  try {
    plain = parsePlainYaml(text, DEFAULT_LIMITS.maxDepth, DEFAULT_LIMITS.maxDocuments);
  } catch (err) {
    return { taken: false, ok: false, why: `threw ${String(err)}` };
  }
  if (plain === undefined) return { taken: false, ok: true };
  const js = parseWithJsYaml(text, DEFAULT_LIMITS);
  if (js === undefined) {
    // js-yaml's reader passes Lists on itself; anything else it refused must not be taken here.
    return plain.some(isList) ? { taken: true, ok: true } : { taken: true, ok: false, why: 'js-yaml refuses it' };
  }
  return isDeepStrictEqual(plain, js.documents) ? { taken: true, ok: true } : { taken: true, ok: false, why: `${JSON.stringify(plain).slice(0, 300)} vs ${JSON.stringify(js.documents).slice(0, 300)}` };
}

/** Every text agrees with js-yaml, and more than `least` of them are read here. */
function agreeOn(t: ExecutionContext, texts: Iterable<string>, least: number): void {
  let taken = 0;
  for (const text of texts) {
    const r = agrees(text);
    if (!r.ok) t.fail(`${JSON.stringify(text)}: ${r.why}`);
    if (r.taken) taken++;
  }
  t.true(taken > least, `${taken} taken`);
}

function repositoryYaml(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      if (e === 'node_modules' || e === 'dist' || e.startsWith('.git')) continue;
      const f = join(d, e);
      if (statSync(f).isDirectory()) walk(f);
      else if (/\.ya?ml$/.test(e)) out.push(readFileSync(f, 'utf8'));
    }
  };
  for (const d of ['examples', 'policies', 'charts', 'test', '.github']) walk(d);
  return out;
}

/** mulberry32: the same cases on every run. */
function random(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/** Random edits of a text: a piece from `bits` inserted, a few characters deleted, a line repeated, indented or dedented. */
function mutator(rnd: (n: number) => number, bits: readonly string[]): (s: string) => string {
  return (s) => {
    const k = rnd(6);
    const p = rnd(s.length + 1);
    if (k <= 2) return s.slice(0, p) + bits[rnd(bits.length)] + s.slice(p);
    if (k === 3) return s.slice(0, p) + s.slice(p + 1 + rnd(3));
    const lines = s.split('\n');
    const i = rnd(lines.length);
    if (k === 4) lines.splice(i, 0, lines[rnd(lines.length)]!);
    else lines[i] = rnd(2) ? `  ${lines[i]}` : lines[i]!.replace(/^ {1,2}/, '');
    return lines.join('\n');
  };
}

test('every YAML file in the repository is read as js-yaml reads it, and most are read here', (t) => {
  const files = repositoryYaml();
  t.true(files.length > 50);
  let taken = 0;
  for (const text of files) {
    const r = agrees(text);
    t.true(r.ok, r.why);
    if (r.taken) taken++;
  }
  t.true(taken > files.length / 2, `${taken} of ${files.length} taken`);
});

test('the usual Kubernetes shapes are read here, with document lines', (t) => {
  const text = [
    '# a comment',
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: r, namespace: "d", labels: {app.kubernetes.io/name: r}}',
    'spec:',
    '  hosts: [r, "r.d.svc.cluster.local"]',
    '  http:',
    '  - name: canary   # trailing comment',
    '    match:',
    '    - headers: {x-canary: {exact: "1"}}',
    '    route:',
    '    - destination: {host: r, subset: v2}',
    '      weight: 10',
    '    -',
    '      destination:',
    '        host: r',
    '      weight: 90',
    '    timeout: 2s',
    "    retries: {attempts: 2, retryOn: 'gateway-error,connect-failure'}",
    '  exportTo:',
    '  - "."',
    'empty:',
    '---',
    '---  # empty document',
    'kind: B',
    'v: [1, -2, 1.5, 0, ~, null, true, False, 10.0.0.1, http://x:80/p, "\\u00e9\\n\\"", \'it\'\'s\']',
    '',
  ].join('\n');
  const docs = parsePlainYaml(text, 64, 100);
  t.truthy(docs);
  t.deepEqual(docs!.map((d) => d.line), [2, 25]);
  t.deepEqual(docs![0]!.value.spec, {
    hosts: ['r', 'r.d.svc.cluster.local'],
    http: [
      {
        name: 'canary',
        match: [{ headers: { 'x-canary': { exact: '1' } } }],
        route: [{ destination: { host: 'r', subset: 'v2' }, weight: 10 }, { destination: { host: 'r' }, weight: 90 }],
        timeout: '2s',
        retries: { attempts: 2, retryOn: 'gateway-error,connect-failure' },
      },
    ],
    exportTo: ['.'],
  });
  t.is(docs![0]!.value.empty, null);
  t.deepEqual(docs![1]!.value.v, [1, -2, 1.5, 0, null, null, true, false, '10.0.0.1', 'http://x:80/p', 'é\n"', "it's"]);
  t.true(agrees(text).ok);
});

test('what is outside the subset is passed on to js-yaml', (t) => {
  const outside = [
    'a: &x 1\nb: *x\n', // anchors and aliases
    'a: !!str 1\n', // tags
    'a: |\n  text\n', // block scalars
    'a: >-\n  text\n',
    'a: one\n  two\n', // a plain scalar over two lines
    'a: "one\n  two"\n', // a quoted one
    'a: [1,\n  2]\n', // a flow collection over two lines
    'a:\tb\n', // a tab
    'a: b\r\nc: d\r\n', // CR
    '%YAML 1.2\n---\na: 1\n', // a directive
    'a: 1\n...\n', // document end
    '--- {a: 1}\n', // content after ---
    '? a\n: b\n', // an explicit key
    'a: 1\na: 2\n', // a duplicate key (js-yaml refuses it)
    '__proto__: {x: 1}\n',
    '- a\n- b\n', // a sequence at the root
    'just a scalar\n',
    'a: b: c\n',
    'a: "x" y\n',
    'a: "\\x41"\n', // an escape other than the common ones
    '{a: 1}\n', // a flow mapping at the root
    'a: {b: 1, }\n',
    'a: [x: 1]\n',
    'a: [001:db8::]\n', // YAML 1.2 starts a pair at `:]`
    'a:\n- - x\n',
    'a:\n  b: 1\n c: 2\n', // bad indentation
    // plain scalars YAML 1.1 (Kubernetes) reads differently: parse.ts reads those files as Kubernetes does
    'a: yes\n', 'y: 1\n', 'a: [1, off]\n', 'mode: 0755\n', 'n: 1_000\n', 'a: {b: .inf}\n',
  ];
  for (const text of outside) t.is(parsePlainYaml(text, 64, 100), undefined, JSON.stringify(text));
  // too deep, too many documents
  t.is(parsePlainYaml('a: ' + '['.repeat(70) + ']'.repeat(70) + '\n', 64, 100), undefined);
  t.is(parsePlainYaml('a: 1\n---\nb: 1\n---\nc: 1\n', 64, 2), undefined);
  // and the file is still read, by js-yaml or by the thorough reader
  t.deepEqual(parseFast('a: [1,\n  2]\n', DEFAULT_LIMITS)?.documents[0]?.value, { a: [1, 2] });
  t.deepEqual(parseConfigText('x.yaml', 'a: &x 1\nb: *x\n').documents[0]?.value, { a: 1, b: 1 });
});

test('generated documents written by js-yaml and by yaml in many styles read as js-yaml reads them', (t) => {
  const rnd = random(7);
  const keys = ['a', 'name', 'true', '1', 'a b', 'x-y', 'null', '~', '-a', 'a:b', 'é', 'app.kubernetes.io/name', 'k#', '0.5', 'on', '__proto__', 'constructor', '', ' x', 'x ', '"q"', "'s'", '[a]', '{b}', 'a,b', '-', '---', '...', '? x', '%x', '!x', '&x', '*x', '|', 'a: b', 'a #b', 'a\\b'];
  const strings = ['10.0.0.1', '1.5', '-1', '0', '1e3', '0x1f', '.5', 'a #b', 'a: b', '#x', "'q'", '"dq"', 'a\\b', '', ' lead', 'trail ', '[x]', '{y}', 'a,b', 'é', 'null', 'Null', '~', 'TRUE', 'yes', '2020-01-01', 'http://x:80/p', ':x', '-x', '- x', '?x', '5xx', '2s', '*', '&', '!', '|', '>', '%', '@', 'a\nb', 'a\tb', '0o17', '+1', '-.5', '.inf', '1_000', '0755', '123456789012345678901', 'a]', 'a}', '\u00a0x', 'a"b', "a'b", '😀'];
  const value = (d: number): unknown => {
    const k = rnd(d > 3 ? 3 : 6);
    if (k === 0) return strings[rnd(strings.length)];
    if (k === 1) return [0, 1, -1, 1.5, 1e21, 0.1, true, false, null, 123456789][rnd(10)];
    if (k === 2) return `v${rnd(100)}`;
    if (k === 3) return Array.from({ length: rnd(4) }, () => value(d + 1));
    return Object.fromEntries(Array.from({ length: rnd(5) }, () => [keys[rnd(keys.length)]!, value(d + 1)]));
  };
  function* texts(): Generator<string> {
    for (let n = 0; n < 3000; n++) {
      const docs = Array.from({ length: 1 + rnd(3) }, () => Object.fromEntries(Array.from({ length: 1 + rnd(5) }, () => [keys[rnd(keys.length)]!, value(1)])));
      let text = rnd(2)
        ? docs.map((d) => dump(d, { flowLevel: rnd(5) - 1, quoteStyle: rnd(2) ? 'double' : 'single', forceQuotes: rnd(4) === 0, lineWidth: -1, indent: 1 + rnd(4), seqNoIndent: rnd(2) === 0, seqInlineFirst: rnd(2) === 0, flowBracketPadding: rnd(2) === 0, flowSkipCommaSpace: rnd(3) === 0, flowSkipColonSpace: rnd(3) === 0, quoteFlowKeys: rnd(3) === 0 })).join('---\n')
        : docs.map((d) => stringify(d, { collectionStyle: (['any', 'flow', 'block'] as const)[rnd(3)], defaultStringType: (['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'] as const)[rnd(3)], indent: 1 + rnd(4), indentSeq: rnd(2) === 0, lineWidth: 0, flowCollectionPadding: rnd(2) === 0 })).join('---\n');
      if (rnd(3) === 0) text = text.replace(/\n/g, (m) => (rnd(8) === 0 ? '\n# c\n' : rnd(8) === 0 ? ' # c\n' : m));
      yield text;
    }
  }
  agreeOn(t, texts(), 300);
});

test('mutated copies of real files read as js-yaml reads them whenever they are read here', (t) => {
  const rnd = random(11);
  const corpus = repositoryYaml().filter((s) => s.length < 20_000);
  const bits = [' ', ':', '-', '#', '"', "'", '\n', '[', ']', '{', '}', ',', '  ', '- ', ': ', '|', '&a ', '*a', '!', '?', '...', '---\n', '~', '0', 'true', 'null', '\\', '\\n', '\\u00e9', "''", ' #x', '1.5', '-1', 'a: b', '\n- x', '\n  - ', '\n    k: v', '.inf', '0x1f', '1e3', '__proto__: 1\n', 'é', '%'];
  const mutate = mutator(rnd, bits);
  function* texts(): Generator<string> {
    for (let n = 0; n < 3000; n++) {
      let text = corpus[rnd(corpus.length)]!;
      for (let m = 1 + rnd(3); m > 0; m--) text = mutate(text);
      yield text;
    }
  }
  agreeOn(t, texts(), 300);
});

test('a path is located on the line yaml\'s document tree gives, for every path of every file read here', (t) => {
  const rnd = random(5);
  const corpus = repositoryYaml().filter((s) => s.length < 20_000);
  const bits = [' ', ':', '-', '#', '"', '\n', '[', ']', '{', '}', ',', '  ', '- ', ': ', '\n- x', '\n  - ', '\n    k: v', '-\n', '-\n  a: 1\n', 'x: []\n'];
  const mutate = mutator(rnd, bits);
  function* paths(v: unknown, pre: (string | number)[], depth: number): Generator<(string | number)[]> {
    yield pre;
    if (depth > 8) return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) yield* paths(v[i], [...pre, i], depth + 1);
      yield [...pre, v.length];
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) yield* paths((v as Record<string, unknown>)[k], [...pre, k], depth + 1);
      yield [...pre, 'nope'];
    }
  }
  let files = 0;
  let checked = 0;
  for (let n = 0; n < corpus.length + 1500; n++) {
    let text = corpus[n % corpus.length]!;
    if (n >= corpus.length) for (let m = 1 + rnd(3); m > 0; m--) text = mutate(text);
    const plain = locatePlain(text, DEFAULT_LIMITS.maxDepth);
    const fast = parseFast(text, DEFAULT_LIMITS);
    if (!plain || !fast) continue;
    const lineCounter = new LineCounter();
    const tree = { docs: parseAllDocuments(text, { lineCounter, version: '1.1' }) as Document.Parsed[], lineCounter };
    files++;
    for (const d of fast.documents) {
      for (const path of paths(d.value, [], 0)) {
        checked++;
        const here = plainLineOfPath(plain, d.line, path);
        const there = lineOfPath(tree, d.line, path);
        if (here !== there) t.fail(`${JSON.stringify(path)}: line ${here} here, ${there} in yaml's tree, in ${JSON.stringify(text)}`);
      }
    }
  }
  t.true(files > 200 && checked > 10_000, `${files} files, ${checked} paths`);
  // parseForLocate hands such a file to the plain locator
  t.true('plain' in parseForLocate('a:\n  b: [1, 2]\n')!);
  t.is(lineOfPath('a:\n  b:\n  - 1\n  - x: 2\n', 1, ['a', 'b', 1, 'x']), 4);
});
