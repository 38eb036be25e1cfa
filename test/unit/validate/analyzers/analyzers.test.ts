// Table-driven: each analyzer with a valid and an invalid case, asserting the
// exact codes and file:line it reports. Every case is loaded on top of BASE
// (a small valid mesh, see _helpers.ts) and run through that analyzer alone.
import test from 'ava';
import { analyze, ANALYZERS, analyzerCodes } from '../../../../src/validate/analyzers/index.js';
import { buildServiceIndex } from '../../../../src/registry/config.js';
import type { ConfigSet, ServiceIndex } from '../../../../src/api/types.js';
import { buildClusterView } from '../../../../src/registry/kubernetes/view.js';
import { MergedServiceIndex } from '../../../../src/registry/kubernetes/merged.js';
import { secretCertificates } from '../../../../src/registry/kubernetes/secrets.js';
import { AT, certificate, secret } from '../../registry/_certs.js';
import { BASE, brief, loadFiles } from './_helpers.js';

const VS = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\n';
const DR = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\n';
const GW = 'apiVersion: networking.istio.io/v1\nkind: Gateway\n';
const RA = 'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\n';
/** A Gateway selecting the ingress workload, and the start of a VirtualService bound to it by `ref` (IST0149 cases). */
const claimRoute = (ref: string) => `${GW}metadata: {name: public, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
${VS}metadata: {name: by-group, namespace: shop}
spec:
  hosts: ['*']
  gateways: [${ref}]
`;

interface Case {
  analyzer: string;
  name: string;
  yaml: string;
  expect: string[];
  /** The index to analyze against (default: the config's own); analyzers of Kubernetes objects need a cluster's. */
  index?: (config: ConfigSet) => ServiceIndex;
}

/** The config's index merged with one cluster holding these Services (analyzers that read Kubernetes objects). */
const withServices = (services: { name: string; type?: string; ports: { name: string; port: number; appProtocol?: string }[] }[]) => (config: ConfigSet): ServiceIndex =>
  new MergedServiceIndex(config, buildServiceIndex(config), [
    buildClusterView(
      { clusterId: 'c1', services: services.map((s) => ({ metadata: { namespace: 'shop', name: s.name }, spec: { ...(s.type ? { type: s.type, externalName: 'db.example.com' } : { clusterIP: '10.96.0.9' }), ports: s.ports.map((p) => ({ protocol: 'TCP', ...p })) } })), endpointSlices: [], pods: [], nodes: [], namespaces: [] },
      { clusterDomain: 'cluster.local' },
    ),
  ]);

/** The config's index with the gateway credential Secrets `serve --gateway-secrets` would read, judged at AT (gateway/secrets). */
const good = certificate(-1, 365);
const expired = certificate(-30, -1);
const withSecrets = (config: ConfigSet): ServiceIndex =>
  new MergedServiceIndex(config, buildServiceIndex(config), [], {
    at: AT,
    certificates: secretCertificates([
      secret('istio-system/web-cert', { 'tls.crt': good.crt, 'tls.key': good.key }),
      secret('istio-system/generic', { cert: good.crt, key: good.key }, 'Opaque'),
      secret('shop/shop-only', { 'tls.crt': good.crt, 'tls.key': good.key }),
      secret('istio-system/expired', { 'tls.crt': expired.crt, 'tls.key': expired.key }),
      secret('istio-system/not-pem', { cert: 'hush hush\n', key: 'secret\n' }, 'Opaque'),
      secret('istio-system/missing-key', { 'tls.crt': good.crt }),
    ]),
  });
/** Gateway `web` in shop on the ingress workload (istio-system), one HTTPS server per credentialName. */
const credentialGateway = (names: string[]) => `${GW}metadata: {name: web, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers:
${names.map((n, i) => `  - port: {number: ${8443 + i}, name: https-${i}, protocol: HTTPS}
    hosts: [h${i}.example.com]
    tls: {mode: SIMPLE, credentialName: ${n}}
`).join('')}`;

