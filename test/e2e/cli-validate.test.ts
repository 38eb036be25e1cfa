// `meshcd validate` as users run it: the built CLI in a child process, its
// output formats and exit codes, on the shipped examples.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { analyzerCodes } from '../../src/validate/analyzers/index.js';

const BIN = 'dist/src/cli/bin.js';

function meshcd(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Expected {
  code: string;
  severity: string;
  file: string;
  line: number;
  resource?: string;
}

// Codes owned by the loader, the analyzers and the policies. Diagnostics from
// the schema and rules layers are checked as "at least these".
const ANALYZER_CODES = new Set(analyzerCodes().map((c) => c.code));
const owned = (code: string) => ANALYZER_CODES.has(code) || /^MCD000\d$/.test(code) || /^MCD040\d$/.test(code) || code.startsWith('POL-');

test('examples/mesh validates clean with the baseline policies (exit 0)', (t) => {
  const r = meshcd('validate', 'examples/mesh', '--no-translation');
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /^\d+ resources in \d+ files: 0 errors, 0 warnings, 0 info\n$/);
});

test('validate reports what serve and diff report from translation (MCD4xxx), located, so a clean validate means a clean serve (issue 10)', (t) => {
  const r = meshcd('validate', 'examples/mesh', '-o', 'json');
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { summary: { errors: number }; diagnostics: { code: string; severity: string; resource?: string; message: string; origin?: { file: string; line: number } }[] };
  t.is(out.summary.errors, 0);
  // The example's proxyless gRPC clients get these degradations from translation (src/xds/translate).
  t.deepEqual(
    out.diagnostics.map((d) => `${d.code} ${d.severity} ${d.origin?.file}:${d.origin?.line} ${d.resource} ${d.message}`),
    [
      'MCD4102 warning examples/mesh/bookinfo/destination-rules.yaml:42 DestinationRule/bookinfo/reviews consecutive-error outlier detection is not supported by proxyless gRPC clients; using failure-percentage ejection instead',
      'MCD4117 warning examples/mesh/bookinfo/virtual-services.yaml:32 VirtualService/bookinfo/details retryOn conditions 5xx, reset, connect-failure are not supported by proxyless gRPC clients',
      'MCD4117 warning examples/mesh/bookinfo/virtual-services.yaml:32 VirtualService/bookinfo/details retries.perTryTimeout is not supported by proxyless gRPC clients',
      'MCD4117 warning examples/mesh/bookinfo/virtual-services.yaml:53 VirtualService/bookinfo/reviews retries.perTryTimeout is not supported by proxyless gRPC clients',
    ],
  );
});

