// test/interop/istio-api: Istio's own API as the oracle.
// 1. The committed schema bundle (src/validate/schema/istio-crds.gen.ts) is
//    exactly what gen.sh makes from the pinned istio.io/api module.
// 2. meshcd reads YAML as Kubernetes does: both of its readers (the fast
//    js-yaml path and the thorough `yaml` path) against sigs.k8s.io/yaml
//    itself (k8syaml/), over scalars where YAML 1.1 and 1.2 readers differ.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { goTool, INTEROP_ROOT } from '../helpers/go-peers.js';
import { ISTIO_API_VERSION, ISTIO_CRDS_JSON } from '../../src/validate/schema/istio-crds.gen.js';
import { DEFAULT_LIMITS, parseFast, parseThorough } from '../../src/config/parse.js';

const MODULE = join(INTEROP_ROOT, 'istio-api');

function go(args: string[], input?: string): string {
  const r = spawnSync(goTool(), args, { cwd: MODULE, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`go ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test('the committed Istio schema bundle is what gen.sh makes from the pinned istio.io/api', (t) => {
  t.timeout(600_000, 'a cold module download and build');
  const version = go(['list', '-m', '-f', '{{.Version}}', 'istio.io/api']).trim();
  t.is(version, ISTIO_API_VERSION, 'go.mod pins the version the bundle names');
  go(['mod', 'download', 'istio.io/api']);
  const dir = go(['list', '-m', '-f', '{{.Dir}}', 'istio.io/api']).trim();
  const fresh = go(['run', '.', join(dir, 'kubernetes', 'customresourcedefinitions.gen.yaml'), version]);
  t.true(fresh === ISTIO_CRDS_JSON, 'regenerate with test/interop/istio-api/gen.sh');
});

// Each case is one document; `a` holds the value under test.
const CASES = [
  'a: [1.2.3.4, 001:db8::]', // issue 12: a valid ServiceEntry address list
  'a: [fe80::1%eth0, "::"]',
  'a: 001:db8::1',
  'a: [a:b, c]',
  'a: {b:c}',
  'a: {b: c}',
  'a: on', 'a: ON', 'a: off', 'a: yes', 'a: No', 'a: y', 'a: N', 'a: TRUE', 'a: True', 'a: false',
  'a: 0755', 'a: 010', 'a: 0o755', 'a: 0x1F', 'a: 0b101', 'a: 1_000', 'a: 685_230.15', 'a: +12', 'a: -0',
  'a: 190:20:30', 'a: 2001-01-01', 'a: 2001-12-14t21:59:43.10-05:00',
  'a: ~', 'a: Null', 'a: NULL', 'a:', 'a: ""',
  'a: 1e3', 'a: 1.0', 'a: .5', 'a: 1.', 'a: 12e03', 'a: 0.1e-2', 'a: 9223372036854775808',
  'a: .inf', 'a: -.Inf', 'a: .NaN',
  'a: !!str 5', 'a: "5"', "a: '0755'", 'a: =', 'a: <<',
  'on: x', 'n: 1', '"y": 2',
  'a:\n  - 80\n  - "80"\n  - 0x50\n  - 1_0',
  'ports: [{number: 80, name: http}]',
  'a: >\n  folded\n  text\n',
];

/** sigs.k8s.io/yaml's verdict: the JSON value, or undefined when it refuses the document. */
function kube(docs: string[]): (unknown | undefined)[] {
  const out = JSON.parse(go(['run', './k8syaml'], JSON.stringify(docs))) as { json?: unknown; error?: string }[];
  return out.map((r) => (r.error ? undefined : r.json));
}

test('both YAML readers read values as Kubernetes (sigs.k8s.io/yaml) does', (t) => {
  t.timeout(600_000, 'a cold module download and build');
  const want = kube(CASES);
  let compared = 0;
  CASES.forEach((text, i) => {
    const thorough = parseThorough('case.yaml', text, DEFAULT_LIMITS);
    const fast = parseFast(text, DEFAULT_LIMITS); // undefined: the fast reader passes the file on
    if (want[i] === undefined) {
      t.true(thorough.diagnostics.length > 0, `Kubernetes refuses ${JSON.stringify(text)}; so must meshcd`);
      t.true(fast === undefined || fast.diagnostics.length > 0, `fast reader on ${JSON.stringify(text)}`);
      return;
    }
    t.deepEqual(thorough.diagnostics, [], JSON.stringify(text));
    // Compared as JSON, the form the API server stores (-0 is 0 there).
    const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    t.deepEqual(asJson(thorough.documents[0]?.value), want[i], `thorough reader on ${JSON.stringify(text)}`);
    if (fast) t.deepEqual(asJson(fast.documents[0]?.value), want[i], `fast reader on ${JSON.stringify(text)}`);
    compared++;
  });
  t.true(compared >= CASES.length - 4);
});
