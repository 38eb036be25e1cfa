// Layer 4: the organisation's policies, written in CEL, in the spirit of
// Kubernetes ValidatingAdmissionPolicy. A policy file (YAML, multi-document)
// holds `meshcd.io/v1alpha1 Policy` documents:
//
//   spec:
//     code: POL-TIMEOUT            # optional; default `POL-<metadata.name>`
//     severity: warning            # error (default) | warning | info
//     description: …               # optional, shown in SARIF rule help
//     match:
//       kinds: [VirtualService]    # mesh kinds, `Namespace`, or `*` (default: all)
//       namespaces: [a, b]         # optional allow-list
//       excludeNamespaces: [c]
//       namespaceSelector: {matchLabels: {…}, matchExpressions: [{key, operator, values}]}
//     validations:
//     - expression: "object.spec.http.all(r, has(r.timeout))"
//       message: "every HTTP route needs a timeout"
//       messageExpression: "'…' + object.metadata.name"   # optional
//       fieldPath: spec.http       # optional: where to point the diagnostic
//
// Expressions see `object` (the resource as written; whole numbers are CEL
// ints), `namespaceObject` ({metadata: {name, labels}} from
// MeshConfig.spec.namespaces), `resources` (every resource of the same
// namespace), `rootResources` (resources of the mesh root namespace) and
// `mesh` (trustDomain, rootNamespace, defaultNamespace, clusterDomain,
// outboundTrafficPolicy). The `Namespace` kind matches one synthetic object
// per namespace, for policies about what a namespace must contain.
//
// evaluatePolicies is pure; loadPolicies reads policy folders (the caller's
// I/O, done once before validation).

import { Environment } from '@marcbachmann/cel-js';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyResource, Diagnostic, Origin, ResourceKey, Severity } from '../api/types.js';
import { resourceKey } from '../api/types.js';
import { MESH_KINDS } from '../api/istio.js';
import type { LoadResult } from '../config/load.js';
import { decodeText, isRecord, lineOfPath, parseConfigText } from '../config/parse.js';

export const POLICY_API_VERSION = 'meshcd.io/v1alpha1';

/** The shipped baseline (`policies/` at the package root). */
export const DEFAULT_POLICY_DIR = fileURLToPath(new URL('../../../policies', import.meta.url));

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

type Program = ((ctx: Record<string, unknown>) => unknown) & { check(): { valid: boolean; type?: string; error?: Error } };

export interface CompiledValidation {
  expression: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  program: Program;
  messageProgram?: Program;
}

export interface CompiledPolicy {
  name: string;
  code: string;
  severity: Severity;
  description?: string;
  /** Kinds matched; undefined matches every mesh kind (not `Namespace`). */
  kinds?: ReadonlySet<string>;
  namespaces?: ReadonlySet<string>;
  excludeNamespaces?: ReadonlySet<string>;
  namespaceSelector?: LabelSelector;
  validations: CompiledValidation[];
  /** Where the policy is written. */
  origin: Origin;
}

const SEVERITIES: readonly Severity[] = ['error', 'warning', 'info'];
const KNOWN_KINDS = new Set<string>([...MESH_KINDS, 'Namespace', '*']);
const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

let sharedEnv: Environment | undefined;
function celEnv(): Environment {
  if (!sharedEnv) {
    sharedEnv = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false })
      .registerVariable('object', 'map')
      .registerVariable('namespaceObject', 'map')
      .registerVariable('resources', 'list')
      .registerVariable('rootResources', 'list')
      .registerVariable('mesh', 'map');
  }
  return sharedEnv;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function celErrorText(err: unknown): string {
  const e = err as { summary?: string; message?: string; range?: { start: number } };
  const text = e.summary ?? firstLine(e.message ?? String(err));
  return e.range ? `${text} (at column ${e.range.start + 1})` : text;
}

// ---------------------------------------------------------------------------
// Parsing and compiling policy files

export interface PolicyLoadResult {
  policies: CompiledPolicy[];
  diagnostics: Diagnostic[];
}