const cases: Case[] = [
  // --- virtualservice/destinations (IST0101 host, subset)
  {
    analyzer: 'virtualservice/destinations',
    name: 'valid: short host, defined subset, mirror to known host',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    mirror: {host: reviews.shop.svc.cluster.local}
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/destinations',
    name: 'invalid: unknown host and unknown subset',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviewz
    - destination:
        host: reviews
        subset: v9
`,
    expect: ['IST0101 t.yaml:11', 'IST0101 t.yaml:9'],
  },
  // --- virtualservice/gateways (IST0101 gateway)
  {
    analyzer: 'virtualservice/gateways',
    name: 'valid: mesh and an existing gateway in another namespace',
    yaml: `${GW}metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [mesh, istio-system/gw]
  http: [{route: [{destination: {host: reviews}}]}]
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/gateways',
    name: 'invalid: gateway missing (same-namespace and match-level refs)',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  gateways:
  - gw
  http:
  - match:
    - gateways: [istio-system/nope]
    route: [{destination: {host: reviews}}]
`,
    expect: ['IST0101 t.yaml:7', 'IST0101 t.yaml:10'],
  },
  // --- IST0109
  {
    analyzer: 'virtualservice/conflicting-mesh-hosts',
    name: 'valid: same host on a gateway-bound VirtualService',
    yaml: `${VS}metadata: {name: a, namespace: shop}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
---
${VS}metadata: {name: b, namespace: shop}
spec: {hosts: [reviews], gateways: [istio-system/gw], http: [{route: [{destination: {host: reviews}}]}]}
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/conflicting-mesh-hosts',
    name: 'invalid: two mesh VirtualServices for reviews (short and FQDN)',
    yaml: `${VS}metadata: {name: a, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
${VS}metadata: {name: b, namespace: shop}
spec:
  hosts:
  - ratings
  - reviews.shop.svc.cluster.local
  http: [{route: [{destination: {host: reviews}}]}]
`,
    expect: ['IST0109 t.yaml:10', 'IST0109 t.yaml:3'],
  },
  // --- IST0112
  {
    analyzer: 'virtualservice/destination-port',
    name: 'valid: port given for a two-port service',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec: {hosts: [ratings], http: [{route: [{destination: {host: ratings, port: {number: 9080}}}]}]}
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/destination-port',
    name: 'invalid: no port for a two-port service',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: {host: ratings}
`,
    expect: ['IST0112 t.yaml:8'],
  },
  // --- IST0130 / IST0131
  {
    analyzer: 'virtualservice/conditions',
    name: 'valid: distinct matches then catch-all last',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/conditions',
    name: 'invalid: duplicate match, fully shadowed rule, rule after catch-all',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: reviews}}]
  - match:
    - uri: {prefix: /b}
    - name: again
      uri: {prefix: /a}
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`,
    expect: ['IST0130 t.yaml:14', 'IST0130 t.yaml:17', 'IST0131 t.yaml:11', 'IST0131 t.yaml:14'],
  },
  // --- IST0132
  {
    analyzer: 'virtualservice/gateway-hosts',
    name: 'valid: VirtualService host covered by a wildcard server host',
    yaml: `${GW}metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['shop/*.example.com']}]
---
${VS}metadata: {name: r, namespace: shop}
spec: {hosts: [www.example.com], gateways: [istio-system/gw], http: [{route: [{destination: {host: reviews}}]}]}
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/gateway-hosts',
    name: 'invalid: host not on the gateway, and namespace restriction excludes',
    yaml: `${GW}metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['other/*.example.com', 'api.example.com']}]
---
${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [www.example.com]
  gateways:
  - istio-system/gw
  http: [{route: [{destination: {host: reviews}}]}]
`,
    expect: ['IST0132 t.yaml:14'],
  },
  // --- IST0145
  {
    analyzer: 'gateway/conflicting-gateways',
    name: 'valid: same selector and port, different hosts',
    yaml: `${GW}metadata: {name: a, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]}
