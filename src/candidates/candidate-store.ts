import type { Candidate } from '../correlation/correlator.js';
import type { EventStore } from '../eventstore/event-store.js';
import { OpxError } from '../shared/errors.js';
import { contentHash, eventId } from '../shared/ids.js';
import { candidateCodec } from './candidate-codec.js';
import {
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
      schemaVersion: 1,
      candidate: {
        policyId: candidate.policyId,
        policyVersion: candidate.policyVersion,
        groupKey: candidate.groupKey,
        windowStart: candidate.windowStart,
        windowEnd: candidate.windowEnd,
        signalIds: candidate.signalIds,
      },
    },
  };
}

/**
 * CP-5: candidates live in their own stream, `candidate-<candidateId>`, created once at revision 0.
 *
 * Reads: `get` always reads the stream (the orchestrator calls it first for every event it
 * handles), `refresh` does too, and `load` may answer from the histories this process has read or
 * written since (CP-6 and CP-7 call it right after `get`, and report their own appends through
 * `appended`). A remembered history is always a prefix of the stream, never ahead of it, so it is
 * safe to decide on: a write guarded by its revision fails with WrongExpectedVersion if the stream
 * moved, and the writer then refreshes. What a remembered history lacks can only make a writer
 * refuse, so CP-6 and CP-7 refresh before refusing for something absent. This saves two reads of
 * three per handled event, which over EventStoreDB are round trips.
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
    const event = candidateCodec.encode(created, created.metadata.$correlationId);
    await this.store.append(candidateStreamId(candidate.candidateId), [event], 'no_stream');
  }

  /** The candidate, as CP-5 recorded it, read from its stream; throws {@link CandidateNotFound}. */
  async get(candidateId: string): Promise<Candidate> {
    return (await this.refresh(candidateId)).candidate;
  }

  /** The candidate stream folded, possibly as remembered (see the class comment); throws {@link CandidateNotFound}. */
  async load(candidateId: string): Promise<CandidateHistory> {
    return this.known.get(candidateId) ?? this.refresh(candidateId);
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

  private remember(history: CandidateHistory): CandidateHistory {
    const id = history.candidate.candidateId;
    this.known.delete(id);
    this.known.set(id, history);
    if (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value as string);
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
  };
}
