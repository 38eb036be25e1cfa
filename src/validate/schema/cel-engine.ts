// The CEL engine for the CRDs' validation rules (./cel.ts walks the schema
// and reports): @marcbachmann/cel-js with Kubernetes' CEL library where the
// rules need it (k8s.io/apiserver/pkg/cel/library: `url()`, `isURL()`,
// `getScheme()`, …) and Go's semantics for `duration()`, `int()`,
// `substring()` and `matches()` (./cel-k8s.ts); a rule's calls to those are
// renamed in its parsed tree to meshcd's versions before type checking.
// Every evaluation step is metered as cel-go's runtime cost tracker meters it
// (1 per identifier, select or call, string functions by length, list and map
// literals 10/30, the fold's loop condition per iteration), and evaluation
// stops once a rule passes its limit, whatever the input.
// The meter wraps the nodes of cel-js's parsed tree (ASTNode.meta, .args),
// which cel-js does not document: test/unit/validate/cel-rules.test.ts pins
// the behaviour, and package.json pins cel-js's version range.
//
// Pure. Imports the CEL engine and ./cel-k8s.

import { Environment } from '@marcbachmann/cel-js';
import { Duration } from '@marcbachmann/cel-js/evaluator';
import { GoError, goHostname, goParseDuration, goParseInt, goParseRequestURI, goParseURL, goPort, type GoURL } from './cel-k8s.js';

/** k8s.io/apiserver/pkg/apis/cel: the cost one rule may spend, and one resource. */
export const PER_CALL_LIMIT = 1_000_000;
export const RUNTIME_COST_BUDGET = 10_000_000;

// ---------------------------------------------------------------------------
// Kubernetes' functions and Go semantics, as CEL functions.

/** A runtime error with cel-go's text. */
export class CelRuntimeError extends Error {}

class KubeURL {
  constructor(readonly url: GoURL) {}
}

const celString = (v: unknown, fn: string): string => {
  if (typeof v !== 'string') throw new CelRuntimeError(`no such overload: ${fn}`);
  return v;
};

function toURL(v: unknown): KubeURL {
  const s = celString(v, 'url');
  try {
    goParseRequestURI(s);
    return new KubeURL(goParseURL(s));
  } catch (err) {
    if (err instanceof GoError) throw new CelRuntimeError(`URL parse error during conversion from string: ${err.message}`);
    throw err;
  }
}

function isURL(v: unknown): boolean {
  try {
    goParseRequestURI(celString(v, 'isURL'));
    return true;
  } catch (err) {
    if (err instanceof GoError) return false;
    throw err;
  }
}

function duration(v: unknown): Duration {
  if (v instanceof Duration) return v;
  const s = celString(v, 'duration');
  let ns: bigint;
  try {
    ns = goParseDuration(s);
  } catch (err) {
    if (err instanceof GoError) throw new CelRuntimeError("type conversion error from 'string' to 'google.protobuf.Duration'");
    throw err;
  }
  return new Duration(ns / 1_000_000_000n, Number(ns % 1_000_000_000n));
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function toInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') {
    try {
      return goParseInt(v);
    } catch (err) {
      if (err instanceof GoError) throw new CelRuntimeError("type conversion error from 'string' to 'int'");
      throw err;
    }
  }
  if (typeof v === 'number') {
    // cel-go: a double outside int64 (or NaN) is a range error; otherwise truncated.
    if (!Number.isFinite(v) || v <= -9223372036854775808 || v >= 9223372036854775807) throw new CelRuntimeError('integer overflow');
    const n = BigInt(Math.trunc(v));
    if (n < INT64_MIN || n > INT64_MAX) throw new CelRuntimeError('integer overflow');
    return n;
  }
  if (v instanceof Duration) return v.seconds * 1_000_000_000n + BigInt(v.nanos);
  throw new CelRuntimeError('no such overload: int');
}

function substring(s: unknown, start: bigint, end?: bigint): string {
  const runes = [...celString(s, 'substring')];
  const e = end ?? BigInt(runes.length);
  if (end !== undefined && start > end) throw new CelRuntimeError(`invalid substring range. start: ${start}, end: ${end}`);
  if (start < 0n || start > BigInt(runes.length)) throw new CelRuntimeError(`index out of range: ${start}`);
  if (e < 0n || e > BigInt(runes.length)) throw new CelRuntimeError(`index out of range: ${e}`);
  return runes.slice(Number(start), Number(e)).join('');
}

