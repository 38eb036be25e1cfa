// The CRDs' CEL validation rules (`x-kubernetes-validations`), evaluated as
// the API server evaluates them (k8s.io/apiextensions-apiserver
// pkg/apiserver/schema/cel/validation.go), so a resource `kubectl apply` or
// istiod's webhook path would refuse is refused here too, with the API
// server's own words: `spec.hosts[0]: Invalid value: "*": hostname cannot be
// wildcard`.
// - The engine (cel-js, Kubernetes' functions, Go semantics, the cost meter)
//   is ./cel-engine.ts.
// - `self` is the value at the rule's node, typed by its schema (integers are
//   CEL ints); null values are not validated. `oldSelf`: meshcd validates what
//   would be created, so transition rules (those naming oldSelf) are skipped,
//   unless `optionalOldSelf` is set, when oldSelf is `optional.none()`.
// - Cost: one rule may spend PerCallLimit (1,000,000) and one resource
//   RuntimeCELCostBudget (10,000,000), with the API server's messages when
//   they run out.
// - A rule that fails to evaluate (e.g. `int("x")`) is reported as the API
//   server reports it: `Invalid value: "string": <error> evaluating rule: <message>`.
//
// Pure. Imports the CEL engine, ./cel-engine, ./cel-k8s and ./jsonschema (types).

import { Optional } from '@marcbachmann/cel-js';
import { compile, CostLimitExceeded, PER_CALL_LIMIT, RUNTIME_COST_BUDGET, summary } from './cel-engine.js';
import { goQuote } from './cel-k8s.js';
import type { JsonSchema, PathSegment } from './jsonschema.js';

export { compileErrors, PER_CALL_LIMIT, RUNTIME_COST_BUDGET } from './cel-engine.js';

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

export interface CelFinding {
  /** Where the finding is (the rule's node, or its fieldPath). */
  path: PathSegment[];
  /** The API server's field error: `spec.hosts[0]: Invalid value: "*": hostname cannot be wildcard`. */
  message: string;
  /** The rule's message (or the rule when it has none): which rule this is. */
  rule: string;
}

export interface CelOptions {
  perCallLimit?: number;
  costBudget?: number;
}

// ---------------------------------------------------------------------------
// Values: the JSON value as the API server hands it to CEL (UnstructuredToVal).

function toCel(v: unknown, s: JsonSchema | undefined): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (s?.type === 'number') return v;
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  if (typeof v === 'string') {
    if (s?.type === 'string' && s.format === 'byte') {
      const bytes = Buffer.from(v, 'base64');
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    return v;
  }
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x) => toCel(x, s?.items));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    const props = s?.properties;
    const extra = typeof s?.additionalProperties === 'object' ? s.additionalProperties : undefined;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const sub = props?.[k] ?? extra;
      // The API server prunes nulls of non-nullable fields before validating.
      if (x === null && !sub?.nullable) continue;
      out[k] = toCel(x, sub);
    }
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------
// The walk (validation.go: validate, validateExpressions, validateMap, validateArray).

const hasRulesCache = new WeakMap<JsonSchema, boolean>();
function hasRules(s: JsonSchema | undefined): boolean {
  if (!s) return false;
  let r = hasRulesCache.get(s);
  if (r === undefined) {
    hasRulesCache.set(s, false); // cycles
    r =
      (s['x-kubernetes-validations']?.length ?? 0) > 0 ||
      hasRules(s.items) ||
      (typeof s.additionalProperties === 'object' && hasRules(s.additionalProperties)) ||
      Object.values(s.properties ?? {}).some(hasRules) ||
      (s.allOf ?? []).some(hasRules);
    hasRulesCache.set(s, r);
  }
  return r;
}

interface Walk {
  out: CelFinding[];
  remaining: number;
  perCall: number;
}

/** Kubernetes' field path text (field.Path.String): `a.b[0][key]`. */
type K8sPath = string;
const child = (p: K8sPath, name: string) => (p === '' ? name : `${p}.${name}`);
const index = (p: K8sPath, i: number | string) => `${p}[${i}]`;

