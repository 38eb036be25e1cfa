// Org policies (layer 4): the policy format's errors are located in the
// policy file; each shipped baseline policy passes a good resource and
// reports a bad one at the right line; evaluation errors are diagnostics.
import test from 'ava';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicyText, DEFAULT_POLICY_DIR, evaluatePolicies, loadPolicies, selectorMatches, type CompiledPolicy } from '../../../src/validate/policies.js';
import { brief, loadFiles } from './analyzers/_helpers.js';

const MESH = `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  namespaces:
    prod: {labels: {env: production}}
    dev: {labels: {env: dev}}
`;

let baseline: CompiledPolicy[] = [];
test.before(async () => {
  const r = await loadPolicies(['policies']);
  if (r.diagnostics.length > 0) throw new Error(JSON.stringify(r.diagnostics));
  baseline = r.policies;
});

interface Case {
  policy: string;
  name: string;
  yaml: string;
  expect: string[];
}

const cases: Case[] = [
  {
    policy: 'vs-route-timeout',
    name: 'valid: timeout, redirect',
    yaml: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: dev}
spec:
  hosts: [r]
  http:
  - {match: [{uri: {prefix: /old}}], redirect: {uri: /new}}
  - {route: [{destination: {host: r}}], timeout: 5s}
`,
    expect: [],
  },
  {
    policy: 'vs-route-timeout',
    name: 'invalid: a route without timeout',
    yaml: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: dev}
spec:
  hosts: [r]
  http:
  - name: main
    route: [{destination: {host: r}}]
`,
    expect: ['POL-vs-route-timeout t.yaml:6'],
  },
  {
    policy: 'vs-retries-bounded',
    name: 'valid: 3 attempts with perTryTimeout',
    yaml: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: dev}
spec: {hosts: [r], http: [{route: [{destination: {host: r}}], retries: {attempts: 3, perTryTimeout: 1s}}]}
`,
    expect: [],
  },
  {
    policy: 'vs-retries-bounded',
    name: 'invalid: 10 attempts without perTryTimeout (two validations)',
    yaml: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: dev}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    retries: {attempts: 10}
`,
    expect: ['POL-vs-retries-bounded t.yaml:6', 'POL-vs-retries-bounded t.yaml:6'],
  },
  {
    policy: 'gateway-wildcard-tls',
    name: 'valid: wildcard with TLS',
    yaml: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: dev}
spec: {servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE, credentialName: c}}]}
`,
    expect: [],
  },
  {
    policy: 'gateway-wildcard-tls',
    name: 'invalid: wildcard on plain HTTP',
    yaml: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: dev}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*.example.com']
`,
    expect: ['POL-gateway-wildcard-tls t.yaml:5'],
  },
  {
    policy: 'gateway-tls-credential',
    name: 'invalid: SIMPLE with key files',
    yaml: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: dev}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
`,
    expect: ['POL-gateway-tls-credential t.yaml:5'],
  },
  {
    policy: 'gateway-tls-credential',
    name: 'valid: credentialName',
    yaml: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: dev}
spec: {servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: c}}]}
`,
    expect: [],
  },
  {
    policy: 'production-strict-mtls',
    name: 'valid: STRICT in prod; dev needs nothing',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: prod}
spec: {mtls: {mode: STRICT}}
`,
    expect: [],
  },
  {
    policy: 'production-strict-mtls',
    name: 'valid: mesh-wide STRICT in the root namespace',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`,
    expect: [],
  },
  {
    policy: 'production-strict-mtls',
    name: 'invalid: only a workload-scoped STRICT policy in prod (reported at the MeshConfig namespace entry)',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: some, namespace: prod}
spec: {selector: {matchLabels: {app: a}}, mtls: {mode: STRICT}}
`,
    expect: ['POL-production-strict-mtls mesh.yaml:6'],
  },
  {
    policy: 'production-dr-tls',
    name: 'valid: DISABLE only in dev',
    yaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: dev}
spec: {host: a, trafficPolicy: {tls: {mode: DISABLE}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: prod}
spec: {host: a, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
`,
    expect: [],
  },
  {
    policy: 'production-dr-tls',
    name: 'invalid: DISABLE at port level and on a subset in prod',
    yaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: prod}
spec:
  host: a
  trafficPolicy:
    portLevelSettings: [{port: {number: 80}, tls: {mode: DISABLE}}]
  subsets:
  - {name: v1, labels: {v: '1'}, trafficPolicy: {tls: {mode: DISABLE}}}
`,
    expect: ['POL-production-dr-tls t.yaml:6', 'POL-production-dr-tls t.yaml:8'],
  },
  {
    policy: 'authz-allow-empty-rule',
    name: 'valid: DENY with empty rule; ALLOW with sources',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: dev}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: dev}
spec: {rules: [{from: [{source: {namespaces: [dev]}}]}]}
`,
    expect: [],
  },
  {
    policy: 'authz-allow-empty-rule',
    name: 'invalid: implicit ALLOW with an empty rule',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: dev}
spec:
  rules:
  - {}
