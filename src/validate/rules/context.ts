// Collects one resource's rule findings as Diagnostics, each located at the
// offending field's line through load.locate.
import type { AnyResource, Diagnostic, ResourceKey, Severity } from '../../api/types.js';
import type { LoadResult } from '../../config/load.js';
import { splitPath } from '../../config/load.js';
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

/** `a.b["x.y"].c` → `a.b`: load.locate cannot express keys holding dots or brackets. */
function locatable(path: string): string {
  const cut = path.indexOf('["');
  const head = cut >= 0 ? path.slice(0, cut) : path;
  return splitPath(head).map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Appends a key to a path, quoting keys that are not plain identifiers. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