/** field.Error's body for a value: Go's %v for numbers and booleans, %q for strings. */
function invalid(path: K8sPath, value: unknown, detail: string, omit: boolean): string {
  if (omit) return `${path}: Invalid value: ${detail}`;
  const shown = typeof value === 'string' ? goQuote(value) : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return `${path}: Invalid value: ${shown}: ${detail}`;
}

/** Outcomes of rules on scalar values (rule, type, value → result or error, and its cost), bounded. */
const scalarOutcomes = new Map<string, { result: unknown; error: unknown; cost: number }>();

const ruleName = (r: CelRule) => (r.message?.trim() ? r.message.trim() : r.rule.trim());

function validateNode(schema: JsonSchema, value: unknown, path: PathSegment[], kpath: K8sPath, w: Walk): void {
  if (value === null || value === undefined || w.remaining < 0 || !hasRules(schema)) return;
  validateExpressions(schema, value, path, kpath, w);
  if (w.remaining < 0) return;
  for (const sub of schema.allOf ?? []) {
    if (hasRules(sub)) validateNode({ ...schema, ...sub, allOf: undefined }, value, path, kpath, w);
    if (w.remaining < 0) return;
  }
  // Children are visited only where rules are (paths are built only for them).
  if (Array.isArray(value)) {
    if (!schema.items || !hasRules(schema.items)) return;
    for (let i = 0; i < value.length && w.remaining >= 0; i++) validateNode(schema.items, value[i], [...path, i], index(kpath, i), w);
  } else if (typeof value === 'object') {
    const extra = typeof schema.additionalProperties === 'object' && hasRules(schema.additionalProperties) ? schema.additionalProperties : undefined;
    const props = schema.properties;
    for (const k in value as Record<string, unknown>) {
      if (w.remaining < 0) return;
      const v = (value as Record<string, unknown>)[k];
      if (v === null || v === undefined) continue;
      if (extra) validateNode(extra, v, [...path, k], index(kpath, k), w);
      const sub = props?.[k];
      if (sub && hasRules(sub)) validateNode(sub, v, [...path, k], child(kpath, k), w);
    }
  }
}