`,
    expect: ['POL-authz-allow-empty-rule t.yaml:5'],
  },
];

for (const c of cases) {
  test(`${c.policy}: ${c.name}`, async (t) => {
    const p = baseline.find((x) => x.name === c.policy);
    if (!p) return t.fail(`no baseline policy ${c.policy}`);
    const load = await loadFiles({ 'mesh.yaml': MESH, 't.yaml': c.yaml });
    t.deepEqual(load.diagnostics, []);
    const diags = evaluatePolicies(load, [p]);
    t.deepEqual(brief(diags), c.expect.slice().sort(), diags.map((d) => `${d.origin?.line} ${d.message}`).join('\n'));
  });
}

test('every baseline policy has a valid and an invalid case; at least 6 shipped', (t) => {
  t.true(baseline.length >= 6);
  for (const p of baseline) {
    t.true(cases.some((c) => c.policy === p.name && c.expect.length === 0), `${p.name} valid`);
    t.true(cases.some((c) => c.policy === p.name && c.expect.length > 0), `${p.name} invalid`);
  }
});

const POLICY_HEAD = 'apiVersion: meshcd.io/v1alpha1\nkind: Policy\n';

test('compile errors point at the expression line of the policy file', (t) => {
  const r = compilePolicyText('p.yaml', `${POLICY_HEAD}metadata: {name: p}
spec:
  validations:
  - expression: "object.spec +"
  - expression: "size(object) + 1"
`);
  t.deepEqual(r.policies, []);
  t.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.origin?.file}:${d.origin?.line}`), ['MCD0401 p.yaml:6', 'MCD0401 p.yaml:7']);
  t.regex(r.diagnostics[0]!.message, /does not compile: .*column/);
  t.regex(r.diagnostics[1]!.message, /must return bool/);
});

test('format errors are located and the policy is not applied', (t) => {
  const r = compilePolicyText('p.yaml', `${POLICY_HEAD}metadata: {name: Bad_Name}
spec: {validations: [{expression: "true"}]}
---
${POLICY_HEAD}metadata: {name: ok-name}
spec:
  severity: fatal
  match: {kinds: [VirtualServce]}
  validations: [{expression: "true"}]
---
apiVersion: v1
kind: ConfigMap
`);
  t.deepEqual(r.policies, []);
  t.deepEqual(r.diagnostics.map((d) => `${d.code} ${d.origin?.line}`), ['MCD0400 3', 'MCD0400 10', 'MCD0400 11', 'MCD0400 14']);
  t.regex(r.diagnostics[2]!.message, /unknown kind "VirtualServce"/);
});

test('evaluation errors become warnings on the resource, not crashes; messageExpression is used', async (t) => {
  const r = compilePolicyText('p.yaml', `${POLICY_HEAD}metadata: {name: p}
spec:
  code: ORG001
  match: {kinds: [VirtualService]}
  validations:
  - expression: "object.spec.tcp.size() > 0"
  - expression: "object.metadata.name.startsWith('team-')"
    messageExpression: "'name ' + object.metadata.name + ' must start with team-'"
`);
  t.deepEqual(r.diagnostics, []);
  const load = await loadFiles({ 't.yaml': 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec: {hosts: [r]}\n' });
  const d = evaluatePolicies(load, r.policies);
  t.deepEqual(d.map((x) => `${x.code} ${x.severity} ${x.origin?.line}`), ['MCD0402 warning 1', 'ORG001 error 1']);
  t.regex(d[0]!.message, /could not be evaluated/);
  t.is(d[1]!.message, 'name r must start with team-');
});

test('namespace selectors: matchLabels and matchExpressions', (t) => {
  t.true(selectorMatches({ matchLabels: { env: 'production' } }, { env: 'production', team: 'a' }));
  t.false(selectorMatches({ matchLabels: { env: 'production' } }, {}));
  t.true(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] }, { env: 'staging' }));
  t.false(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, { env: 'prod' }));
  t.true(selectorMatches({ matchExpressions: [{ key: 'pci', operator: 'DoesNotExist' }] }, { env: 'prod' }));
  t.false(selectorMatches({ matchExpressions: [{ key: 'pci', operator: 'Exists' }] }, { env: 'prod' }));
});

test('a later folder overrides a baseline policy of the same name; missing folder throws', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshcd-pol-'));
  try {
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'timeout.yaml'), `${POLICY_HEAD}metadata: {name: vs-route-timeout}\nspec:\n  severity: info\n  match: {kinds: [VirtualService]}\n  validations: [{expression: "true"}]\n`);
    const r = await loadPolicies(['policies', dir]);
    t.deepEqual(r.diagnostics, []);
    const p = r.policies.filter((x) => x.name === 'vs-route-timeout');
    t.is(p.length, 1);
    t.is(p[0]!.severity, 'info');
    await t.throwsAsync(loadPolicies([join(dir, 'nope')]), { message: /no such policy folder/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Namespace subject is located in the MeshConfig only when a policy reports it', async (t) => {
  const { policies } = await loadPolicies([DEFAULT_POLICY_DIR]);
  const located: string[] = [];
  const counting = (load: Awaited<ReturnType<typeof loadFiles>>) => ({ ...load, locate: (key: string, path: string) => (located.push(`${key} ${path}`), load.locate(key as never, path)) });
  // prod is labelled env=production in MESH: with a namespace-wide STRICT policy nothing is reported, so nothing is located.
  const clean = counting(await loadFiles({ 'mesh.yaml': MESH, 't.yaml': 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: prod}\nspec: {mtls: {mode: STRICT}}\n' }));
  t.deepEqual(evaluatePolicies(clean, policies).filter((d) => d.code === 'POL-production-strict-mtls'), []);
  t.deepEqual(located, []);
  const bare = counting(await loadFiles({ 'mesh.yaml': MESH, 't.yaml': 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: some, namespace: prod}\nspec: {selector: {matchLabels: {app: a}}, mtls: {mode: STRICT}}\n' }));
  const found = evaluatePolicies(bare, policies).filter((d) => d.code === 'POL-production-strict-mtls');
  t.deepEqual(found.map((d) => `${d.origin?.file}:${d.origin?.line}`), ['mesh.yaml:6']);
  t.true(located.some((l) => l.endsWith('spec.namespaces.prod')));
});
