import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const se = (spec: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext
  namespace: shop
spec:
${spec}`;
const httpPort = `  ports:\n  - {number: 80, name: http, protocol: HTTP}\n`;
const we = (spec: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm
  namespace: shop
spec:
${spec}`;

validCases(test, checkRules, [
  { name: 'DNS with FQDN host', yaml: se(`  hosts: [api.example.com]\n  resolution: DNS\n${httpPort}`) },
  { name: 'IPv6 addresses and exportTo with .', yaml: se(`  hosts: [v6.example.com]\n  addresses: ["2001:db8::10", "2001:db8:1::/64"]\n  resolution: STATIC\n  exportTo: [other, "."]\n${httpPort}  endpoints:\n  - address: "2001:db8::1"\n`) },
  { name: 'DNS endpoints may be host names', yaml: se(`  hosts: [api.internal]\n  resolution: DNS\n${httpPort}  endpoints:\n  - address: backend.example.com\n    ports: {http: 8080}\n`) },
  { name: 'STATIC with a unix socket endpoint', yaml: se(`  hosts: [uds.local]\n  resolution: STATIC\n${httpPort}  endpoints:\n  - address: unix:///var/run/app.sock\n`) },
]);

const cases: RuleCase[] = [
  { name: 'no hosts', code: 'MCD0210', schemaFirst: 'MCD0102', message: /service entry must have at least one host/, yaml: se(`  hosts: []\n${httpPort}`).replace('spec:\n', 'spec: #<\n') },
  { name: 'host *', code: 'MCD0200', schemaFirst: 'MCD0108', message: /invalid host \*/, yaml: se(`  hosts:\n  - "*" #<\n${httpPort}`) },
  { name: 'partial wildcard host', severity: 'warning', code: 'MCD0200', message: /partial wildcard "\*api.example.com" not allowed/, yaml: se(`  hosts:\n  - "*api.example.com" #<\n${httpPort}`) },
  { name: 'address not an IP', code: 'MCD0208', message: /10.0.0.300 is not a valid IP/, yaml: se(`  hosts: [a.example.com]\n  addresses:\n  - 10.0.0.300 #<\n${httpPort}`) },
  { name: 'CIDR with DNS resolution', code: 'MCD0217', schemaFirst: 'MCD0108', message: /CIDR addresses are allowed only for NONE\/STATIC resolution types/, yaml: se(`  hosts: [a.example.com]\n  addresses: [10.0.0.0/24]\n  resolution: DNS #<\n${httpPort}`) },
  { name: 'no ports', severity: 'warning', code: 'MCD0201', message: /service entry has no ports/, yaml: se(`  hosts: [a.example.com]\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'duplicate port number', code: 'MCD0216', schemaFirst: 'MCD0108', message: /service entry port 80 already defined/, yaml: se(`  hosts: [a.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  - number: 80 #<\n    name: http-alt\n    protocol: HTTP\n`) },
  { name: 'duplicate port name', code: 'MCD0216', message: /service entry port name "http" already defined/, yaml: se(`  hosts: [a.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  - number: 81\n    name: http #<\n    protocol: HTTP\n`) },
  { name: 'port name not a DNS label', code: 'MCD0206', message: /invalid port name: HTTP_Main/, yaml: se(`  hosts: [a.example.com]\n  ports:\n  - number: 80\n    name: HTTP_Main #<\n    protocol: HTTP\n`) },
  { name: 'unknown protocol', code: 'MCD0206', message: /unsupported protocol: QUIC/, yaml: se(`  hosts: [a.example.com]\n  ports:\n  - number: 80\n    name: q\n    protocol: QUIC #<\n`) },
  { name: 'NONE with endpoints', code: 'MCD0217', schemaFirst: 'MCD0108', message: /no endpoints should be provided for resolution type none/, yaml: se(`  hosts: [a.example.com]\n  resolution: NONE\n${httpPort}  endpoints: #<\n  - address: 10.0.0.1\n`) },
  { name: 'STATIC without endpoints: Istio accepts it, so a warning', severity: 'warning', code: 'MCD0217', message: /STATIC ServiceEntry with neither endpoints nor a workloadSelector has no endpoints/, yaml: se(`  hosts: [a.example.com]\n  resolution: STATIC\n${httpPort}`).replace('spec:\n', 'spec: #<\n') },
  { name: 'STATIC endpoint not an IP', code: 'MCD0208', message: /endpoint address "backend.example.com" is not a valid IP address/, yaml: se(`  hosts: [a.example.com]\n  resolution: STATIC\n${httpPort}  endpoints:\n  - address: backend.example.com #<\n`) },
  { name: 'DNS with wildcard host and no endpoints', code: 'MCD0217', message: /hosts must be FQDN if no endpoints are provided for resolution mode DNS/, yaml: se(`  hosts:\n  - "*.example.com" #<\n  resolution: DNS\n${httpPort}`) },
  { name: 'DNS_ROUND_ROBIN with two endpoints', code: 'MCD0217', schemaFirst: 'MCD0108', message: /there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN/, yaml: se(`  hosts: [a.example.com]\n  resolution: DNS_ROUND_ROBIN\n${httpPort}  endpoints: #<\n  - address: a1.example.com\n  - address: a2.example.com\n`) },
  { name: 'workloadSelector with endpoints', code: 'MCD0209', schemaFirst: 'MCD0108', message: /only one of WorkloadSelector or Endpoints is allowed in Service Entry/, yaml: se(`  hosts: [a.example.com]\n  resolution: STATIC\n${httpPort}  workloadSelector: #<\n    labels: {app: a}\n  endpoints:\n  - address: 10.0.0.1\n`) },
  { name: 'endpoint port not declared', code: 'MCD0201', message: /endpoint port grpc \(9000\) is not defined by the service entry/, yaml: se(`  hosts: [a.example.com]\n  resolution: STATIC\n${httpPort}  endpoints:\n  - address: 10.0.0.1\n    ports:\n      grpc: 9000 #<\n`) },
  { name: 'multiple hosts with TCP', code: 'MCD0217', message: /multiple hosts provided with non-HTTP, non-TLS ports/, yaml: se(`  hosts: [a.example.com, b.example.com]\n  addresses: [10.1.1.1]\n  resolution: DNS\n  ports:\n  - number: 5432 #<\n    name: pg\n    protocol: TCP\n`) },
  { name: 'TCP port without addresses', severity: 'warning', code: 'MCD0208', message: /addresses are required for ports serving TCP/, yaml: se(`  hosts: [a.example.com]\n  resolution: DNS\n  ports:\n  - number: 5432 #<\n    name: pg\n    protocol: TCP\n`) },
  { name: 'exportTo ~ with others', code: 'MCD0228', message: /cannot export service entry to no one \(~\) and someone/, yaml: se(`  hosts: [a.example.com]\n${httpPort}  exportTo: #<\n  - "~"\n  - shop\n`) },
  { name: 'WorkloadEntry with network and no address', severity: 'warning', code: 'MCD0208', message: /address is unset with network "vm-net"/, yaml: we(`  network: vm-net\n  labels: {app: a}\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'WorkloadEntry without address', code: 'MCD0210', schemaFirst: 'MCD0108', message: /address is required/, yaml: we(`  labels: {app: a}\n`).replace('spec:\n', 'spec: #<\n') },
  { name: 'WorkloadEntry address not IP or FQDN', code: 'MCD0208', message: /endpoint address "not_a_host" is not a valid FQDN or an IP address/, yaml: we(`  address: not_a_host #<\n`) },
  { name: 'WorkloadEntry port out of range', code: 'MCD0201', schemaFirst: 'MCD0108', message: /port number 0 must be in the range/, yaml: we(`  address: 10.0.0.1\n  ports:\n    http: 0 #<\n`) },
  { name: 'WorkloadEntry unix socket with ports', code: 'MCD0208', schemaFirst: 'MCD0108', message: /unix endpoint unix:\/\/\/tmp\/a.sock must not include ports/, yaml: we(`  address: unix:///tmp/a.sock\n  ports: #<\n    http: 80\n`) },
  { name: 'WorkloadEntry label', code: 'MCD0207', message: /invalid label value/, yaml: we(`  address: 10.0.0.1\n  labels:\n    app: "a b" #<\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