function validateExpressions(schema: JsonSchema, value: unknown, path: PathSegment[], kpath: K8sPath, w: Walk): void {
  const rules = schema['x-kubernetes-validations'] as CelRule[] | undefined;
  if (!rules || rules.length === 0) return;
  const type = schema.type ?? 'object';
  const omit = type === 'object' || type === 'array';
  if (w.remaining <= 0) {
    w.out.push({ path, message: invalid(kpath, type, 'validation failed due to running out of cost budget, no further validation rules will be run', false), rule: '' });
    w.remaining = -1;
    return;
  }
  let self: unknown;
  for (const rule of rules) {
    const c = compile(rule.rule);
    const name = ruleName(rule);
    if (c.error || !c.program) {
      w.out.push({ path, message: invalid(kpath, type, `rule compile error: ${c.error}`, false), rule: name });
      continue;
    }
    if (c.usesOldSelf && !rule.optionalOldSelf) continue; // a transition rule: nothing to compare with on create
    self ??= toCel(value, schema);
    const limit = Math.min(w.perCall, w.remaining);
    // A rule on a scalar gives the same outcome for the same value: configs repeat values (ports, timeouts) a lot.
    const memoKey = typeof self === 'object' || c.usesOldSelf ? undefined : `${rule.rule}\0${typeof self}\0${String(self)}`;
    let outcome = memoKey === undefined ? undefined : scalarOutcomes.get(memoKey);
    if (!outcome || outcome.cost > limit) {
      c.meter.cost = 0;
      c.meter.limit = limit;
      outcome = { result: undefined, error: undefined, cost: 0 };
      try {
        outcome.result = c.program({ self, ...(c.usesOldSelf ? { oldSelf: Optional.none() } : {}) });
      } catch (err) {
        outcome.error = err;
      }
      outcome.cost = c.meter.cost;
      if (memoKey !== undefined && !(outcome.error instanceof CostLimitExceeded)) {
        if (scalarOutcomes.size >= 65_536) scalarOutcomes.clear();
        scalarOutcomes.set(memoKey, outcome);
      }
    }
    const { result, error, cost } = outcome;
    c.meter.limit = limit;
    if (error instanceof CostLimitExceeded || cost > c.meter.limit) {
      if (cost > w.remaining && w.remaining < w.perCall) {
        w.out.push({ path, message: invalid(kpath, type, 'validation failed due to running out of cost budget, no further validation rules will be run', false), rule: name });
      } else {
        w.out.push({ path, message: invalid(kpath, type, `'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: ${name}`, false), rule: name });
      }
      w.remaining = -1;
      return;
    }
    w.remaining -= cost;
    if (error !== undefined) {
      const text = summary(error);
      const detail = text.startsWith('no such overload')
        ? `'${text}': call arguments did not match a supported operator, function or macro signature for rule: ${name}`
        : `${text} evaluating rule: ${name}`;
      w.out.push({ path, message: invalid(kpath, type, detail, false), rule: name });
      continue;
    }
    if (result === true) continue;
    let where = path;
    let wherek = kpath;
    if (rule.fieldPath) {
      const rel = fieldPathSegments(rule.fieldPath);
      where = [...path, ...rel];
      wherek = rel.reduce<string>((p, s) => (typeof s === 'number' ? index(p, s) : child(p, s)), kpath);
    }
    const detail = messageOf(rule, self, w) ?? (rule.message?.trim() || `failed rule: ${rule.rule.trim()}`);
    const body =
      rule.reason === 'FieldValueForbidden'
        ? `${wherek}: Forbidden: ${detail}`
        : rule.reason === 'FieldValueRequired'
          ? `${wherek}: Required value: ${detail}`
          : rule.reason === 'FieldValueDuplicate'
            ? `${wherek}: Duplicate value: ${omit ? '' : typeof value === 'string' ? goQuote(value) : String(value)}`.replace(/: $/, '')
            : invalid(wherek, value, detail, omit);
    w.out.push({ path: where, message: body, rule: name });
  }
}

/** A rule's messageExpression, as the API server uses it: a non-empty one-line string of at most 5 KiB, else the message. */
function messageOf(rule: CelRule, self: unknown, w: Walk): string | undefined {
  if (!rule.messageExpression) return undefined;
  const c = compile(rule.messageExpression);
  if (!c.program) return undefined;
  c.meter.cost = 0;
  c.meter.limit = Math.min(w.perCall, w.remaining);
  let v: unknown;
  try {
    v = c.program({ self });
  } catch {
    v = undefined;
  }
  w.remaining -= c.meter.cost;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' || t.length > 5 * 1024 || /\n/.test(t) ? undefined : t;
}

/** `.a.b['c']` → ['a', 'b', 'c'] (a rule's fieldPath, already checked by the API server when the CRD was made). */
function fieldPathSegments(fp: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /\.([^.[\]]+)|\['((?:[^'\\]|\\.)*)'\]/gy;
  for (let m = re.exec(fp); m; m = re.exec(fp)) out.push(m[1] ?? m[2]!.replace(/\\(.)/g, '$1'));
  return out;
}

/**
 * Every CEL rule of `schema` (and below) against `value`, which sits at `path`
 * (the API server's path text is the same, e.g. `spec`).
 */
export function checkCelRules(schema: JsonSchema, value: unknown, path: PathSegment[], opts: CelOptions = {}): CelFinding[] {
  const w: Walk = { out: [], remaining: opts.costBudget ?? RUNTIME_COST_BUDGET, perCall: opts.perCallLimit ?? PER_CALL_LIMIT };
  const kpath = path.reduce<string>((p, s) => (typeof s === 'number' ? index(p, s) : child(p, s)), '');
  validateNode(schema, value, path, kpath, w);
  return w.out;
}

/** Does this schema (or anything below it) carry CEL rules? */
export function schemaHasCelRules(schema: JsonSchema): boolean {
  return hasRules(schema);
}
