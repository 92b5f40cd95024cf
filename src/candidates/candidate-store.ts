import type { Candidate } from '../correlation/correlator.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { OpxError } from '../shared/errors.js';
import { contentHash, eventId } from '../shared/ids.js';
import { candidateCodec } from './candidate-codec.js';
import {
  candidateIdOfStream,
  candidateStreamId,
  type CandidateCreated,
  type CandidateStreamEvent,
  type IncidentCreatedEvent,
  type ManualPromotionRequestedData,
  type PromotionDecidedData,
} from './candidate-events.js';

export class CandidateNotFound extends OpxError {
  static readonly code = 'opx.candidate.not_found';

  constructor(readonly candidateId: string) {
    super(CandidateNotFound.code, `Candidate '${candidateId}' not found`);
  }

  static withId(candidateId: string): CandidateNotFound {
    return new CandidateNotFound(candidateId);
  }
}

/** A recorded fact of the candidate stream, with the id of the event that recorded it. */
export type Recorded<T> = T & { readonly eventId: string; readonly revision: bigint };

/** Everything a candidate stream says, folded: what CP-6 and CP-7 decide on. */
export interface CandidateHistory {
  readonly candidate: Candidate;
  readonly createdEventId: string;
  /** Revision of the last event in the stream: the expected revision of the next append. */
  readonly revision: bigint;
  readonly decisions: ReadonlyArray<Recorded<PromotionDecidedData>>;
  readonly manualRequests: ReadonlyArray<Recorded<ManualPromotionRequestedData>>;
  readonly incidents: ReadonlyArray<Recorded<IncidentCreatedEvent>>;
}

/**
 * The id CandidateCreated is recorded under: derived from the whole candidate, so the same
 * candidate always gets the same id (a re-append is a no-op) while a different candidate under the
 * same candidate id (its window re-correlated from other signals) is refused at `no_stream`.
 */
export const candidateCreatedEventId = (candidate: Candidate): string => eventId(`CandidateCreated:${candidate.candidateId}:${contentHash(candidate)}`);

/** Turns a correlated candidate into its CandidateCreated event (revision 0 of its stream). */
export function candidateCreated(candidate: Candidate): CandidateCreated {
  const id = candidateCreatedEventId(candidate);
  return {
    type: 'CandidateCreated',
    data: {
      eventType: 'CandidateCreated',
      candidateId: candidate.candidateId,
      correlationRuleId: candidate.correlationRuleId,
      correlationRuleVersion: candidate.correlationRuleVersion,
      signalCount: candidate.signalCount,
      severity: candidate.severity,
      service: candidate.service,
      createdAt: candidate.createdAt,
    },
    metadata: {
      $correlationId: id,
      $causationId: id,
      // 2: made by live correlation (signalCount is the count at the threshold, title and context
      // travel with it); 1: by the batch correlation that came before.
      schemaVersion: candidate.context === undefined ? 1 : 2,
      candidate: {
        policyId: candidate.policyId,
        policyVersion: candidate.policyVersion,
        groupKey: candidate.groupKey,
        windowStart: candidate.windowStart,
        windowEnd: candidate.windowEnd,
        signalIds: candidate.signalIds,
        ...(candidate.title === undefined ? {} : { title: candidate.title }),
        ...(candidate.context === undefined ? {} : { context: candidate.context }),
      },
    },
  };
}

/**
 * CP-5: candidates live in their own stream, `candidate-<candidateId>`, created once at revision 0.
 *
 * Reads: `get` and `load` may answer from the histories this process has seen since: read,
 * written (its own appends, reported through `appended`, and `create`), or delivered to it by a
 * subscription (`observe`). `refresh` always reads. A remembered history is always a prefix of
 * the stream, never ahead of it, so it is safe to decide on: a write guarded by its revision fails
 * with WrongExpectedVersion if the stream moved, and the writer then refreshes. What a remembered
 * history lacks can only make a writer refuse, so CP-6 and CP-7 refresh before refusing for
 * something absent. The candidate itself (revision 0) never changes once recorded. So a
 * delivered CandidateCreated is orchestrated with no read at all: over EventStoreDB, a round trip
 * saved per event; a duplicate delivery finds out from the expected revision, never from a read.
 */
export class CandidateStore {
  private readonly known = new Map<string, CandidateHistory>();

  constructor(
    private readonly store: EventStore,
    private readonly maxKnown = 4_096,
  ) {}

  /**
   * Records a new candidate at `no_stream`. Recording the same candidate again is a no-op
   * (same deterministic event id); a different candidate under the same id is refused.
   */
  async create(candidate: Candidate): Promise<void> {
    const created = candidateCreated(candidate);
    const id = created.metadata.$correlationId;
    const event = candidateCodec.encode(created, id);
    await this.store.append(candidateStreamId(candidate.candidateId), [event], 'no_stream');
    // Revision 0 is now this event (written, or already there with the same id): a prefix.
    if (!this.known.has(candidate.candidateId)) this.remember(evolve(undefined, created, id, 0n));
  }

