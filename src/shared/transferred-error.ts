import { OpxError } from './errors.js';

/**
 * An error as it crosses a thread boundary (a worker thread's message, a MessagePort): structured
 * clone keeps neither an error's class nor its own properties, so what the other side needs is
 * carried by hand. An OpxError keeps its code, and so the CLI's exit code; a system error its errno.
 */
export interface TransferredError {
  readonly opxCode: string | undefined;
  readonly errno: string | undefined;
  readonly message: string;
}

export function transferredError(error: unknown): TransferredError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  return {
    opxCode: OpxError.is(error) ? error.code : undefined,
    errno: typeof errno === 'string' ? errno : undefined,
    message: error instanceof Error ? error.message : String(error),
  };
}

/** The error the receiving side throws for a transferred one: same code, same message. */
export function rebuiltError(failure: TransferredError): Error {
  if (failure.opxCode !== undefined) return new OpxError(failure.opxCode, failure.message);
  const error: NodeJS.ErrnoException = new Error(failure.message);
  if (failure.errno !== undefined) error.code = failure.errno;
  return error;
}
