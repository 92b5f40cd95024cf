import { AuthorityDenied } from '../authority/authority.js';
import { CandidateNotFound } from '../candidates/candidate-store.js';
import { IncidentNotFound } from '../incidents/incident-manager.js';
import { UnknownPolicy } from '../promotion/policy.js';
import { InvalidInput, OpxError, StoreUnavailable } from '../shared/errors.js';
import { InvalidAnchor } from '../integrity/verify.js';
import { ReportRefused } from './output.js';

/**
 * The exit codes `opx` promises to scripts. They are part of the CLI's interface: documented in
 * `opx --help`, asserted by the integration tests, never renumbered.
 */
export const EXIT = {
  /** The command did what it was asked; an audit found nothing wrong. */
  OK: 0,
  /** A replay diverged or found policy drift, a rebuild disagreed, or a business rule refused the command. */
  REFUSED: 1,
  /** The command line or an input file is wrong, or what it names does not exist. */
  USAGE: 2,
  /** The event store could not be opened or reached. */
  STORE_UNAVAILABLE: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (replay IDENTICAL, projections match)
  1  divergence or policy drift found, or refused by a business rule
     (not deferred, authority lacks the right, illegal transition, concurrent change)
  2  usage or input error (bad option, malformed file, unknown candidate/incident/policy,
     a data dir that holds no store, a --report aimed at a store or an existing file,
     a replay audit that needs a larger --heap-mb)
  3  event store unavailable (cannot open the data dir, cannot reach --connection)`;

/** A command line that cannot be acted on: wrong option combination, bad value. */
export class CliUsageError extends OpxError {
  static readonly code = 'opx.cli.usage';

  constructor(message: string) {
    super(CliUsageError.code, message);
  }
}

/** The code of store-selection.ts's DataDirMissing (defined here: store-selection imports this module). */
export const DATA_DIR_MISSING = 'opx.store.data_dir_missing';

/** The code of replay-thread.ts's AuditHeapExhausted (defined here: the audit thread must not import itself back through this module). */
export const AUDIT_HEAP_EXHAUSTED = 'opx.replay.heap_exhausted';

/**
 * Usage-class errors: the operator named something that does not exist or is malformed, or gave
 * the replay audit a heap too small for it (an option to set larger; exit 1 stays a divergence).
 */
const USAGE_CODES = new Set<string>([
  CliUsageError.code,
  InvalidInput.code,
  CandidateNotFound.code,
  IncidentNotFound.code,
  UnknownPolicy.code,
  AUDIT_HEAP_EXHAUSTED,
  DATA_DIR_MISSING,
  ReportRefused.code,
  InvalidAnchor.code,
]);

/** Node file-system errors on an input file the operator named. */
const FILE_ERRORS = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES']);

/** Maps any failure to the exit code scripts rely on. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof StoreUnavailable || OpxError.hasCode(error, StoreUnavailable.code)) return EXIT.STORE_UNAVAILABLE;
  if (OpxError.is(error)) return USAGE_CODES.has(error.code) ? EXIT.USAGE : EXIT.REFUSED;
  if (error instanceof AuthorityDenied) return EXIT.REFUSED;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && FILE_ERRORS.has(code)) return EXIT.USAGE;
  return EXIT.REFUSED;
}

/** A stable code for `--json` error output. */
export function errorCodeOf(error: unknown): string {
  if (OpxError.is(error)) return error.code;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? `node.${code}` : 'opx.internal';
}