---
${GW}metadata: {name: b, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [b.example.com]}]}
`,
    expect: [],
  },
  {
    analyzer: 'gateway/conflicting-gateways',
    name: 'invalid: wildcard overlaps on the same port and selector',
    yaml: `${GW}metadata: {name: a, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*.example.com']
---
${GW}metadata: {name: b, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
`,
    expect: ['IST0145 t.yaml:7', 'IST0145 t.yaml:16'],
  },
  // --- gateway/workloads (IST0101 selector, IST0162 port)
  {
    analyzer: 'gateway/workloads',
    name: 'valid: selector matches the ingress workload, port on its service',
    yaml: `${GW}metadata: {name: gw, namespace: istio-system}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}
`,
    expect: [],
  },
  {
    analyzer: 'gateway/workloads',
    name: 'invalid: selector matches nothing; port not on the service',
    yaml: `${GW}metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
---
${GW}metadata: {name: gw2, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port:
      number: 8443
      name: https
      protocol: HTTPS
    hosts: ['*']
    tls: {mode: SIMPLE, credentialName: c}
`,
    expect: ['IST0101 t.yaml:5', 'IST0162 t.yaml:15'],
  },
  // --- IST0173 / IST0174
  {
    analyzer: 'destinationrule/host-and-subsets',
    name: 'valid: BASE DestinationRule only',
    yaml: `${DR}metadata: {name: ratings, namespace: shop}
spec: {host: ratings.shop.svc.cluster.local, subsets: [{name: all}]}
`,
    expect: [],
  },
  {
    analyzer: 'destinationrule/host-and-subsets',
    name: 'invalid: unknown host; subset selecting no workload',
    yaml: `${DR}metadata: {name: x, namespace: shop}
spec:
  host: nothere
---
${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  subsets:
  - name: v3
    labels: {version: v3}
`,
    expect: ['IST0173 t.yaml:14', 'IST0174 t.yaml:5'],
  },
  // --- IST0149
  {
    analyzer: 'virtualservice/jwt-claim-routes',
    name: 'valid: claim routing at a gateway whose workload a root-namespace RequestAuthentication selects; claim routing on the mesh gateway only',
    yaml: `${claimRoute('public')}  http:
  - match: [{headers: {'@request.auth.claims.group': {exact: beta}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
---
${VS}metadata: {name: in-mesh, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{withoutHeaders: {'@request.auth.claims[group]': {exact: beta}}}]
    route: [{destination: {host: reviews, subset: v1}}]
---
${RA}metadata: {name: ingress-jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]
`,
    expect: [],
  },
  {
    analyzer: 'virtualservice/jwt-claim-routes',
    name: 'invalid: claim routing at a gateway whose workload no RequestAuthentication selects (one for other workloads, one in another namespace)',
    yaml: `${claimRoute('public')}  http:
  - match: [{headers: {x-plain: {exact: a}, '@request.auth.claims.group': {exact: beta}}}]
    route: [{destination: {host: reviews, subset: v2}}]
---
${RA}metadata: {name: reviews-jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {app: reviews}}
  jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]
---
${RA}metadata: {name: shop-jwt, namespace: shop}
spec:
  jwtRules: [{issuer: https://issuer.example, jwksUri: https://issuer.example/jwks}]
`,
    expect: ['IST0149 t.yaml:8'],
  },
  // --- IST0128 / IST0129
  {
    analyzer: 'destinationrule/ca-certificates',
    name: 'valid: SIMPLE with caCertificates; ISTIO_MUTUAL',
    yaml: `${DR}metadata: {name: ratings, namespace: shop}
spec: {host: ratings, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}, portLevelSettings: [{port: {number: 9090}, tls: {mode: ISTIO_MUTUAL}}]}}
`,
    expect: [],
  },
  {
    analyzer: 'destinationrule/ca-certificates',
    name: 'invalid: SIMPLE without CA at both levels',
    yaml: `${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: SIMPLE}
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}
`,
    expect: ['IST0128 t.yaml:7', 'IST0129 t.yaml:10'],
  },
  {
    analyzer: 'destinationrule/ca-certificates',
    name: "valid: credentialName on a rule with a workloadSelector (Istio's exception: the secret supplies the CA)",
    yaml: `${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  workloadSelector: {matchLabels: {app: ratings}}
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: ratings-ca}
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: MUTUAL, credentialName: ratings-client}
`,
    expect: [],
  },
  {
    analyzer: 'destinationrule/ca-certificates',
    name: 'invalid: credentialName without a workloadSelector still warns at both levels, as Istio',
    yaml: `${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: ratings-ca}
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: MUTUAL, credentialName: ratings-client}
`,
    expect: ['IST0128 t.yaml:7', 'IST0129 t.yaml:10'],
  },
  // --- MCD0320
  {
    analyzer: 'destinationrule/conflicts',
    name: 'valid: second rule for the host adds a new subset',
    yaml: `${DR}metadata: {name: reviews-more, namespace: shop}
spec: {host: reviews, subsets: [{name: v3, labels: {version: v3}}]}
`,
    expect: [],
  },
  {
    analyzer: 'destinationrule/conflicts',
    name: 'invalid: repeated subset name and two trafficPolicies',
    yaml: `${DR}metadata: {name: reviews-more, namespace: shop}
spec:
  host: reviews.shop.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets:
  - name: v1
    labels: {version: v1}
---
${DR}metadata: {name: reviews-tp, namespace: shop}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`,
    expect: ['MCD0320 t.yaml:16', 'MCD0320 t.yaml:8'],
  },
  // --- IST0113
  {
    analyzer: 'destinationrule/mtls-conflict',
    name: 'valid: DISABLE toward PERMISSIVE workloads under a STRICT mesh default',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ratings, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
---
${DR}metadata: {name: ratings, namespace: shop}
spec: {host: ratings, trafficPolicy: {tls: {mode: DISABLE}}}
`,
    expect: [],
  },
  {
    analyzer: 'destinationrule/mtls-conflict',
    name: 'invalid: DISABLE toward workloads a selector makes STRICT',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: shop}
spec: {selector: {matchLabels: {version: v2}}, mtls: {mode: STRICT}}
---
${DR}metadata: {name: reviews-plain, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: DISABLE
`,
    expect: ['IST0113 t.yaml:13'],
  },
  // --- sidecars (IST0110, IST0111, MCD0330 egress)
  {
    analyzer: 'sidecar/selectors-and-egress',
    name: 'valid: one default Sidecar with known egress hosts',
    yaml: `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress:
  - hosts: [./reviews.shop.svc.cluster.local, istio-system/*, '*/ratings.shop.svc.cluster.local']
`,
    expect: [],
  },
  {
    analyzer: 'sidecar/selectors-and-egress',
    name: 'invalid: two selector-less, two overlapping selectors, unknown egress host (MCD0330 warning: Istio does not check egress hosts)',
    yaml: `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: a, namespace: shop}
spec:
  egress:
  - hosts:
    - shop/nothere.example.com
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: b, namespace: shop}
spec: {}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: c, namespace: shop}
spec:
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: d, namespace: shop}
spec:
  workloadSelector: {labels: {version: v1}}