/** Parse and compile the policies in one file's text. `file` names it in diagnostics. */
export function compilePolicyText(file: string, text: string): PolicyLoadResult {
  const policies: CompiledPolicy[] = [];
  const diagnostics: Diagnostic[] = [];
  const parsed = parseConfigText(file, text);
  diagnostics.push(...parsed.diagnostics);
  for (const doc of parsed.documents) {
    const at = (path: (string | number)[]): Origin => ({ file, line: path.length ? lineOfPath(text, doc.line, path, doc.listIndex) : doc.line });
    const bad = (path: (string | number)[], message: string) => diagnostics.push({ code: 'MCD0400', severity: 'error', message, origin: at(path) });
    const v = doc.value;
    if (!isRecord(v) || v.kind !== 'Policy' || v.apiVersion !== POLICY_API_VERSION) {
      bad([], `not a policy: expected apiVersion ${POLICY_API_VERSION}, kind Policy`);
      continue;
    }
    const name = isRecord(v.metadata) ? v.metadata.name : undefined;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      bad(['metadata', 'name'], 'policy needs metadata.name (lower-case letters, digits, - and .)');
      continue;
    }
    const spec = isRecord(v.spec) ? v.spec : {};
    const errorsBefore = diagnostics.length;
    const severity = spec.severity ?? 'error';
    if (!SEVERITIES.includes(severity as Severity)) bad(['spec', 'severity'], `policy ${name}: severity must be one of ${SEVERITIES.join(', ')}`);
    if (spec.code !== undefined && (typeof spec.code !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(spec.code))) bad(['spec', 'code'], `policy ${name}: code must be a word like POL-TIMEOUT`);
    const match = spec.match === undefined ? {} : spec.match;
    let kinds: Set<string> | undefined;
    let namespaces: Set<string> | undefined;
    let excludeNamespaces: Set<string> | undefined;
    let namespaceSelector: LabelSelector | undefined;
    if (!isRecord(match)) {
      bad(['spec', 'match'], `policy ${name}: match must be a mapping`);
    } else {
      const stringList = (field: string): Set<string> | undefined => {
        const x = match[field];
        if (x === undefined) return undefined;
        if (!Array.isArray(x) || !x.every((k) => typeof k === 'string')) {
          bad(['spec', 'match', field], `policy ${name}: match.${field} must be a list of strings`);
          return undefined;
        }
        return new Set(x as string[]);
      };
      kinds = stringList('kinds');
      for (const k of kinds ?? []) if (!KNOWN_KINDS.has(k)) bad(['spec', 'match', 'kinds'], `policy ${name}: unknown kind "${k}"; use one of ${[...KNOWN_KINDS].join(', ')}`);
      if (kinds?.has('*')) kinds = undefined;
      namespaces = stringList('namespaces');
      excludeNamespaces = stringList('excludeNamespaces');
      if (match.namespaceSelector !== undefined) namespaceSelector = checkSelector(match.namespaceSelector, (m) => bad(['spec', 'match', 'namespaceSelector'], `policy ${name}: ${m}`));
    }
    const validations: CompiledValidation[] = [];
    const list = spec.validations;
    if (!Array.isArray(list) || list.length === 0) {
      bad(['spec', 'validations'], `policy ${name}: needs at least one entry in spec.validations`);
    } else {
      list.forEach((item: unknown, i: number) => {
        const base = ['spec', 'validations', i];
        if (!isRecord(item) || typeof item.expression !== 'string' || item.expression.trim() === '') {
          bad(base, `policy ${name}: validations[${i}] needs an expression`);
          return;
        }
        const c = compileExpression(item.expression, 'bool');
        if ('error' in c) {
          diagnostics.push({ code: 'MCD0401', severity: 'error', message: `policy ${name}: validations[${i}].expression does not compile: ${c.error}`, origin: at([...base, 'expression']) });
          return;
        }
        let messageProgram: Program | undefined;
        if (item.messageExpression !== undefined) {
          const m = typeof item.messageExpression === 'string' ? compileExpression(item.messageExpression, 'string') : { error: 'must be a string' };
          if ('error' in m) {
            diagnostics.push({ code: 'MCD0401', severity: 'error', message: `policy ${name}: validations[${i}].messageExpression does not compile: ${m.error}`, origin: at([...base, 'messageExpression']) });
            return;
          }
          messageProgram = m.program;
        }
        if (item.message !== undefined && typeof item.message !== 'string') bad([...base, 'message'], `policy ${name}: validations[${i}].message must be a string`);
        if (item.fieldPath !== undefined && typeof item.fieldPath !== 'string') bad([...base, 'fieldPath'], `policy ${name}: validations[${i}].fieldPath must be a string`);
        validations.push({
          expression: item.expression,
          program: c.program,
          ...(typeof item.message === 'string' ? { message: item.message } : {}),
          ...(typeof item.messageExpression === 'string' ? { messageExpression: item.messageExpression } : {}),
          ...(messageProgram ? { messageProgram } : {}),
          ...(typeof item.fieldPath === 'string' ? { fieldPath: item.fieldPath } : {}),
        });
      });
    }
    if (diagnostics.length > errorsBefore) continue; // a half-understood policy is not applied
    policies.push({
      name,
      code: typeof spec.code === 'string' ? spec.code : `POL-${name}`,
      severity: severity as Severity,
      ...(typeof spec.description === 'string' ? { description: spec.description } : {}),
      ...(kinds ? { kinds } : {}),
      ...(namespaces ? { namespaces } : {}),
      ...(excludeNamespaces ? { excludeNamespaces } : {}),
      ...(namespaceSelector ? { namespaceSelector } : {}),
      validations,
      origin: { file, line: doc.line },
    });
  }
  return { policies, diagnostics };
}

