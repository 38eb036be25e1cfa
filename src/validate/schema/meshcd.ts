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
const destination: JsonSchema = {
  type: 'object',
  properties: { host: str, subset: str, port: { type: 'object', properties: { number: { type: 'integer', format: 'uint32' } } } },
  required: ['host'],
};

export const ROLLOUT_SPEC_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    virtualService: { type: 'object', properties: { name: nonEmpty, namespace: str, route: str }, required: ['name'] },
    stable: destination,
    canary: destination,
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { weight: { type: 'integer', format: 'int32' }, pause: str, headerMatch: { type: 'object', additionalProperties: stringMatch } },
      },
    },
    analysis: {
      type: 'object',
      properties: {
        interval: str,
        prometheus: { type: 'object', properties: { address: nonEmpty }, required: ['address'] },
        metrics: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              name: nonEmpty,
              query: nonEmpty,
              thresholdRange: { type: 'object', properties: { min: { type: 'number' }, max: { type: 'number' } } },
              failureLimit: { type: 'integer', format: 'int32' },
            },
            required: ['name', 'query'],
          },
        },
      },
      required: ['metrics'],
    },
    gitWriteBack: { type: 'object', properties: { enabled: { type: 'boolean' } }, required: ['enabled'] },
  },
  required: ['virtualService', 'stable', 'canary', 'steps'],
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
