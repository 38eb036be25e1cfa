// Checks a plain JSON value against the structural-schema subset used by
// Kubernetes CRDs (type, nullable, properties, required, items,
// additionalProperties, enum, format, oneOf/anyOf/allOf/not). Written here
// rather than with ajv because users need one precise finding per mistake
// (unknown field with a suggestion, the expected type, which fields exclude
// each other), not ajv's cascade of branch failures. Pure; imports nothing.

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  nullable?: boolean;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  enum?: unknown[];
  format?: string;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  /** Kubernetes: a free-form value (google.protobuf.Struct); nothing below is checked. */
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  /** meshcd: fields Istio removed from this object, with what replaced them (schema/istio.ts). */
  'x-meshcd-removed'?: Record<string, string>;
  /** Kubernetes CEL rules (evaluated by ./cel.ts, not by this checker). */
  'x-kubernetes-validations'?: { rule: string; message?: string; messageExpression?: string; reason?: string; fieldPath?: string; optionalOldSelf?: boolean }[];
}

export type PathSegment = string | number;

export type SchemaFindingKind = 'unknown-field' | 'type' | 'required' | 'enum' | 'exclusive' | 'range';

export interface SchemaFinding {
  kind: SchemaFindingKind;
  path: PathSegment[];
  message: string;
  /**
   * The API server stops before the CRD's CEL rules on this finding (an
   * unknown field, a wrong type, a missing required field, a value not in the
   * enum, a string or list over its maximum: apiextensions' hasBlockingErr).
   */
  blocking?: boolean;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const UINT32_MAX = 4294967295;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isObject(v)) return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<NonNullable<JsonSchema['type']>, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
};

function typeMatches(t: NonNullable<JsonSchema['type']>, v: unknown): boolean {
  switch (t) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
  }
}

/** Optimal-string-alignment distance (a swap of two neighbours counts 1, so `wieght` is 1 from `weight`). */
export function editDistance(a: string, b: string): number {
  const m = a.length, n = b.length;
  if (Math.abs(m - n) > 3) return Math.abs(m - n);
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/** The closest candidate to a misspelt word, when it is close enough to be a likely typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const w = norm(word);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    if (norm(c) === w) return c; // case or snake_case/camelCase slip
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  return bestDist <= limit ? best : undefined;
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Names that the branches of an "at most one of" oneOf/anyOf require. */
function exclusiveNames(branches: readonly JsonSchema[]): string[] {
  const names: string[] = [];
  for (const b of branches) {
    if (b.required && b.required.length === 1 && !names.includes(b.required[0]!)) names.push(b.required[0]!);
    if (b.not?.anyOf) for (const n of exclusiveNames(b.not.anyOf)) if (!names.includes(n)) names.push(n);
  }
  return names;
}

/** Does `value` satisfy `schema`? Unknown fields are not considered (branches list only some fields). */
export function matches(schema: JsonSchema, value: unknown): boolean {
  if (value === null && (schema.nullable || !schema.type)) return schema.required === undefined || !schema.type;
  if (schema.type && !typeMatches(schema.type, value)) return false;
  if (schema.enum && !schema.enum.includes(value)) return false;
  if (isObject(value)) {
    if (schema.required) for (const r of schema.required) if (!(r in value)) return false;
    if (schema.properties) {
      for (const [k, sub] of Object.entries(schema.properties)) if (k in value && !matches(sub, value[k])) return false;
    }
  }
  if (Array.isArray(value) && schema.items) for (const item of value) if (!matches(schema.items, item)) return false;
  if (schema.allOf && !schema.allOf.every((s) => matches(s, value))) return false;
  if (schema.anyOf && !schema.anyOf.some((s) => matches(s, value))) return false;
  if (schema.oneOf && schema.oneOf.filter((s) => matches(s, value)).length !== 1) return false;
  if (schema.not && matches(schema.not, value)) return false;
  return true;
}

/** All findings for `value` against `schema`; `path` is where `value` sits. */
export function checkAgainstSchema(schema: JsonSchema, value: unknown, path: PathSegment[] = [], out: SchemaFinding[] = []): SchemaFinding[] {
  // Formatted only for a finding: most nodes have none.
  const where = () => formatPath(path) || 'document';
  if (value === null || value === undefined) {
    if (schema.type && !schema.nullable) out.push({ kind: 'type', path, message: `\`${where()}\` must be ${TYPE_WORDS[schema.type]}, found null` });
    return out;
  }
  if (schema.type && !typeMatches(schema.type, value)) {
    const quote = schema.type === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? ` (quote it in YAML: "${String(value)}")` : '';
    out.push({ kind: 'type', path, message: `\`${where()}\` must be ${TYPE_WORDS[schema.type]}, found ${describeValue(value)}${quote}`, blocking: true });
    return out;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    const allowed = schema.enum.filter((e) => e !== null).map((e) => String(e));
    const hint = typeof value === 'string' ? suggest(value, allowed) : undefined;
    out.push({
      kind: 'enum',
      path,
      message: `\`${where()}\` is ${describeValue(value)}; it must be one of ${allowed.join(', ')}${hint ? ` (did you mean \`${hint}\`?)` : ''}`,
      blocking: true,
    });
    return out;
  }
  if (typeof value === 'number' && schema.type === 'integer') {
    const [lo, hi] = schema.format === 'int32' ? [INT32_MIN, INT32_MAX] : schema.format === 'uint32' ? [0, UINT32_MAX] : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    if (value < lo || value > hi) out.push({ kind: 'range', path, message: `\`${where()}\` is ${value}, outside the ${schema.format ?? 'integer'} range ${lo}..${hi}` });
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push({ kind: 'range', path, message: `\`${where()}\` is ${value}; it must be at least ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) out.push({ kind: 'range', path, message: `\`${where()}\` is ${value}; it must be at most ${schema.maximum}` });
  }
  if (typeof value === 'string') {
    // Kubernetes counts characters (runes), not UTF-16 units.
    const len = schema.minLength !== undefined || schema.maxLength !== undefined ? [...value].length : 0;
    if (schema.minLength !== undefined && len < schema.minLength) {
      out.push({ kind: 'required', path, message: schema.minLength === 1 ? `\`${where()}\` must not be empty` : `\`${where()}\` must be at least ${schema.minLength} characters long` });
    }
    if (schema.maxLength !== undefined && len > schema.maxLength) out.push({ kind: 'range', path, message: `\`${where()}\` is ${len} characters long; it may be at most ${schema.maxLength}`, blocking: true });
    if (schema.pattern !== undefined && !patternOf(schema.pattern).test(value)) out.push({ kind: 'enum', path, message: `\`${where()}\` is ${describeValue(value)}; it must match ${schema.pattern}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push({ kind: 'required', path, message: `\`${where()}\` must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push({ kind: 'range', path, message: `\`${where()}\` has ${value.length} items; it may have at most ${schema.maxItems}`, blocking: true });
    if (schema.items) value.forEach((item, i) => checkAgainstSchema(schema.items!, item, [...path, i], out));
  }
  if (isObject(value)) {
    const n = Object.keys(value).length;
    if (schema.minProperties !== undefined && n < schema.minProperties) out.push({ kind: 'required', path, message: `\`${where()}\` must have at least ${schema.minProperties} entr${schema.minProperties === 1 ? 'y' : 'ies'}` });
    if (schema.maxProperties !== undefined && n > schema.maxProperties) out.push({ kind: 'range', path, message: `\`${where()}\` has ${n} entries; it may have at most ${schema.maxProperties}`, blocking: true });
    checkObject(schema, value, path, out);
  }
  checkCombinators(schema, value, path, out);
  return out;
}

const patterns = new Map<string, RegExp>();
/** The CRDs' patterns are plain (no lookaround or backreferences): JavaScript reads them as Go's RE2 does. */
function patternOf(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) patterns.set(source, (re = new RegExp(source, 'u')));
  return re;
}

