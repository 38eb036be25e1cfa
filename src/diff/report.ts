// A diff report and its renderings: text (terminal), markdown (a pull-request
// comment, kept under GitHub's comment size) and JSON (stable, for tools).

import type { Diagnostic, Origin } from '../api/types.js';
import { fmtOrigin } from '../config/load.js';
import { groupByChanges, type EnvoyImpact, type ProxyGroup } from './envoy.js';
import { countChanges, type DiffCounts, type JsonPatchOp, type ResourceDiff } from './resources.js';

/** Marker that lets a CI job find and update its own PR comment. */
export const MARKDOWN_MARKER = '<!-- meshcd-diff -->';

export interface DiffSide {
  /** What the user named: a ref (`origin/main`) or a folder. */
  label: string;
  /** Revision id, e.g. `origin/main@sha1:…` or `dir@sha256:…`. */
  revision: string;
}

export type ValidationStatus = 'passed' | 'warnings' | 'failed';

export type EnvoySection = ({ status: 'computed' } & EnvoyImpact) | { status: 'skipped'; reason: string };

/** A finding of the head; `introduced` when the base had no such finding (same code, resource and message). */
export type ReportDiagnostic = Diagnostic & { introduced: boolean };

export interface DiffReport {
  base: DiffSide;
  head: DiffSide;
  counts: DiffCounts;
  resources: ResourceDiff[];
  validation: { status: ValidationStatus; errors: number; warnings: number; introduced: number; diagnostics: ReportDiagnostic[] };
  envoy: EnvoySection;
}

function findingKey(d: Diagnostic): string {
  return `${d.code}\0${d.resource ?? d.origin?.file ?? ''}\0${d.message}`;
}

export function makeReport(base: DiffSide, head: DiffSide, resources: ResourceDiff[], headDiagnostics: Diagnostic[], envoy: EnvoySection, baseDiagnostics: Diagnostic[] = []): DiffReport {
  const before = new Set(baseDiagnostics.map(findingKey));
  const diagnostics = headDiagnostics.map((d) => ({ ...d, introduced: !before.has(findingKey(d)) }));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const introduced = diagnostics.filter((d) => d.introduced && d.severity !== 'info').length;
  return {
    base,
    head,
    counts: countChanges(resources),
    resources,
    validation: { status: errors > 0 ? 'failed' : warnings > 0 ? 'warnings' : 'passed', errors, warnings, introduced, diagnostics },
    envoy,
  };
}

