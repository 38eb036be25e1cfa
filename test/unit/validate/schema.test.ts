import test from 'ava';
import { checkSchema } from '../../../src/validate/schema.js';
import { istioSpecSchema, ISTIO_API_VERSION, servedVersions } from '../../../src/validate/schema/istio.js';
import { editDistance, suggest } from '../../../src/validate/schema/jsonschema.js';
import { brief, loadYaml, yaml } from './rules/helper.js';
import { KIND_GROUPS } from '../../../src/api/istio.js';

async function schemaDiags(text: string) {
  const load = await loadYaml(text);
  return checkSchema(load);
}

test('a typo in a field name is reported with its path, line and a suggestion', async (t) => {
  const d = await schemaDiags(yaml`
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata:
      name: reviews
    spec:
      hosts: [reviews]
      http:
      - route:
        - destination:
            host: reviews
          wieght: 100
  `);
  t.is(d.length, 1, d.map(brief).join('\n'));
  t.is(d[0]!.code, 'MCD0100');
  t.is(d[0]!.path, 'spec.http[0].route[0].wieght');
  t.is(d[0]!.origin?.line, 11);
  t.is(d[0]!.resource, 'VirtualService/default/reviews');
  t.regex(d[0]!.message, /did you mean `weight`\?/);
});

interface Case {
  name: string;
  text: string;
  code: string;
  path: string;
  line: number;
  message: RegExp;
}