function checkObject(schema: JsonSchema, value: Record<string, unknown>, path: PathSegment[], out: SchemaFinding[]): void {
  const props = schema.properties;
  const extra = schema.additionalProperties;
  for (const [k, v] of Object.entries(value)) {
    const sub = props?.[k];
    if (sub) {
      checkAgainstSchema(sub, v, [...path, k], out);
    } else if (typeof extra === 'object') {
      checkAgainstSchema(extra, v, [...path, k], out);
    } else if (schema['x-meshcd-removed']?.[k]) {
      out.push({ kind: 'unknown-field', path: [...path, k], message: `\`${formatPath([...path, k])}\` ${schema['x-meshcd-removed'][k]}`, blocking: true });
    } else if (schema.type === 'object' && props && extra !== true && !schema['x-kubernetes-preserve-unknown-fields']) {
      // Only a full object schema (with a type) closes the field set; combinator branches list a few fields.
      const hint = suggest(k, Object.keys(props));
      const known = Object.keys(props);
      out.push({
        kind: 'unknown-field',
        path: [...path, k],
        message: `unknown field \`${formatPath([...path, k])}\`${hint ? `; did you mean \`${hint}\`?` : known.length > 0 && known.length <= 8 ? `; known fields here: ${known.join(', ')}` : ''}`,
        blocking: true,
      });
    }
  }
  if (schema.required) {
    for (const r of schema.required) {
      if (!(r in value)) out.push({ kind: 'required', path: [...path, r], message: `\`${formatPath([...path, r])}\` is required`, blocking: true });
    }
  }
}

function checkCombinators(schema: JsonSchema, value: unknown, path: PathSegment[], out: SchemaFinding[]): void {
  // Formatted only for a finding: most nodes have none.
  const where = () => formatPath(path) || 'document';
  if (schema.allOf) for (const s of schema.allOf) checkCombinators(s, value, path, out);
  if (schema.oneOf || schema.anyOf) {
    const branches = (schema.oneOf ?? schema.anyOf)!;
    const ok = branches.filter((s) => matches(s, value)).length;
    const good = schema.oneOf ? ok === 1 : ok >= 1;
    const names = exclusiveNames(branches);
    const present = isObject(value) ? names.filter((n) => n in value) : [];
    if (present.length > 1 && (!good || schema.oneOf)) {
      out.push({
        kind: 'exclusive',
        path: [...path, present[1]!],
        message: `only one of ${names.map((n) => `\`${n}\``).join(', ')} may be set in \`${where()}\`; found ${present.map((n) => `\`${n}\``).join(' and ')}`,
      });
    } else {
      // Descend into the branch the value chose: generated CRD schemas nest
      // constraints there (e.g. consistentHash's own oneOf) that the outer
      // `not anyOf` branch would otherwise let through.
      const chosen = branches.find((b) => b.required?.length === 1 && present.includes(b.required[0]!));
      const before = out.length;
      if (chosen) {
        checkCombinators(chosen, value, path, out);
        if (chosen.properties && isObject(value)) {
          for (const [k, sub] of Object.entries(chosen.properties)) if (k in value) checkCombinators(sub, value[k], [...path, k], out);
        }
      }
      if (!good && out.length === before) out.push({ kind: 'exclusive', path, message: `\`${where()}\` does not match any allowed form` });
    }
  }
  if (schema.not && !schema.oneOf && !schema.anyOf && matches(schema.not, value)) {
    out.push({ kind: 'exclusive', path, message: `\`${where()}\` uses a combination of fields that is not allowed` });
  }
}
