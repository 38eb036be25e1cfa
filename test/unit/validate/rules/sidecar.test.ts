import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const sc = (spec: string) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
spec:
${spec}`;

validCases(test, checkRules, [
  { name: 'namespace-wide egress', yaml: sc(`  egress:\n  - hosts: ["./*", "istio-system/*"]\n`) },
  { name: 'outbound traffic policy only', yaml: sc(`  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n`) },
  { name: 'egress proxy with ALLOW_ANY', yaml: sc(`  outboundTrafficPolicy:\n    mode: ALLOW_ANY\n    egressProxy:\n      host: egress.istio-system.svc.cluster.local\n      port: {number: 3128}\n`) },
]);

const cases: RuleCase[] = [
  { name: 'empty configuration', code: 'MCD0224', message: /sidecar: empty configuration provided/, yaml: sc(`  workloadSelector:\n    labels: {app: a}\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'egress host without namespace', code: 'MCD0200', message: /must be of form namespace\/dnsName/, yaml: sc(`  egress:\n  - hosts:\n    - reviews.shop.svc.cluster.local #<\n`) },
  { name: 'egress host with bad namespace', code: 'MCD0200', message: /invalid namespace value "sh_op" in sidecar/, yaml: sc(`  egress:\n  - hosts:\n    - sh_op/* #<\n`) },
  { name: 'egress listener without hosts', code: 'MCD0210', message: /egress listener must contain at least one host/, yaml: sc(`  egress:\n  - port: {number: 80, protocol: HTTP, name: http} #<\n    hosts: []\n`) },
  { name: 'catch-all egress listener not last', code: 'MCD0224', message: /the egress listener with empty port should be the last listener in the list/, yaml: sc(`  egress:\n  - hosts: ["./*"] #<\n  - port: {number: 80, protocol: HTTP, name: http}\n    hosts: ["./*"]\n`) },
  { name: 'duplicate egress ports', code: 'MCD0216', message: /ports on IP bound listeners must be unique/, yaml: sc(`  egress:\n  - port: {number: 80, protocol: HTTP, name: http}\n    hosts: ["./*"]\n  - port:\n      number: 80 #<\n      protocol: HTTP\n      name: http2\n    hosts: ["istio-system/*"]\n`) },
  { name: 'ingress without port', code: 'MCD0201', schemaFirst: 'MCD0102', message: /sidecar: port is required for ingress listeners/, yaml: sc(`  ingress:\n  - defaultEndpoint: 127.0.0.1:8080 #<\n`) },
  { name: 'defaultEndpoint host', code: 'MCD0224', message: /defaultEndpoint must be of form 127.0.0.1:<port>/, yaml: sc(`  ingress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n    defaultEndpoint: 10.0.0.1:8080 #<\n`) },
  { name: 'egressProxy with REGISTRY_ONLY', code: 'MCD0224', message: /egress_proxy must be set only with ALLOW_ANY/, yaml: sc(`  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n    egressProxy: #<\n      host: egress.example.com\n      port: {number: 3128}\n`) },
  { name: 'duplicated egress host', severity: 'warning', code: 'MCD0216', message: /duplicated egress host: shop\/a.example.com/, yaml: sc(`  egress:\n  - hosts:\n    - shop/*\n    - shop/a.example.com #<\n`) },
  { name: 'selector without labels', severity: 'warning', code: 'MCD0207', message: /workload selector specified without labels/, yaml: sc(`  workloadSelector: {} #<\n  egress:\n  - hosts: ["./*"]\n`) },
  { name: 'inbound connection pool limits', code: 'MCD0222', message: /max connections must be non-negative/, yaml: sc(`  inboundConnectionPool:\n    tcp:\n      maxConnections: -5 #<\n`) },
  { name: 'HTTP pool on a TCP ingress port', severity: 'warning', code: 'MCD0224', message: /HTTP connection pool settings are configured for port 3306/, yaml: sc(`  ingress:\n  - port: {number: 3306, protocol: TCP, name: mysql}\n    connectionPool:\n      http: #<\n        maxRetries: 1\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
