import type { AuthorityContext } from '../authority/authority.js';
import { incidentCreatedEventOf } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { Candidate } from '../correlation/correlator.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { PromotionEngine, PromotionRequest } from '../promotion/promotion-engine.js';
import type { Clock } from '../shared/clock.js';
import { OpxError } from '../shared/errors.js';
import { RandomIds, sha256Hex } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import type { EventEmitter, OrchestrationEvent } from './orchestration-event.schema.js';
import { ORCHESTRATION_LOG_MAX_AGE_SECONDS, type FailedOrchestrationAttempt, type OrchestrationAttempt, type OrchestrationStore } from './orchestration-store.js';

/** Component 1 (frozen). */
export interface IncidentOrchestratorConfig {
  promotionEngine: PromotionEngine;
  incidentManager: IncidentManager;
  candidateStore: CandidateStore;
  eventEmitter: EventEmitter;
  orchestrationStore: OrchestrationStore;
}

export interface OrchestrationResult {
  success: boolean;
  decision: 'PROMOTE' | 'DEFER' | 'SUPPRESS';
  incidentId?: string;
  decisionId: string;
  reason: string;
  error?: string;
}

/** Observability only: the clock times attempts for the log; no decision ever reads it. */
export interface OrchestratorObservability {
  readonly clock: Clock;
  readonly logger: Logger;
}

export class CandidateWithoutPolicy extends OpxError {
  static readonly code = 'opx.orchestration.candidate_without_policy';

  constructor(candidateId: string) {
    super(CandidateWithoutPolicy.code, `Candidate '${candidateId}' names no policy (policyId and policyVersion are required, Decision 1)`);
  }
}

/**
 * The orchestrator, glue only: load the candidate (CP-5), ask CP-6 exactly once, and on PROMOTE
 * ask CP-7 at most once. No policy choice (the candidate names it), no severity logic, no retries:
 * an error propagates, and redelivery is the only retry. Emission and the attempt log are
 * fire-and-forget: their failures are logged and never fail orchestration (Decision 5).
 */
export class IncidentOrchestrator {
  /** Attempt ids: every attempt is an occurrence, never a duplicate of another (observability only). */
  private readonly attemptIds = new RandomIds();
  private readonly attemptTimes = new IsoTimes();

  constructor(
    private readonly config: IncidentOrchestratorConfig,
    private readonly observability: OrchestratorObservability,
  ) {}

  /**
   * The spec's frozen Component 1 entry point. `currentTime` must be the time of the recorded
   * input being handled (the candidate's `createdAt`, a manual request's `requestedAt`): it goes
   * into the request context hash, so any other time, the wall clock above all, makes the replay
   * audit report DIVERGENT. That is why the package root does not expose this method: hosts
   * orchestrate through `CandidateHandlers` (`TOKENS.CandidateHandlers`), which take the time from
   * the recorded input and refuse any other.
   */
  async processCandidate(candidateId: string, authority: AuthorityContext, currentTime: string): Promise<OrchestrationResult> {
    const started = this.startAttempt(candidateId, authority);
    let candidate: Candidate | undefined;
    try {
      candidate = await this.config.candidateStore.get(candidateId);
      if (!candidate.policyId || !candidate.policyVersion) throw new CandidateWithoutPolicy(candidateId);
      const request = buildPromotionRequest(candidate, authority, currentTime);
      const decision = await this.config.promotionEngine.processPromotionRequest(request, currentTime);

      let result: OrchestrationResult;
      let event: OrchestrationEvent;
      switch (decision.decision) {
        case 'PROMOTE': {
          const incident = await this.config.incidentManager.createIncidentFromPromotion(decision, currentTime);
          result = { success: true, decision: 'PROMOTE', incidentId: incident.incidentId, decisionId: decision.decisionId, reason: decision.reason };
          event = incidentCreatedEventOf(incident); // CP-7's answer without its `alreadyRecorded`
          if (!incident.alreadyRecorded) await this.emit(event);
          break;
        }
        case 'DEFER':
          result = { success: true, decision: 'DEFER', decisionId: decision.decisionId, reason: decision.reason };
          event = { eventType: 'CandidateDeferred', candidateId, decisionId: decision.decisionId, reason: decision.reason, deferredAt: currentTime };
          if (!decision.alreadyRecorded) await this.emit(event);
          break;
        case 'SUPPRESS':
          result = { success: true, decision: 'SUPPRESS', decisionId: decision.decisionId, reason: decision.reason };
          event = { eventType: 'CandidateSuppressed', candidateId, decisionId: decision.decisionId, reason: decision.reason, suppressedAt: currentTime };
          if (!decision.alreadyRecorded) await this.emit(event);
          break;
        default: {
          const unknown: never = decision.decision;
          throw new OpxError('opx.orchestration.unknown_decision', `CP-6 returned an unknown decision '${String(unknown)}'`);
        }
      }
      await this.logAttempt(this.succeeded(started, candidate, result));
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.emit({ eventType: 'OrchestrationFailed', candidateId, error: message, failedAt: currentTime });
      await this.logAttempt(this.failed(started, candidate, message));
      throw error;
    }
  }

