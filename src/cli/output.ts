// Output formats shared by subcommands: --output text|json|yaml (plus
// per-command extras such as sarif or markdown).

import { yamlLibrary } from '../config/parse.js';
import { UserError } from './exit.js';

export function checkOutput<T extends string>(value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UserError(`--output: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function printStructured(format: 'json' | 'yaml', value: unknown): void {
  if (format === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else process.stdout.write(yamlLibrary().stringify(value, { lineWidth: 0 }));
}
