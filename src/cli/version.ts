import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { checkOutput, printStructured } from './output.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Print the meshcd version')
    .option('-o, --output <format>', 'text|json|yaml', 'text')
    .action((opts: { output: string }) => {
      const format = checkOutput(opts.output, ['text', 'json', 'yaml'] as const);
      const info = { version: packageVersion(), node: process.version, platform: `${process.platform}/${process.arch}` };
      if (format === 'text') process.stdout.write(`meshcd ${info.version} (node ${info.node}, ${info.platform})\n`);
      else printStructured(format, info);
    });
}