  private startAttempt(candidateId: string, authority: AuthorityContext): StartedAttempt {
    return { candidateId, authority, attemptId: this.attemptIds.next(), startedAt: this.observability.clock.now(), t0: this.observability.clock.monotonicMs() };
  }

  // Field by field, no spread of a shared part: V8 copies a non-leading spread slowly (docs/performance.md).
  private succeeded(started: StartedAttempt, candidate: Candidate, result: OrchestrationResult): OrchestrationAttempt {
    const completedAt = this.observability.clock.now();
    const attempt: OrchestrationAttempt = {
      candidateId: started.candidateId,
      attemptId: started.attemptId,
      authorityType: started.authority.authorityType,
      authorityId: started.authority.authorityId,
      policyId: candidate.policyId,
      policyVersion: candidate.policyVersion,
      decision: result.decision,
      decisionId: result.decisionId,
      reason: result.reason,
      startedAt: this.attemptTimes.of(started.startedAt),
      completedAt: this.attemptTimes.of(completedAt),
      durationMs: this.durationMs(started),
      status: 'success',
      ttl: ttlOf(completedAt),
    };
    if (result.incidentId !== undefined) attempt.incidentId = result.incidentId;
    return attempt;
  }

  private failed(started: StartedAttempt, candidate: Candidate | undefined, error: string): FailedOrchestrationAttempt {
    const completedAt = this.observability.clock.now();
    return {
      candidateId: started.candidateId,
      attemptId: started.attemptId,
      authorityType: started.authority.authorityType,
      authorityId: started.authority.authorityId,
      policyId: candidate?.policyId ?? '',
      policyVersion: candidate?.policyVersion ?? '',
      reason: 'orchestration failed',
      startedAt: this.attemptTimes.of(started.startedAt),
      completedAt: this.attemptTimes.of(completedAt),
      durationMs: this.durationMs(started),
      status: 'error',
      error,
      ttl: ttlOf(completedAt),
    };
  }

  /** Whole milliseconds (a fraction would be a number object of its own in every record held). */
  private durationMs(started: StartedAttempt): number {
    return Math.max(0, Math.round(this.observability.clock.monotonicMs() - started.t0));
  }

  private async emit(event: OrchestrationEvent): Promise<void> {
    try {
      await this.config.eventEmitter.emit(event);
    } catch (error) {
      this.observability.logger.warn({ err: error, eventType: event.eventType, candidateId: event.candidateId }, 'Event emission failed but orchestration succeeded');
    }
  }

  private async logAttempt(attempt: OrchestrationAttempt | FailedOrchestrationAttempt): Promise<void> {
    try {
      await this.config.orchestrationStore.logAttempt(attempt);
    } catch (error) {
      this.observability.logger.warn({ err: error, candidateId: attempt.candidateId }, 'Failed to log orchestration attempt');
    }
  }
}

interface StartedAttempt {
  readonly candidateId: string;
  readonly authority: AuthorityContext;
  readonly attemptId: string;
  readonly startedAt: Date;
  readonly t0: number;
}

/**
 * The ISO 8601 form of attempt times, remembered for the last millisecond formatted: attempts
 * start and complete many to a millisecond (docs/performance.md). Observability only.
 */
class IsoTimes {
  private lastMs = Number.NaN;
  private last = '';

  of(time: Date): string {
    const ms = time.getTime();
    if (ms !== this.lastMs) {
      this.last = time.toISOString();
      this.lastMs = ms;
    }
    return this.last;
  }
}

/** The attempt log's TTL field (Decision 4): 90 days after the attempt completed, in epoch seconds. */
const ttlOf = (completedAt: Date): number => Math.floor(completedAt.getTime() / 1000) + ORCHESTRATION_LOG_MAX_AGE_SECONDS;

/**
 * Step 3 of the frozen algorithm: the policy comes from the candidate, never from here (INV-P2.3.7).
 * The request context hash is SHA-256 over the canonical JSON of the context as a fixed-order
 * array of strings (candidate, policy, authority, time): for an array of strings RFC 8785's form is
 * JSON.stringify's, so it is built natively.
 */
export function buildPromotionRequest(candidate: Candidate, authority: AuthorityContext, currentTime: string): PromotionRequest {
  const { candidateId, policyId, policyVersion } = candidate;
  const context = [candidateId, policyId, policyVersion, authority.authorityType, authority.authorityId, authority.sessionId, authority.justification, currentTime];
  return { candidateId, policyId, policyVersion, authority, requestContextHash: sha256Hex(JSON.stringify(context)) };
}
