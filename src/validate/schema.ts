// Layer 1: schema. Field names and types of every resource against Istio's
// CRD schemas (schema/istio.ts, generated from istio.io/api's CRDs) or
// meshcd's own (schema/meshcd.ts), plus Kubernetes' metadata rules. Pure.
// Codes MCD0100–MCD0109 (see SCHEMA_CODES). Imports api/, config/load (types),
// ./schema/*.

import type { AnyResource, Diagnostic, ResourceKey } from '../api/types.js';
import type { LoadResult } from '../config/load.js';
import { istioSpecSchema, type IstioKind } from './schema/istio.js';
import { MESHCONFIG_SPEC_SCHEMA, OBJECT_META_SCHEMA, ROLLOUT_SPEC_SCHEMA } from './schema/meshcd.js';
import { checkAgainstSchema, formatPath, suggest, type JsonSchema, type PathSegment, type SchemaFinding, type SchemaFindingKind } from './schema/jsonschema.js';
import { checkCelRules } from './schema/cel.js';
import { dns1123LabelError, dns1123SubdomainError, labelKeyError, labelValueError } from './schema/names.js';

export const SCHEMA_CODES = {
  unknownField: { code: 'MCD0100', name: 'SchemaUnknownField', meaning: 'A field that the kind does not have (often a typo; a suggestion is given when one is close).' },
  typeMismatch: { code: 'MCD0101', name: 'SchemaTypeMismatch', meaning: 'A field has the wrong type (e.g. a string where an integer is expected).' },
  required: { code: 'MCD0102', name: 'SchemaRequiredField', meaning: 'A field the schema requires is missing or empty.' },
  enumValue: { code: 'MCD0103', name: 'SchemaEnumValue', meaning: 'A value is not one of the values the field allows.' },
  exclusive: { code: 'MCD0104', name: 'SchemaExclusiveFields', meaning: 'Fields that exclude each other are set together (e.g. `exact` and `prefix`).' },
  range: { code: 'MCD0105', name: 'SchemaValueOutOfRange', meaning: 'A number is outside the range of its type (int32, uint32) or the field.' },
  metadataName: { code: 'MCD0106', name: 'InvalidResourceName', meaning: 'metadata.name or metadata.namespace is not a valid Kubernetes name.' },
  metadataLabel: { code: 'MCD0107', name: 'InvalidMetadataLabel', meaning: 'A metadata label key or value is not valid for Kubernetes.' },
  celRule: {
    code: 'MCD0108',
    name: 'CRDValidationRule',
    meaning:
      "A resource breaks one of its CRD's CEL validation rules (`x-kubernetes-validations`), which the API server evaluates on every create and update: the message is the API server's (`spec.hosts[0]: Invalid value: \"*\": hostname cannot be wildcard`). Checked only when the resource has no unknown field, wrong type, missing required field, bad enum value or over-long value, as the API server does.",
  },
  unavailable: { code: 'MCD0109', name: 'SchemaUnavailable', meaning: 'The schema for the kind and version is missing from the generated Istio CRD bundle (a build problem).' },
} as const;

const KIND_TO_CODE: Record<SchemaFindingKind, (typeof SCHEMA_CODES)[keyof typeof SCHEMA_CODES]> = {
  'unknown-field': SCHEMA_CODES.unknownField,
  type: SCHEMA_CODES.typeMismatch,
  required: SCHEMA_CODES.required,
  enum: SCHEMA_CODES.enumValue,
  exclusive: SCHEMA_CODES.exclusive,
  range: SCHEMA_CODES.range,
};

const TOP_LEVEL = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

function specSchema(r: AnyResource): JsonSchema {
  if (r.kind === 'Rollout') return ROLLOUT_SPEC_SCHEMA;
  if (r.kind === 'MeshConfig') return MESHCONFIG_SPEC_SCHEMA;
  const version = r.apiVersion.split('/')[1] ?? 'v1';
  return istioSpecSchema(r.kind as IstioKind, version);
}

