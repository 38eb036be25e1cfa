import type { Command } from 'commander';
import { readFolderRevision } from '../source/folder.js';
import { loadRevision } from '../config/load.js';
import { validate, hasErrors } from '../validate/index.js';
import { EXIT, UserError } from './exit.js';
import { checkOutput, printStructured } from './output.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Validate mesh config in a folder: schema, Istio rules, cross-resource analysis, org policies')
    .argument('[dir]', 'config folder', '.')
    .option('-o, --output <format>', 'text|json|yaml|sarif', 'text')
    .action(async (dir: string, opts: { output: string }) => {
      const format = checkOutput(opts.output, ['text', 'json', 'yaml', 'sarif'] as const);
      let rev;
      try {
        rev = await readFolderRevision(dir);
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      const load = await loadRevision(rev);
      const diags = validate(load);
      if (format === 'json' || format === 'yaml') printStructured(format, { revision: rev.id, diagnostics: diags });
      else for (const d of diags) process.stdout.write(`${d.origin ? `${d.origin.file}:${d.origin.line}` : '-'}  ${d.severity.toUpperCase()}  ${d.code}  ${d.resource ?? '-'}  ${d.message}\n`);
      process.exitCode = hasErrors(diags) ? EXIT.FINDINGS : EXIT.OK;
    });
}
