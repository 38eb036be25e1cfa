// meshcd command line. Each subcommand lives in its own file and registers
// itself here. User errors print one clear line and exit 2; never a stack.

import { Command, CommanderError } from 'commander';
import { EXIT, UserError } from './exit.js';
import { packageVersion } from './version.js';

type Register = (program: Command) => void;

// Subcommands are imported only when used: `meshcd validate` should not pay
// for loading gRPC, Envoy's protos or OpenPGP. Help lists them all.
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  version: async () => (await import('./version.js')).registerVersion,
  validate: async () => (await import('./validate.js')).registerValidate,
  diff: async () => (await import('./diff.js')).registerDiff,
  history: async () => (await import('./history.js')).registerHistory,
  serve: async () => (await import('./serve.js')).registerServe,
  sources: async () => (await import('../source/cli.js')).registerSources,
  ca: async () => (await import('./ca.js')).registerCa,
  agent: async () => (await import('./agent.js')).registerAgent,
  demo: async () => (await import('./demo.js')).registerDemo,
  rollout: async () => (await import('./rollout.js')).registerRollout,
  'proxy-status': async () => (await import('./proxy.js')).registerProxyStatus,
  'proxy-config': async () => (await import('./proxy.js')).registerProxyConfig,
  completion: async () => (await import('./completion.js')).registerCompletion,
};

/** The program with the subcommands `argv` needs (all of them when no known one is named). */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('meshcd')
    .description('GitOps control plane for Envoy service meshes')
    .version(packageVersion(), '--version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const named = argv?.slice(2).find((a) => !a.startsWith('-'));
  const wanted = named && named in COMMANDS ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) (await COMMANDS[name]!())(program);
  for (const c of program.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
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