test('examples/invalid reports exactly the expected diagnostics (exit 1)', (t) => {
  const expected = readFileSync('examples/invalid/expected.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Expected);
  const r = meshcd('validate', 'examples/invalid', '--output', 'json');
  t.is(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as { summary: Record<string, number>; diagnostics: { code: string; severity: string; resource?: string; origin?: { file: string; line: number } }[] };
  const got = out.diagnostics.map((d) => ({ code: d.code, severity: d.severity, file: d.origin?.file.replace('examples/invalid/', '') ?? '-', line: d.origin?.line ?? 0, ...(d.resource ? { resource: d.resource } : {}) }));
  const key = (e: Expected) => `${e.code} ${e.severity} ${e.file}:${e.line} ${e.resource ?? ''}`;
  t.deepEqual(got.filter((e) => owned(e.code)).map(key).sort(), expected.filter((e) => owned(e.code)).map(key).sort());
  const others = new Set(got.map(key));
  for (const e of expected.filter((x) => !owned(x.code))) t.true(others.has(key(e)), `still reported: ${key(e)}`);
  t.is(out.summary.errors, got.filter((d) => d.severity === 'error').length);
});

test('text output: file:line  SEVERITY  CODE  kind/ns/name  message, then summary; --severity filters', (t) => {
  const r = meshcd('validate', 'examples/invalid', '--severity', 'error');
  t.is(r.code, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^examples\/invalid\/\S+\.yaml:\d+ {2}ERROR {2}\S+ {2}(\S+\/\S*\/\S+|-) {2}.+/);
  t.false(r.stdout.includes('WARNING'));
  t.regex(lines.at(-1)!, /^14 resources in 8 files: \d+ errors, \d+ warnings, 0 info \(\d+ below --severity error not shown\)$/);
});

test('SARIF 2.1.0: rules with every reported code, results with repo-relative locations and levels', (t) => {
  const r = meshcd('validate', 'examples/invalid', '-o', 'sarif');
  t.is(r.code, 1, r.stderr);
  const sarif = JSON.parse(r.stdout);
  t.is(sarif.version, '2.1.0');
  const run = sarif.runs[0];
  t.is(run.tool.driver.name, 'meshcd');
  const ruleIds: string[] = run.tool.driver.rules.map((x: { id: string }) => x.id);
  t.true(run.results.length > 0);
  for (const res of run.results) {
    t.true(ruleIds.includes(res.ruleId));
    t.is(ruleIds[res.ruleIndex], res.ruleId);
    t.true(['error', 'warning', 'note'].includes(res.level));
    const loc = res.locations[0].physicalLocation;
    t.regex(loc.artifactLocation.uri, /^examples\/invalid\/[a-z]+\.yaml$/);
    t.true(loc.region.startLine >= 1);
  }
  t.true(ruleIds.includes('IST0101') && ruleIds.includes('POL-vs-route-timeout'));
});

test('YAML output carries the same summary', (t) => {
  const r = meshcd('validate', 'examples/mesh', '-o', 'yaml', '--no-translation');
  t.is(r.code, 0, r.stderr);
  const doc = parseYaml(r.stdout);
  t.is(doc.summary.errors, 0);
  t.is(doc.summary.resources, 31);
  t.deepEqual(doc.diagnostics, []);
});

test('usage problems and unreadable input exit 2 with one line on stderr', (t) => {
  for (const args of [
    ['validate', 'no/such/dir'],
    ['validate', 'examples/mesh', '--output', 'xml'],
    ['validate', 'examples/mesh', '--severity', 'fatal'],
    ['validate', 'examples/mesh', '--policies', 'no/such/policies'],
    ['validate', 'examples/mesh', '--bogus'],
  ]) {
    const r = meshcd(...args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /error/, args.join(' '));
    t.false(/\n\s+at /.test(r.stderr), 'no stack trace');
  }
});

test('--policies adds a folder; --no-default-policies drops the baseline; broken policy is located', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-cli-pol-'));
  try {
    await writeFile(join(dir, 'names.yaml'), `apiVersion: meshcd.io/v1alpha1
kind: Policy
metadata: {name: vs-name-prefix}
spec:
  code: ORG-NAME
  severity: warning
  match: {kinds: [VirtualService], namespaceSelector: {matchLabels: {env: production}}}
  validations:
  - expression: "object.metadata.name.startsWith('bi-')"
    messageExpression: "'VirtualService ' + object.metadata.name + ' should start with bi-'"
`);
    const r = meshcd('validate', 'examples/mesh', '--policies', dir, '--no-default-policies');
    t.is(r.code, 0);
    t.regex(r.stdout, /WARNING {2}ORG-NAME {2}VirtualService\/bookinfo\/reviews {2}VirtualService reviews should start with bi-/);
    const noBase = meshcd('validate', 'examples/invalid', '--no-default-policies', '-o', 'json');
    t.is(noBase.code, 1, noBase.stderr);
    t.false(JSON.parse(noBase.stdout).diagnostics.some((d: { code: string }) => d.code.startsWith('POL-')));
    await writeFile(join(dir, 'broken.yaml'), 'apiVersion: meshcd.io/v1alpha1\nkind: Policy\nmetadata: {name: broken}\nspec:\n  validations:\n  - expression: "object.spec.("\n');
    const b = meshcd('validate', 'examples/mesh', '--policies', dir);
    t.is(b.code, 1);
    t.regex(b.stdout, /broken\.yaml:6 {2}ERROR {2}MCD0401 {2}- {2}policy broken: validations\[0\]\.expression does not compile/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a folder with package.json, tsconfig.json and CI files validates clean: those files are skipped with an info each (issue 10)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-validate-nonk8s-'));
  try {
    await writeFile(join(dir, 'package.json'), readFileSync('package.json'));
    await writeFile(join(dir, 'tsconfig.json'), readFileSync('tsconfig.json'));
    await writeFile(join(dir, 'ci.yml'), 'name: ci\non: [push]\njobs: {}\n');
    await writeFile(join(dir, 'README.md'), '# not config\n');
    await writeFile(join(dir, 'vs.yaml'), readFileSync('examples/mesh/bookinfo/workloads.yaml'));
    const r = meshcd('validate', dir, '-o', 'json');
    t.is(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { summary: { errors: number }; diagnostics: { code: string; severity: string; origin?: { file: string } }[] };
    t.is(out.summary.errors, 0);
    const skipped = out.diagnostics.filter((d) => d.code === 'MCD0011' || d.origin?.file.endsWith('.json') || d.origin?.file.endsWith('ci.yml'));
    t.deepEqual(skipped.map((d) => `${d.code} ${d.severity} ${d.origin?.file.split('/').pop()}`).sort(), ['MCD0011 info ci.yml', 'MCD0011 info package.json', 'MCD0011 info tsconfig.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('validate of /proc/self reads only config files (none there: exit 0); a path that is no folder, or a read error, names the path (issue 10)', async (t) => {
  const proc = meshcd('validate', '/proc/self');
  t.is(proc.code, 0, proc.stderr);
  t.regex(proc.stdout, /^0 resources in 0 files/);
  const mem = meshcd('validate', '/proc/self/mem');
  t.is(mem.code, 2);
  t.is(mem.stderr, 'error: /proc/self/mem: not a folder\n');
  const { namingPath } = await import('../../src/cli/validate.js');
  const einval = Object.assign(new Error('EINVAL: invalid argument, read'), { code: 'EINVAL' });
  t.is(namingPath('/proc/self', einval), '/proc/self: EINVAL: invalid argument, read');
  const withPath = Object.assign(new Error("EACCES: permission denied, open '/x/a.yaml'"), { code: 'EACCES', path: '/x/a.yaml' });
  t.is(namingPath('/x', withPath), "EACCES: permission denied, open '/x/a.yaml'");
});
