import type { StorageEngine, StoredEvent } from './storage/engine.js';
import { DELETED_STREAM, metastreamOf } from './system-streams.js';

/**
 * Whether a write may go ahead, EventStoreDB's IndexWriter.CheckCommit rules (read, never copied):
 * expected revisions, idempotent re-appends of the same event ids, and deleted streams.
 */

export type ExpectedRevision =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: bigint };

/** The numeric form EventStoreDB uses in error trailers. */
export const expectedVersionNumber = (expected: ExpectedRevision): bigint => {
  switch (expected.kind) {
    case 'any':
      return -2n;
    case 'no_stream':
      return -1n;
    case 'stream_exists':
      return -4n;
    case 'revision':
      return expected.revision;
    default: {
      const never: never = expected;
      return never;
    }
  }
};

export type CommitDecision =
  | { readonly kind: 'ok'; readonly softDeleted: boolean }
  | { readonly kind: 'idempotent'; readonly last: StoredEvent }
  | { readonly kind: 'wrong_expected_version' }
  | { readonly kind: 'deleted' };

export const checkCommit = (
  engine: StorageEngine,
  isSoftDeleted: (streamId: string) => boolean,
  streamId: string,
  expected: ExpectedRevision,
  eventIds: readonly string[],
): CommitDecision => {
  const current = engine.streamLastRevision(streamId);
  if (current === DELETED_STREAM) return { kind: 'deleted' };
  if (current === undefined && !isSoftDeleted(streamId)) {
    switch (expected.kind) {
      case 'any':
      case 'no_stream':
        return { kind: 'ok', softDeleted: false };
      case 'stream_exists':
        if (engine.streamLastRevision(metastreamOf(streamId)) === undefined)
          return { kind: 'wrong_expected_version' };
        break;
      case 'revision':
        return { kind: 'wrong_expected_version' };
      default: {
        const never: never = expected;
        return never;
      }
    }
  }
  const cur = current ?? -1n;
  const softDeleted = isSoftDeleted(streamId);
  if (expected.kind === 'stream_exists' && softDeleted) return { kind: 'deleted' };

  if (expected.kind === 'any' || expected.kind === 'stream_exists') {
    let last: StoredEvent | undefined;
    for (const [i, id] of eventIds.entries()) {
      const found = engine.findInStream(streamId, id);
      if (found === undefined) return i === 0 ? { kind: 'ok', softDeleted } : { kind: 'wrong_expected_version' };
      last = found;
    }
    return last === undefined ? { kind: 'ok', softDeleted } : { kind: 'idempotent', last };
  }

  const expectedVersion = expected.kind === 'no_stream' ? -1n : expected.revision;
  if (expectedVersion < cur) {
    let revision = expectedVersion;
    let last: StoredEvent | undefined;
    for (const id of eventIds) {
      revision += 1n;
      const [atRevision] = engine.readStreamForward(streamId, revision, 1);
      if (atRevision !== undefined && atRevision.revision === revision && atRevision.eventId === id) {
        last = atRevision;
        continue;
      }
      if (revision !== expectedVersion + 1n) return { kind: 'wrong_expected_version' };
      if (expected.kind === 'no_stream' && softDeleted) return { kind: 'ok', softDeleted };
      return { kind: 'wrong_expected_version' };
    }
    return last === undefined ? { kind: 'wrong_expected_version' } : { kind: 'idempotent', last };
  }
  if (expectedVersion > cur) return { kind: 'wrong_expected_version' };
  return { kind: 'ok', softDeleted };
};
