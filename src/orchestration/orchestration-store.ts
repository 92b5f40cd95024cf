import type { Decision } from '../candidates/candidate-events.js';
import type { EventStore, JsonObject, RecordedEvent } from '../eventstore/event-store.js';

/** Component 4 (frozen): one orchestration attempt, for observability and debugging only. */
export interface OrchestrationAttempt {
  candidateId: string;
  attemptId: string;
  authorityType: string;
  authorityId: string;
  policyId: string;
  policyVersion: string;
  decision: 'PROMOTE' | 'DEFER' | 'SUPPRESS';
  decisionId: string;
  incidentId?: string;
  reason: string;
  startedAt: string;
  completedAt: string;
  durationMs: number;
  status: 'success' | 'error';
  error?: string;
  ttl: number; // 90 days
}

/**
 * An attempt that failed before CP-6 answered has no decision to name: the frozen shape is kept
 * for every successful attempt, and a failed one may leave decision and decisionId out rather
 * than record a decision that was never made.
 */
export type FailedOrchestrationAttempt = Omit<OrchestrationAttempt, 'decision' | 'decisionId' | 'status' | 'error'> & {
  decision?: Decision;
  decisionId?: string;
  status: 'error';
  error: string;
};

export const ORCHESTRATION_STREAM_PREFIX = 'orchestration-';
export const orchestrationStreamId = (candidateId: string): string => `${ORCHESTRATION_STREAM_PREFIX}${candidateId}`;

/** Every attempt's metadata, one frozen object (the in-memory store holds what it is given). */
const ATTEMPT_METADATA: JsonObject = Object.freeze({ schemaVersion: 1 });

/** Decision 4: 90 days, as EventStoreDB's $maxAge on each orchestration stream. */
export const ORCHESTRATION_LOG_MAX_AGE_SECONDS = 90 * 24 * 60 * 60;

/**
 * The DynamoDB table of the spec, on EventStoreDB: pk `CANDIDATE#<id>` -> stream
 * `orchestration-<candidateId>`, sk `ATTEMPT#<timestamp>` -> the event's revision (attempts in
 * the order written), TTL -> the stream's $maxAge, set when the append creates the stream.
 * Write-only on the hot path: nothing in orchestration reads it; `getAttempts` is for people.
 */
export class OrchestrationStore {
  constructor(private readonly store: EventStore) {}

  /**
   * Appends the attempt to its candidate's orchestration stream. The record becomes the event's
   * data as given, not a copy: like every append, the store takes ownership of the payload (the
   * in-memory store freezes it), so a caller hands over a record it does not change afterwards,
   * as the orchestrator does (one new record per attempt).
   */
  async logAttempt(attempt: OrchestrationAttempt | FailedOrchestrationAttempt): Promise<void> {
    const streamId = orchestrationStreamId(attempt.candidateId);
    const result = await this.store.append(
      streamId,
      [{ id: attempt.attemptId, type: 'OrchestrationAttempted', data: attempt as unknown as JsonObject, metadata: ATTEMPT_METADATA }],
      'any',
    );
    if (result.nextExpectedRevision === 0n) {
      await this.store.setStreamMetadata(streamId, { maxAge: ORCHESTRATION_LOG_MAX_AGE_SECONDS });
    }
  }

  /** Debug only: never called by orchestration. */
  async getAttempts(candidateId: string): Promise<OrchestrationAttempt[]> {
    const attempts: OrchestrationAttempt[] = [];
    for await (const event of this.store.readStream(orchestrationStreamId(candidateId))) {
      attempts.push(toAttempt(event));
    }
    return attempts;
  }
}

const toAttempt = (event: RecordedEvent): OrchestrationAttempt => event.data as unknown as OrchestrationAttempt;
