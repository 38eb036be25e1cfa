import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const gw = (servers: string, name = 'public') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
${servers}`;
const http80 = `  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
`;

validCases(test, checkRules, [
  { name: 'plain HTTP server', yaml: gw(http80) },
  { name: 'HTTPS with credentialName', yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["shop/*.example.com"]\n    tls: {mode: SIMPLE, credentialName: cert}\n`) },
  { name: 'httpsRedirect on HTTP', yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    tls: {httpsRedirect: true}\n`) },
  { name: 'IP host on a gateway', yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["10.0.0.1"]\n`) },
]);

const cases: RuleCase[] = [
  { name: 'no servers', code: 'MCD0210', message: /gateway must have at least one server/, yaml: gw('').replace('spec:\n', 'spec: #<\n').replace('  servers:\n', '  servers: []\n') },
  { name: 'server without hosts', code: 'MCD0210', schemaFirst: 'MCD0102', message: /server config must contain at least one host/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP} #<\n`) },
  { name: 'short host name', code: 'MCD0200', message: /short names \(non FQDN\) are not allowed/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:\n    - reviews #<\n`) },
  { name: 'partial wildcard', code: 'MCD0200', message: /partial wildcard "\*foo.example.com" not allowed/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:\n    - "*foo.example.com" #<\n`) },
  { name: 'bad namespace in host', code: 'MCD0200', message: /invalid namespace value "sh_op" in gateway/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:\n    - sh_op/a.example.com #<\n`) },
  { name: 'unsupported protocol', code: 'MCD0223', message: /invalid protocol "HTTP3"/, yaml: gw(`  - port:\n      number: 80\n      name: http\n      protocol: HTTP3 #<\n    hosts: ["*"]\n`) },
  { name: 'port out of range', code: 'MCD0201', message: /port number 0 must be in the range 1..65535/, yaml: gw(`  - port:\n      number: 0 #<\n      name: http\n      protocol: HTTP\n    hosts: ["*"]\n`) },
  { name: 'port without name', code: 'MCD0223', schemaFirst: 'MCD0102', message: /port name must be set/, yaml: gw(`  - port: {number: 80, protocol: HTTP} #<\n    hosts: ["*"]\n`) },
  { name: 'duplicate port names', code: 'MCD0216', message: /port names in servers must be unique: duplicate name http/, yaml: gw(`${http80}  - port:\n      number: 8080\n      name: http #<\n      protocol: HTTP\n    hosts: ["*"]\n`) },
  { name: 'HTTPS without TLS settings', code: 'MCD0214', message: /server must have TLS settings for HTTPS\/TLS protocols/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS} #<\n    hosts: ["*"]\n`) },
  { name: 'SIMPLE without certificate', code: 'MCD0214', message: /SIMPLE TLS requires a server certificate/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: #<\n      mode: SIMPLE\n      privateKey: /k.pem\n`) },
  { name: 'MUTUAL without CA bundle', code: 'MCD0214', message: /MUTUAL TLS requires a client CA bundle/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: #<\n      mode: MUTUAL\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n`) },
  { name: 'ISTIO_MUTUAL with a credential', code: 'MCD0214', message: /ISTIO_MUTUAL TLS cannot have associated credentialName/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: ISTIO_MUTUAL\n      credentialName: c #<\n`) },
  { name: 'TLS settings on a plain HTTP port', code: 'MCD0214', message: /server cannot have TLS settings for plain text HTTP ports/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    tls: #<\n      mode: SIMPLE\n      credentialName: c\n`) },
  { name: 'httpsRedirect on a TCP server', severity: 'warning', code: 'MCD0223', message: /tls.httpsRedirect should only be used with http servers/, yaml: gw(`  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: ["*"]\n    tls:\n      mode: PASSTHROUGH\n      httpsRedirect: true #<\n`) },
  { name: 'min version above max version', code: 'MCD0214', message: /max protocol version must be superior to min protocol version/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: SIMPLE\n      credentialName: c\n      minProtocolVersion: TLSV1_3\n      maxProtocolVersion: TLSV1_2 #<\n`) },
  { name: 'unknown cipher suite', severity: 'warning', code: 'MCD0214', message: /ignoring invalid cipher suites: \[NOT-A-CIPHER\]/, yaml: gw(`  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: SIMPLE\n      credentialName: c\n      cipherSuites:\n      - NOT-A-CIPHER #<\n`) },
  { name: 'bind not an IP', code: 'MCD0208', message: /localhost is not a valid IP/, yaml: gw(`  - port: {number: 80, name: http, protocol: HTTP}\n    bind: localhost #<\n    hosts: ["*"]\n`) },
  { name: 'targetPort on a gateway', code: 'MCD0223', message: /targetPort has no impact on Gateways/, yaml: gw(`  - port:\n      number: 80\n      name: http\n      protocol: HTTP\n      targetPort: 8080 #<\n    hosts: ["*"]\n`) },
  { name: 'Gateway name with dots', code: 'MCD0206', message: /invalid gateway name: "public.gw"/, yaml: gw(http80, 'public.gw #<') },
];
ruleCases(test, checkRules, checkSchema, cases);
