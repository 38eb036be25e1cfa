// Formatting a validation result for people and machines: the text listing
// (`file:line  SEVERITY  CODE  kind/ns/name  message` + summary), the
// structured form behind --output json|yaml, and SARIF 2.1.0 for code
// scanning (GitHub annotates pull requests from it). Pure: values in,
// strings/objects out.

import type { Diagnostic, Severity } from '../api/types.js';
import { codeCatalog, helpUri } from './catalog.js';
import type { CompiledPolicy } from './policies.js';

export interface ValidationReport {
  /** Revision id, e.g. `dir@sha256:…`. */
  revision: string;
  /** The folder that was validated, as given. */
  source: string;
  resources: number;
  files: number;
  /** Every diagnostic found, sorted (see validate/index.ts sortDiagnostics). */
  diagnostics: Diagnostic[];
}

export interface Counts {
  errors: number;
  warnings: number;
  info: number;
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function atLeast(d: Diagnostic, min: Severity): boolean {
  return RANK[d.severity] <= RANK[min];
}

export function countBySeverity(diags: readonly Diagnostic[]): Counts {
  const c: Counts = { errors: 0, warnings: 0, info: 0 };
  for (const d of diags) {
    if (d.severity === 'error') c.errors++;
    else if (d.severity === 'warning') c.warnings++;
    else c.info++;
  }
  return c;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function summaryLine(r: ValidationReport, min: Severity = 'info'): string {
  const c = countBySeverity(r.diagnostics);
  const hidden = r.diagnostics.filter((d) => !atLeast(d, min)).length;
  return `${plural(r.resources, 'resource')} in ${plural(r.files, 'file')}: ${plural(c.errors, 'error')}, ${plural(c.warnings, 'warning')}, ${c.info} info${hidden ? ` (${hidden} below --severity ${min} not shown)` : ''}`;
}

export function formatLocation(d: Diagnostic): string {
  if (!d.origin) return '-';
  return `${d.origin.source ? `${d.origin.source}:` : ''}${d.origin.file}:${d.origin.line}`;
}

export function formatText(r: ValidationReport, min: Severity = 'info'): string {
  const lines: string[] = [];
  for (const d of r.diagnostics) {
    if (!atLeast(d, min)) continue;
    lines.push(`${formatLocation(d)}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}`);
  }
  lines.push(summaryLine(r, min));
  return lines.join('\n') + '\n';
}

/** The --output json|yaml document. */
export function structured(r: ValidationReport, min: Severity = 'info'): Record<string, unknown> {
  const c = countBySeverity(r.diagnostics);
  return {
    revision: r.revision,
    source: r.source,
    summary: { resources: r.resources, files: r.files, ...c },
    diagnostics: r.diagnostics.filter((d) => atLeast(d, min)),
  };
}

// ---------------------------------------------------------------------------
// SARIF 2.1.0

interface RuleInfo {
  id: string;
  name?: string;
  description: string;
  severity?: Severity;
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };

export function ruleCatalog(policies: readonly CompiledPolicy[] = []): RuleInfo[] {
  const rules = new Map<string, RuleInfo>();
  for (const c of codeCatalog()) if (!c.code.startsWith('POL-')) rules.set(c.code, { id: c.code, name: c.name, description: c.meaning, ...(c.severity ? { severity: c.severity } : {}) });
  for (const p of policies) rules.set(p.code, { id: p.code, name: p.name, description: p.description ?? `Org policy ${p.name} (${p.origin.file}:${p.origin.line})`, severity: p.severity });
  return [...rules.values()];
}

export interface SarifOptions {
  toolVersion: string;
  policies?: readonly CompiledPolicy[];
  min?: Severity;
}

export function formatSarif(r: ValidationReport, opts: SarifOptions): Record<string, unknown> {
  const min = opts.min ?? 'info';
  const shown = r.diagnostics.filter((d) => atLeast(d, min));
  const catalog = new Map(ruleCatalog(opts.policies).map((x) => [x.id, x]));
  // A code the catalogue does not know (a bug: catalog.test.ts checks every code in src/) still gets a rule entry.
  for (const d of shown) if (!catalog.has(d.code)) catalog.set(d.code, { id: d.code, description: `meshcd ${d.code}` });
  const rules = [...catalog.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const indexOf = new Map(rules.map((x, i) => [x.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'meshcd',
            version: opts.toolVersion,
            informationUri: 'https://github.com/meshcd/meshcd',
            rules: rules.map((x) => ({
              id: x.id,
              ...(x.name ? { name: x.name } : {}),
              shortDescription: { text: x.name ? `${x.id} ${x.name}` : x.id },
              fullDescription: { text: x.description },
              helpUri: helpUri(x.id),
              ...(x.severity ? { defaultConfiguration: { level: SARIF_LEVEL[x.severity] } } : {}),
            })),
          },
        },
        results: shown.map((d) => ({
          ruleId: d.code,
          ruleIndex: indexOf.get(d.code),
          level: SARIF_LEVEL[d.severity],
          message: { text: d.resource ? `${d.resource}: ${d.message}` : d.message },
          ...(d.origin
            ? {
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: { uri: encodeURI(d.origin.file), uriBaseId: '%SRCROOT%' },
                      region: { startLine: Math.max(1, d.origin.line) },
                    },
                    ...(d.resource ? { logicalLocations: [{ fullyQualifiedName: d.resource, kind: 'resource' }] } : {}),
                  },
                ],
              }
            : {}),
        })),
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}