function compileExpression(expr: string, want: 'bool' | 'string'): { program: Program } | { error: string } {
  let program: Program;
  try {
    program = celEnv().parse(expr) as unknown as Program;
  } catch (err) {
    return { error: celErrorText(err) };
  }
  const checked = program.check();
  if (!checked.valid) return { error: celErrorText(checked.error) };
  if (checked.type !== want && checked.type !== 'dyn') return { error: `must return ${want}, but returns ${checked.type}` };
  return { program };
}

function checkSelector(sel: unknown, bad: (m: string) => void): LabelSelector | undefined {
  if (!isRecord(sel)) {
    bad('namespaceSelector must be a mapping with matchLabels and/or matchExpressions');
    return undefined;
  }
  const out: LabelSelector = {};
  if (sel.matchLabels !== undefined) {
    if (!isRecord(sel.matchLabels) || !Object.values(sel.matchLabels).every((x) => typeof x === 'string')) bad('namespaceSelector.matchLabels must map strings to strings');
    else out.matchLabels = sel.matchLabels as Record<string, string>;
  }
  if (sel.matchExpressions !== undefined) {
    if (!Array.isArray(sel.matchExpressions)) bad('namespaceSelector.matchExpressions must be a list');
    else {
      out.matchExpressions = [];
      for (const e of sel.matchExpressions) {
        if (!isRecord(e) || typeof e.key !== 'string' || typeof e.operator !== 'string' || !OPERATORS.has(e.operator)) {
          bad('each matchExpression needs key and operator (In, NotIn, Exists, DoesNotExist)');
          continue;
        }
        const values = Array.isArray(e.values) ? e.values.filter((x): x is string => typeof x === 'string') : undefined;
        if ((e.operator === 'In' || e.operator === 'NotIn') && (!values || values.length === 0)) bad(`matchExpression ${e.key} ${e.operator} needs values`);
        out.matchExpressions.push({ key: e.key, operator: e.operator as 'In', ...(values ? { values } : {}) });
      }
    }
  }
  return out;
}

export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case 'In': if (!has || !e.values!.includes(val!)) return false; break;
      case 'NotIn': if (has && e.values!.includes(val!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
    }
  }
  return true;
}

function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split('\\').join('/') : abs;
}

async function policyFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && /\.(ya?ml|json)$/i.test(e.name)) out.push(full);
    }
  };
  await walk(dir);
  return out;
}

export class PolicyDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyDirError';
  }
}

/**
 * Load every policy file under the given folders, in order. A policy with
 * the same name as an earlier one replaces it (so a team folder can override
 * a baseline policy). A folder that cannot be read throws PolicyDirError;
 * problems inside files are diagnostics.
 */
export async function loadPolicies(dirs: readonly string[]): Promise<PolicyLoadResult> {
  const byName = new Map<string, CompiledPolicy>();
  const diagnostics: Diagnostic[] = [];
  for (const dir of dirs) {
    const abs = resolve(dir);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new PolicyDirError(`${dir}: no such policy folder`);
    }
    const files = st.isDirectory() ? await policyFiles(abs) : [abs];
    for (const f of files) {
      const name = displayPath(f);
      const bytes = await readFile(f);
      const decoded = decodeText(name, bytes);
      if (decoded.text === undefined) {
        diagnostics.push(decoded.diagnostic!);
        continue;
      }
      const r = compilePolicyText(name, decoded.text);
      diagnostics.push(...r.diagnostics);
      for (const p of r.policies) {
        byName.delete(p.name);
        byName.set(p.name, p);
      }
    }
  }
  return { policies: [...byName.values()], diagnostics };
}

// ---------------------------------------------------------------------------
// Evaluation

/** JSON → CEL values: whole numbers become ints (as Kubernetes does), the rest is shared. */
function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCel(x);
    return out;
  }
  return v;
}

interface Subject {
  kind: string;
  namespace: string;
  key: ResourceKey;
  object: unknown;
  origin: Origin;
  /** Resource to locate fieldPath in, when there is one. */
  resource?: AnyResource;
}