export function checkSchema(load: LoadResult): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of load.config.resources) {
    const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
    const findings: { code: string; path: PathSegment[]; message: string }[] = [];
    let blocked = false;
    const add = (f: SchemaFinding) => {
      blocked ||= f.blocking === true;
      findings.push({ code: KIND_TO_CODE[f.kind].code, path: f.path, message: f.message });
    };
    try {
      for (const k of Object.keys(r.raw)) {
        if (!TOP_LEVEL.includes(k)) {
          const hint = suggest(k, TOP_LEVEL);
          add({ kind: 'unknown-field', path: [k], message: `unknown field \`${k}\`${hint ? `; did you mean \`${hint}\`?` : ''}` });
        }
      }
      checkAgainstSchema(OBJECT_META_SCHEMA, r.raw.metadata, ['metadata']).forEach(add);
      checkMetadata(r, findings);
      if (r.raw.spec === undefined || r.raw.spec === null) {
        if (r.kind === 'Rollout') add({ kind: 'required', path: ['spec'], message: '`spec` is required' });
      } else {
        const schema = specSchema(r);
        checkAgainstSchema(schema, r.raw.spec, ['spec']).forEach(add);
        // The API server runs the CRD's CEL rules only on an object without blocking errors.
        if (!blocked) for (const f of checkCelRules(schema, r.raw.spec, ['spec'])) findings.push({ code: SCHEMA_CODES.celRule.code, path: f.path, message: f.message });
      }
    } catch (err) {
      // The schema source itself is broken (e.g. an unexpected package layout): say so once per resource, never crash.
      findings.push({ code: SCHEMA_CODES.unavailable.code, path: [], message: `schema check could not run: ${(err as Error).message}` });
    }
    for (const f of findings) out.push(toDiagnostic(load, key, r, f));
  }
  return out;
}

function checkMetadata(r: AnyResource, findings: { code: string; path: PathSegment[]; message: string }[]): void {
  const meta = r.raw.metadata as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== 'object') return;
  const name = r.metadata.name;
  const nameErr = dns1123SubdomainError(name);
  if (nameErr) findings.push({ code: SCHEMA_CODES.metadataName.code, path: ['metadata', 'name'], message: `metadata.name ${JSON.stringify(name)} is invalid: ${nameErr}` });
  if (typeof meta.namespace === 'string' && meta.namespace !== '') {
    const nsErr = dns1123LabelError(meta.namespace);
    if (nsErr) findings.push({ code: SCHEMA_CODES.metadataName.code, path: ['metadata', 'namespace'], message: `metadata.namespace ${JSON.stringify(meta.namespace)} is invalid: ${nsErr}` });
  }
  const labels = meta.labels;
  if (labels && typeof labels === 'object' && !Array.isArray(labels)) {
    for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
      const ke = labelKeyError(k);
      if (ke) findings.push({ code: SCHEMA_CODES.metadataLabel.code, path: ['metadata', 'labels', k], message: `label key ${JSON.stringify(k)} is invalid: ${ke}` });
      if (typeof v === 'string') {
        const ve = labelValueError(v);
        if (ve) findings.push({ code: SCHEMA_CODES.metadataLabel.code, path: ['metadata', 'labels', k], message: `label value ${JSON.stringify(v)} for ${k} is invalid: ${ve}` });
      }
    }
  }
}

/** The path load.locate understands: stop before a segment it cannot express (a key with `.` or `[`). */
export function locatablePath(path: readonly PathSegment[]): string {
  const segs: PathSegment[] = [];
  for (const s of path) {
    if (typeof s === 'string' && /[.[\]]/.test(s)) break;
    segs.push(s);
  }
  return segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function toDiagnostic(load: LoadResult, key: ResourceKey, r: AnyResource, f: { code: string; path: PathSegment[]; message: string }): Diagnostic {
  const origin = load.locate(key, locatablePath(f.path)) ?? r.origin;
  return { code: f.code, severity: 'error', message: f.message, resource: key, origin, path: formatPath(f.path) };
}