`,
    expect: ['IST0110 t.yaml:16', 'IST0110 t.yaml:22', 'IST0111 t.yaml:1', 'IST0111 t.yaml:9', 'MCD0330 t.yaml:7'],
  },
  // --- IST0127
  {
    analyzer: 'selector/matching-workloads',
    name: 'valid: selectors that match',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: shop}
spec: {selector: {matchLabels: {app: reviews}}, mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: all, namespace: istio-system}
spec: {selector: {matchLabels: {version: v2}}, action: ALLOW, rules: [{}]}
`,
    expect: [],
  },
  {
    analyzer: 'selector/matching-workloads',
    name: 'invalid: typo in a label; workload in another namespace',
    yaml: `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: shop}
spec:
  selector:
    matchLabels: {app: reveiws}
---
${RA}metadata: {name: gw, namespace: shop}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: empty}
spec: {}
`,
    expect: ['IST0127 t.yaml:12', 'IST0127 t.yaml:15', 'IST0127 t.yaml:5'],
  },
  // --- authz references
  {
    analyzer: 'authorizationpolicy/references',
    name: 'valid: known namespaces and principals; patterns that match a known namespace (Istio checks them)',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {namespaces: [shop, 'sh*', '*-system', SHOP, '*'], principals: [cluster.local/ns/istio-system/sa/ingress, '*']}
`,
    expect: [],
  },
  {
    analyzer: 'authorizationpolicy/references',
    name: "invalid: unknown namespace (IST0101, Istio's), unknown principal namespace (MCD0312 warning, meshcd only), patterns matching nothing",
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: [shpo]
    - source:
        principals:
        - cluster.local/ns/frontend/sa/web
    - source:
        notNamespaces: ['*-bogus', 'bogus-*']
`,
    expect: ['IST0101 t.yaml:14', 'IST0101 t.yaml:14', 'IST0101 t.yaml:9', 'MCD0312 t.yaml:12'],
  },
  // --- IST0134
  {
    analyzer: 'serviceentry/addresses',
    name: 'valid: TCP with addresses; HTTP without',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: shop}
