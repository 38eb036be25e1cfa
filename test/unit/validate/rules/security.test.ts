import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { attributeError } from '../../../../src/validate/rules/security.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const kind = (k: string) => (spec: string) => `apiVersion: security.istio.io/v1
kind: ${k}
metadata:
  name: p
  namespace: shop
spec:
${spec}`;
const pa = kind('PeerAuthentication');
const ap = kind('AuthorizationPolicy');
const ra = kind('RequestAuthentication');

validCases(test, checkRules, [
  { name: 'namespace-wide STRICT', yaml: pa(`  mtls: {mode: STRICT}\n`) },
  { name: 'a JWT rule with a jwksUri and no issuer (Istio accepts it)', yaml: ra(`  jwtRules:\n  - jwksUri: https://a.example.com/jwks\n`) },
  { name: 'ALLOW with empty rule allows everything', yaml: ap(`  action: ALLOW\n  rules:\n  - {}\n`) },
  { name: 'DENY with ports', yaml: ap(`  action: DENY\n  rules:\n  - to:\n    - operation:\n        ports: ["8080"]\n        paths: ["/admin/{*}/users/{**}"]\n`) },
  { name: 'AUDIT', yaml: ap(`  action: AUDIT\n  rules:\n  - to:\n    - operation:\n        ports: ["80"]\n`) },
  { name: 'path templates, prefix/suffix wildcards, nested claims, service accounts', yaml: ap(`  rules:\n  - from:\n    - source:\n        serviceAccounts: [shop/checkout]\n    to:\n    - operation:\n        paths: ["/exact", "/api/*", "*.png", "*", "/users/{*}/orders", "/{**}/static"]\n        hosts: ["*.example.com", "api.*"]\n    when:\n    - key: request.auth.claims[realm][role]\n      values: [admin]\n    - key: experimental.envoy.filters.network.mysql_proxy[db.table]\n      values: ["[update]"]\n    - key: destination.port\n      notValues: ["9000"]\n`) },
  { name: 'RequestAuthentication with targetRefs and newer JWT fields', yaml: ra(`  targetRefs:\n  - group: ""\n    kind: Service\n    name: checkout\n  jwtRules:\n  - issuer: https://id.example.com\n    jwksUri: https://id.example.com/keys\n    fromCookies: [session]\n    outputClaimToHeaders:\n    - claim: sub\n      header: x-user\n    timeout: 3s\n    spaceDelimitedClaims: [scope]\n`) },
  { name: 'jwks inline', yaml: ra(`  jwtRules:\n  - issuer: me\n    jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}'\n`) },
]);

