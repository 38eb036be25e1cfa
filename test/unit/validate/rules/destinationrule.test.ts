import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, validCases, type RuleCase } from './helper.js';

const dr = (spec: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews.shop.svc.cluster.local
${spec}`;

validCases(test, checkRules, [
  { name: 'subsets only', yaml: dr(`  subsets:\n  - name: v1\n    labels: {version: v1}\n`) },
  { name: 'MUTUAL with credentialName', yaml: dr(`  trafficPolicy:\n    tls:\n      mode: MUTUAL\n      credentialName: client-cert\n`) },
  { name: 'maglev with a prime table size', yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n        maglev:\n          tableSize: 65537\n`) },
  { name: 'locality distribute summing to 100', yaml: dr(`  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 5\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-west/zone1/*\n          to:\n            "us-west/zone1/*": 80\n            "us-west/zone2/*": 20\n`) },
  { name: 'newer Istio fields: warmup and HTTP/2 keepalive', yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n      warmup:\n        duration: 120s\n        minimumPercent: 10\n    connectionPool:\n      http:\n        http2KeepAlive:\n          interval: 10s\n          timeout: 3s\n`) },
  { name: 'workload selector exported to own namespace', yaml: dr(`  workloadSelector:\n    matchLabels: {app: reviews}\n  exportTo: ["."]\n`) },
]);

const cases: RuleCase[] = [
  { name: 'wildcard inside host', code: 'MCD0200', message: /domain name "reviews\.\*\.svc" invalid/, yaml: dr('').replace('  host: reviews.shop.svc.cluster.local', '  host: reviews.*.svc #<') },
  { name: 'duplicate subset names', code: 'MCD0216', message: /duplicate subset names: v1/, yaml: dr(`  subsets:\n  - name: v1\n  - name: v1 #<\n`) },
  { name: 'subset name not a DNS label', code: 'MCD0206', message: /subset name is invalid: v1\.0/, yaml: dr(`  subsets:\n  - name: v1.0 #<\n`) },
  { name: 'subset label value', code: 'MCD0207', message: /invalid label value "v1 beta"/, yaml: dr(`  subsets:\n  - name: v1\n    labels:\n      version: v1 beta #<\n`) },
  { name: 'empty traffic policy', code: 'MCD0222', message: /traffic policy must have at least one field/, yaml: dr(`  trafficPolicy: {} #<\n`) },
  { name: 'MUTUAL without client certificate', code: 'MCD0214', message: /client certificate required for mutual tls/, yaml: dr(`  trafficPolicy:\n    tls: #<\n      mode: MUTUAL\n      privateKey: /k.pem\n`) },
  { name: 'credentialName with certificate files', code: 'MCD0214', message: /cannot specify client certificates or CA certificate or CA CRL If credentialName is set/, yaml: dr(`  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      credentialName: c #<\n      caCertificates: /ca.pem\n`) },
  { name: 'insecureSkipVerify with CA', code: 'MCD0214', message: /cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify/, yaml: dr(`  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      caCertificates: /ca.pem\n      insecureSkipVerify: true #<\n`) },
  { name: 'ISTIO_MUTUAL ignores files', severity: 'warning', code: 'MCD0214', message: /ISTIO_MUTUAL uses the mesh certificates/, yaml: dr(`  trafficPolicy:\n    tls: #<\n      mode: ISTIO_MUTUAL\n      caCertificates: /ca.pem\n`) },
  { name: 'negative max connections', code: 'MCD0222', message: /max connections must be non-negative/, yaml: dr(`  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: -1 #<\n`) },
  { name: 'empty connection pool', code: 'MCD0222', message: /connection pool must have at least one field/, yaml: dr(`  trafficPolicy:\n    connectionPool: {} #<\n`) },
  { name: 'UPGRADE with useClientProtocol', code: 'MCD0209', message: /use client protocol must not be true when H2UpgradePolicy is UPGRADE/, yaml: dr(`  trafficPolicy:\n    connectionPool:\n      http:\n        h2UpgradePolicy: UPGRADE\n        useClientProtocol: true #<\n`) },
  { name: 'connect timeout duration', code: 'MCD0202', schemaFirst: 'MCD0108', message: /invalid duration "30"/, yaml: dr(`  trafficPolicy:\n    connectionPool:\n      tcp:\n        connectTimeout: "30" #<\n`) },
  { name: 'outlier max ejection percent', code: 'MCD0205', message: /percentage 120 is not in range 0..100/, yaml: dr(`  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 120 #<\n`) },
  { name: 'local origin failures without split', code: 'MCD0222', message: /consecutive local origin failures is specified, but split external local origin errors is set to false/, yaml: dr(`  trafficPolicy:\n    outlierDetection:\n      consecutiveLocalOriginFailures: 3 #<\n`) },
  { name: 'outlier interval', code: 'MCD0202', schemaFirst: 'MCD0108', message: /greater than 1ms/, yaml: dr(`  trafficPolicy:\n    outlierDetection:\n      interval: 0s #<\n`) },
  { name: 'deprecated consecutiveErrors', severity: 'warning', code: 'MCD0229', message: /consecutive errors is deprecated/, yaml: dr(`  trafficPolicy:\n    outlierDetection:\n      consecutiveErrors: 5 #<\n`) },
  { name: 'cookie without name', code: 'MCD0222', schemaFirst: 'MCD0102', message: /name required for HttpCookie/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: #<\n          ttl: 10s\n`) },
  { name: 'maglev table size not prime', code: 'MCD0222', message: /tableSize must be a prime number for maglev/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n        maglev:\n          tableSize: 65536 #<\n`) },
  { name: 'locality weights not 100', code: 'MCD0204', message: /total locality weight 90 != 100/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-west/*\n          to: #<\n            "us-west/*": 90\n`) },
  { name: 'distribute with failover', code: 'MCD0209', message: /can not simultaneously specify 'distribute' and 'failover'/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: a/*\n          to: {"b/*": 100}\n        failover: #<\n        - from: a\n          to: b\n`) },
  { name: 'port level settings without port', code: 'MCD0201', message: /portTrafficPolicy must have valid port/, yaml: dr(`  trafficPolicy:\n    portLevelSettings:\n    - loadBalancer: #<\n        simple: RANDOM\n`) },
  { name: 'port level settings port range', code: 'MCD0201', message: /port number 0 must be in the range/, yaml: dr(`  trafficPolicy:\n    portLevelSettings:\n    - port:\n        number: 0 #<\n      loadBalancer:\n        simple: RANDOM\n`) },
  { name: 'workload selector exported beyond namespace', code: 'MCD0228', message: /destination rule with workload selector cannot have exportTo beyond current namespace/, yaml: dr(`  workloadSelector:\n    matchLabels: {app: reviews}\n  exportTo: #<\n  - other\n`) },
  { name: 'selector with wildcard', code: 'MCD0207', schemaFirst: 'MCD0108', message: /wildcard is not supported in selector: "app=rev\*"/, yaml: dr(`  workloadSelector:\n    matchLabels:\n      app: rev* #<\n`) },
  { name: 'subset traffic policy checked too', code: 'MCD0222', message: /max retries must be non-negative/, yaml: dr(`  subsets:\n  - name: v1\n    trafficPolicy:\n      connectionPool:\n        http:\n          maxRetries: -2 #<\n`) },
  { name: 'warmup minimum percent', code: 'MCD0205', schemaFirst: 'MCD0105', message: /warmup minimumPercent 150 is not in range 0..100/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      warmup:\n        duration: 60s\n        minimumPercent: 150 #<\n`) },
  { name: 'warmup without duration', code: 'MCD0210', schemaFirst: 'MCD0102', message: /warmup.duration is required/, yaml: dr(`  trafficPolicy:\n    loadBalancer:\n      warmup: #<\n        minimumPercent: 5\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
