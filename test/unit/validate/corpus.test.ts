// The whole validation (schema, rules, every analyzer) over the project's
// corpus (test/fixtures/validate-rules/corpus, written from Istio's
// documented analyzer behaviour), as `meshcd validate` runs it (default
// ingress gateway assumed, no org policies): the exact set of findings, each
// with Istio's code, message and location. UPDATE_GOLDEN=1 rewrites
// expected.jsonl; review the diff like code.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFolderRevision } from '../../../src/source/folder.js';
import { isConfigPath, loadRevision } from '../../../src/config/load.js';
import { validate } from '../../../src/validate/index.js';

const DIR = 'test/fixtures/validate-rules/corpus';
const EXPECTED = join(DIR, 'expected.jsonl');

test('every analyzer over the corpus: exactly the expected findings', async (t) => {
  const load = await loadRevision(await readFolderRevision(DIR, { filter: isConfigPath }));
  const got = validate(load, { assumeIngressGateway: true }).map((d) =>
    JSON.stringify({ code: d.code, severity: d.severity, at: `${d.origin?.file}:${d.origin?.line}`, resource: d.resource ?? '', message: d.message }),
  );
  if (process.env.UPDATE_GOLDEN || !existsSync(EXPECTED)) {
    writeFileSync(EXPECTED, got.join('\n') + '\n');
    t.pass();
    return;
  }
  const want = readFileSync(EXPECTED, 'utf8').trim().split('\n');
  t.deepEqual([...got].sort(), [...want].sort());
});

test('without the default ingress gateway, the corpus Gateways select nothing (IST0101)', async (t) => {
  const load = await loadRevision(await readFolderRevision(DIR, { filter: isConfigPath }));
  const selectors = validate(load).filter((d) => d.code === 'IST0101' && d.resource?.startsWith('Gateway/'));
  t.deepEqual(selectors.map((d) => `${d.resource} ${d.message}`), ['Gateway/d/bookinfo-gateway Referenced selector not found: "istio=ingressgateway"', 'Gateway/d/reviews-gateway Referenced selector not found: "istio=ingressgateway"']);
});
