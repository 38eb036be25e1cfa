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
  virtualService: {name: reviews}
${spec}`;
const dests = `  stable: {host: reviews, subset: v1}\n  canary: {host: reviews, subset: v2}\n`;
const mesh = (spec: string) => `apiVersion: meshcd.io/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
${spec}`;

const cases: RuleCase[] = [
  { name: 'weights must increase', code: 'MCD0226', message: /step weights must increase: 20 follows 50/, yaml: rollout(`${dests}  steps:\n  - weight: 50\n  - weight: 20 #<\n`) },
  { name: 'weight above 100', code: 'MCD0204', message: /step weight 120 is not in range 0..100/, yaml: rollout(`${dests}  steps:\n  - weight: 120 #<\n`) },
  { name: 'pause duration', code: 'MCD0202', message: /invalid duration "5 minutes"/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n    pause: 5 minutes #<\n`) },
  { name: 'same stable and canary', code: 'MCD0226', message: /stable and canary are the same destination/, yaml: rollout(`  stable: {host: reviews, subset: v1}\n  canary: {host: reviews, subset: v1} #<\n  steps:\n  - weight: 10\n`) },
  { name: 'canary subset name', code: 'MCD0206', message: /subset name is invalid: v_2/, yaml: rollout(`  stable: {host: reviews, subset: v1}\n  canary:\n    host: reviews\n    subset: v_2 #<\n  steps:\n  - weight: 10\n`) },
  { name: 'duplicate metric names', code: 'MCD0216', message: /metric name "errors" is already used by metrics\[0\]/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n  analysis:\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n    - name: errors #<\n      query: b\n      thresholdRange: {max: 1}\n`) },
  { name: 'threshold min above max', code: 'MCD0226', message: /thresholdRange min 5 is greater than max 1/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n  analysis:\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange:\n        min: 5 #<\n        max: 1\n`) },
  { name: 'metric without threshold', severity: 'warning', code: 'MCD0226', message: /has no thresholdRange, so it can never fail/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n  analysis:\n    metrics:\n    - name: errors #<\n      query: a\n`) },
  { name: 'analysis interval', code: 'MCD0202', message: /greater than 1ms/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n  analysis:\n    interval: 0s #<\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'prometheus address', code: 'MCD0226', message: /prometheus address "prometheus:9090" must be an http\(s\) URL/, yaml: rollout(`${dests}  steps:\n  - weight: 10\n  analysis:\n    prometheus:\n      address: prometheus:9090 #<\n    metrics:\n    - name: errors\n      query: a\n      thresholdRange: {max: 1}\n`) },
  { name: 'header match regex', code: 'MCD0203', message: /look-around/, yaml: rollout(`${dests}  steps:\n  - headerMatch:\n      x-canary:\n        regex: "(?=yes)" #<\n`) },
  { name: 'trust domain', code: 'MCD0227', message: /trust domain name "Example_Org" invalid/, yaml: mesh(`  trustDomain: Example_Org #<\n`) },
  { name: 'default namespace', code: 'MCD0227', message: /defaultNamespace "Default" is not a valid namespace name/, yaml: mesh(`  defaultNamespace: Default #<\n`) },
  { name: 'namespace labels', code: 'MCD0207', message: /invalid label value "prod env"/, yaml: mesh(`  namespaces:\n    shop:\n      labels:\n        env: prod env #<\n`) },
];
ruleCases(test, checkRules, checkSchema, cases);
