// Builds a LoadResult from inline YAML text held in memory, so rule and schema
// tests read like the config they check.
import type { Diagnostic, Revision } from '../../../../src/api/types.js';
import { loadRevision, type LoadResult } from '../../../../src/config/load.js';
import { memoryRevision } from '../../../helpers/revision.js';

export { memoryRevision };

export async function loadYaml(text: string, file = 'config.yaml'): Promise<LoadResult> {
  return loadRevision(memoryRevision({ [file]: text }));
}

/** Removes common leading indentation so YAML can be written indented in test tables. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export function brief(d: Diagnostic): string {
  return `${d.origin?.line ?? '?'} ${d.severity} ${d.code} ${d.path ?? ''} ${d.message}`;
}

export interface RuleCase {
  name: string;
  /** The document; the line the diagnostic must point at ends with `#<`. */
  yaml: string;
  code: string;
  message: RegExp;
  severity?: 'error' | 'warning';
  /**
   * Istio's CRD schema (istio.io/api) already refuses this input with the
   * given schema code, as the API server would; the rule is still checked.
   */
  schemaFirst?: string;
}

/** Registers one ava test per case: schema-clean input, the rule's code, message and line. */
export function ruleCases(
  test: import('ava').TestFn,
  check: (load: LoadResult) => Diagnostic[],
  schema: (load: LoadResult) => Diagnostic[],
  cases: readonly RuleCase[],
): void {
  for (const c of cases) {
    test(`${c.code} ${c.name}`, async (t) => {
      const lines = c.yaml.split('\n');
      const marked = lines.findIndex((l) => l.includes('#<'));
      t.true(marked >= 0, 'case must mark the expected line with #<');
      const load = await loadYaml(c.yaml);
      t.deepEqual(load.diagnostics.filter((d) => d.severity === 'error').map(brief), [], 'loads cleanly');
      if (c.schemaFirst) t.deepEqual([...new Set(schema(load).map((d) => d.code))], [c.schemaFirst], 'the CRD schema refuses it first');
      else t.deepEqual(schema(load).map(brief), [], 'passes the schema layer');
      const diags = check(load);
      const hit = diags.find((d) => d.code === c.code && c.message.test(d.message));
      t.truthy(hit, `expected ${c.code} ${c.message} in:\n${diags.map(brief).join('\n')}`);
      if (!hit) return;
      t.is(hit.severity, c.severity ?? 'error');
      t.is(hit.origin?.line, marked + 1, `line of ${brief(hit)}`);
      t.is(hit.resource?.split('/')[0], load.config.resources[0]?.kind);
    });
  }
}

/** Registers one test per valid document: no rule diagnostics at all. */
export function validCases(test: import('ava').TestFn, check: (load: LoadResult) => Diagnostic[], cases: readonly { name: string; yaml: string }[]): void {
  for (const c of cases) {
    test(`valid: ${c.name}`, async (t) => {
      const load = await loadYaml(c.yaml);
      t.deepEqual(check(load).map(brief), []);
    });
  }
}
