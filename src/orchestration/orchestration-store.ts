import { candidateStreamId, type Decision } from '../candidates/candidate-events.js';
import type { EventStore, EventToAppend, JsonObject, RecordedEvent } from '../eventstore/event-store.js';
import { silentLogger, type Logger } from '../shared/logger.js';

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

/** Decision 4: 90 days, as EventStoreDB's $maxAge on the attempt log's stream. */
export const ORCHESTRATION_LOG_MAX_AGE_SECONDS = 90 * 24 * 60 * 60;

/** The attempt log: one stream for every candidate's attempts, its $maxAge set once. */
export const ORCHESTRATION_LOG_STREAM = 'orchestration-attempts';

/** A stream per candidate, where an earlier version logged attempts: getAttempts still reads it. */
export const ORCHESTRATION_STREAM_PREFIX = 'orchestration-';
export const orchestrationStreamId = (candidateId: string): string => `${ORCHESTRATION_STREAM_PREFIX}${candidateId}`;

export interface OrchestrationLogOptions {
  /** Where a write the log could not make is reported (it never fails orchestration). */
  readonly logger?: Logger;
  /** Attempts appended in one call at most (EventStoreDB refuses appends over 1 MB by default). */
  readonly maxBatch?: number;
  /** Attempts waiting to be written at most; more (the store is down) are dropped and counted. */
  readonly maxQueued?: number;
}

type Attempt = OrchestrationAttempt | FailedOrchestrationAttempt;

/** Every attempt's metadata, one frozen object (the in-memory store holds what it is given). */
const ATTEMPT_METADATA: JsonObject = Object.freeze({ schemaVersion: 1 });

/**
 * The spec's DynamoDB table on EventStoreDB, write-only on the hot path. Attempts go to one
 * stream, `orchestration-attempts`, whose $maxAge (Decision 4's TTL) is set once per process, in
 * batches written behind the orchestration: `logAttempt` queues the record and returns, and one
 * append at a time takes everything queued while the previous one was in flight (group commit),
 * so a candidate's own calls are its domain appends (docs/performance.md). A write that fails is
 * logged and dropped, never retried into the hot path; a host calls {@link flush} before it closes
 * the store, or the last batch is lost (observability only: a crash loses what was still queued).
 *
 * `getAttempts` (people only, never orchestration) reads the log backwards from its end down to
 * the position of the candidate's first event: no attempt for a candidate can precede its input.
 */
export class OrchestrationStore {
  private readonly logger: Logger;
  private readonly maxBatch: number;
  private readonly maxQueued: number;
  private queue: Attempt[] = [];
  private writing: Promise<void> | undefined;
  private retentionSet = false;
  /** Attempts dropped because the queue was full, since the last warning. */
  private dropped = 0;

  constructor(
    private readonly store: EventStore,
    options: OrchestrationLogOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxQueued = options.maxQueued ?? 10_000;
  }

  /**
   * Queues the attempt for the log and returns: the write happens behind the caller. The record
   * becomes the event's data as given, not a copy (the store takes ownership of what it is
   * given), so a caller hands over a record it does not change afterwards.
   */
  async logAttempt(attempt: Attempt): Promise<void> {
    if (this.queue.length >= this.maxQueued) {
      if (this.dropped++ === 0) this.logger.warn({ queued: this.queue.length }, 'Orchestration attempt log is behind: dropping attempts until it catches up');
      return;
    }
    this.queue.push(attempt);
    this.writing ??= this.writeQueued();
  }

  /** Resolves once every attempt queued so far is written (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Debug only: never called by orchestration. The candidate's attempts, oldest first. */
  async getAttempts(candidateId: string): Promise<OrchestrationAttempt[]> {
    await this.flush();
    const since = await this.firstPosition(candidateStreamId(candidateId));
    const logged: OrchestrationAttempt[] = [];
    for await (const event of this.store.readStream(ORCHESTRATION_LOG_STREAM, { direction: 'backwards' })) {
      if (since !== undefined && event.position >= 0n && event.position < since) break;
      if (event.data['candidateId'] === candidateId) logged.push(toAttempt(event));
    }
    const earlier: OrchestrationAttempt[] = [];
    for await (const event of this.store.readStream(orchestrationStreamId(candidateId))) earlier.push(toAttempt(event));
    return [...earlier, ...logged.reverse()];
  }

  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
        this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
        await this.write(batch);
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async write(batch: readonly Attempt[]): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'Orchestration attempt log caught up; attempts were dropped');
      this.dropped = 0;
    }
    try {
      if (!this.retentionSet) {
        await this.store.setStreamMetadata(ORCHESTRATION_LOG_STREAM, { maxAge: ORCHESTRATION_LOG_MAX_AGE_SECONDS });
        this.retentionSet = true;
      }
      await this.store.append(ORCHESTRATION_LOG_STREAM, batch.map(toEvent), 'any');
    } catch (error) {
      this.logger.warn({ err: error, attempts: batch.length, candidateIds: batch.slice(0, 10).map((a) => a.candidateId) }, 'Failed to log orchestration attempts');
    }
  }

  /** The global position of a stream's first event, or undefined when unknown (no stream, or a server that does not say). */
  private async firstPosition(streamId: string): Promise<bigint | undefined> {
    for await (const event of this.store.readStream(streamId, { maxCount: 1 })) return event.position >= 0n ? event.position : undefined;
    return undefined;
  }
}

const toEvent = (attempt: Attempt): EventToAppend => ({ id: attempt.attemptId, type: 'OrchestrationAttempted', data: attempt as unknown as JsonObject, metadata: ATTEMPT_METADATA });

const toAttempt = (event: RecordedEvent): OrchestrationAttempt => event.data as unknown as OrchestrationAttempt;