const regexps = new Map<string, RegExp>();
function matches(s: unknown, re: unknown): boolean {
  const str = celString(s, 'matches');
  const src = celString(re, 'matches');
  let r = regexps.get(src);
  if (!r) {
    try {
      // The rules' patterns are RE2 syntax without RE2-only constructs; JavaScript's `u` mode reads them alike.
      r = new RegExp(src, 'u');
    } catch (err) {
      throw new CelRuntimeError(`error parsing regexp: ${(err as Error).message}`);
    }
    if (regexps.size > 256) regexps.clear();
    regexps.set(src, r);
  }
  return r.test(str);
}

/** Functions whose calls in a rule are renamed to meshcd's (Go semantics). */
const RENAMED: Readonly<Record<string, string>> = {
  duration: 'k8s_duration',
  int: 'k8s_int',
  substring: 'k8s_substring',
  matches: 'k8s_matches',
  url: 'k8s_url',
};

let environment: Environment | undefined;
function env(): Environment {
  if (environment) return environment;
  environment = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false, enableOptionalTypes: true })
    .registerVariable('self', 'dyn')
    .registerVariable('oldSelf', 'dyn')
    .registerType('kubernetes.URL', KubeURL)
    .registerFunction('k8s_duration(dyn): google.protobuf.Duration', duration)
    .registerFunction('k8s_int(dyn): int', toInt)
    .registerFunction('string.k8s_substring(int): string', (s: string, a: bigint) => substring(s, a))
    .registerFunction('string.k8s_substring(int, int): string', (s: string, a: bigint, b: bigint) => substring(s, a, b))
    .registerFunction('string.k8s_matches(string): bool', matches)
    .registerFunction('k8s_matches(string, string): bool', matches)
    .registerFunction('k8s_url(string): kubernetes.URL', toURL)
    .registerFunction('isURL(string): bool', isURL)
    .registerFunction('kubernetes.URL.getScheme(): string', (u: KubeURL) => u.url.scheme)
    .registerFunction('kubernetes.URL.getHost(): string', (u: KubeURL) => u.url.host)
    .registerFunction('kubernetes.URL.getHostname(): string', (u: KubeURL) => goHostname(u.url))
    .registerFunction('kubernetes.URL.getPort(): string', (u: KubeURL) => goPort(u.url))
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: KubeURL) => u.url.path);
  return environment;
}

// ---------------------------------------------------------------------------
// Compilation: parse, rename, type-check, meter.

interface AstNode {
  op: string;
  args: unknown;
  meta: { evaluate: Evaluate; alternate?: AstNode; macro?: { evaluate: Evaluate; args?: unknown; macroHasProps?: AstNode[] } };
  evaluate: Evaluate;
}
type Evaluate = (ev: unknown, ast: unknown, ctx: unknown) => unknown;
export type Program = ((ctx: Record<string, unknown>) => unknown) & { ast: AstNode; check(): { valid: boolean; error?: Error } };

export interface Meter {
  cost: number;
  limit: number;
}

export class CostLimitExceeded extends Error {}

export interface Compiled {
  program?: Program;
  error?: string;
  usesOldSelf: boolean;
  meter: Meter;
}

const LAST = Symbol('last value');
type Tracked = AstNode & { [LAST]?: unknown };

function isNode(x: unknown): x is AstNode {
  return typeof x === 'object' && x !== null && typeof (x as AstNode).op === 'string' && 'meta' in (x as object);
}

/** Every node of a parsed tree, macro expansions included. */
function nodesOf(root: AstNode): AstNode[] {
  const seen = new Set<AstNode>();
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(visit);
    if (isNode(x)) {
      if (seen.has(x)) return;
      seen.add(x);
      if (x.op === 'comprehension') {
        const a = x.args as { iterable: AstNode; init: AstNode; step: AstNode };
        visit([a.iterable, a.init, a.step]);
      } else if (x.op !== 'value') visit(x.args);
      visit(x.meta.alternate);
      visit(x.meta.macro?.args);
      visit(x.meta.macro?.macroHasProps);
    }
  };
  visit(root);
  return [...seen];
}

