// Command-line side of sources: the flags every command that reads sources
// shares (`addSourceOptions`, for `serve` and `sources check`), the policy
// loading both share (`policiesFromOptions`), and `meshcd sources check`,
// which fetches every source once, validates the merged set with the same
// policies and reports — a dry run of what `serve` would accept.
// `sources list` / `sources refresh` (clients of a running serve) are in cli-admin.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { EXIT, UserError } from '../cli/exit.js';
import { checkOutput, printStructured } from '../cli/output.js';
import { fmtOrigin } from '../config/load.js';
import { DEFAULT_POLICY_DIR, loadPolicies, PolicyDirError, type CompiledPolicy } from '../validate/policies.js';
import { registerSourceClients } from './cli-admin.js';
import { Reconciler, type RejectedEvent } from './reconcile.js';
import { resolveSourceSpecs, SpecError, type SourceFlags, type SourceSpec } from './spec.js';

const collect = (value: string, prev: string[] = []) => [...prev, value];

/** Adds --source/--config and the per-source defaults (credentials are named, never given). */
export function addSourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-s, --source <spec>', 'a folder or Git URL: [NAME=]URL[#REF][:PATH][;key=value…] (repeatable)').argParser(collect))
    .option('-c, --config <file>', 'meshcd.yaml with a "sources:" list')
    .option('--ref <ref>', 'default branch, tag or commit for Git sources', undefined)
    .option('--path <dir>', 'default sub-folder inside each source')
    .option('--poll-interval <duration>', 'default Git poll interval (e.g. 30s, 2m)')
    .option('--token-file <file>', 'file holding the Git token')
    .option('--token-env <var>', 'environment variable holding the Git token')
    .option('--username <user>', 'Git user name for basic auth')
    .option('--password-file <file>', 'file holding the Git password')
    .option('--password-env <var>', 'environment variable holding the Git password')
    .option('--webhook-secret-file <file>', 'file holding the webhook secret')
    .option('--webhook-secret-env <var>', 'environment variable holding the webhook secret');
}

export interface PolicyFlags {
  policies: string[];
  defaultPolicies: boolean;
}

/**
 * The policies `serve` applies (the shipped baseline unless --no-default-policies,
 * then every --policies folder), shared by `serve` and `sources check` so both
 * accept exactly the same revisions. A broken policy file is a UserError.
 */
export async function policiesFromOptions(opts: PolicyFlags): Promise<CompiledPolicy[]> {
  const dirs = [...(opts.defaultPolicies ? [DEFAULT_POLICY_DIR] : []), ...opts.policies];
  try {
    const { policies, diagnostics } = await loadPolicies(dirs);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) throw new UserError(`--policies: ${errors.map((d) => `${d.origin ? fmtOrigin(d.origin) : ''} ${d.message}`).join('; ')}`);
    return policies;
  } catch (err) {
    if (err instanceof PolicyDirError) throw new UserError(`--policies ${err.message}`);
    throw err;
  }
}

/** SourceSpecs from parsed options; bad specs become UserErrors (exit 2). */
export function sourceSpecsFromOptions(opts: SourceFlags): SourceSpec[] {
  try {
    return resolveSourceSpecs(opts);
  } catch (err) {
    if (err instanceof SpecError) throw new UserError(err.message);
    throw err;
  }
}

export function registerSources(program: Command): void {
  const sources = program.command('sources').description('Git and folder sources of mesh config');
  registerSourceClients(sources);
  const check = sources
    .command('check')
    .description('fetch every source once, validate the merged config and report (exit 0 valid, 1 invalid, 2 a source failed)')
    .option('--state-dir <dir>', 'keep the Git clones here (default: a temporary folder)')
    .option('--policies <dir>', 'extra policy folder (repeatable), as for serve', collect, [])
    .option('--no-default-policies', 'do not apply the shipped baseline policies (as serve --no-default-policies)')
    .option('-o, --output <format>', 'text|json|yaml', 'text');
  addSourceOptions(check).action(async (opts: SourceFlags & PolicyFlags & { stateDir?: string; output: string }) => {
    const format = checkOutput(opts.output, ['text', 'json', 'yaml'] as const);
    const specs = sourceSpecsFromOptions(opts);
    const policies = await policiesFromOptions(opts);
    const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'meshcd-sources-')));
    const rec = new Reconciler({ sources: specs, stateDir, policies });
    let rejected: RejectedEvent | undefined;
    rec.on('rejected', (e: RejectedEvent) => (rejected = e));
    try {
      await rec.start();
      const status = rec.status();
      const desired = rec.desired();
      const failed = status.filter((s) => s.lastError);
      const diagnostics = desired?.diagnostics ?? rejected?.diagnostics ?? [];
      if (format !== 'text') {
        printStructured(format, { accepted: desired !== undefined, sources: status, resources: desired?.config.resources.length ?? 0, diagnostics });
      } else {
        for (const s of status) {
          const rev = s.revision ?? s.fetchedRevision ?? '-';
          process.stdout.write(`${s.name}  ${s.kind}  ${s.url}${s.path ? `:${s.path}` : ''}  ${rev}${s.lastError ? `  ERROR ${s.lastError.message}` : ''}\n`);
          for (const n of s.notices) process.stdout.write(`  notice: ${n.message}\n`);
        }
        for (const d of diagnostics) process.stdout.write(`${d.origin ? fmtOrigin(d.origin) : '-'}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}\n`);
        process.stdout.write(desired ? `accepted: ${desired.config.resources.length} resources from ${desired.revisions.map((r) => r.id).join(', ')}\n` : 'not accepted\n');
      }
      if (failed.length > 0 && !desired) throw new UserError(failed.map((s) => s.lastError!.message).join('; '));
      process.exitCode = desired ? EXIT.OK : EXIT.FINDINGS;
    } finally {
      await rec.stop();
      if (!opts.stateDir) await rm(stateDir, { recursive: true, force: true });
    }
  });
}
