import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  StreamDeletedError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
  convertToCommandError,
} from '@eventstore/db-client';

import { StoreUnavailable, StreamDeleted, WrongExpectedVersion } from '../../shared/errors.js';
import type { ExpectedRevision } from '../event-store.js';

/** What the adapter was doing when the client failed: named in the domain error. */
export interface FailureContext {
  readonly operation: string;
  readonly streamId?: string;
  /** The expected revision the caller asked for (reported as `expected` on a concurrency failure). */
  readonly expected?: ExpectedRevision;
}

/** Node's socket errors that mean "could not reach the server". */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE']);

/**
 * Translates an `@eventstore/db-client` failure into the domain's error, keeping the original as
 * `cause`. Errors the domain has no name for (an invalid argument, a persistent-subscription
 * error) come back as the client's typed error.
 */
export function toDomainError(failure: unknown, context: FailureContext): unknown {
  // Some calls (server-features discovery, a refused connection) reject with a raw gRPC error.
  const error = failure instanceof Error ? convertToCommandError(failure) : failure;
  if (error instanceof WrongExpectedVersionError) {
    return new WrongExpectedVersion(
      context.streamId ?? error.streamName,
      context.expected ?? error.expectedVersion,
      error.actualVersion,
      { cause: error },
    );
  }
  if (error instanceof StreamDeletedError) {
    return new StreamDeleted(context.streamId ?? error.streamName, { cause: error });
  }
  if (isRefusedCredentials(error)) {
    const where = context.streamId === undefined ? '' : ` on stream '${context.streamId}'`;
    return new StoreUnavailable(
      `EventStoreDB refused ${context.operation}${where}: ${(error as Error).message || 'access denied'}; ` +
        'give a user who may do it in the connection string (esdb://USER:PASSWORD@host:2113?tls=true&tlsCAFile=CA.crt; see docs/security.md)',
      { cause: error },
    );
  }
  if (isUnavailable(error)) {
    const where = context.streamId === undefined ? '' : ` on stream '${context.streamId}'`;
    const reason = error instanceof Error && error.message !== '' ? `: ${error.message}` : '';
    return new StoreUnavailable(`EventStoreDB ${context.operation}${where} failed${reason}`, { cause: error });
  }
  return error;
}

/** gRPC UNAUTHENTICATED (no or wrong credentials) and PERMISSION_DENIED (a user without the right). */
const REFUSED_STATUS = new Set([16, 7]);

function isRefusedCredentials(error: unknown): boolean {
  if (error instanceof AccessDeniedError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && REFUSED_STATUS.has(code);
}

function isUnavailable(error: unknown): boolean {
  if (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof CancelledError ||
    error instanceof NotLeaderError ||
    error instanceof AccessDeniedError ||
    error instanceof UnknownError
  ) {
    return true;
  }
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  // Gossip discovery (cluster connection strings) fails with a plain Error.
  return /Failed to discover|No connection established|Connection dropped/i.test(error.message);
}
