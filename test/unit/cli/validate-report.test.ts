// Report formatting, on fixed diagnostics: the text line layout, summary
// counting and pluralisation, severity filtering, SARIF levels and rules.
import test from 'ava';
import type { Diagnostic } from '../../../src/api/types.js';
import { formatSarif, formatText, structured, summaryLine, type ValidationReport } from '../../../src/validate/report.js';

const diags: Diagnostic[] = [
  { code: 'IST0101', severity: 'error', message: 'Referenced host not found: "x"', resource: 'VirtualService/a/r', origin: { file: 'a/vs.yaml', line: 7 } },
  { code: 'IST0131', severity: 'info', message: 'dup', resource: 'VirtualService/a/r', origin: { file: 'a/vs.yaml', line: 9 } },
  { code: 'SCHEMA-X', severity: 'warning', message: 'from another layer', origin: { file: 'b dir/x.yaml', line: 0 } },
  { code: 'MCD0001', severity: 'error', message: 'no origin' },
];
const report: ValidationReport = { revision: 'dir@sha256:00', source: 'a', resources: 1, files: 1, diagnostics: diags };

test('text lines and summary', (t) => {
  const out = formatText(report).split('\n');
  t.is(out[0], 'a/vs.yaml:7  ERROR  IST0101  VirtualService/a/r  Referenced host not found: "x"');
  t.is(out[3], '-  ERROR  MCD0001  -  no origin');
  t.is(out[4], '1 resource in 1 file: 2 errors, 1 warning, 1 info');
});

test('--severity warning hides info and says so', (t) => {
  const out = formatText(report, 'warning');
  t.false(out.includes('IST0131'));
  t.true(out.includes('(1 below --severity warning not shown)'));
  t.is(summaryLine({ ...report, diagnostics: [] }), '1 resource in 1 file: 0 errors, 0 warnings, 0 info');
  t.deepEqual((structured(report, 'error').diagnostics as Diagnostic[]).map((d) => d.code), ['IST0101', 'MCD0001']);
});

test('SARIF maps severities to levels, adds rules for unknown codes, escapes URIs, clamps line 0', (t) => {
  const s = formatSarif(report, { toolVersion: '0.0.0' }) as { runs: { tool: { driver: { rules: { id: string }[] } }; results: Record<string, any>[] }[] };
  const run = s.runs[0]!;
  t.deepEqual(run.results.map((r) => r.level), ['error', 'note', 'warning', 'error']);
  t.true(run.tool.driver.rules.some((r) => r.id === 'SCHEMA-X'));
  t.is(run.results[2]!.locations[0].physicalLocation.artifactLocation.uri, 'b%20dir/x.yaml');
  t.is(run.results[2]!.locations[0].physicalLocation.region.startLine, 1);
  t.is(run.results[3]!.locations, undefined);
});
