import test from 'ava';
import { readFile } from 'node:fs/promises';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { brief, loadYaml } from './helper.js';

test('a valid resource of every kind produces no rule diagnostics (errors or warnings)', async (t) => {
  const load = await loadYaml(await readFile('test/fixtures/validate-rules/valid-all-kinds.yaml', 'utf8'));
  t.deepEqual(checkSchema(load).map(brief), []);
  t.is(new Set(load.config.resources.map((r) => r.kind)).size, 11);
  t.deepEqual(checkRules(load).map(brief), []);
});