const cases: RuleCase[] = [
  { name: 'port-level mTLS without selector', code: 'MCD0225', schemaFirst: 'MCD0108', message: /mesh\/namespace peer authentication cannot have port level mTLS/, yaml: pa(`  portLevelMtls: #<\n    "8080": {mode: DISABLE}\n`) },
  { name: 'port-level mTLS port range', code: 'MCD0201', schemaFirst: 'MCD0108', message: /port must be in range 1..65535/, yaml: pa(`  selector:\n    matchLabels: {app: a}\n  portLevelMtls:\n    "70000": {mode: DISABLE} #<\n`) },
  { name: 'empty portLevelMtls', code: 'MCD0225', schemaFirst: 'MCD0102', message: /port level mTLS, if defined, must have at least one element/, yaml: pa(`  selector:\n    matchLabels: {app: a}\n  portLevelMtls: {} #<\n`) },
  { name: 'CUSTOM without provider', code: 'MCD0218', message: /`provider.name` must not be empty/, yaml: ap(`  action: CUSTOM #<\n  rules:\n  - {}\n`) },
  { name: 'CUSTOM without rules', code: 'MCD0218', message: /CUSTOM action without `rules` is meaningless/, yaml: ap(`  action: CUSTOM\n  provider: {name: opa}\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'provider with ALLOW', code: 'MCD0218', message: /`provider` must not be with non CUSTOM action, found ALLOW/, yaml: ap(`  action: ALLOW\n  provider: {name: opa} #<\n  rules:\n  - {}\n`) },
  { name: 'CUSTOM with principals', code: 'MCD0218', message: /From.Principals is currently not supported with CUSTOM action/, yaml: ap(`  action: CUSTOM\n  provider: {name: opa}\n  rules:\n  - from:\n    - source:\n        principals: [a] #<\n`) },
  { name: 'DENY without rules', code: 'MCD0218', message: /DENY action without `rules` is meaningless/, yaml: ap(`  action: DENY\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'DENY with an empty rules list', code: 'MCD0218', message: /DENY action without `rules` is meaningless/, yaml: ap(`  action: DENY\n  rules: [] #<\n`).replace('  rules: [] #<', '  rules: []').replace('spec:\n', 'spec: #<\n') },
  { name: 'serviceAccounts with namespaces', code: 'MCD0209', schemaFirst: 'MCD0108', message: /Cannot set serviceAccounts with namespaces or principals/, yaml: ap(`  rules:\n  - from:\n    - source:\n        serviceAccounts: [shop/sa] #<\n        namespaces: [shop]\n`) },
  { name: 'empty from', code: 'MCD0218', message: /`from` must not be empty, found at rule 0/, yaml: ap(`  rules:\n  - from: [] #<\n`) },
  { name: 'empty source', code: 'MCD0218', message: /`from.source` must not be empty, found at rule 0/, yaml: ap(`  rules:\n  - from:\n    - source: {} #<\n`) },
  { name: 'empty operation', code: 'MCD0218', message: /`to.operation` must not be empty, found at rule 0/, yaml: ap(`  rules:\n  - to:\n    - operation: {} #<\n`) },
  { name: 'bad ipBlock', code: 'MCD0208', message: /bad CIDR range \(10.0.0.0\/40\)/, yaml: ap(`  rules:\n  - from:\n    - source:\n        ipBlocks:\n        - 10.0.0.0/40 #<\n`) },
  { name: 'port not a number', code: 'MCD0201', message: /bad port \(http\)/, yaml: ap(`  rules:\n  - to:\n    - operation:\n        ports:\n        - http #<\n`) },
  { name: 'empty value', code: 'MCD0218', message: /empty value not allowed, found in methods/, yaml: ap(`  rules:\n  - to:\n    - operation:\n        methods:\n        - "" #<\n`) },
  { name: 'unknown when key', code: 'MCD0218', message: /unknown attribute \(request\.header\)/, yaml: ap(`  rules:\n  - when:\n    - key: request.header #<\n      values: [a]\n`) },
  { name: 'when header key format', code: 'MCD0218', message: /bad key \(request\.headers\[\]\): should have format a\[b\]/, yaml: ap(`  rules:\n  - when:\n    - key: request.headers[] #<\n      values: [a]\n`) },
  { name: 'when without values', code: 'MCD0218', message: /at least one of `values` or `notValues` must be set for key source.ip/, yaml: ap(`  rules:\n  - when:\n    - key: source.ip #<\n`).replace('    - key: source.ip #<', '    - key: source.ip #<') },
  { name: 'when source.ip value', code: 'MCD0218', message: /invalid `value` for `key` source.ip: bad IP address \(not-an-ip\)/, yaml: ap(`  rules:\n  - when:\n    - key: source.ip\n      values: [not-an-ip] #<\n`) },
  { name: 'spiffe prefix in principal', severity: 'warning', code: 'MCD0218', message: /should not include the spiffe:\/\/ prefix/, yaml: ap(`  rules:\n  - from:\n    - source:\n        principals:\n        - spiffe://cluster.local/ns/a/sa/b #<\n`) },
  { name: 'path template {**} not last', code: 'MCD0218', message: /\{\*\*\} as the last operator/, yaml: ap(`  rules:\n  - to:\n    - operation:\n        paths:\n        - /{**}/x/{*} #<\n`) },
  { name: 'path with * in the middle', code: 'MCD0218', message: /"\*" is only supported as a prefix, a suffix or the whole path/, yaml: ap(`  rules:\n  - to:\n    - operation:\n        paths:\n        - /api/*/users #<\n`) },
  { name: 'DENY with only HTTP attributes', severity: 'warning', code: 'MCD0218', message: /will deny all traffic to TCP ports/, yaml: ap(`  action: DENY\n  rules:\n  - to: #<\n    - operation:\n        methods: [POST]\n`).replace('  - to: #<', '  - to: #<') },
  { name: 'selector and targetRef', code: 'MCD0209', schemaFirst: 'MCD0108', message: /only one of targetRefs or workloadSelector can be set/, yaml: ap(`  selector:\n    matchLabels: {app: a}\n  targetRef: #<\n    kind: Gateway\n    group: gateway.networking.k8s.io\n    name: gw\n  rules:\n  - {}\n`) },
  { name: 'neither issuer nor jwksUri (Istio accepts a jwksUri alone)', code: 'MCD0219', message: /^issuer or jwksUri must be non-empty string$/, yaml: ra(`  jwtRules:\n  - audiences: [a] #<\n`) },
  { name: 'jwksUri not http', code: 'MCD0219', schemaFirst: 'MCD0108', message: /URI scheme "ftp" is not supported/, yaml: ra(`  jwtRules:\n  - issuer: me\n    jwksUri: ftp://a.example.com/jwks #<\n`) },
  { name: 'jwksUri not a URL', code: 'MCD0219', schemaFirst: 'MCD0108', message: /jwksUri "not a url" is not a valid URL/, yaml: ra(`  jwtRules:\n  - issuer: me\n    jwksUri: not a url #<\n`) },
  { name: 'jwks and jwksUri together', code: 'MCD0209', schemaFirst: 'MCD0108', message: /only one of jwks or jwksUri may be set/, yaml: ra(`  jwtRules:\n  - issuer: me\n    jwksUri: https://a.example.com/jwks\n    jwks: '{"keys":[]}' #<\n`) },
  { name: 'jwks not JSON', code: 'MCD0219', message: /jwks parse error/, yaml: ra(`  jwtRules:\n  - issuer: me\n    jwks: "{keys" #<\n`) },
  { name: 'empty header location', code: 'MCD0219', schemaFirst: 'MCD0102', message: /location header name must be non-empty string/, yaml: ra(`  jwtRules:\n  - issuer: me\n    fromHeaders:\n    - prefix: "Bearer " #<\n`) },
  { name: 'selector with empty key', code: 'MCD0207', schemaFirst: 'MCD0108', message: /empty key is not supported in selector/, yaml: ra(`  selector:\n    matchLabels: #<\n      "": x\n  jwtRules:\n  - issuer: me\n`) },
  { name: 'JWKS fetch timeout', code: 'MCD0202', schemaFirst: 'MCD0108', message: /greater than 1ms/, yaml: ra(`  jwtRules:\n  - issuer: me\n    jwksUri: https://a.example.com/jwks\n    timeout: 0s #<\n`) },
  { name: 'empty cookie name', code: 'MCD0219', schemaFirst: 'MCD0102', message: /cookie name must be non-empty string/, yaml: ra(`  jwtRules:\n  - issuer: me\n    fromCookies:\n    - "" #<\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);

test('when keys follow security.ValidateAttribute', (t) => {
  t.is(attributeError('request.auth.claims[groups]', ['a']), undefined);
  t.is(attributeError('destination.port', ['8080']), undefined);
  t.regex(attributeError('destination.port', ['80000']) ?? '', /bad port/);
  t.is(attributeError('remote.ip', ['2001:db8::/32', '10.0.0.1']), undefined);
  t.regex(attributeError('source.ip', ['10.0.0.256']) ?? '', /bad IP address/);
  t.is(attributeError('experimental.envoy.filters.network.mysql_proxy[db.table]', ['[update]']), undefined);
  t.regex(attributeError('source.user', ['x']) ?? '', /unknown attribute/);
});
