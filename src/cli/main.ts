#!/usr/bin/env node
/**
 * `opx`, the operator CLI. One program, every command with --help; results on stdout (human by
 * default, `--json` for machines), diagnostics and errors on stderr, and exit codes scripts can
 * rely on (see {@link EXIT}).
 */
import 'reflect-metadata';

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Command, CommanderError, Option } from 'commander';

import { CliContext } from './context.js';
import { candidatesCommand } from './commands/candidates.js';
import { demoCommand } from './commands/demo.js';
import { explainCommand } from './commands/explain.js';
import { incidentsCommand } from './commands/incidents.js';
import { parkedCommand } from './commands/parked.js';
import { policiesCommand } from './commands/policies.js';
import { principalsCommand } from './commands/principals.js';
import { processCommand } from './commands/process.js';
import { projectionsCommand } from './commands/projections.js';
import { replayCommand } from './commands/replay.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { signalsCommand } from './commands/signals.js';
import { storeCommand } from './commands/store.js';
import { sealCommand, verifyCommand } from './commands/verify.js';
import { workerCommand } from './commands/worker.js';
import type { Action } from './commands/action.js';
import { EXIT, EXIT_CODES_HELP, errorCodeOf, exitCodeOf, type ExitCode } from './exit-codes.js';
import { jsonText, processIo, terminalSafe, terminalSafeLines, type CliIo } from './output.js';
import { CONNECTION_ENV, DEFAULT_DATA_DIR } from './store-selection.js';

const STORE_HELP = `
Event store (every command):
  (no flag)              the embedded store in ${DEFAULT_DATA_DIR} (SQLite), served in-process and
                         reached through the official EventStoreDB client
  --data DIR             the embedded store in DIR, which must exist (a mistyped path is an error);
                         --create makes it (0700, its files 0600), as \`opx store init DIR\` does.
                         Without a store flag, commands that only read need ${DEFAULT_DATA_DIR} to exist
  --memory               a throwaway in-memory store (useful with \`demo\` and \`store serve\`)
  --connection URL       EventStoreDB (or \`opx store serve\`), with credentials and the CA, e.g.
                         'esdb://USER:PASSWORD@localhost:2113?tls=true&tlsCAFile=.opx-certs/ca.crt';
                         env ${CONNECTION_ENV} sets it when no flag is given (keeps the password out of ps)
Config: policies, authority matrix and correlation rules from OPX_CONFIG_DIR (default: the package's config/).`;

/** Builds the program; `setExit` receives the exit code of the command that ran. */
export function buildProgram(io: CliIo, setExit: (code: ExitCode) => void): Command {
  const action: Action =
    <O extends object>(body: (ctx: CliContext, args: readonly string[], options: O) => Promise<ExitCode>) =>
    async (...raw: unknown[]): Promise<void> => {
      const command = raw.at(-1) as Command;
      const options = raw.at(-2) as O;
      const args = raw.slice(0, -2) as string[];
      const ctx = CliContext.of(command, io);
      try {
        setExit(await body(ctx, args, options));
      } finally {
        await ctx.close();
      }
    };

  const program = new Command('opx')
    .description('OPX incident orchestration: signals -> candidates -> policy decisions -> incidents, audited by replay.')
    .version('0.1.0', '-V, --version')
    .addOption(new Option('--data <dir>', `embedded store data dir (default ${DEFAULT_DATA_DIR})`))
    .addOption(new Option('--create', 'create the data dir (--data DIR, or the default) when it holds no store'))
    .addOption(new Option('--memory', 'throwaway in-memory store'))
    .addOption(new Option('--connection <url>', `EventStoreDB connection string (env ${CONNECTION_ENV})`))
    .option('--json', 'machine-readable JSON on stdout (errors as JSON on stderr)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(safeOutput(io))
    .addHelpText('after', `${STORE_HELP}\n${EXIT_CODES_HELP}\n`)
    .exitOverride();

  for (const command of [
    storeCommand(action),
    serveCommand(action),
    signalsCommand(action),
    candidatesCommand(action),
    processCommand(action),
    incidentsCommand(action),
    explainCommand(action),
    replayCommand(action),
    verifyCommand(action),
    sealCommand(action),
    projectionsCommand(action),
    demoCommand(action),
    workerCommand(action),
    principalsCommand(action),
    statusCommand(action),
    parkedCommand(action),
    policiesCommand(action),
  ]) {
    program.addCommand(command);
  }
  // Subcommands inherit the output hooks and throw instead of exiting; exit codes are listed everywhere.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput(safeOutput(io)).showHelpAfterError('(run with --help for usage)');
      if (sub.commands.length === 0) sub.addHelpText('after', EXIT_CODES_HELP + '\n');
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/** Commander's help and parse errors (which quote what was typed), written with control characters escaped. */
const safeOutput = (io: CliIo): { writeOut: (s: string) => void; writeErr: (s: string) => void } => ({
  writeOut: (s) => io.stdout.write(terminalSafeLines(s)),
  writeErr: (s) => io.stderr.write(terminalSafeLines(s)),
});

/** Runs `opx` with these arguments (without `node` and the script) and returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = buildProgram(io, (c) => (code = c));
  const json = args.includes('--json');
  try {
    if (args.length === 0) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    await program.parseAsync([...args], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
      // A parse error commander printed already, or an error thrown by an option parser.
      if (error.code === 'commander.invalidArgument' || error.exitCode !== 0) return EXIT.USAGE;
      return EXIT.USAGE;
    }
    const exit = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    // An error's message may quote what the operator typed or what a store holds: printed safe, as every output is.
    if (json) io.stderr.write(jsonText({ error: { code: errorCodeOf(error), message, exitCode: exit } }) + '\n');
    else io.stderr.write(`opx: error: ${terminalSafe(message)}\n`);
    if (process.env['OPX_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) io.stderr.write(terminalSafeLines(error.stack) + '\n');
    return exit;
  }
}

const invokedDirectly = (): boolean => {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (invokedDirectly()) {
  const code = await runCli(process.argv.slice(2));
  // Let stdout drain (pipes), then exit: gRPC channels of a closed client may linger.
  process.stdout.write('', () => process.exit(code));
}
