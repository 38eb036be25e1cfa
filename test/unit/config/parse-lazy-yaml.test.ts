// The `yaml` library is loaded only when a file needs it (src/config/parse.ts):
// plain files, read by js-yaml, never do; a List (read the thorough way) does.
// Each case runs in a fresh Node process, where nothing else has loaded it.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PARSE = fileURLToPath(new URL('../../../src/config/parse.js', import.meta.url));

function yamlLoadedAfter(text: string): boolean {
  const script = `
    import { createRequire } from 'node:module';
    const { parseConfigText } = await import(${JSON.stringify(PARSE)});
    const r = parseConfigText('f.yaml', ${JSON.stringify(text)});
    if (r.documents.length === 0) throw new Error('nothing parsed');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(String(cache.some((k) => k.includes('/node_modules/yaml/'))));
  `;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }) === 'true';
}

test('a plain file is parsed without loading the yaml library; a List loads it', (t) => {
  t.false(yamlLoadedAfter('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: x}\nspec: {hosts: [a.example.com]}\n'));
  t.true(yamlLoadedAfter('apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: Gateway\n  metadata: {name: c, namespace: x}\n  spec: {servers: []}\n'));
});