const header = (kind: string, apiVersion = 'networking.istio.io/v1beta1') => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\n`;

const invalid: Case[] = [
  // Istio's current API (issue 12): removed fields say so, newer enums are enums.
  {
    name: 'removed field: websocketUpgrade says it was removed and what to do',
    text: header('VirtualService', 'networking.istio.io/v1') + 'spec:\n  hosts: [a]\n  http:\n  - websocketUpgrade: true\n    route:\n    - destination: {host: a}\n',
    code: 'MCD0100', path: 'spec.http[0].websocketUpgrade', line: 8, message: /`spec\.http\[0\]\.websocketUpgrade` was removed from Istio's HTTPRoute \(Istio 1\.5 and later refuse it.*delete the field/,
  },
  {
    name: 'removed field: appendHeaders points at headers',
    text: header('VirtualService', 'networking.istio.io/v1') + 'spec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    appendHeaders: {x: y}\n',
    code: 'MCD0100', path: 'spec.http[0].appendHeaders', line: 10, message: /was removed from Istio's HTTPRoute.*use `headers\.request`/,
  },
  {
    name: 'removed field: fault abort percent points at percentage',
    text: header('VirtualService', 'networking.istio.io/v1') + 'spec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n    fault:\n      abort: {httpStatus: 500, percent: 10}\n',
    code: 'MCD0100', path: 'spec.http[0].fault.abort.percent', line: 11, message: /was removed .*use `percentage: \{value: N\}`/,
  },
  {
    name: 'RequestAuthentication jwtRules presence: a bad value is an enum error, not an unknown field',
    text: header('RequestAuthentication', 'security.istio.io/v1') + 'spec:\n  jwtRules:\n  - issuer: https://issuer.example\n    presence: REQUIRD\n',
    code: 'MCD0103', path: 'spec.jwtRules[0].presence', line: 8, message: /did you mean `REQUIRED`/,
  },
  {
    name: 'CRD length limits apply (AuthorizationPolicy action enum is the CRD one)',
    text: header('AuthorizationPolicy', 'security.istio.io/v1') + 'spec:\n  action: ALOW\n',
    code: 'MCD0103', path: 'spec.action', line: 6, message: /did you mean `ALLOW`/,
  },
  {
    name: 'wrong type: string weight',
    text: header('VirtualService') + 'spec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: "50"\n',
    code: 'MCD0101', path: 'spec.http[0].route[0].weight', line: 10, message: /must be an integer, found string "50"/,
  },
  {
    name: 'wrong type: hosts not a list',
    text: header('VirtualService', 'networking.istio.io/v1') + 'spec:\n  hosts: reviews\n',
    code: 'MCD0101', path: 'spec.hosts', line: 6, message: /must be a list/,
  },
  {
    name: 'enum value with suggestion',
    text: header('DestinationRule', 'networking.istio.io/v1alpha3') + 'spec:\n  host: a\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTAL\n',
    code: 'MCD0103', path: 'spec.trafficPolicy.tls.mode', line: 9, message: /did you mean `ISTIO_MUTUAL`/,
  },
  {
    name: 'exclusive string match fields',
    text: header('VirtualService') + 'spec:\n  hosts: [a]\n  http:\n  - match:\n    - uri:\n        exact: /a\n        prefix: /b\n    route:\n    - destination: {host: a}\n',
    code: 'MCD0104', path: 'spec.http[0].match[0].uri.prefix', line: 11, message: /only one of `exact`, `prefix`, `regex`/,
  },
  {
    name: 'consistent hash keys exclude each other (nested oneOf)',
    text: header('DestinationRule') + 'spec:\n  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpHeaderName: x-user\n        useSourceIp: true\n',
    code: 'MCD0104', path: 'spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp', line: 11, message: /only one of `httpHeaderName`, `httpCookie`, `useSourceIp`/,
  },
  {
    name: 'simple and consistentHash together',
    text: header('DestinationRule') + 'spec:\n  host: a\n  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n      consistentHash:\n        useSourceIp: true\n',
    code: 'MCD0104', path: 'spec.trafficPolicy.loadBalancer.consistentHash', line: 10, message: /only one of `simple`, `consistentHash`/,
  },
  {
    name: 'required field missing (Rollout metric name)',
    text: 'apiVersion: meshcd.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\nspec:\n  target: {virtualService: reviews}\n  steps: [{setWeight: 10}]\n  analysis:\n    metrics:\n    - query: ok\n',
    code: 'MCD0102', path: 'spec.analysis.metrics[0].name', line: 10, message: /`spec.analysis.metrics\[0\].name` is required/,
  },
  {
    name: 'int32 overflow',
    text: header('DestinationRule') + 'spec:\n  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: 99999999999\n',
    code: 'MCD0105', path: 'spec.trafficPolicy.connectionPool.tcp.maxConnections', line: 10, message: /int32 range/,
  },
  {
    name: 'unknown top-level field',
    text: header('Sidecar') + 'spec: {}\nspce: {}\n',
    code: 'MCD0100', path: 'spce', line: 6, message: /did you mean `spec`/,
  },
  {
    name: 'unknown field in security kind (v1)',
    text: header('AuthorizationPolicy', 'security.istio.io/v1') + 'spec:\n  action: DENY\n  rules:\n  - from:\n    - source:\n        principal: [a]\n',
    code: 'MCD0100', path: 'spec.rules[0].from[0].source.principal', line: 10, message: /did you mean `principals`/,
  },
  {
    name: 'PeerAuthentication v1 falls back to the v1beta1 schema',
    text: header('PeerAuthentication', 'security.istio.io/v1') + 'spec:\n  mtls:\n    mode: strict\n',
    code: 'MCD0103', path: 'spec.mtls.mode', line: 7, message: /did you mean `STRICT`/,
  },
  {
    name: 'Rollout unknown field (meshcd schema)',
    text: 'apiVersion: meshcd.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\nspec:\n  target: {virtualService: reviews}\n  steps:\n  - setWieght: 10\n',
    code: 'MCD0100', path: 'spec.steps[0].setWieght', line: 8, message: /did you mean `setWeight`/,
  },
  {
    name: 'Rollout missing required fields',
    text: 'apiVersion: meshcd.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\nspec:\n  target: {virtualService: reviews}\n',
    code: 'MCD0102', path: 'spec.steps', line: 5, message: /`spec.steps` is required/,
  },
  {
    name: 'MeshConfig enum',
    text: 'apiVersion: meshcd.io/v1alpha1\nkind: MeshConfig\nmetadata:\n  name: mesh\nspec:\n  outboundTrafficPolicy:\n    mode: REGISTRY\n',
    code: 'MCD0103', path: 'spec.outboundTrafficPolicy.mode', line: 7, message: /one of ALLOW_ANY, REGISTRY_ONLY/,
  },
  {
    name: 'metadata name not DNS-1123',
    text: 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: My_Sidecar\nspec: {}\n',
    code: 'MCD0106', path: 'metadata.name', line: 4, message: /RFC 1123 subdomain/,
  },
  {
    name: 'metadata label value not valid',
    text: 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: s\n  labels:\n    app: "-bad-"\nspec: {}\n',
    code: 'MCD0107', path: 'metadata.labels.app', line: 6, message: /label value "-bad-"/,
  },
  {
    name: 'metadata label value not a string',
    text: 'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: s\n  labels:\n    version: 1\nspec: {}\n',
    code: 'MCD0101', path: 'metadata.labels.version', line: 6, message: /must be a string, found integer 1 \(quote it in YAML: "1"\)/,
  },
];

for (const c of invalid) {
  test(`schema rejects: ${c.name}`, async (t) => {
    const d = await schemaDiags(c.text);
    t.true(d.length >= 1, 'expected a diagnostic');
    const hit = d.find((x) => x.code === c.code && x.path === c.path);
    t.truthy(hit, `got:\n${d.map(brief).join('\n')}`);
    t.regex(hit!.message, c.message);
    t.is(hit!.origin?.line, c.line);
    t.is(hit!.severity, 'error');
  });
}

test('valid resources of every kind and version produce no schema diagnostics', async (t) => {
  const text = await import('node:fs/promises').then((fs) => fs.readFile('test/fixtures/validate-rules/valid-all-kinds.yaml', 'utf8'));
  const load = await loadYaml(text);
  t.deepEqual(load.diagnostics.filter((d) => d.severity === 'error'), []);
  t.true(load.config.resources.length >= 11);
  t.deepEqual(checkSchema(load).map(brief), []);
});

test('every Istio kind has a generated schema in every version its CRD serves, and the loader accepts exactly those', (t) => {
  t.regex(ISTIO_API_VERSION, /^v1\.\d+\.\d+$/);
  const kinds = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'] as const;
  for (const k of kinds) {
    t.deepEqual(servedVersions(k), [...KIND_GROUPS[k].versions], k);
    for (const v of servedVersions(k)) t.truthy(istioSpecSchema(k, v).properties, `${k} ${v}`);
  }
});

test('suggestions: close typos only', (t) => {
  t.is(editDistance('wieght', 'weight'), 1);
  t.is(suggest('wieght', ['weight', 'headers', 'destination']), 'weight');
  t.is(suggest('retry_on', ['retryOn', 'attempts']), 'retryOn');
  t.is(suggest('zzzzzz', ['weight', 'headers']), undefined);
});

test('fields added to Istio since 1.18 are accepted (generated from istio.io/api)', async (t) => {
  const d = await schemaDiags(yaml`
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: p}
    spec:
      rules:
      - from:
        - source: {trustDomains: [cluster.local], notTrustDomains: [evil.example]}
    ---
    apiVersion: security.istio.io/v1
    kind: RequestAuthentication
    metadata: {name: r}
    spec:
      jwtRules:
      - {issuer: https://issuer.example, presence: OPTIONAL, timeout: 5s}
    ---
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: d}
    spec:
      host: a
      trafficPolicy:
        retryBudget: {percent: 20, minRetryConcurrency: 3}
        tls: {mode: SIMPLE, caCertCredentialName: ca}
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: v}
    spec:
      hosts: [a]
      http:
      - route: [{destination: {host: a}}]
        retries: {attempts: 2, backoff: 25ms, retryIgnorePreviousHosts: true}
  `);
  t.deepEqual(d.map(brief), []);
});
