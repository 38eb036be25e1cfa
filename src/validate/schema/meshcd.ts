// JSON schemas for meshcd's own kinds (meshcd.io/v1alpha1 Rollout and
// MeshConfig), written from the TypeScript shapes in api/istio.ts; keep the
// two in step. Also the ObjectMeta fields a config file may carry.
// Imports: ./jsonschema (types only).

import type { JsonSchema } from './jsonschema.js';

const str: JsonSchema = { type: 'string' };
const nonEmpty: JsonSchema = { type: 'string', minLength: 1 };
const strMap: JsonSchema = { type: 'object', additionalProperties: str };
const stringMatch: JsonSchema = {
  type: 'object',
  properties: { exact: str, prefix: str, regex: str },
  oneOf: [
    { not: { anyOf: [{ required: ['exact'] }, { required: ['prefix'] }, { required: ['regex'] }] } },
    { required: ['exact'] },
    { required: ['prefix'] },
    { required: ['regex'] },
  ],
};
const num: JsonSchema = { type: 'number' };
const int32: JsonSchema = { type: 'integer', format: 'int32' };
const matchFields: JsonSchema = { type: 'object', properties: { headers: { type: 'object', additionalProperties: stringMatch }, queryParams: { type: 'object', additionalProperties: stringMatch } } };

const strList: JsonSchema = { type: 'array', items: nonEmpty };
const cohortSchema: JsonSchema = {
  type: 'object',
  properties: {
    namespaces: strList,
    labels: strMap,
    localities: { type: 'array', items: { type: 'object', properties: { region: nonEmpty, zone: nonEmpty, subzone: nonEmpty } } },
  },
};

export const ROLLOUT_SPEC_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    strategy: { type: 'string', enum: ['traffic', 'proxies'] },
    target: { type: 'object', properties: { virtualService: nonEmpty, route: nonEmpty, kinds: strList, namespaces: strList } },
    cohort: cohortSchema,
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          setWeight: int32,
          pause: { type: 'object', properties: { duration: str } },
          setHeaderRoute: { type: 'object', properties: { match: { type: 'array', minItems: 1, items: matchFields } }, required: ['match'] },
          setMirror: { type: 'object', properties: { percent: num }, required: ['percent'] },
          analysis: { type: 'object', properties: { metrics: { type: 'array', minItems: 1, items: nonEmpty } }, required: ['metrics'] },
          setProxies: { type: 'object', properties: { count: int32, percent: num } },
        },
      },
    },
    analysis: {
      type: 'object',
      properties: {
        interval: str,
        failureLimit: int32,
        inconclusiveLimit: int32,
        consecutiveErrorLimit: int32,
        prometheus: { type: 'object', properties: { address: nonEmpty }, required: ['address'] },
        metrics: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              name: nonEmpty,
              template: nonEmpty,
              query: nonEmpty,
              thresholdRange: { type: 'object', properties: { min: num, max: num } },
              compare: { type: 'string', enum: ['stable', 'rest'] },
              maxDelta: num,
              maxRatio: num,
            },
            required: ['name'],
          },
        },
      },
      required: ['metrics'],
    },
    writeBack: { type: 'string', enum: ['revert', 'branch', 'none'] },
    webhooks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: nonEmpty,
          type: { type: 'string', enum: ['pre-rollout', 'rollout', 'confirm-promotion', 'post-rollout', 'rollback', 'event'] },
          url: nonEmpty,
          timeout: str,
          metadata: strMap,
        },
        required: ['name', 'type', 'url'],
      },
    },
  },
  required: ['target', 'steps'],
};

export const MESHCONFIG_SPEC_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    trustDomain: str,
    defaultNamespace: str,
    outboundTrafficPolicy: { type: 'object', properties: { mode: { type: 'string', enum: ['ALLOW_ANY', 'REGISTRY_ONLY'] } } },
    clusterDomain: str,
    rootNamespace: str,
    namespaces: { type: 'object', additionalProperties: { type: 'object', properties: { labels: strMap } } },
    configCanary: { type: 'object', properties: Object.fromEntries(Object.entries(ROLLOUT_SPEC_SCHEMA.properties!).filter(([k]) => k !== 'strategy')), required: ['steps'] },
    // Istio's LocalityLoadBalancerSetting, as in the DestinationRule CRD.
    localityLbSetting: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean', nullable: true },
        distribute: { type: 'array', items: { type: 'object', properties: { from: str, to: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 4294967295 } } } } },
        failover: { type: 'array', items: { type: 'object', properties: { from: str, to: str } } },
        failoverPriority: { type: 'array', items: str },
      },
    },
  },
};

/** ObjectMeta as Kubernetes defines it (fields a manifest may carry; server-set ones are tolerated). */
export const OBJECT_META_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    name: str,
    namespace: str,
    generateName: str,
    labels: strMap,
    annotations: strMap,
    uid: str,
    resourceVersion: str,
    generation: { type: 'integer' },
    creationTimestamp: { type: 'string', nullable: true },
    deletionTimestamp: { type: 'string', nullable: true },
    deletionGracePeriodSeconds: { type: 'integer' },
    finalizers: { type: 'array', items: str },
    ownerReferences: { type: 'array', items: { type: 'object', additionalProperties: true, properties: {} } },
    managedFields: { type: 'array', items: { type: 'object', additionalProperties: true, properties: {} } },
    selfLink: str,
  },
};