export function evaluatePolicies(load: LoadResult, policies: readonly CompiledPolicy[]): Diagnostic[] {
  if (policies.length === 0) return [];
  const out: Diagnostic[] = [];
  const config = load.config;
  const mesh = config.mesh;
  const celOf = new Map<AnyResource, unknown>();
  const cel = (r: AnyResource) => {
    let c = celOf.get(r);
    if (c === undefined) celOf.set(r, (c = toCel(r.raw)));
    return c;
  };
  // Namespace labels and contents.
  const meshConfig = config.ofKind('MeshConfig')[0];
  const declared = meshConfig && isRecord(meshConfig.spec.namespaces) ? (meshConfig.spec.namespaces as Record<string, unknown>) : {};
  const labelsOf = (ns: string): Record<string, string> => {
    const d = declared[ns];
    return isRecord(d) && isRecord(d.labels) ? (d.labels as Record<string, string>) : {};
  };
  const byNamespace = new Map<string, AnyResource[]>();
  for (const r of config.resources) {
    let l = byNamespace.get(r.metadata.namespace);
    if (!l) byNamespace.set(r.metadata.namespace, (l = []));
    l.push(r);
  }
  const resourcesCel = new Map<string, unknown[]>();
  const resourcesOf = (ns: string) => {
    let l = resourcesCel.get(ns);
    if (!l) resourcesCel.set(ns, (l = (byNamespace.get(ns) ?? []).map(cel)));
    return l;
  };
  const meshCel = toCel({ ...mesh });
  const needsNamespaces = policies.some((p) => p.kinds?.has('Namespace'));
  const namespaceSubjects: Subject[] = [];
  if (needsNamespaces) {
    const names = new Set<string>([...byNamespace.keys(), ...Object.keys(declared)]);
    names.delete('');
    for (const ns of [...names].sort()) {
      const first = byNamespace.get(ns)?.[0];
      let origin: Origin | undefined;
      namespaceSubjects.push({
        kind: 'Namespace',
        namespace: ns,
        key: `Namespace//${ns}`,
        object: toCel({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: labelsOf(ns) } }),
        // Located only for a finding: locating reads the MeshConfig's file again.
        get origin() {
          return (origin ??= (meshConfig && ns in declared && load.locate(resourceKey('MeshConfig', '', meshConfig.metadata.name), `spec.namespaces.${ns}`)) || first?.origin || meshConfig?.origin || { file: '-', line: 0 });
        },
      });
    }
  }
  for (const policy of policies) {
    const subjects: Subject[] = [];
    if (policy.kinds?.has('Namespace')) subjects.push(...namespaceSubjects);
    const kinds = policy.kinds ? [...policy.kinds].filter((k) => k !== 'Namespace') : MESH_KINDS;
    for (const kind of kinds) {
      for (const r of config.ofKind(kind as never) as readonly AnyResource[]) {
        subjects.push({ kind, namespace: r.metadata.namespace, key: resourceKey(r.kind, r.metadata.namespace, r.metadata.name), object: undefined, origin: r.origin, resource: r });
      }
    }
    for (const s of subjects) {
      if (policy.namespaces && !policy.namespaces.has(s.namespace)) continue;
      if (policy.excludeNamespaces?.has(s.namespace)) continue;
      const nsLabels = labelsOf(s.namespace);
      if (policy.namespaceSelector && !selectorMatches(policy.namespaceSelector, nsLabels)) continue;
      // Lazy: most expressions never look at the namespace's resources, and
      // converting them all would dominate evaluation on a large repo.
      const ns = s.namespace;
      const ctx: Record<string, unknown> = { object: s.resource ? cel(s.resource) : s.object, mesh: meshCel };
      Object.defineProperties(ctx, {
        namespaceObject: { enumerable: true, get: () => toCel({ metadata: { name: ns, labels: nsLabels } }) },
        resources: { enumerable: true, get: () => resourcesOf(ns) },
        rootResources: { enumerable: true, get: () => resourcesOf(mesh.rootNamespace) },
      });
      for (const v of policy.validations) {
        let result: unknown;
        try {
          result = v.program(ctx);
        } catch (err) {
          out.push({ code: 'MCD0402', severity: 'warning', message: `policy ${policy.name} (${policy.origin.file}:${policy.origin.line}) could not be evaluated: ${celErrorText(err)}`, resource: s.key, origin: s.origin });
          continue;
        }
        if (result === true) continue;
        if (result !== false) {
          out.push({ code: 'MCD0402', severity: 'warning', message: `policy ${policy.name} (${policy.origin.file}:${policy.origin.line}): expression returned ${typeof result}, not a bool`, resource: s.key, origin: s.origin });
          continue;
        }
        let message = v.message ?? `failed expression: ${v.expression}`;
        if (v.messageProgram) {
          try {
            const m = v.messageProgram(ctx);
            if (typeof m === 'string' && m.trim() !== '') message = m;
          } catch {
            // VAP semantics: a failing messageExpression falls back to message.
          }
        }
        const origin = (s.resource && v.fieldPath && load.locate(s.key, v.fieldPath)) || s.origin;
        out.push({ code: policy.code, severity: policy.severity, message, resource: s.key, origin, ...(v.fieldPath ? { path: v.fieldPath } : {}) });
      }
    }
  }
  return out;
}
