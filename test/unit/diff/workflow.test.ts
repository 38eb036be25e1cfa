// The reusable workflow must stay in step with the CLI it drives: the marker
// it searches for, the flags and output formats it passes, its inputs.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { MARKDOWN_MARKER } from '../../../src/diff/report.js';
import { buildProgram } from '../../../src/cli/main.js';

const text = readFileSync('.github/workflows/meshcd-pr.yml', 'utf8');
const wf = parse(text) as {
  on: { workflow_call: { inputs: Record<string, { type: string; default: unknown }> } };
  jobs: { meshcd: { steps: { name?: string; run?: string; uses?: string; with?: Record<string, unknown> }[] } };
};

test('is a reusable workflow with path, version, fail-on inputs', (t) => {
  const inputs = wf.on.workflow_call.inputs;
  t.deepEqual(Object.keys(inputs).sort(), ['comment', 'fail-on', 'meshcd-git', 'meshcd-version', 'path', 'policies', 'upload-sarif']);
  t.is(inputs['fail-on']!.default, 'errors');
  t.is(inputs.path!.default, '.');
});

test('checks out full history and finds its comment by the marker meshcd writes', (t) => {
  const steps = wf.jobs.meshcd.steps;
  const checkout = steps.find((s) => s.uses?.startsWith('actions/checkout') && !s.with?.repository);
  t.is(checkout?.with?.['fetch-depth'], 0);
  const script = steps.find((s) => s.uses?.startsWith('actions/github-script'))?.with?.script as string;
  t.true(script.includes(`'${MARKDOWN_MARKER}'`));
});

test('passes only flags and formats the CLI accepts', async (t) => {
  const program = await buildProgram();
  const runs = wf.jobs.meshcd.steps.map((s) => s.run ?? '').join('\n');
  for (const m of runs.matchAll(/meshcd (validate|diff) ([^\n>]*)/g)) {
    const cmd = program.commands.find((c) => c.name() === m[1])!;
    t.truthy(cmd, m[1]);
    for (const flag of m[2]!.match(/--[a-z-]+/g) ?? []) t.truthy(cmd.options.find((o) => o.long === flag), `${m[1]} ${flag}`);
    const fmt = /--output (\w+)/.exec(m[2]!)?.[1];
    if (fmt) t.regex(cmd.options.find((o) => o.long === '--output')!.description, new RegExp(`\\b${fmt}\\b`));
  }
  t.regex(runs, /meshcd diff .*--output markdown/);
  t.regex(runs, /meshcd validate .*--output sarif/);
});
