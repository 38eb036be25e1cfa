// The CRDs' CEL rules (x-kubernetes-validations) as meshcd evaluates them.
// The table (test/fixtures/validate-rules/cel/rules.yaml) holds, per rule, a
// spec it accepts and one it refuses with the API server's own errors;
// test/interop/istio-api-cel.test.ts checks the same table against a real
// kube-apiserver. Here: the table covers every rule of the bundle, meshcd
// says exactly those errors, `meshcd validate` puts them at the right line
// once (no MCD02xx finding of the same mistake), and the cost bounds hold.

import test from 'ava';
import { stringify } from 'yaml';
import { ISTIO_CRDS_JSON } from '../../../src/validate/schema/istio-crds.gen.js';
import { istioSpecSchema, type IstioKind } from '../../../src/validate/schema/istio.js';
import { checkCelRules, compileErrors } from '../../../src/validate/schema/cel.js';
import { checkAgainstSchema, type JsonSchema } from '../../../src/validate/schema/jsonschema.js';
import { goParseDuration, goParseInt, goParseURL, goParseRequestURI, goQuote } from '../../../src/validate/schema/cel-k8s.js';
import { validate } from '../../../src/validate/index.js';
import { checkRules } from '../../../src/validate/rules/index.js';
import { brief, loadYaml } from './rules/helper.js';
import { CEL_CASES, type CelCase } from '../../helpers/cel-cases.js';

