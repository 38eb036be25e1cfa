// loadRevision's shareParse (meshcd validate loads a folder on two threads,
// each taking files from a shared counter and trading results): each side
// builds what one thread alone builds, in the same order, whichever files it
// took, also when the other thread fails.
import test from 'ava';
import { loadRevision } from '../../../src/config/load.js';
import { parseConfigText, DEFAULT_LIMITS, type ParsedFile } from '../../../src/config/parse.js';
import { parseShare, type ParsedShare } from '../../../src/cli/validate-translation.js';
import { memoryRevision } from '../../helpers/revision.js';

const files: Record<string, string> = {
  'a.yaml': 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: x}\nspec: {hosts: [a.example.com]}\n',
  'b.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b, namespace: x}\nspec:\n  hosts: [b]\n  http:\n  - route:\n    - destination: {host: b}\n',
  'c.yaml': 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  metadata: {name: c, namespace: x}\n  spec: {servers: []}\n',
  'd.yaml': 'not: [valid\n',
  'e.json': '{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "e", "namespace": "x"}, "spec": {}}',
};

const summary = (l: Awaited<ReturnType<typeof loadRevision>>) => ({
  resources: l.config.resources.map((r) => `${r.kind}/${r.metadata.name}@${r.origin.file}:${r.origin.line}`),
  diagnostics: l.diagnostics.map((d) => `${d.code} ${d.origin?.file}:${d.origin?.line} ${d.message}`),
  located: l.config.resources.map((r) => l.locate(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, 'spec')?.line),
});

test('two loads sharing the parse each build what one load alone builds', async (t) => {
  const here = summary(await loadRevision(memoryRevision(files)));
  const counter = new Int32Array(new SharedArrayBuffer(4));
  let toA: (m: ParsedShare) => void = () => undefined;
  let toB: (m: ParsedShare) => void = () => undefined;
  const forA = new Promise<ParsedShare>((r) => (toA = r));
  const forB = new Promise<ParsedShare>((r) => (toB = r));
  const took: Record<string, number[]> = { a: [], b: [] };
  // Each side stops after two files (as if the other had taken the rest); the fifth is parsed by both at the end.
  const side = (name: 'a' | 'b', send: (m: ParsedShare) => void, receive: Promise<ParsedShare>) => (list: { file: string }[]) => {
    const s = parseShare(counter, list.length, send, receive);
    return {
      claim: () => {
        if (took[name]!.length === 2) return -1;
        const i = s.claim();
        if (i >= 0) took[name]!.push(i);
        return i;
      },
      exchange: s.exchange,
    };
  };
  const [a, b] = await Promise.all([
    loadRevision(memoryRevision(files), { shareParse: side('a', (m) => toB(m), forA) }),
    loadRevision(memoryRevision(files), { shareParse: side('b', (m) => toA(m), forB) }),
  ]);
  t.deepEqual(summary(a), here);
  t.deepEqual(summary(b), here);
  t.deepEqual([...took.a!, ...took.b!].sort(), [0, 1, 2, 3]);
});

test('a side that took every file does not wait for the other', async (t) => {
  const here = summary(await loadRevision(memoryRevision(files)));
  const counter = new Int32Array(new SharedArrayBuffer(4));
  let sent: ParsedShare = [];
  const alone = await loadRevision(memoryRevision(files), { shareParse: (list) => parseShare(counter, list.length, (m) => (sent = m), new Promise<ParsedShare>(() => undefined)) });
  t.deepEqual(summary(alone), here);
  t.is(sent.length, Object.keys(files).length);
  t.is(Atomics.load(counter, 0), Object.keys(files).length + 1);
});

test('files the other side took and did not return are parsed here', async (t) => {
  const here = summary(await loadRevision(memoryRevision(files)));
  const list = Object.keys(files).sort();
  const theirs = new Map<number, ParsedFile>([[1, parseConfigText(list[1]!, files[list[1]!]!, DEFAULT_LIMITS)]]);
  let next = 0;
  const partly = await loadRevision(memoryRevision(files), {
    // This side takes file 0 only; the other took 1-4 and returned only 1.
    shareParse: () => ({ claim: () => (next++ === 0 ? 0 : -1), exchange: async () => theirs }),
  });
  t.deepEqual(summary(partly), here);
  const failed = await loadRevision(memoryRevision(files), { shareParse: () => ({ claim: () => -1, exchange: () => Promise.reject(new Error('worker gone')) }) });
  t.deepEqual(summary(failed), here);
});
