// Validation: four layers over one loaded revision, each producing
// Diagnostics. Pure: policies are loaded by the caller and passed in.
//   1. schema   — field names and types per kind (schema.ts)
//   2. rules    — Istio's per-kind validation (rules/)
//   3. analyze  — cross-resource analyzers like `istioctl analyze` (analyzers/)
//   4. policies — the organisation's CEL rules (policies.ts)
// A resource that fails its schema is not handed to the later layers: they
// may rely on the types in api/istio.ts.

import type { AnyResource, ConfigSet, Diagnostic, ResourceKey, ServiceIndex } from '../api/types.js';
import type { LoadResult } from '../config/load.js';
import { makeConfigSet } from '../config/load.js';
import { buildServiceIndex } from '../registry/config.js';
import { checkSchema, SCHEMA_CODES } from './schema.js';
import { checkRules } from './rules/index.js';
import { analyze } from './analyzers/index.js';
import { evaluatePolicies, type CompiledPolicy } from './policies.js';
import { withDefaultIngressGateway } from './default-gateway.js';
import { dropEquivalents } from './equivalents.js';

export interface ValidateOptions {
  /** Compiled org policies (see policies.ts); none when omitted. */
  policies?: readonly CompiledPolicy[];
  /** Services and workloads; built from the config's ServiceEntry/WorkloadEntry when omitted. */
  index?: ServiceIndex;
  /** Builds the index from the config that passed the schema (e.g. Kubernetes services merged in); used when `index` is not given. */
  indexFor?: (config: ConfigSet) => ServiceIndex;
  /** Keeps per-resource findings between revisions of one source (see ValidationCache). */
  cache?: ValidationCache;
  /**
   * Assume the ingress gateway `istioctl analyze` assumes on files (an
   * `istio: ingressgateway` workload and service in the root namespace; see
   * default-gateway.ts). `meshcd validate` turns it on; serve does not.
   */
  assumeIngressGateway?: boolean;
  /**
   * Called with the schema and rule findings (every layer that looks at one
   * resource at a time) before the analyzers and policies run: `meshcd
   * validate` stops its translation there when they hold an error.
   */
  onResourceFindings?: (diags: readonly Diagnostic[]) => void;
}

/**
 * Schema and rule findings depend only on the resource itself, where it
 * stands (file and line) and the mesh settings; a new revision re-checks only
 * the resources that changed. Analyzers and policies look across resources
 * and always run.
 */
export class ValidationCache {
  private entries = new Map<string, { schema: Diagnostic[]; rules: Diagnostic[] }>();
  get size(): number {
    return this.entries.size;
  }
  /** @internal */
  take(used: Map<string, { schema: Diagnostic[]; rules: Diagnostic[] }>): void {
    this.entries = used;
  }
  /** @internal */
  get(key: string) {
    return this.entries.get(key);
  }
}

function cacheKey(r: AnyResource, meshDigest: string): string {
  return `${r.digest}|${r.origin.source ?? ''}|${r.origin.file}:${r.origin.line}|${meshDigest}`;
}

/** Schema and rules of every resource, through the cache when one is given. */
function perResource(load: LoadResult, cache: ValidationCache | undefined): { schema: Diagnostic[]; rules: Diagnostic[] } {
  if (!cache) {
    const schema = checkSchema(load);
    const bad = unusable(schema);
    return { schema, rules: checkRules(withoutKeys(load, bad)) };
  }
  const meshDigest = JSON.stringify(load.config.mesh);
  const used = new Map<string, { schema: Diagnostic[]; rules: Diagnostic[] }>();
  const fresh: AnyResource[] = [];
  for (const r of load.config.resources) {
    const key = cacheKey(r, meshDigest);
    const hit = cache.get(key);
    if (hit) used.set(key, hit);
    else fresh.push(r);
  }
  if (fresh.length > 0) {
    const part: LoadResult = { ...load, config: makeConfigSet(fresh, load.config.mesh) };
    const schema = checkSchema(part);
    const bad = unusable(schema);
    const rules = checkRules(withoutKeys(part, bad));
    const group = (diags: Diagnostic[]) => {
      const by = new Map<string, Diagnostic[]>();
      for (const d of diags) {
        const k = d.resource ?? '';
        let l = by.get(k);
        if (!l) by.set(k, (l = []));
        l.push(d);
      }
      return by;
    };
    const schemaBy = group(schema);
    const rulesBy = group(rules);
    for (const r of fresh) used.set(cacheKey(r, meshDigest), { schema: schemaBy.get(keyOf(r)) ?? [], rules: rulesBy.get(keyOf(r)) ?? [] });
  }
  cache.take(used);
  const schema: Diagnostic[] = [];
  const rules: Diagnostic[] = [];
  for (const e of used.values()) {
    schema.push(...e.schema);
    rules.push(...e.rules);
  }
  return { schema, rules };
}

/**
 * Resources the later layers cannot read: those with a schema error. A CRD
 * validation rule's finding (MCD0108) leaves the types intact, so such a
 * resource still gets the rules and analyzers (their findings of the same
 * problem are dropped by dropEquivalents).
 */
function unusable(schema: readonly Diagnostic[]): Set<ResourceKey> {
  return new Set<ResourceKey>(schema.filter((d) => d.severity === 'error' && d.resource && d.code !== SCHEMA_CODES.celRule.code).map((d) => d.resource!));
}

function withoutKeys(load: LoadResult, bad: ReadonlySet<ResourceKey>): LoadResult {
  return bad.size === 0 ? load : { ...load, config: makeConfigSet(load.config.resources.filter((r: AnyResource) => !bad.has(keyOf(r))) as AnyResource[], load.config.mesh) };
}

export function validate(load: LoadResult, opts: ValidateOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [...load.diagnostics];
  const { schema, rules } = perResource(load, opts.cache);
  out.push(...schema);
  const bad = unusable(schema);
  const clean = withoutKeys(load, bad);
  out.push(...rules);
  opts.onResourceFindings?.(out);
  let index = opts.index ?? opts.indexFor?.(clean.config) ?? buildServiceIndex(clean.config);
  if (opts.assumeIngressGateway) index = withDefaultIngressGateway(index, clean.config.mesh.rootNamespace, clean.config.mesh.clusterDomain);
  out.push(...analyze(clean, index));
  if (opts.policies && opts.policies.length > 0) out.push(...evaluatePolicies(clean, opts.policies));
  return sortDiagnostics(dropEquivalents(out, SCHEMA_CODES.celRule.code));
}

function keyOf(r: AnyResource): ResourceKey {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** Stable order: by file, line, then severity and code. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags.sort((a, b) => {
    const fa = a.origin?.file ?? '', fb = b.origin?.file ?? '';
    if (fa !== fb) return fa < fb ? -1 : 1;
    const la = a.origin?.line ?? 0, lb = b.origin?.line ?? 0;
    if (la !== lb) return la - lb;
    if (a.severity !== b.severity) return SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity];
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}
