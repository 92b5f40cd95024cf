import { candidateStreamId } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore, EventToAppend, RecordedEvent } from '../eventstore/event-store.js';
import { OpxError, WrongExpectedVersion } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Candidate } from './correlator.js';

/** Where correlation's outputs go: the store (live), or a comparison with history (the replay audit). */
export interface CorrelationOutputs {
  /** CP-5 records the candidate at revision 0 of its stream (the same candidate again is a no-op). */
  createCandidate(candidate: Candidate): Promise<void>;
  /** Appends a group's next events after `expected` (-1n: a new stream); the same events again are a no-op. */
  appendGroup(streamId: string, events: readonly EventToAppend[], expected: bigint): Promise<void>;
  /** A group stream as recorded, to rebuild a group this process does not hold. */
  readGroup(streamId: string): AsyncIterable<RecordedEvent>;
}

export class CorrelationConflict extends OpxError {
  static readonly code = 'opx.correlation.conflict';

  constructor(streamId: string, detail: string) {
    super(CorrelationConflict.code, `Correlation output conflicts with what ${streamId} holds: ${detail} (two correlators with different rules, or a rule changed under the same version?)`);
  }
}

/**
 * The live outputs: CP-5 for candidates, group streams appended at the revision the group was
 * at. Two correlators running at once (or one redoing work after a restart) derive the same
 * events with the same ids: a re-append is a no-op, and an append that finds some of its events
 * already written checks they are its own and writes only the rest. Anything else is a conflict.
 */
export class StoreCorrelationOutputs implements CorrelationOutputs {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly logger: Logger,
  ) {}

  async createCandidate(candidate: Candidate): Promise<void> {
    try {
      await this.candidates.create(candidate);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersion)) throw error;
      const recorded = await firstEvent(this.store, candidateStreamId(candidate.candidateId));
      const schemaVersion = (recorded?.metadata as { schemaVersion?: unknown } | undefined)?.schemaVersion;
      if (recorded?.type === 'CandidateCreated' && schemaVersion === 1) {
        // Recorded by the batch correlation before this store moved to live correlation: kept as it is.
        this.logger.warn({ candidateId: candidate.candidateId }, 'candidate already recorded by the batch correlation: kept as recorded');
        return;
      }
      throw new CorrelationConflict(candidateStreamId(candidate.candidateId), 'a different CandidateCreated is recorded at revision 0');
    }
  }

  /**
   * The first append chained with `then`, not awaited in an async function: a group append is made
   * per group touched per commit (~19,000 for 50,000 facts), and a suspended async function per
   * append was ~600 bytes of it. Only a refused append goes on to {@link appendAfterConflict}.
   */
  appendGroup(streamId: string, events: readonly EventToAppend[], expected: bigint): Promise<void> {
    let appended: Promise<unknown>;
    try {
      appended = this.store.append(streamId, events, expected < 0n ? 'no_stream' : expected);
    } catch (error) {
      return this.appendAfterConflict(streamId, events, expected, error);
    }
    return appended.then(NOTHING, (error: unknown) => this.appendAfterConflict(streamId, events, expected, error));
  }

  /** After an append of `events` at `expected` failed with `error`: at most two more attempts, as the class describes. */
  private async appendAfterConflict(streamId: string, events: readonly EventToAppend[], expected: bigint, error: unknown): Promise<void> {
    let rest = events;
    let at = expected;
    for (let attempt = 0; ; attempt++) {
      if (!(error instanceof WrongExpectedVersion)) throw error;
      // Some of these events are there already (another correlator, or this one before a restart):
      // they must be these, in order; the rest are appended after them.
      let matched = 0;
      for await (const recorded of this.store.readStream(streamId, { fromRevision: at + 1n, maxCount: rest.length })) {
        const mine = rest[matched];
        if (mine === undefined || recorded.id !== mine.id) throw new CorrelationConflict(streamId, `revision ${recorded.revision} holds event ${recorded.id}, not ${mine?.id ?? '(nothing more)'}`);
        matched++;
      }
      if (matched === 0) throw error;
      rest = rest.slice(matched);
      at += BigInt(matched);
      if (rest.length === 0) return;
      if (attempt === 2) throw new CorrelationConflict(streamId, 'it kept moving while appending'); // three appends refused
      try {
        await this.store.append(streamId, rest, at < 0n ? 'no_stream' : at);
        return;
      } catch (next) {
        error = next;
      }
    }
  }

  readGroup(streamId: string): AsyncIterable<RecordedEvent> {
    return this.store.readStream(streamId);
  }
}

const NOTHING = (): void => undefined;

/** Revision 0 of a stream, read to the end of a one-event read (a read broken off early is a cancelled call). */
async function firstEvent(store: EventStore, streamId: string): Promise<RecordedEvent | undefined> {
  let first: RecordedEvent | undefined;
  for await (const recorded of store.readStream(streamId, { maxCount: 1 })) first ??= recorded;
  return first;
}
