import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const vs = (spec: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop${extra}
spec:
${spec}`;

// One destination route, reused where the case is about something else.
const route = `    route:
    - destination:
        host: reviews.shop.svc.cluster.local`;

validCases(test, checkRules, [
  { name: 'simple route', yaml: vs(`  hosts: [reviews]\n  http:\n  -\n${route}\n`) },
  { name: 'delegate VirtualService without hosts', yaml: vs(`  http:\n  - match:\n    - uri:\n        prefix: /a\n${route}\n`) },
  { name: 'IP host', yaml: vs(`  hosts: [10.0.0.1]\n  http:\n  -\n${route}\n`) },
  { name: 'weights summing to 100', yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: a.shop.svc.cluster.local}\n      weight: 30\n    - destination: {host: b.shop.svc.cluster.local}\n      weight: 70\n`) },
  { name: 'timeout 0s disables the timeout', yaml: vs(`  hosts: [reviews]\n  http:\n  - timeout: 0s\n${route}\n`) },
  { name: 'wildcard host on a gateway', yaml: vs(`  hosts: ["*"]\n  gateways: [istio-system/public]\n  http:\n  -\n${route}\n`) },
]);

const cases: RuleCase[] = [
  { name: 'weights do not sum to 100: a warning with the real split', severity: 'warning', code: 'MCD0230', message: /^destination weights sum to 90, not 100; Istio treats them as relative, so traffic splits a 44\.4%, b 55\.6%$/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route: #<\n    - destination: {host: a}\n      weight: 40\n    - destination: {host: b}\n      weight: 50\n`) },
  { name: 'relative weights 1 and 2 are valid (Istio accepts them): a warning with the split', severity: 'warning', code: 'MCD0230', message: /traffic splits a:8080 \(v1\) 33\.3%, a \(v2\) 66\.7%$/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route: #<\n    - destination: {host: a, subset: v1, port: {number: 8080}}\n      weight: 1\n    - destination: {host: a, subset: v2}\n      weight: 2\n`) },
  { name: 'a weight above 100 on a single destination is accepted (all traffic goes there)', severity: 'warning', code: 'MCD0204', message: /single destination receives all traffic irrespective of its weight \(150\)/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 150 #<\n`) },
  { name: 'negative weight', code: 'MCD0204', message: /weight -10 < 0/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: -10 #<\n    - destination: {host: b}\n      weight: 110\n`) },
  { name: 'all weights zero', code: 'MCD0204', message: /total destination weight = 0/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route: #<\n    - destination: {host: a}\n      weight: 0\n    - destination: {host: b}\n      weight: 0\n`) },
  { name: 'single destination weight is ignored', severity: 'warning', code: 'MCD0204', message: /single destination receives all traffic/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 50 #<\n`) },
  { name: 'weights summing past 4294967295 (Istio accepts them; Envoy and gRPC NACK the route): a warning', severity: 'warning', code: 'MCD0204', message: /^destination weights sum to 6000000000, over 4294967295: .*refuse \(NACK\)/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route: #<\n    - destination: {host: a}\n      weight: 2000000000\n    - destination: {host: b}\n      weight: 2000000000\n    - destination: {host: c}\n      weight: 2000000000\n`) },
  { name: 'two int32-max weights still fit a 32-bit sum: only the split warning', severity: 'warning', code: 'MCD0230', message: /sum to 4294967294, not 100; .* a 50%, b 50%/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route: #<\n    - destination: {host: a}\n      weight: 2147483647\n    - destination: {host: b}\n      weight: 2147483647\n`) },
  { name: 'TCP weights', severity: 'warning', code: 'MCD0230', message: /sum to 20, not 100; .* a 50%, b 50%/, yaml: vs(`  hosts: [reviews]\n  tcp:\n  - route: #<\n    - destination: {host: a}\n      weight: 10\n    - destination: {host: b}\n      weight: 10\n`) },
  { name: 'catch-all route not last', severity: 'warning', code: 'MCD0211', message: /rule "second" not used \(only the last rule can have no matches\)/, yaml: vs(`  hosts: [reviews]\n  http:\n  - name: first\n${route}\n  - name: second #<\n${route}\n`) },
  { name: 'matched route after catch-all', severity: 'warning', code: 'MCD0211', message: /rule #1 not used \(rule #0 before it has no matches/, yaml: vs(`  hosts: [reviews]\n  http:\n  -\n${route}\n  - match: #<\n    - uri: {prefix: /x}\n${route}\n`) },
  { name: 'no http, tcp or tls', code: 'MCD0210', message: /http, tcp or tls must be provided/, yaml: vs(`  hosts: [reviews] #<\n`).replace('spec:\n  hosts: [reviews] #<', 'spec: #<\n  hosts: [reviews]') },
  { name: 'route and redirect together', code: 'MCD0209', message: /cannot contain both route and redirect/, yaml: vs(`  hosts: [reviews]\n  http:\n  - redirect: #<\n      uri: /x\n${route}\n`) },
  { name: 'rewrite with redirect', code: 'MCD0209', message: /cannot contain both rewrite and redirect/, yaml: vs(`  hosts: [reviews]\n  http:\n  - redirect:\n      uri: /x\n    rewrite: #<\n      uri: /y\n`) },
  { name: 'route with direct response', code: 'MCD0209', message: /both route and direct response/, yaml: vs(`  hosts: [reviews]\n  http:\n  - directResponse: #<\n      status: 200\n${route}\n`) },
  { name: 'nothing to do', code: 'MCD0210', message: /HTTP route or redirect is required/, yaml: vs(`  hosts: [reviews]\n  http:\n  - name: empty #<\n    timeout: 1s\n`) },
  { name: 'bad timeout', code: 'MCD0202', schemaFirst: 'MCD0108', message: /invalid duration "10 seconds"/, yaml: vs(`  hosts: [reviews]\n  http:\n  - timeout: 10 seconds #<\n${route}\n`) },
  { name: 'sub-millisecond timeout', code: 'MCD0202', schemaFirst: 'MCD0108', message: /greater than 1ms/, yaml: vs(`  hosts: [reviews]\n  http:\n  - timeout: 500us #<\n${route}\n`) },
  { name: 'perTryTimeout precision', code: 'MCD0202', message: /only durations to ms precision/, yaml: vs(`  hosts: [reviews]\n  http:\n  - retries:\n      attempts: 2\n      perTryTimeout: 1.0005s #<\n${route}\n`) },
  { name: 'negative retry attempts', code: 'MCD0212', message: /attempts cannot be negative/, yaml: vs(`  hosts: [reviews]\n  http:\n  - retries:\n      attempts: -1 #<\n${route}\n`) },
  { name: 'retry policy with attempts 0', code: 'MCD0212', message: /attempts are set to 0 \(disabled\)/, yaml: vs(`  hosts: [reviews]\n  http:\n  - retries: #<\n      attempts: 0\n      retryOn: 5xx\n${route}\n`) },
  { name: 'unknown retryOn', code: 'MCD0212', message: /"5xxx" is not a valid retryOn policy/, yaml: vs(`  hosts: [reviews]\n  http:\n  - retries:\n      attempts: 2\n      retryOn: 5xxx,reset #<\n${route}\n`) },
  { name: 'look-ahead regex', code: 'MCD0203', message: /look-around assertions .* not supported by RE2/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - uri:\n        regex: "^/api(?!/internal).*" #<\n${route}\n`) },
  { name: 'look-behind regex in header', code: 'MCD0203', message: /look-around/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - headers:\n        x-user:\n          regex: "(?<=a)b" #<\n${route}\n`) },
  { name: 'back-reference regex', code: 'MCD0203', message: /back-references such as \\1/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - uri:\n        regex: "(a+)\\\\1" #<\n${route}\n`) },
  { name: 'regex syntax error', code: 'MCD0203', message: /missing \]/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - uri:\n        regex: "[a-" #<\n${route}\n`) },
  { name: 'empty prefix', code: 'MCD0210', message: /prefix string match should not be empty/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - uri:\n        prefix: "" #<\n${route}\n`) },
  { name: 'wildcard in the middle of a host', code: 'MCD0200', message: /domain name "foo\.\*\.com" invalid \(label "\*" invalid\)/, yaml: vs(`  hosts:\n  - foo.*.com #<\n  http:\n  -\n${route}\n`) },
  { name: 'wildcard host bound to mesh', code: 'MCD0200', message: /wildcard host \* is not allowed for virtual services bound to the mesh gateway/, yaml: vs(`  hosts:\n  - "*" #<\n  http:\n  -\n${route}\n`) },
  { name: 'duplicate hosts (wildcard overlap)', code: 'MCD0216', message: /duplicate hosts in virtual service: \*\.example\.com & api\.example\.com/, yaml: vs(`  hosts:\n  - "*.example.com"\n  - api.example.com #<\n  gateways: [gw]\n  http:\n  -\n${route}\n`) },
  { name: 'destination host *', code: 'MCD0200', message: /invalid destination host \*/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host: "*" #<\n`) },
  { name: 'subset name not DNS-1123', code: 'MCD0206', message: /subset name is invalid: V1_beta/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host: reviews\n        subset: V1_beta #<\n`) },
  { name: 'destination port out of range', code: 'MCD0201', message: /port number 70000 must be in the range 1..65535/, yaml: vs(`  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host: reviews\n        port:\n          number: 70000 #<\n`) },
  { name: 'match port 0 is unset, 99999 is bad', code: 'MCD0201', message: /99999/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - port: 99999 #<\n${route}\n`) },
  { name: 'fault without abort or delay', code: 'MCD0213', message: /must have an abort and\/or a delay/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault: {} #<\n${route}\n`) },
  { name: 'delay without fixedDelay: Istio accepts it, so a warning', severity: 'warning', code: 'MCD0213', message: /^delay must set fixedDelay$/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault:\n      delay: #<\n        percentage: {value: 5}\n${route}\n`) },
  { name: 'abort status out of range', code: 'MCD0213', message: /HTTP status 700 is not in range 200-599/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault:\n      abort:\n        httpStatus: 700 #<\n${route}\n`) },
  { name: 'fault percentage above 100', code: 'MCD0205', message: /percentage 150 is neither 0.0, nor in range \[0.0001, 100.0\]/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault:\n      delay:\n        fixedDelay: 1s\n        percentage:\n          value: 150 #<\n${route}\n`) },
  { name: 'unknown gRPC status', code: 'MCD0213', message: /gRPC status "NOPE" is not supported/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault:\n      abort:\n        grpcStatus: NOPE #<\n${route}\n`) },
  { name: 'delay duration', code: 'MCD0202', schemaFirst: 'MCD0108', message: /greater than 1ms/, yaml: vs(`  hosts: [reviews]\n  http:\n  - fault:\n      delay:\n        fixedDelay: 0s #<\n${route}\n`) },
  { name: 'mirrorPercentage above 100', code: 'MCD0205', message: /mirror_percentage must have a max value of 100/, yaml: vs(`  hosts: [reviews]\n  http:\n  - mirror: {host: shadow}\n    mirrorPercentage:\n      value: 101 #<\n${route}\n`) },
  { name: 'mirror and mirrors together', code: 'MCD0209', message: /both mirror and mirrors/, yaml: vs(`  hosts: [reviews]\n  http:\n  - mirror: {host: shadow}\n    mirrors: #<\n    - destination: {host: shadow2}\n${route}\n`) },
  { name: 'deprecated mirrorPercent', severity: 'warning', code: 'MCD0229', message: /deprecated setting "mirrorPercent"/, yaml: vs(`  hosts: [reviews]\n  http:\n  - mirror: {host: shadow}\n    mirrorPercent: 10 #<\n${route}\n`) },
  { name: 'redirect with nothing to change', code: 'MCD0210', message: /redirect must specify URI, authority, scheme, or port/, yaml: vs(`  hosts: [reviews]\n  http:\n  - redirect: #<\n      redirectCode: 302\n`) },
  { name: 'redirect code not 3xx', code: 'MCD0215', message: /200 is not a valid redirect code, must be 3xx/, yaml: vs(`  hosts: [reviews]\n  http:\n  - redirect:\n      uri: /x\n      redirectCode: 200 #<\n`) },
  { name: 'direct response status', code: 'MCD0215', message: /HTTP status 99 is not in range 200-599/, yaml: vs(`  hosts: [reviews]\n  http:\n  - directResponse:\n      status: 99 #<\n`) },
  { name: 'rewrite uri with uriRegexRewrite', code: 'MCD0209', message: /only contain one of URI or UriRegexRewrite/, yaml: vs(`  hosts: [reviews]\n  http:\n  - rewrite:\n      uri: /a\n      uriRegexRewrite: #<\n        match: ^/b\n        rewrite: /c\n${route}\n`) },
  { name: 'empty rewrite', code: 'MCD0210', message: /rewrite must specify at least one of URI, UriRegexRewrite, or authority/, yaml: vs(`  hosts: [reviews]\n  http:\n  - rewrite: {} #<\n${route}\n`) },
  { name: 'CORS method', code: 'MCD0220', message: /"FETCH" is not a supported HTTP method/, yaml: vs(`  hosts: [reviews]\n  http:\n  - corsPolicy:\n      allowMethods:\n      - GET\n      - FETCH #<\n${route}\n`) },
  { name: 'CORS maxAge precision', code: 'MCD0220', message: /max_age duration is accurate only to seconds precision/, yaml: vs(`  hosts: [reviews]\n  http:\n  - corsPolicy:\n      maxAge: 1500ms #<\n${route}\n`) },
  { name: 'CORS empty origin', code: 'MCD0220', message: /not a valid match type for CORS allow origins/, yaml: vs(`  hosts: [reviews]\n  http:\n  - corsPolicy:\n      allowOrigins:\n      - exact: "" #<\n${route}\n`) },
  { name: 'pseudo-header set', code: 'MCD0221', message: /header cannot have ":" prefix/, yaml: vs(`  hosts: [reviews]\n  http:\n  - headers:\n      request:\n        set:\n          ":path": /x #<\n${route}\n`) },
  { name: 'invalid header match name', code: 'MCD0221', message: /header name x user is not a valid header name/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - headers:\n        x user: #<\n          exact: a\n${route}\n`) },
  { name: 'authority set twice', code: 'MCD0209', message: /authority header cannot be set multiple times/, yaml: vs(`  hosts: [reviews]\n  http:\n  - rewrite:\n      authority: a.example.com\n    headers:\n      request:\n        set:\n          host: b.example.com #<\n${route}\n`) },
  { name: 'root route with delegate and route', code: 'MCD0209', message: /root HTTP route api must not specify route/, yaml: vs(`  hosts: [reviews]\n  http:\n  - name: api\n    delegate: {name: reviews-api}\n    route: #<\n    - destination: {host: reviews}\n`) },
  { name: 'delegate VirtualService with gateways', code: 'MCD0209', message: /delegate virtual service must have no gateways specified/, yaml: vs(`  gateways: [gw] #<\n  http:\n  -\n${route}\n`) },
  { name: 'TLS route without SNI', code: 'MCD0210', schemaFirst: 'MCD0102', message: /TLS match must have at least one SNI host/, yaml: vs(`  hosts: ["*.example.com"]\n  tls:\n  - match:\n    - port: 443 #<\n${route.replace('    route', '    route')}\n`) },
  { name: 'SNI host outside the VirtualService hosts', code: 'MCD0200', message: /SNI host "api.other.com" is not a compatible subset/, yaml: vs(`  hosts: ["*.example.com"]\n  tls:\n  - match:\n    - sniHosts:\n      - api.other.com #<\n${route}\n`) },
  { name: 'TCP route without destinations', code: 'MCD0210', message: /TCP route is required/, yaml: vs(`  hosts: [reviews]\n  tcp:\n  - match: #<\n    - port: 3306\n`) },
  { name: 'destination subnet', code: 'MCD0208', message: /10.0.0.0\/33 is not a valid CIDR block/, yaml: vs(`  hosts: [reviews]\n  tcp:\n  - match:\n    - destinationSubnets:\n      - 10.0.0.0/33 #<\n${route}\n`) },
  { name: 'invalid gateway reference', code: 'MCD0206', message: /invalid value for gateway name: "Public_GW"/, yaml: vs(`  hosts: [reviews]\n  gateways:\n  - istio-system/Public_GW #<\n  http:\n  -\n${route}\n`) },
  { name: 'exportTo mixes * and namespaces', code: 'MCD0228', message: /cannot have both public \(\*\) and non-public exportTo/, yaml: vs(`  hosts: [reviews]\n  exportTo: #<\n  - "*"\n  - shop2\n  http:\n  -\n${route}\n`) },
  { name: 'duplicate exportTo . and own namespace', code: 'MCD0216', message: /duplicate entries in exportTo: \. and current namespace shop/, yaml: vs(`  hosts: [reviews]\n  exportTo:\n  - shop\n  - "." #<\n  http:\n  -\n${route}\n`) },
  { name: 'sourceLabels with an invalid key', code: 'MCD0207', message: /invalid label key "bad key!"/, yaml: vs(`  hosts: [reviews]\n  http:\n  - match:\n    - sourceLabels:\n        bad key!: x #<\n${route}\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
