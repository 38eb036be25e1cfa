// meshcd command line. Each subcommand lives in its own file and registers
// itself here. User errors print one clear line and exit 2; never a stack.

import { Command, CommanderError } from 'commander';
import { EXIT, UserError } from './exit.js';
import { packageVersion, registerVersion } from './version.js';
import { registerValidate } from './validate.js';
import { registerDiff } from './diff.js';
import { registerHistory } from './history.js';
import { registerServe } from './serve.js';
import { registerCa } from './ca.js';
import { registerAgent } from './agent.js';
import { registerSources } from '../source/cli.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('meshcd')
    .description('GitOps control plane for Envoy service meshes')
    .version(packageVersion(), '--version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerVersion(program);
  registerValidate(program);
  registerDiff(program);
  registerHistory(program);
  registerServe(program);
  registerCa(program);
  registerAgent(program);
  registerSources(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE;
    }
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    // An unexpected failure is still reported as one line; MESHCD_DEBUG shows the stack.
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.MESHCD_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    return EXIT.USAGE;
  }
}