const CASES = CEL_CASES;
const MANAGED = new Set(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']);

const schemaOf = (c: CelCase) => istioSpecSchema(c.kind as IstioKind, c.apiVersion.split('/')[1]!);

/** Every rule in the generated bundle: rule text → the kinds that carry it. */
function bundleRules(): Map<string, Set<string>> {
  const b = JSON.parse(ISTIO_CRDS_JSON) as { kinds: Record<string, { versions: Record<string, { schema: string }> }>; schemas: Record<string, JsonSchema> };
  const out = new Map<string, Set<string>>();
  const walk = (s: unknown, kind: string): void => {
    if (!s || typeof s !== 'object') return;
    if (Array.isArray(s)) return s.forEach((x) => walk(x, kind));
    const rules = (s as JsonSchema)['x-kubernetes-validations'];
    for (const r of rules ?? []) {
      if (!out.has(r.rule)) out.set(r.rule, new Set());
      out.get(r.rule)!.add(kind);
    }
    for (const v of Object.values(s)) walk(v, kind);
  };
  for (const [kind, k] of Object.entries(b.kinds)) for (const v of Object.values(k.versions)) walk(b.schemas[v.schema], kind);
  return out;
}

test('the table has a case for each of the 36 distinct rules of the bundle, and every rule compiles', (t) => {
  const rules = bundleRules();
  t.is(rules.size, 36);
  t.deepEqual([...compileErrors(rules.keys())], []);
  for (const [rule, kinds] of rules) {
    const cases = CASES.filter((c) => c.rule === rule);
    t.true(cases.length > 0, `no case for ${JSON.stringify(rule)}`);
    for (const c of cases) t.true(kinds.has(c.kind), `${c.kind} does not carry ${JSON.stringify(rule)}`);
  }
  for (const c of CASES) t.true(rules.has(c.rule), `a case names a rule the bundle lacks: ${JSON.stringify(c.rule)}`);
});

for (const [i, c] of CASES.entries()) {
  test(`rule ${i}: ${c.kind} ${c.note ?? c.rule.replace(/\s+/g, ' ').slice(0, 70)}`, (t) => {
    const schema = schemaOf(c);
    // Otherwise valid: no structural finding stops the API server before its CEL rules.
    t.deepEqual(checkAgainstSchema(schema, c.pass, ['spec']).filter((f) => f.blocking), []);
    t.deepEqual(checkAgainstSchema(schema, c.fail, ['spec']).filter((f) => f.blocking), []);
    t.deepEqual(checkCelRules(schema, c.pass, ['spec']), [], 'the passing spec passes');
    t.deepEqual(checkCelRules(schema, c.fail, ['spec']).map((f) => f.message).sort(), [...c.errors].sort(), 'the failing spec gets the API server errors');
  });
}

/** The document of a case, and the line each error's field is on. */
async function loadCase(c: CelCase, spec: Record<string, unknown>) {
  const text = stringify({ apiVersion: c.apiVersion, kind: c.kind, metadata: { name: 'x', namespace: 'default' }, spec });
  return { text, load: await loadYaml(text) };
}

test('meshcd validate: each refused spec of a kind meshcd manages gets MCD0108 errors at the field, with the API server text', async (t) => {
  for (const c of CASES.filter((x) => MANAGED.has(x.kind))) {
    const { load } = await loadCase(c, c.fail);
    const got = validate(load).filter((d) => d.code === 'MCD0108');
    t.deepEqual(got.map((d) => d.message).sort(), [...c.errors].sort(), c.rule);
    for (const d of got) {
      t.is(d.severity, 'error');
      t.is(d.resource, `${c.kind}/default/x`);
      t.is(d.origin?.file, 'config.yaml');
      t.is(d.origin?.line, load.locate(d.resource!, d.path!.replace(/\["([^"]*)"\]/g, '.$1'))?.line, `${brief(d)}: located at its field`);
    }
    const { load: ok } = await loadCase(c, c.pass);
    t.deepEqual(validate(ok).filter((d) => d.code === 'MCD0108').map(brief), [], `${c.rule}: the passing spec has no MCD0108`);
  }
});

test('the line is the offending field’s: a wildcard host on line 8', async (t) => {
  const load = await loadYaml('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\nspec:\n  hosts:\n  - a.example.com\n  - "*"\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n');
  const d = validate(load).filter((x) => x.code === 'MCD0108');
  t.is(d.length, 1);
  t.is(d[0]!.origin?.line, 8);
  t.is(d[0]!.path, 'spec.hosts[1]');
  t.is(d[0]!.message, 'spec.hosts[1]: Invalid value: "*": hostname cannot be wildcard');
});

/** Rule messages whose mistake the rule layer (MCD02xx) also catches: the code it uses. */
const DUPLICATED: Record<string, string> = {
  'only one of targetRefs or selector can be set': 'MCD0209',
  'Cannot set serviceAccounts with namespaces or principals': 'MCD0209',
  'wildcard not allowed in label key match': 'MCD0207',
  'key must not be empty': 'MCD0207',
  'wildcard not allowed in label value match': 'MCD0207',
  'cross namespace referencing is not currently supported': 'MCD0209',
  'must be a valid duration greater than 1ms': 'MCD0202',
  'port must be between 1-65535': 'MCD0201',
  'portLevelMtls requires selector': 'MCD0225',
  'only one of jwks or jwksUri can be set': 'MCD0209',
  'url must have scheme http:// or https://': 'MCD0219',
  'only one of WorkloadSelector or Endpoints can be set': 'MCD0209',
  'CIDR addresses are allowed only for NONE/STATIC resolution types': 'MCD0217',
  'NONE mode cannot set endpoints': 'MCD0217',
  'DNS_ROUND_ROBIN mode cannot have multiple endpoints': 'MCD0217',
  'Address is required': 'MCD0210',
  'UDS may not include ports': 'MCD0208',
  'UDS must be an absolute path or abstract socket': 'MCD0208',
  'UDS may not be a dir': 'MCD0208',
  'port name must be valid': 'MCD0206',
  'hostname cannot be wildcard': 'MCD0200',
  'port number cannot be duplicated': 'MCD0216',
};

test('one mistake, one finding: where the rule layer catches the same mistake, only the CRD rule’s MCD0108 is reported', async (t) => {
  const seen = new Set<string>();
  for (const c of CASES.filter((x) => MANAGED.has(x.kind))) {
    const { load } = await loadCase(c, c.fail);
    const all = validate(load);
    const cel = all.filter((d) => d.code === 'MCD0108');
    const rules = checkRules(load);
    for (const d of cel) {
      const message = Object.keys(DUPLICATED).find((m) => d.message.endsWith(`: ${m}`));
      if (!message) continue;
      const code = DUPLICATED[message]!;
      const near = (p?: string) => p === d.path || (p ?? '').startsWith(`${d.path}.`) || (p ?? '').startsWith(`${d.path}[`);
      const twin = rules.filter((r) => r.code === code && near(r.path));
      for (const r of twin) t.false(all.some((x) => x.code === r.code && x.path === r.path && x.message === r.message), `${brief(r)} is dropped in favour of ${brief(d)}`);
      if (twin.length > 0) seen.add(message);
    }
  }
  t.deepEqual([...seen].sort(), Object.keys(DUPLICATED).sort(), 'each pair is shown by a case: the rule layer alone reports it, validate does not');
});

test('a resource with only CRD-rule errors still gets the rule layer and analyzers for its other mistakes', async (t) => {
  const load = await loadYaml(
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n  hosts: [reviews]\n  http:\n  - timeout: 0.5ms\n    route:\n    - destination: {host: reviews}\n  - match:\n    - uri: {regex: "(?=x)"}\n    route:\n    - destination: {host: reviews}\n',
  );
  const d = validate(load).map((x) => `${x.code} ${x.path}`);
  t.true(d.includes('MCD0108 spec.http[0].timeout'), d.join('\n'));
  t.true(d.includes('MCD0203 spec.http[1].match[0].uri.regex'), d.join('\n'));
  t.false(d.includes('MCD0202 spec.http[0].timeout'));
});

test('blocking schema errors stop the CRD rules, as the API server stops (an unknown field); a pattern error does not', async (t) => {
  const unknown = await loadYaml('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: e\nspec:\n  hosts: ["*"]\n  hostz: [a]\n');
  t.deepEqual(validate(unknown).filter((d) => d.code === 'MCD0108'), []);
  t.true(validate(unknown).some((d) => d.code === 'MCD0100'));
  const schema: JsonSchema = { type: 'object', properties: { a: { type: 'string', pattern: '^x', 'x-kubernetes-validations': [{ rule: 'self.size() < 3', message: 'short' }] } } };
  const findings = checkAgainstSchema(schema, { a: 'yyyy' }, ['spec']);
  t.is(findings.length, 1);
  t.not(findings[0]!.blocking, true);
  t.deepEqual(checkCelRules(schema, { a: 'yyyy' }, ['spec']).map((f) => f.message), ['spec.a: Invalid value: "yyyy": short']);
});

// ---------------------------------------------------------------------------
// Kubernetes' rule semantics beyond Istio's rules: oldSelf, messageExpression, reason, fieldPath, cost.

test('transition rules (oldSelf) are skipped on create; optionalOldSelf rules see oldSelf as none', (t) => {
  const schema: JsonSchema = {
    type: 'object',
    properties: {
      a: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'immutable' }] },
      b: { type: 'string', 'x-kubernetes-validations': [{ rule: '!oldSelf.hasValue()', message: 'on update only', optionalOldSelf: true }] },
      c: { type: 'string', 'x-kubernetes-validations': [{ rule: 'oldSelf.hasValue()', message: 'needs an old value', optionalOldSelf: true }] },
    },
  };
  t.deepEqual(checkCelRules(schema, { a: 'x', b: 'y', c: 'z' }, ['spec']).map((f) => f.message), ['spec.c: Invalid value: "z": needs an old value']);
});

