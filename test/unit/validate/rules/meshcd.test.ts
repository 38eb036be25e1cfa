import test from 'ava';
import { checkRules } from '../../../../src/validate/rules/index.js';
import { checkSchema } from '../../../../src/validate/schema.js';
import { ruleCases, type RuleCase } from './helper.js';

const rollout = (spec: string) => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata:
  name: reviews
  namespace: shop
spec:
  target: {virtualService: reviews}
${spec}`;
const metric = (fields: string) => `  steps:\n  - setWeight: 10\n  analysis:\n    metrics:\n    - name: errors\n${fields}`;
const canary = (spec: string) => `apiVersion: meshcd.io/v1alpha1
kind: Rollout
metadata:
  name: config
  namespace: shop
spec:
  strategy: proxies
${spec}`;
const mesh = (spec: string) => `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
${spec}`;

const cases: RuleCase[] = [
  { name: 'step with two actions', code: 'MCD0226', message: /step 0 has 2 actions \(setWeight, pause\); give exactly one per step/, yaml: rollout(`  steps:\n  - setWeight: 50 #<\n    pause: {}\n`) },
  { name: 'step with no action', code: 'MCD0226', message: /step 0 has no action/, yaml: rollout(`  steps:\n  - {} #<\n`) },
  { name: 'setWeight above 100', code: 'MCD0204', message: /setWeight 120 is not in range 0..100/, yaml: rollout(`  steps:\n  - setWeight: 120 #<\n`) },
  { name: 'setWeight below 0', code: 'MCD0204', message: /setWeight -5 is not in range 0..100/, yaml: rollout(`  steps:\n  - setWeight: -5 #<\n`) },
  { name: 'mirror percent above 100', code: 'MCD0205', message: /setMirror percent 101 is not in range 0..100/, yaml: rollout(`  steps:\n  - setMirror:\n      percent: 101 #<\n`) },
  { name: 'pause duration', code: 'MCD0202', message: /invalid duration "5 minutes"/, yaml: rollout(`  steps:\n  - pause:\n      duration: 5 minutes #<\n`) },
  { name: 'header route regex', code: 'MCD0203', message: /look-around/, yaml: rollout(`  steps:\n  - setHeaderRoute:\n      match:\n      - headers:\n          x-canary:\n            regex: "(?=yes)" #<\n`) },
  { name: 'header route match without headers', code: 'MCD0226', message: /needs headers or queryParams/, yaml: rollout(`  steps:\n  - setHeaderRoute:\n      match:\n      - {} #<\n`) },
  { name: 'analysis step names an undefined metric', code: 'MCD0226', message: /names metric "smoke", which spec.analysis.metrics does not define \(defined: errors\)/, yaml: rollout(`  steps:\n  - analysis:\n      metrics:\n      - smoke #<\n  analysis:\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'unknown template', code: 'MCD0226', message: /unknown template "error-rate"; the built-in templates are request-success-rate, request-duration-p99/, yaml: rollout(metric(`      template: error-rate #<\n      thresholdRange: {max: 1}\n`)) },
  { name: 'template and query', code: 'MCD0226', message: /needs exactly one of template or query/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    metrics:\n    - name: errors #<\n      template: request-success-rate\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'neither template nor query', code: 'MCD0226', message: /needs exactly one of template or query/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    metrics:\n    - name: errors #<\n      thresholdRange: {max: 1}\n`) },
  { name: 'compare without a limit', code: 'MCD0226', message: /compares with stable but sets neither maxDelta nor maxRatio/, yaml: rollout(metric(`      template: request-duration-p99\n      compare: stable #<\n`)) },
  { name: 'maxRatio without compare', code: 'MCD0226', message: /maxDelta and maxRatio need compare: stable/, yaml: rollout(metric(`      template: request-duration-p99\n      maxRatio: 1.5 #<\n`)) },
  { name: 'duplicate metric names', code: 'MCD0216', message: /metric name "errors" is already used by metrics\[0\]/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n    - name: errors #<\n      query: b\n      thresholdRange: {max: 1}\n`) },
  { name: 'threshold min above max', code: 'MCD0226', message: /thresholdRange min 5 is greater than max 1/, yaml: rollout(metric(`      query: a\n      thresholdRange:\n        min: 5 #<\n        max: 1\n`)) },
  { name: 'metric without threshold', severity: 'warning', code: 'MCD0226', message: /has no thresholdRange, so it can never fail/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    metrics:\n    - name: errors #<\n      query: a\n`) },
  { name: 'analysis interval', code: 'MCD0202', message: /greater than 1ms/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    interval: 0s #<\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'negative failure limit', code: 'MCD0226', message: /failureLimit -1 cannot be negative/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    failureLimit: -1 #<\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'prometheus address', code: 'MCD0226', message: /prometheus address "prometheus:9090" must be an http\(s\) URL/, yaml: rollout(`  steps:\n  - setWeight: 10\n  analysis:\n    prometheus:\n      address: prometheus:9090 #<\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'webhook url with credentials', code: 'MCD0226', message: /webhook url must not carry credentials/, yaml: rollout(`  steps:\n  - setWeight: 10\n  webhooks:\n  - name: hook\n    type: event\n    url: http://user:pw@127.0.0.1/x #<\n`) },
  { name: 'webhook timeout', code: 'MCD0202', message: /invalid duration "soon"/, yaml: rollout(`  steps:\n  - setWeight: 10\n  webhooks:\n  - name: hook\n    type: event\n    url: http://127.0.0.1/x\n    timeout: soon #<\n`) },
  { name: 'config canary: setProxies with count and percent', code: 'MCD0226', message: /setProxies needs exactly one of count or percent/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  steps:\n  - setProxies: #<\n      count: 1\n      percent: 10\n`) },
  { name: 'config canary: setProxies percent 0', code: 'MCD0205', message: /setProxies percent 0 is not in range \(0, 100\]/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  steps:\n  - setProxies:\n      percent: 0 #<\n`) },
  { name: 'config canary: setProxies count 0', code: 'MCD0226', message: /setProxies count 0 must be at least 1/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  steps:\n  - setProxies:\n      count: 0 #<\n`) },
  { name: 'config canary: a weight step', code: 'MCD0226', message: /setWeight walks route weights; a config canary \(strategy: proxies\) walks cohorts of proxies with setProxies/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  steps:\n  - setWeight: 10 #<\n`) },
  { name: 'config canary: a VirtualService target', code: 'MCD0226', message: /strategy: proxies covers kinds and namespaces .* drop target.virtualService/, yaml: canary(`  target:\n    virtualService: reviews #<\n  steps:\n  - setProxies: {count: 1}\n`) },
  { name: 'config canary: unknown kind', code: 'MCD0226', message: /kind "Rollout" is not one a config canary covers/, yaml: canary(`  target:\n    kinds:\n    - Rollout #<\n  steps:\n  - setProxies: {count: 1}\n`) },
  { name: 'config canary: bad cohort namespace', code: 'MCD0226', message: /namespace "Shop" is not a valid namespace name/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  cohort:\n    namespaces:\n    - Shop #<\n  steps:\n  - setProxies: {count: 1}\n`) },
  { name: 'config canary: compare with stable', code: 'MCD0226', message: /a config canary compares its cohort with the rest: use compare: rest/, yaml: canary(`  target: {kinds: [DestinationRule]}\n  steps:\n  - setProxies: {count: 1}\n  analysis:\n    metrics:\n    - name: errors\n      template: request-success-rate\n      compare: stable #<\n      maxDelta: 0.01\n`) },
  { name: 'traffic rollout: setProxies', code: 'MCD0226', message: /setProxies needs strategy: proxies/, yaml: rollout(`  steps:\n  - setProxies: #<\n      count: 1\n`) },
  { name: 'traffic rollout: compare with rest', code: 'MCD0226', message: /compare: rest \(the proxies outside the cohort\) needs strategy: proxies/, yaml: rollout(metric(`      template: request-success-rate\n      compare: rest #<\n      maxDelta: 0.01\n`)) },
  { name: 'MeshConfig default config canary: setProxies percent', code: 'MCD0205', message: /setProxies percent 150 is not in range \(0, 100\]/, yaml: mesh(`  configCanary:\n    steps:\n    - setProxies:\n        percent: 150 #<\n`) },
  { name: 'MeshConfig default config canary: a weight step', code: 'MCD0226', message: /setWeight walks route weights/, yaml: mesh(`  configCanary:\n    steps:\n    - setWeight: 10 #<\n`) },
  { name: 'trust domain', code: 'MCD0227', message: /trust domain name "Example_Org" invalid/, yaml: mesh(`  trustDomain: Example_Org #<\n`) },
  { name: 'default namespace', code: 'MCD0227', message: /defaultNamespace "Default" is not a valid namespace name/, yaml: mesh(`  defaultNamespace: Default #<\n`) },
  { name: 'namespace labels', code: 'MCD0207', message: /invalid label value "prod env"/, yaml: mesh(`  namespaces:\n    shop:\n      labels:\n        env: prod env #<\n`) },
  { name: 'mesh localityLbSetting: distribute and failover', code: 'MCD0209', message: /can not simultaneously specify 'distribute' and 'failover'/, yaml: mesh(`  localityLbSetting:\n    distribute: [{from: us-east/*, to: {us-east/*: 100}}]\n    failover: #<\n    - {from: us-east, to: us-west}\n`) },
  { name: 'mesh localityLbSetting: weights', code: 'MCD0204', message: /total locality weight 90 != 100/, yaml: mesh(`  localityLbSetting:\n    distribute:\n    - from: us-east/*\n      to: #<\n        us-east/*: 90\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