export function hasChanges(r: DiffReport): boolean {
  return r.resources.length > 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function validationLine(v: DiffReport['validation']): string {
  if (v.status === 'passed') return 'passed';
  return `${v.status} (${plural(v.errors, 'error')}, ${plural(v.warnings, 'warning')}; ${v.introduced} new in this change)`;
}

function proxiesLine(e: EnvoySection): string {
  return e.status === 'computed' ? `${e.affected.length} of ${e.proxies}` : 'not computed';
}

export function formatPatchOp(op: JsonPatchOp): string {
  const v = op.value === undefined ? '' : ` ${JSON.stringify(op.value)}`;
  const from = op.from === undefined ? '' : ` from ${op.from}`;
  return `${op.op} ${op.path === '' ? '/' : op.path}${from}${v}`;
}

function whereOf(r: ResourceDiff): string {
  if (r.change === 'removed') return `(was ${fmtOrigin(r.base!)})`;
  if (r.change === 'changed' && r.base && r.head && fmtOrigin(r.base) !== fmtOrigin(r.head)) return `${fmtOrigin(r.head)} (was ${fmtOrigin(r.base)})`;
  return fmtOrigin(r.head!);
}

function shownDiagnostics(r: DiffReport): ReportDiagnostic[] {
  // `info` findings (e.g. ignored non-mesh documents) stay in the JSON output only.
  return r.validation.diagnostics.filter((d) => d.severity !== 'info');
}

function diagLine(d: ReportDiagnostic): string {
  return `${d.introduced ? 'NEW ' : '    '}${d.origin ? fmtOrigin(d.origin) : '-'}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}`;
}

const MAX_OPS = 5;

/** The first few patch operations of an Envoy resource, values cut short: a hint, not the whole story. */
function shownOps(patch: JsonPatchOp[] | undefined): string[] {
  if (!patch) return [];
  const ops = patch.slice(0, MAX_OPS).map((op) => {
    const line = formatPatchOp(op);
    return line.length > 160 ? `${line.slice(0, 157)}...` : line;
  });
  if (patch.length > MAX_OPS) ops.push(`... ${patch.length - MAX_OPS} more`);
  return ops;
}

// ---------------------------------------------------------------------------
// text

export function renderText(r: DiffReport): string {
  const out: string[] = [];
  out.push(`base: ${r.base.label} (${r.base.revision})`);
  out.push(`head: ${r.head.label} (${r.head.revision})`);
  const c = r.counts;
  out.push(`resources: ${c.added} added, ${c.changed} changed, ${c.removed} removed; validation of head: ${validationLine(r.validation)}; proxies affected: ${proxiesLine(r.envoy)}`);
  if (r.resources.length === 0) out.push('', 'no changes');
  else {
    out.push('');
    const w = Math.max(...r.resources.map((x) => x.key.length));
    for (const x of r.resources) out.push(`${x.change.padEnd(8)} ${x.key.padEnd(w)}  ${whereOf(x)}${x.note ? `  NOTE: ${x.note}` : ''}`);
    for (const x of r.resources) {
      out.push('', `=== ${x.change} ${x.key}`, x.yamlDiff.replace(/\n$/, ''));
      if (x.change === 'changed') {
        out.push('json patch:');
        for (const op of x.patch) out.push(`  ${formatPatchOp(op)}`);
      }
    }
  }
  const diags = shownDiagnostics(r);
  out.push('', `validation of head: ${validationLine(r.validation)}`);
  for (const d of diags) out.push(`  ${diagLine(d)}`);
  out.push('', renderEnvoyText(r.envoy));
  return out.join('\n') + '\n';
}

function renderEnvoyText(e: EnvoySection): string {
  if (e.status === 'skipped') return `envoy impact: not computed (${e.reason})`;
  const out = [`envoy impact: ${e.affected.length} of ${e.proxies} proxies change`];
  for (const err of e.errors) out.push(`  ERROR ${err}`);
  for (const f of e.diagnostics.filter((x) => x.diagnostic.severity !== 'info')) out.push(`  ${f.introduced ? 'NEW ' : ''}${f.diagnostic.severity.toUpperCase()} ${f.proxyKind} proxies: ${f.diagnostic.code} ${f.diagnostic.resource ?? '-'} ${f.diagnostic.message}`);
  for (const g of groupByChanges(e.affected)) {
    for (const p of g.proxies) out.push(`  ${p.id}`);
    for (const ch of g.changes) {
      out.push(`    ${ch.change.padEnd(8)} ${ch.type.padEnd(8)} ${ch.name}`);
      for (const op of shownOps(ch.patch)) out.push(`      ${op}`);
    }
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// markdown

/** GitHub refuses comments over 65,536 characters; leave room for the frame. */
export const MARKDOWN_BUDGET = 60_000;

/** HTML-escapes (for <code> and text; not for backtick code spans, which show entities literally). */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '&#124;');
}

function fence(body: string, lang: string): string {
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${body.replace(/\n$/, '')}\n${f}`;
}

const ICON: Record<string, string> = { added: '➕', changed: '✏️', removed: '➖' };
const STATUS_ICON: Record<ValidationStatus, string> = { passed: '✅', warnings: '⚠️', failed: '❌' };

/** Rows of a table shown before the rest is summarised in one line. */
const MAX_TABLE_ROWS = 200;

export interface MarkdownOptions {
  /** Characters the comment may use (GitHub's limit is 65,536). */
  budget?: number;
  /** URL prefix for the head's files (e.g. `https://github.com/o/r/blob/<sha>/mesh`); origins become links. */
  linkBase?: string;
}

function headLink(o: Origin, linkBase: string | undefined, text: string): string {
  if (!linkBase || o.source) return esc(text);
  const url = `${linkBase.replace(/\/+$/, '')}/${o.file.split('/').map(encodeURIComponent).join('/')}#L${o.line}`;
  return `<a href="${esc(url).replace(/"/g, '&quot;')}">${esc(text)}</a>`;
}

/** Where a resource is, with the head's location linked. */
function whereMd(r: ResourceDiff, linkBase: string | undefined): string {
  if (r.change === 'removed' || !r.head) return esc(whereOf(r));
  const at = headLink(r.head, linkBase, fmtOrigin(r.head));
  return r.change === 'changed' && r.base && fmtOrigin(r.base) !== fmtOrigin(r.head) ? `${at} (was ${esc(fmtOrigin(r.base))})` : at;
}

function capped<T>(items: readonly T[], row: (x: T) => string, what: string): string[] {
  const out = items.slice(0, MAX_TABLE_ROWS).map(row);
  if (items.length > MAX_TABLE_ROWS) out.push('', `_… and ${items.length - MAX_TABLE_ROWS} more ${what}; see \`meshcd diff --output json\`._`);
  return out;
}

export function renderMarkdown(r: DiffReport, opts: MarkdownOptions = {}): string {
  const budget = opts.budget ?? MARKDOWN_BUDGET;
  const link = opts.linkBase;
  const head: string[] = [MARKDOWN_MARKER, '### meshcd diff', ''];
  head.push(`Base \`${r.base.revision}\` → head \`${r.head.revision}\``, '');
  head.push('| Added | Changed | Removed | Validation | Proxies affected |', '|---:|---:|---:|---|---|');
  head.push(`| ${r.counts.added} | ${r.counts.changed} | ${r.counts.removed} | ${STATUS_ICON[r.validation.status]} ${validationLine(r.validation)} | ${proxiesLine(r.envoy)} |`, '');
  if (r.resources.length === 0) head.push('No mesh resources change.', '');
  else {
    head.push('| | Resource | Where |', '|---|---|---|');
    head.push(...capped(r.resources, (x) => `| ${ICON[x.change]} ${x.change} | <code>${esc(x.key)}</code> | ${whereMd(x, link)}${x.note ? ` ⚠️ ${esc(x.note)}` : ''} |`, 'resources'));
    head.push('');
  }
  const validation: string[] = [];
  const diags = shownDiagnostics(r);
  if (diags.length > 0) {
    validation.push(`#### Validation of head: ${STATUS_ICON[r.validation.status]} ${validationLine(r.validation)}`, '', '| | Where | Severity | Code | Resource | Message |', '|---|---|---|---|---|---|');
    validation.push(...capped(diags, (d) => `| ${d.introduced ? '🆕' : ''} | ${!d.origin ? '-' : link ? headLink(d.origin, link, fmtOrigin(d.origin)) : `<code>${esc(fmtOrigin(d.origin))}</code>`} | ${d.severity} | ${d.code} | ${d.resource ? `<code>${esc(d.resource)}</code>` : '-'} | ${esc(d.message)} |`, 'findings'));
    validation.push('');
  }
  const envoyHead = envoyHeading(r.envoy);
  const groups = r.envoy.status === 'computed' ? groupByChanges(r.envoy.affected) : [];
  // Collapsible sections (resources first, then proxies) fill what the budget
  // leaves after the summary and findings; the rest is counted, not shown.
  let used = [...head, ...validation, ...envoyHead].join('\n').length + 600;
  const take = (sections: string[]): { shown: string[]; omitted: number } => {
    const shown: string[] = [];
    let omitted = 0;
    for (const sec of sections) {
      if (used + sec.length > budget) omitted++;
      else {
        used += sec.length + 1;
        shown.push(sec);
      }
    }
    return { shown, omitted };
  };
  const res = take(r.resources.map((x) => resourceSection(x, link)));
  const prx = take(groups.map(proxySection));
  const body = [...head, ...res.shown];
  if (res.omitted > 0) body.push(`_${plural(res.omitted, 'resource diff')} left out to stay under GitHub's comment size; run \`meshcd diff\` locally for everything._`, '');
  body.push(...validation, ...envoyHead, ...prx.shown);
  if (prx.omitted > 0) body.push(`_${plural(prx.omitted, 'proxy group')} left out to stay under GitHub's comment size; run \`meshcd diff\` locally for everything._`, '');
  return body.join('\n').replace(/\n+$/, '\n');
}

function resourceSection(x: ResourceDiff, link: string | undefined): string {
  // A whole-document add/remove patch repeats the YAML; only changes get one.
  const patch = x.change === 'changed' ? ['JSON Patch:', '', fence(JSON.stringify(x.patch, null, 2), 'json'), ''] : [];
  return [
    `<details><summary>${ICON[x.change]} <b>${x.change}</b> <code>${esc(x.key)}</code> — ${whereMd(x, link)}</summary>`,
    '',
    fence(x.yamlDiff, 'diff'),
    '',
    ...patch,
    '</details>',
    '',
  ].join('\n');
}

function envoyHeading(e: EnvoySection): string[] {
  if (e.status === 'skipped') return [`_Envoy impact not computed: ${esc(e.reason)}._`, ''];
  const out = [`#### Envoy impact: ${e.affected.length} of ${e.proxies} proxies change`, ''];
  for (const err of e.errors) out.push(`- ❌ ${esc(err)}`);
  const findings = e.diagnostics.filter((x) => x.diagnostic.severity !== 'info');
  for (const f of findings.slice(0, MAX_TABLE_ROWS)) {
    out.push(`- ${f.diagnostic.severity === 'error' ? '❌' : '⚠️'}${f.introduced ? ' 🆕' : ''} ${f.proxyKind} proxies: ${f.diagnostic.code} ${f.diagnostic.resource ? `<code>${esc(f.diagnostic.resource)}</code> ` : ''}${esc(f.diagnostic.message)}`);
  }
  if (e.errors.length > 0 || findings.length > 0) out.push('');
  return out;
}

function proxySection(g: ProxyGroup): string {
  const c = countChanges(g.changes);
  const rows = g.changes.map((ch) => `| ${ICON[ch.change]} ${ch.change} | ${ch.type} | <code>${esc(ch.name)}</code> | ${shownOps(ch.patch).map((o) => `<code>${esc(o)}</code>`).join('<br>')} |`);
  return [
    `<details><summary><code>${esc(g.proxies[0]!.id)}</code>${g.proxies.length > 1 ? ` and ${g.proxies.length - 1} other ${g.proxies.length === 2 ? 'proxy' : 'proxies'}` : ''} — ${c.added} added, ${c.changed} changed, ${c.removed} removed</summary>`,
    '',
    ...(g.proxies.length > 1 ? [`Same change for: ${g.proxies.map((p) => `<code>${esc(p.id)}</code>`).join(', ')}`, ''] : []),
    '| | Type | Name | What changes |',
    '|---|---|---|---|',
    ...rows,
    '',
    '</details>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// json

export function renderJson(r: DiffReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}