spec: {hosts: [db.example.com], addresses: [10.1.0.5/32], ports: [{number: 5432, name: tcp, protocol: TCP}], resolution: DNS}
`,
    expect: [],
  },
  {
    analyzer: 'serviceentry/addresses',
    name: 'valid: TCP without addresses, but the cluster allocated some (status.addresses), as Istio skips it',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: shop}
spec: {hosts: [db.example.com], ports: [{number: 5432, name: tcp, protocol: TCP}], resolution: DNS}
status:
  addresses: [{value: 240.240.0.1, host: db.example.com}]
`,
    expect: [],
  },
  {
    analyzer: 'serviceentry/addresses',
    name: 'invalid: TCP and unset protocol without addresses',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: shop}
spec:
  hosts: [db.example.com]
  resolution: DNS
  ports:
  - {number: 5432, name: tcp, protocol: TCP}
  - {number: 80, name: http, protocol: HTTP}
  - {number: 6379, name: redis}
`,
    expect: ['IST0134 t.yaml:10', 'IST0134 t.yaml:8'],
  },
  // --- IST0002
  {
    analyzer: 'deprecated-fields',
    name: 'valid: current field names',
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}], mirror: {host: reviews}, mirrorPercentage: {value: 5}}]}
`,
    expect: [],
  },
  {
    analyzer: 'deprecated-fields',
    name: "invalid: the deprecations Istio's analyzer reports (fault.delay.percent, Sidecar egressProxy); mirrorPercent, allowOrigin and consecutiveErrors are not IST0002",
    yaml: `${VS}metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    mirror: {host: reviews}
    mirrorPercent: 5
    corsPolicy:
      allowOrigin: [a.example.com]
    fault: {delay: {fixedDelay: 1s, percent: 10}}
---
${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    outlierDetection:
      consecutiveErrors: 5
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: {host: egress.example.com, port: {number: 443}}
`,
    expect: ['IST0002 t.yaml:1', 'IST0002 t.yaml:23'],
  },
  // --- IST0138
  {
    analyzer: 'gateway/certificates',
    name: 'valid: different credentials, or the same one on gateways with disjoint selectors',
    yaml: `${GW}metadata: {name: a, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: a-cert}}]
---
${GW}metadata: {name: b, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: b-cert}}]
---
${GW}metadata: {name: c, namespace: shop}
spec:
  selector: {istio: other}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [c.example.com], tls: {mode: SIMPLE, credentialName: a-cert}}]
`,
    expect: [],
  },
  {
    analyzer: 'gateway/certificates',
    name: 'invalid: the same credentialName on two gateways of one selector',
    yaml: `${GW}metadata: {name: a, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: shared}}]
---
${GW}metadata: {name: b, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: shared}}]
`,
    expect: ['IST0138 t.yaml:10', 'IST0138 t.yaml:3'],
  },
  // --- IST0177
  {
    analyzer: 'serviceentry/conflicting-protocols',
    name: 'valid: same host and port, same protocol; or scoped to different namespaces',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: shop}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}], location: MESH_EXTERNAL, resolution: DNS, exportTo: [.]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: other}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], location: MESH_EXTERNAL, resolution: DNS, exportTo: [.]}
`,
    expect: [],
  },
  {
    analyzer: 'serviceentry/conflicting-protocols',
    name: 'invalid: HTTPS and TLS for one host and port, one exported to all',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: shop}
spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: HTTPS}], location: MESH_EXTERNAL, resolution: DNS, exportTo: [.]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: other}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], location: MESH_EXTERNAL, resolution: DNS}
`,
    expect: ['IST0177 t.yaml:3', 'IST0177 t.yaml:8'],
  },
  // --- IST0171
  {
    analyzer: 'conditions/negative-status',
    name: 'valid: positive conditions',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec: {action: ALLOW, rules: [{}]}
status:
  conditions:
  - {type: WaypointAccepted, status: "True", reason: Accepted, message: ok}
`,
    expect: [],
  },
  {
    analyzer: 'conditions/negative-status',
    name: 'invalid: WaypointBound False on a ServiceEntry',
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: shop}
spec: {hosts: [x.example.com], ports: [{number: 80, name: http, protocol: HTTP}], location: MESH_EXTERNAL, resolution: DNS}
status:
  conditions:
  - {type: istio.io/WaypointBound, status: "False", reason: WaypointNotFound, message: no waypoint}
`,
    expect: ['IST0171 t.yaml:1'],
  },
  // --- MCD0313 (issue 10)
  {
    analyzer: 'authorizationpolicy/grpc-methods',
    name: 'valid: methods with POST, or gRPC paths, or on an HTTP-only workload',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings, namespace: shop}
