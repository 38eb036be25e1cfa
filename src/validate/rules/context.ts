// Collects one resource's rule findings as Diagnostics, each located at the
// offending field's line through load.locate.
import type { AnyResource, Diagnostic, ResourceKey, Severity } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';
import { RULE_CODES, type RuleCodeKey } from './codes.js';

export class RuleContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly key: ResourceKey;

  constructor(
    private readonly load: LoadResult,
    readonly resource: AnyResource,
  ) {
    this.key = `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
  }

  get namespace(): string {
    return this.resource.metadata.namespace;
  }

  error(code: RuleCodeKey, path: string, message: string): void {
    this.report('error', code, path, message);
  }

  warn(code: RuleCodeKey, path: string, message: string): void {
    this.report('warning', code, path, message);
  }

  report(severity: Severity, code: RuleCodeKey, path: string, message: string): void {
    const origin = this.load.locate(this.key, locatable(path)) ?? this.resource.origin;
    this.diagnostics.push({ code: RULE_CODES[code].code, severity, message, resource: this.key, origin, path });
  }
}

/**
 * The display path (`a.b[":path"].c`) as load.locate reads it (`a.b.:path.c`),
 * cut before the first key holding `.`, `[` or `]`, which locate cannot express.
 */
function locatable(path: string): string {
  let out = '';
  const re = /\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.[\]]+)/gy;
  for (let m = re.exec(path); m && m[0] !== ''; m = re.exec(path)) {
    if (m[2] !== undefined) out += `[${m[2]}]`;
    else {
      const key = m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : m[3]!;
      if (/[.[\]]/.test(key)) break;
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

/** Appends a key to a path, quoting keys that are not plain identifiers. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