test('messageExpression, reason and fieldPath are used as the API server uses them', (t) => {
  const schema: JsonSchema = {
    type: 'object',
    'x-kubernetes-validations': [
      { rule: 'self.n < 10', messageExpression: "'n is ' + string(self.n) + ', over 9'" },
      { rule: 'has(self.m)', message: 'm is required', reason: 'FieldValueRequired', fieldPath: '.m' },
      { rule: 'self.n != 12', message: 'no twelve', reason: 'FieldValueForbidden' },
      { rule: 'self.n > 100' },
    ],
    properties: { n: { type: 'integer' }, m: { type: 'string' } },
  };
  t.deepEqual(
    checkCelRules(schema, { n: 12 }, ['spec']).map((f) => `${f.path.join('.')} ${f.message}`),
    ['spec spec: Invalid value: n is 12, over 9', 'spec.m spec.m: Required value: m is required', 'spec spec: Forbidden: no twelve', 'spec spec: Invalid value: failed rule: self.n > 100'],
  );
});

test('cost: a rule over the per-call limit is stopped with the API server message, and no further rule runs', (t) => {
  const rule = 'self.all(a, self.exists(b, b == a))';
  const schema: JsonSchema = {
    type: 'object',
    properties: {
      l: { type: 'array', items: { type: 'string' }, 'x-kubernetes-validations': [{ rule, message: 'quadratic' }] },
      z: { type: 'string', 'x-kubernetes-validations': [{ rule: 'false', message: 'never reached' }] },
    },
  };
  // 3,000 items: 4.5 million comparisons uncapped; the per-call limit (1,000,000) stops it long before.
  const l = Array.from({ length: 3000 }, (_, i) => `item-${i}`);
  const f = checkCelRules(schema, { l, z: 'z' }, ['spec']);
  t.deepEqual(
    f.map((x) => x.message),
    ["spec.l: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: quadratic"],
  );
  // Small inputs are well inside it.
  t.deepEqual(checkCelRules(schema, { l: ['b', 'a'], z: 'z' }, ['spec']).map((x) => x.message), ['spec.z: Invalid value: "z": never reached']);
});

