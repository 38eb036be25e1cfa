// `meshcd validate [DIR]`: load a config folder, run the four validation
// layers (with the baseline policies and any --policies folders), add what
// translating it for representative proxies reports (MCD4xxx), and print
// the findings as text, JSON, YAML or SARIF. Exit 0: no errors; 1: errors;
// 2: usage problem or unreadable input (UserError).

import type { Command } from 'commander';
import { isAbsolute, join, relative } from 'node:path';
import type { Diagnostic, Severity } from '../api/types.js';
import { locateFindings, startTranslation, translationFindings } from './validate-translation.js';
import { readFolderRevision } from '../source/folder.js';
import { isConfigPath, loadRevision } from '../config/load.js';
import { validate, hasErrors, sortDiagnostics } from '../validate/index.js';
import { DEFAULT_POLICY_DIR, loadPolicies, PolicyDirError, type CompiledPolicy } from '../validate/policies.js';
import { formatSarif, formatText, structured, type ValidationReport } from '../validate/report.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';
import { packageVersion } from './version.js';
import { tuneForOneShot } from './one-shot.js';

interface ValidateFlags {
  output: string;
  translation: boolean;
  defaultIngressGateway: boolean;
  policies: string[];
  defaultPolicies: boolean;
  severity: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Config paths are relative to DIR; show them relative to the working directory so they can be opened (and so SARIF URIs are repo-relative). */
function fromWorkingDir(dir: string, d: Diagnostic): Diagnostic {
  if (!d.origin) return d;
  const p = relative(process.cwd(), join(dir, d.origin.file));
  const file = p && !p.startsWith('..') && !isAbsolute(p) ? p.split('\\').join('/') : join(dir, d.origin.file);
  return { ...d, origin: { ...d.origin, file } };
}

/** An fs error's text with the path it concerns (Node leaves it out of read errors such as EINVAL). */
export function namingPath(dir: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const msg = e?.message ?? String(err);
  const path = typeof e?.path === 'string' ? e.path : dir;
  return msg.includes(path) || msg.startsWith(`${dir}:`) ? msg : `${path}: ${msg}`;
}

export interface ValidateRun {
  report: ValidationReport;
  policies: CompiledPolicy[];
}

/** The work behind the command, reusable by tests and other commands. */
export async function runValidate(dir: string, opts: { policyDirs?: string[]; defaultPolicies?: boolean; translation?: boolean; defaultIngressGateway?: boolean } = {}): Promise<ValidateRun> {
  const dirs = [...(opts.defaultPolicies === false ? [] : [DEFAULT_POLICY_DIR]), ...(opts.policyDirs ?? [])];
  let policies: CompiledPolicy[] = [];
  let policyDiags: Diagnostic[] = [];
  try {
    ({ policies, diagnostics: policyDiags } = await loadPolicies(dirs));
  } catch (err) {
    if (err instanceof PolicyDirError) throw new UserError(`--policies ${err.message}`);
    throw new UserError(`cannot read policies: ${(err as Error).message}`);
  }
  // Translation runs beside validation on a worker thread (see validate-translation.ts).
  const job = opts.translation !== false ? startTranslation() : undefined;
  let rev;
  try {
    // Only config files are read: a folder's other files (binaries, /proc entries) are none of validate's business.
    rev = await readFolderRevision(dir, { filter: isConfigPath, sync: true });
  } catch (err) {
    job?.cancel();
    throw new UserError(namingPath(dir, err));
  }
  // The worker loads the same files meanwhile, sharing the parsing, and translates its copy.
  const load = await loadRevision(rev, { lazyDigests: true, ...(job ? { shareParse: (files, limits) => job.shareParse(files, limits) } : {}) });
  // serve rejects a revision with errors before translating it, so translation findings come only for a valid one:
  // the worker stops as soon as the per-resource layers find an error.
  let cancelled = false;
  const stop = () => {
    if (!cancelled) job?.cancel();
    cancelled = true;
  };
  const found = validate(load, { policies, assumeIngressGateway: opts.defaultIngressGateway !== false, onResourceFindings: (d) => hasErrors(d) && stop() });
  if (job && !cancelled && !hasErrors(found)) found.push(...locateFindings(await job.result.catch(() => translationFindings(load.config)), load.locate));
  else stop();
  const diags = found.map((d) => fromWorkingDir(dir, d));
  return {
    policies,
    report: {
      revision: rev.id,
      source: dir,
      resources: load.config.resources.length,
      files: rev.paths.filter(isConfigPath).length,
      diagnostics: sortDiagnostics([...policyDiags, ...diags]),
    },
  };
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Validate mesh config in a folder: schema, Istio rules, cross-resource analysis, org policies')
    .argument('[dir]', 'config folder', '.')
    .option('-o, --output <format>', 'text|json|yaml|sarif', 'text')
    .option('--policies <dir>', 'extra policy folder (repeatable); same-named policies replace earlier ones', collect, [])
    .option('--no-default-policies', 'do not apply the shipped baseline policies')
    .option('--severity <level>', 'lowest severity to show: error|warning|info', 'info')
    .option('--no-default-ingress-gateway', 'do not assume the ingress gateway `istioctl analyze` assumes on files (workloads labelled istio=ingressgateway in the root namespace, ports 80/443/31400/15443)')
    .option('--no-translation', "skip translating the config for representative proxies (the MCD4xxx warnings serve and diff report)")
    .addHelpText('after', '\nExit codes: 0 no errors, 1 errors found, 2 usage problem or unreadable input.')
    .action(async (dir: string, opts: ValidateFlags) => {
      const format = checkOutput(opts.output, ['text', 'json', 'yaml', 'sarif'] as const);
      if (!['error', 'warning', 'info'].includes(opts.severity)) throw new UserError(`--severity: "${opts.severity}" is not one of error, warning, info`);
      const min = opts.severity as Severity;
      tuneForOneShot();
      const { report, policies } = await runValidate(dir, { policyDirs: opts.policies, defaultPolicies: opts.defaultPolicies, translation: opts.translation, defaultIngressGateway: opts.defaultIngressGateway });
      if (format === 'text') process.stdout.write(formatText(report, min));
      else if (format === 'sarif') process.stdout.write(JSON.stringify(formatSarif(report, { toolVersion: packageVersion(), policies, min }), null, 2) + '\n');
      else printStructured(format, structured(report, min));
      process.exitCode = hasErrors(report.diagnostics) ? EXIT.FINDINGS : EXIT.OK;
    });
}