/** The size cel-go's cost functions use: string length in runes, list/map entries, bytes. */
function sizeOf(v: unknown): number {
  if (typeof v === 'string') {
    let n = 0;
    for (const _ of v) n++;
    return n;
  }
  if (Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (v instanceof Map) return v.size;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

const STRING_TRAVERSAL = 0.1;
const REGEX_STRING_LENGTH = 0.25;

/** cel-go's actual call cost (interpreter/runtimecost.go) and Kubernetes' (library/cost.go) for the functions rules use. */
function callCost(name: string, args: unknown[]): number {
  switch (name) {
    case 'startsWith':
    case 'endsWith':
      return Math.ceil(sizeOf(args[1]) * STRING_TRAVERSAL);
    case 'contains':
      return Math.ceil(sizeOf(args[0]) * STRING_TRAVERSAL) * Math.ceil(sizeOf(args[1]) * STRING_TRAVERSAL);
    case 'k8s_matches':
      return Math.ceil((1 + sizeOf(args[0])) * STRING_TRAVERSAL) * Math.ceil(sizeOf(args[1]) * REGEX_STRING_LENGTH);
    case 'k8s_url':
    case 'k8s_substring':
      return Math.ceil(sizeOf(args[0]) * STRING_TRAVERSAL);
    case '==':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return typeof args[0] === 'string' && typeof args[1] === 'string' ? Math.ceil(Math.min(sizeOf(args[0]), sizeOf(args[1])) * STRING_TRAVERSAL) : 1;
    case '+':
      return typeof args[0] === 'string' && typeof args[1] === 'string' ? Math.ceil((sizeOf(args[0]) + sizeOf(args[1])) * STRING_TRAVERSAL) : 1;
    case 'in':
      return Array.isArray(args[1]) ? sizeOf(args[1]) : 1;
    default:
      return 1;
  }
}

const BINARY = new Set(['==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', 'in', '[]', '[?]']);

/** Wraps every node's evaluation with the meter (cel-go charges after each step; so do we). */
function meter(program: Program, m: Meter): void {
  const nodes = nodesOf(program.ast) as Tracked[];
  // cel-go's fold charges the loop condition (@not_strictly_false(accu)) and the accumulator's reads on every iteration.
  const steps = new Set(nodes.filter((n) => n.op === 'comprehension').map((n) => (n.args as { step: AstNode }).step));
  for (const node of nodes) {
    const meta = node.meta;
    const alt = meta.alternate;
    const macro = meta.macro;
    const inner: Evaluate = alt ? (ev, _a, ctx) => alt.evaluate(ev, alt, ctx) : macro ? (ev, _a, ctx) => macro.evaluate(ev, macro, ctx) : meta.evaluate;
    let base = 0;
    let call: ((n: Tracked) => number) | undefined;
    switch (node.op) {
      case 'id':
      case '.':
      case '.?':
      case 'accuValue':
        base = 1;
        break;
      case 'list':
        base = 10;
        break;
      case 'map':
        base = 30;
        break;
      case 'comprehension':
        base = 1;
        break;
      case 'call': {
        const [name, args] = node.args as [string, Tracked[]];
        call = () => callCost(name, args.map((a) => a[LAST]));
        break;
      }
      case 'rcall': {
        const [name, recv, args] = node.args as [string, Tracked, Tracked[]];
        call = () => callCost(name, [recv, ...args].map((a) => a[LAST]));
        break;
      }
      case '!_':
      case '-_':
      case 'accuInc':
      case 'accuPush':
        base = 1;
        break;
      default:
        if (BINARY.has(node.op)) {
          const args = node.args as Tracked[];
          call = () => callCost(node.op, args.map((a) => a[LAST]));
        }
    }
    if (steps.has(node)) base += 2;
    node.evaluate = function (this: unknown, ev, a, ctx) {
      if (m.cost > m.limit) throw new CostLimitExceeded();
      const v = inner.call(this, ev, a, ctx);
      node[LAST] = v;
      m.cost += base + (call ? call(node) : 0);
      return v;
    };
  }
}

function rename(root: AstNode): void {
  for (const node of nodesOf(root)) {
    if ((node.op === 'call' || node.op === 'rcall') && Array.isArray(node.args)) {
      const name = node.args[0] as string;
      if (RENAMED[name]) node.args[0] = RENAMED[name];
    }
  }
}

const compiled = new Map<string, Compiled>();

export function compile(rule: string): Compiled {
  let c = compiled.get(rule);
  if (c) return c;
  const m: Meter = { cost: 0, limit: PER_CALL_LIMIT };
  c = { usesOldSelf: false, meter: m };
  try {
    const program = env().parse(rule) as unknown as Program;
    rename(program.ast);
    c.usesOldSelf = nodesOf(program.ast).some((n) => n.op === 'id' && n.args === 'oldSelf');
    const check = program.check();
    if (!check.valid) throw check.error ?? new Error('type check failed');
    meter(program, m);
    c.program = program;
  } catch (err) {
    c.error = summary(err);
  }
  compiled.set(rule, c);
  return c;
}

/** Compile errors of rules (for tests and the bundle check): rule → error. */
export function compileErrors(rules: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of rules) {
    const c = compile(r);
    if (c.error) out.set(r, c.error);
  }
  return out;
}

export function summary(err: unknown): string {
  const e = err as { summary?: string; message?: string };
  const text = e.summary ?? e.message ?? String(err);
  // cel-go's wording for the errors both engines raise.
  return text.replace(/^No such key: /, 'no such key: ');
}