test('cost: the per-resource budget runs out over many cheap rules, with the API server message', (t) => {
  const schema: JsonSchema = { type: 'array', items: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.size() > 0', message: 'empty' }] } };
  const value = Array.from({ length: 100 }, () => 'a');
  const f = checkCelRules(schema, value, ['spec'], { costBudget: 50 });
  t.is(f.length, 1);
  t.regex(f[0]!.message, /^spec\[\d+\]: Invalid value: "string": validation failed due to running out of cost budget, no further validation rules will be run$/);
  t.deepEqual(checkCelRules(schema, value, ['spec']), []);
});

// ---------------------------------------------------------------------------
// Go semantics the rules rely on.

test('duration() is Go’s time.ParseDuration', (t) => {
  const ok: [string, bigint][] = [['1s', 1_000_000_000n], ['1.5ms', 1_500_000n], ['.5s', 500_000_000n], ['1.s', 1_000_000_000n], ['+1h1m', 3_660_000_000_000n], ['-1us', -1_000n], ['1µs', 1_000n], ['1μs', 1_000n], ['0', 0n], ['2562047h', 9_223_369_200_000_000_000n]];
  for (const [s, ns] of ok) t.is(goParseDuration(s), ns, s);
  for (const s of ['', '1', '1d', '1e3s', ' 1s', '.s', '2562048h', '9223372036854775808ns', '1 s']) t.throws(() => goParseDuration(s), undefined, s);
});

test('int() is Go’s strconv.ParseInt(s, 10, 64)', (t) => {
  t.is(goParseInt('+80'), 80n);
  t.is(goParseInt('-0'), 0n);
  t.is(goParseInt('080'), 80n);
  t.is(goParseInt('9223372036854775807'), 9223372036854775807n);
  for (const s of ['', ' 1', '0x50', '0b1', '1_000', '1e3', '9223372036854775808']) t.throws(() => goParseInt(s), undefined, s);
});

test('url() is Go’s net/url (ParseRequestURI, then Parse), with its errors', (t) => {
  t.is(goParseURL('HTTPS://a.example.com:8443/k?x=1').scheme, 'https');
  t.is(goParseURL('oci://registry/a:1').scheme, 'oci');
  t.is(goParseRequestURI('/just/a/path').scheme, '');
  const err = (s: string) => {
    try {
      goParseRequestURI(s);
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.is(err('a.example.com/keys'), 'parse "a.example.com/keys": invalid URI for request');
  t.is(err('https://a:x/'), 'parse "https://a:x/": invalid port ":x" after host');
  t.is(err(''), 'parse "": empty url');
  t.is(err('://x'), 'parse "://x": missing protocol scheme');
  t.is(err('http://a b/'), 'parse "http://a b/": invalid character " " in host name');
  t.is(err('http://[::1/'), 'parse "http://[::1/": missing \']\' in host');
  t.is(err('http://x/%zz'), 'parse "http://x/%zz": invalid URL escape "%zz"');
  t.is(err('http://x/\n'), 'parse "http://x/\\n": net/url: invalid control character in URL');
  t.is(err('http://[::1]:80/'), 'ok');
  t.is(err('mailto:a@b'), 'ok');
  t.is(goQuote('a"b\\c\u0007é\u200b'), '"a\\"b\\\\c\\aé\\u200b"');
});
