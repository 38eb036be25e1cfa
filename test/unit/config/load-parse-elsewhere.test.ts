// loadRevision's parseElsewhere (meshcd validate parses half of a folder on its
// worker thread): the result is the same as parsing everything here, in the
// same order, also when the other thread fails.
import test from 'ava';
import { loadRevision } from '../../../src/config/load.js';
import { parseConfigText, type ParsedFile } from '../../../src/config/parse.js';
import { workerShare } from '../../../src/cli/validate-translation.js';
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

test('files parsed elsewhere load exactly as files parsed here', async (t) => {
  const here = summary(await loadRevision(memoryRevision(files)));
  const asked: string[] = [];
  const elsewhere = summary(
    await loadRevision(memoryRevision(files), {
      parseElsewhere: (list, limits) => {
        asked.push(...list.map((f) => f.file));
        const share = workerShare(list);
        // Resolved later than this thread's own parsing, as a worker's answer would be.
        return new Map(share.map(({ file, text }) => [file, new Promise<ParsedFile>((r) => setTimeout(() => r(parseConfigText(file, text, limits)), 5))]));
      },
    }),
  );
  t.deepEqual(asked, Object.keys(files).sort());
  t.deepEqual(elsewhere, here);
});

test('when the other thread fails, its files are parsed here', async (t) => {
  const here = summary(await loadRevision(memoryRevision(files)));
  const failed = summary(await loadRevision(memoryRevision(files), { parseElsewhere: (list) => new Map(list.map(({ file }) => [file, Promise.reject(new Error('worker gone'))])) }));
  t.deepEqual(failed, here);
});

test('the worker takes the last files, at most half of the bytes', (t) => {
  const list = (sizes: number[]) => sizes.map((n, i) => ({ file: `f${i}`, text: 'x'.repeat(n) }));
  t.deepEqual(workerShare(list([10, 10, 10, 10, 10, 10])).map((f) => f.file), ['f3', 'f4', 'f5']);
  t.deepEqual(workerShare(list([10, 10, 10, 10, 40, 20])).map((f) => f.file), ['f5']);
  t.deepEqual(workerShare([]), []);
});
