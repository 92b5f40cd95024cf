import type { CliContext } from '../context.js';
import type { ExitCode } from '../exit-codes.js';

/** A command body: positional arguments and the command's own options (global ones are on ctx). */
export type CommandBody<O extends object = Record<string, unknown>> = (ctx: CliContext, args: readonly string[], options: O) => Promise<ExitCode>;

/**
 * Turns a body into a commander action: the runner builds the context from the command's options,
 * runs the body, closes the store and records the exit code.
 */
export type Action = <O extends object>(body: CommandBody<O>) => (...raw: unknown[]) => Promise<void>;