spec:
  selector: {matchLabels: {app: ratings}}
  rules:
  - to: [{operation: {methods: [POST]}}]
  - to: [{operation: {methods: [GET], paths: [/bookinfo.Ratings/*]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  rules:
  - to: [{operation: {methods: [GET]}}]
`,
    expect: [],
  },
  {
    analyzer: 'authorizationpolicy/grpc-methods',
    name: 'invalid: GET-only rule on a workload serving gRPC',
    yaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings, namespace: shop}
spec:
  selector: {matchLabels: {app: ratings}}
  rules:
  - to:
    - operation:
        methods: [GET, HEAD]
`,
    expect: ['MCD0313 t.yaml:9'],
  },
  // --- rollouts
  {
    analyzer: 'rollout/references',
    name: 'valid: Rollout on a named route, and one on every route of another VirtualService',
    yaml: `${VS}metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: primary
    route:
    - {destination: {host: reviews, subset: v1}, weight: 100}
    - {destination: {host: reviews, subset: v2}, weight: 0}
  - name: other
    route:
    - {destination: {host: reviews, subset: v1}}
---
${VS}metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  http:
  - route:
    - {destination: {host: ratings}}
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: reviews, namespace: shop}
spec:
  target: {virtualService: reviews, route: primary}
  steps: [{setWeight: 10}]
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: ratings, namespace: shop}
spec:
  target: {virtualService: ratings}
  steps: [{setWeight: 10}]
`,
    expect: [],
  },
  {
    analyzer: 'rollout/references',
    name: 'invalid: missing VS (other namespace does not count), missing route, route without destinations, two owners',
    yaml: `${VS}metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: primary
    route:
    - {destination: {host: reviews, subset: v1}, weight: 100}
  - name: moved
    redirect: {uri: /elsewhere}
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: a, namespace: shop}
spec:
  target: {virtualService: reviews}
  steps: [{setWeight: 10}]
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: b, namespace: shop}
spec:
  target: {virtualService: reviews, route: primary}
  steps: [{setWeight: 10}]
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: c, namespace: other}
spec:
  target:
    virtualService: reviews
  steps: [{setWeight: 10}]
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: d, namespace: shop}
spec:
  target:
    virtualService: reviews
    route: secondary
  steps: [{setWeight: 10}]
---
apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata: {name: e, namespace: shop}
spec:
  target:
    virtualService: reviews
    route: moved
  steps: [{setWeight: 10}]
`,
    expect: ['MCD0301 t.yaml:32', 'MCD0302 t.yaml:41', 'MCD0303 t.yaml:50', 'MCD0304 t.yaml:17', 'MCD0304 t.yaml:24'],
  },
  // --- orphans
  {
    analyzer: 'orphans',
    name: 'valid: every WorkloadEntry selected; declared namespace used',
    yaml: `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  namespaces:
    shop: {labels: {env: production}}
`,
    expect: [],
  },
  {
    analyzer: 'orphans',
    name: 'invalid: WorkloadEntry nobody selects; empty declared namespace',
    yaml: `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  namespaces:
    shop: {labels: {env: production}}
    shpo: {labels: {env: production}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: stray, namespace: shop}
spec:
  address: 127.0.0.99
  labels: {app: stray}
`,
    expect: ['MCD0310 t.yaml:14', 'MCD0311 t.yaml:7'],
  },
  // --- service/port-names (IST0118, IST0150): Kubernetes Services, so against a cluster's index
  {
    analyzer: 'service/port-names',
    name: 'valid: port names and appProtocol that name a protocol; a well-known TCP port',
    yaml: '',
    index: withServices([{ name: 'web', ports: [{ name: 'http-web', port: 80 }, { name: 'admin', port: 8081, appProtocol: 'http' }, { name: 'db', port: 3306 }] }, { name: 'ext', type: 'ExternalName', ports: [{ name: 'https', port: 443 }] }]),
    expect: [],
  },
  {
    analyzer: 'service/port-names',
    name: 'invalid: a port named for no protocol; an ExternalName port named tcp',
    yaml: '',
    index: withServices([{ name: 'web', ports: [{ name: 'http-web', port: 80 }, { name: 'web', port: 8080 }] }, { name: 'ext', type: 'ExternalName', ports: [{ name: 'tcp', port: 5432 }] }]),
    expect: ['IST0118 undefined:undefined', 'IST0150 undefined:undefined'],
  },
  // --- gateway/secrets (IST0101 credentialName, IST0161): Secrets as serve --gateway-secrets reads them
  {
    analyzer: 'gateway/secrets',
    name: "valid: TLS and generic Secrets in the gateway workload's namespace, ns/name form; no TLS, no credentialName, a selector that picks nothing",
    yaml: `${credentialGateway(['web-cert', 'istio-system/generic', 'shop/shop-only'])}  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [plain.example.com]
  - port: {number: 9443, name: https-files, protocol: HTTPS}
    hosts: [files.example.com]
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/c.pem, privateKey: /etc/certs/k.pem}
---
${GW}metadata: {name: nobody, namespace: shop}
spec:
  selector: {istio: nothing-here}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE, credentialName: missing}}]
`,
    index: withSecrets,
    expect: [],
  },
  {
    analyzer: 'gateway/secrets',
    name: 'valid: without a cluster no Secret is read, so nothing is reported (as istioctl analyze on files)',
    yaml: credentialGateway(['missing', 'expired']),
    expect: [],
  },
  {
    analyzer: 'gateway/secrets',
    name: "invalid: a Secret only in the Gateway's namespace, none at all, expired, not PEM, tls.key missing",
    yaml: credentialGateway(['shop-only', 'missing', 'expired', 'not-pem', 'missing-key']),
    index: withSecrets,
    expect: ['IST0101 t.yaml:9', 'IST0101 t.yaml:12', 'IST0161 t.yaml:15', 'IST0161 t.yaml:18', 'IST0161 t.yaml:21'],
  },
];

for (const c of cases) {
  test(`${c.analyzer}: ${c.name}`, async (t) => {
    const analyzer = ANALYZERS.find((a) => a.name === c.analyzer);
    if (!analyzer) return t.fail(`no analyzer ${c.analyzer}`);
    const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': c.yaml });
    t.deepEqual(load.diagnostics, [], 'test input loads cleanly');
    const diags = analyze(load, c.index ? c.index(load.config) : buildServiceIndex(load.config), [analyzer]);
    const lines = c.yaml.split('\n');
    const shown = diags.map((d) => `${d.code} ${d.origin?.line}: ${lines[(d.origin?.line ?? 1) - 1]?.trim()} — ${d.message}`).join('\n');
    t.deepEqual(brief(diags), c.expect.slice().sort(), shown);
    const declared = new Set(analyzer.codes.map((x) => x.code));
    for (const d of diags) t.true(declared.has(d.code), `${d.code} is declared by ${c.analyzer}`);
  });
}

test('every analyzer has a valid and an invalid case', (t) => {
  for (const a of ANALYZERS) {
    t.true(cases.some((c) => c.analyzer === a.name && c.expect.length === 0), `${a.name} valid case`);
    t.true(cases.some((c) => c.analyzer === a.name && c.expect.length > 0), `${a.name} invalid case`);
  }
});

test('BASE itself is clean under all analyzers', async (t) => {
  const load = await loadFiles({ 'base.yaml': BASE });
  t.deepEqual(brief(analyze(load, buildServiceIndex(load.config))), []);
});

test('at least 15 distinct codes, each documented', (t) => {
  const codes = analyzerCodes();
  t.true(codes.length >= 15, `${codes.length} codes`);
  for (const c of codes) t.regex(c.code, /^(IST|MCD)\d{4}$/) && t.truthy(c.description);
});

test('analyzers survive malformed specs that skipped schema checks', async (t) => {
  const load = await loadFiles({
    'base.yaml': BASE,
    'bad.yaml': `${VS}metadata: {name: r, namespace: shop}\nspec: {hosts: 3, http: {a: 1}, gateways: [1, null]}\n---\n${DR}metadata: {name: d, namespace: shop}\nspec: {host: 7, subsets: [null, 3]}\n---\n${GW}metadata: {name: g, namespace: shop}\nspec: {servers: [null, {port: 5}], selector: 3}\n`,
  });
  const diags = analyze(load, buildServiceIndex(load.config));
  t.false(diags.some((d) => d.code === 'IST0001'), diags.map((d) => d.message).join('\n'));
});

test("IST0129's message is Istio's template, the port in protobuf text form", async (t) => {
  const yaml = `${DR}metadata: {name: ratings, namespace: shop}
spec:
  host: ratings
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: SIMPLE, credentialName: ratings-ca}
`;
  const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': yaml });
  const diags = analyze(load, buildServiceIndex(load.config), ANALYZERS.filter((a) => a.name === 'destinationrule/ca-certificates'));
  t.deepEqual(
    diags.map((d) => [d.code, d.severity, `${d.origin?.file}:${d.origin?.line}`, d.message]),
    [['IST0129', 'warning', 't.yaml:9', 'DestinationRule shop/ratings in namespace shop has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: ratings at port number:9090']],
  );
});

test("IST0149's message is Istio's template: the claim key, the gateway and the gateway's workload", async (t) => {
  const yaml = `${claimRoute('shop/public')}  http:
  - match: [{headers: {'@request.auth.claims[group]': {exact: beta}}}]
    route: [{destination: {host: reviews}}]
`;
  const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': yaml });
  const diags = analyze(load, buildServiceIndex(load.config), ANALYZERS.filter((a) => a.name === 'virtualservice/jwt-claim-routes'));
  t.deepEqual(
    diags.map((d) => [d.code, d.severity, d.resource, `${d.origin?.file}:${d.origin?.line}`, d.message]),
    [['IST0149', 'error', 'VirtualService/shop/by-group', 't.yaml:8', 'The virtual service uses the JWT claim based routing (key: @request.auth.claims[group]) but found no request authentication for the gateway (shop/public) pod (ingressgateway). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.']],
  );
});

test("IST0110 and IST0111 carry Istio's messages: the Sidecars' names as Go prints a list, the workload by name", async (t) => {
  const sidecar = (name: string, spec: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ${name}, namespace: shop}\nspec: ${spec}\n`;
  const yaml = [sidecar('b', '{}'), sidecar('a', '{}'), sidecar('v1-only', '{workloadSelector: {labels: {version: v1}}}'), sidecar('reviews', '{workloadSelector: {labels: {app: reviews}}}')].join('---\n');
  const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': yaml });
  const diags = analyze(load, buildServiceIndex(load.config), ANALYZERS.filter((a) => a.name === 'sidecar/selectors-and-egress'));
  t.deepEqual(diags.map((d) => `${d.code} ${d.severity} ${d.origin?.line} ${d.message}`).sort(), [
    'IST0110 error 13 The Sidecars [reviews v1-only] in namespace "shop" select the same workload pod "reviews-v1", which can lead to undefined behavior.',
    'IST0110 error 18 The Sidecars [reviews v1-only] in namespace "shop" select the same workload pod "reviews-v1", which can lead to undefined behavior.',
    'IST0111 error 1 The Sidecars [a b] in namespace "shop" have no workload selector, which can lead to undefined behavior.',
    'IST0111 error 6 The Sidecars [a b] in namespace "shop" have no workload selector, which can lead to undefined behavior.',
  ]);
});

test("gateway/secrets: Istio's messages, at the credentialName; warnings (serve refuses errors)", async (t) => {
  const load = await loadFiles({ 'base.yaml': BASE, 't.yaml': credentialGateway(['missing', 'expired']) });
  const diags = analyze(load, withSecrets(load.config), ANALYZERS.filter((a) => a.name === 'gateway/secrets'));
  t.deepEqual(
    diags.map((d) => [d.code, d.severity, `${d.origin?.file}:${d.origin?.line}`, d.resource, d.path, d.message]),
    [
      ['IST0101', 'warning', 't.yaml:9', 'Gateway/shop/web', 'spec.servers[0].tls.credentialName', 'Referenced credentialName not found: "missing"'],
      ['IST0161', 'warning', 't.yaml:12', 'Gateway/shop/web', 'spec.servers[1].tls.credentialName', 'The credential referenced by the Gateway web in namespace istio-system is invalid, which can cause the traffic not to work as expected.'],
    ],
  );
});