  /**
   * A recorded event of a candidate stream that reached this process (a subscription delivery):
   * remembered when it extends what is known by one revision (or starts the stream at revision
   * 0), so handling it needs no read. An event that does not decode is left to the handler,
   * which refuses it (fail-fast); this never throws.
   */
  observe(recorded: RecordedEvent): void {
    const candidateId = candidateIdOfStream(recorded.streamId);
    if (candidateId === undefined) return;
    const known = this.known.get(candidateId);
    // Compared as numbers: a bigint sum would be allocated for every event observed.
    if (Number(recorded.revision) !== (known === undefined ? 0 : Number(known.revision) + 1)) return;
    try {
      const event = candidateCodec.decode(recorded);
      if (known !== undefined) this.appended(known, event, recorded.id);
      else if (event.type === 'CandidateCreated' && event.data.candidateId === candidateId) this.remember(evolve(undefined, event, recorded.id, 0n));
    } catch {
      // Malformed or out of place: not remembered; the handler (or a later read) decides.
    }
  }

  /** The candidate, as CP-5 recorded it (possibly as remembered: it never changes); throws {@link CandidateNotFound}. */
  async get(candidateId: string): Promise<Candidate> {
    const known = this.known.get(candidateId);
    return known !== undefined ? known.candidate : (await this.refresh(candidateId)).candidate;
  }

  /** The candidate stream folded, possibly as remembered (see the class comment); throws {@link CandidateNotFound}. */
  load(candidateId: string): Promise<CandidateHistory> {
    const known = this.known.get(candidateId);
    return known !== undefined ? Promise.resolve(known) : this.refresh(candidateId);
  }

  /** The candidate stream folded, read now; throws {@link CandidateNotFound}. */
  async refresh(candidateId: string): Promise<CandidateHistory> {
    let history: Mutable<CandidateHistory> | undefined;
    for await (const recorded of this.store.readStream(candidateStreamId(candidateId))) {
      const event = candidateCodec.decode(recorded);
      history = evolve(history, event, recorded.id, recorded.revision);
    }
    if (history === undefined) {
      this.known.delete(candidateId);
      throw CandidateNotFound.withId(candidateId);
    }
    return this.remember(history);
  }

  /** A writer appended `event` right after `history` (at `history.revision + 1`): remember the result. */
  appended(history: CandidateHistory, event: CandidateStreamEvent, id: string): CandidateHistory {
    const copy: Mutable<CandidateHistory> = {
      ...history,
      decisions: [...history.decisions],
      manualRequests: [...history.manualRequests],
      incidents: [...history.incidents],
    };
    return this.remember(evolve(copy, event, id, history.revision + 1n));
  }

  /**
   * Remembers a history in place of the one before it. The oldest candidate first remembered goes
   * when more than `maxKnown` are (first in, first out: a history updated keeps its place, which
   * costs one map write instead of a delete and an insert per event; candidates are worked on
   * soon after they are created, so the oldest is the one least likely to be needed again).
   */
  private remember(history: CandidateHistory): CandidateHistory {
    const size = this.known.size;
    this.known.set(history.candidate.candidateId, history);
    if (this.known.size > size && this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value as string);
    return history;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends ReadonlyArray<infer U> ? U[] : T[K] };

/** The candidate stream's fold. Exhaustive: a new event type will not compile until handled here. */
export function evolve(
  state: Mutable<CandidateHistory> | undefined,
  event: CandidateStreamEvent,
  id: string,
  revision: bigint,
): Mutable<CandidateHistory> {
  if (event.type === 'CandidateCreated') {
    if (state !== undefined) throw new OpxError('opx.candidate.corrupt', `CandidateCreated at revision ${revision} of an existing candidate`);
    return {
      candidate: toCandidate(event),
      createdEventId: id,
      revision,
      decisions: [],
      manualRequests: [],
      incidents: [],
    };
  }
  if (state === undefined) throw new OpxError('opx.candidate.corrupt', `${event.type} at revision ${revision} before CandidateCreated`);
  state.revision = revision;
  switch (event.type) {
    case 'ManualPromotionRequested':
      state.manualRequests.push({ ...event.data, eventId: id, revision });
      return state;
    case 'PromotionDecided':
      state.decisions.push({ ...event.data, eventId: id, revision });
      return state;
    case 'IncidentCreated':
      state.incidents.push({ ...event.data, eventId: id, revision });
      return state;
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled candidate event ${(unhandled as CandidateStreamEvent).type}`);
    }
  }
}

function toCandidate({ data, metadata }: CandidateCreated): Candidate {
  return {
    candidateId: data.candidateId,
    correlationRuleId: data.correlationRuleId,
    correlationRuleVersion: data.correlationRuleVersion,
    policyId: metadata.candidate.policyId,
    policyVersion: metadata.candidate.policyVersion,
    severity: data.severity as Candidate['severity'],
    service: data.service,
    signalCount: data.signalCount,
    createdAt: data.createdAt,
    groupKey: metadata.candidate.groupKey,
    windowStart: metadata.candidate.windowStart,
    windowEnd: metadata.candidate.windowEnd,
    signalIds: metadata.candidate.signalIds,
    ...(metadata.candidate.title === undefined ? {} : { title: metadata.candidate.title }),
    ...(metadata.candidate.context === undefined ? {} : { context: metadata.candidate.context }),
  };
}
