import type { AuthorityContext } from '../authority/authority.js';
import type { CandidateCreatedEvent, ManualPromotionRequestedData } from '../candidates/candidate-events.js';
import type { CandidateHistory, CandidateStore } from '../candidates/candidate-store.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { sameCanonicalJson } from '../shared/canonical-json.js';
import { OpxError } from '../shared/errors.js';
import { handleCandidateCreated, handleCandidateStreamEvent, handleManualPromotionRequested, type Handled, type HandlerContext } from './candidate-event-handler.js';
import type { IncidentOrchestrator } from './incident-orchestrator.js';

/**
 * The way a host orchestrates: the spec's handler entry points (Component 2), each of which
 * decides at the time of the recorded input it handles, never at a time the caller chooses. So
 * whatever a host does through them, the replay audit re-derives it byte for byte.
 *
 * An input must be the one recorded on its candidate stream: a CandidateCreated whose `createdAt`
 * is not the recorded candidate's, or a ManualPromotionRequested that is not recorded as given
 * (same request id, authority and `requestedAt`), is refused with {@link NotTheRecordedInput}
 * before anything is decided.
 */
export interface CandidateHandlers {
  /**
   * Orchestrates a recorded candidate (the spec's `handleCandidateCreated`): PROMOTE, DEFER or
   * SUPPRESS under the policy the candidate names, decided at `event.createdAt`, under the
   * AUTO_ENGINE authority. Idempotent: handling it again returns without a second decision.
   * Throws on invalid input or when orchestration fails (retry by handling it again).
   */
  handleCandidateCreated(event: CandidateCreatedEvent): Promise<void>;
  /** Orchestrates a recorded manual promotion request (INV-P2.3.8), at its `requestedAt`, under the human's authority. */
  handleManualPromotionRequested(event: ManualPromotionRequestedData): Promise<void>;
  /**
   * Routes a recorded candidate-stream event, as a subscription delivers it: inputs are
   * orchestrated, the handlers' own outputs are acknowledged (`'ignored'`), anything else throws.
   */
  handleRecordedEvent(recorded: RecordedEvent): Promise<Handled>;
}

/** A handler was given an input that is not the one recorded on its candidate stream. */
export class NotTheRecordedInput extends OpxError {
  static readonly code = 'opx.orchestration.not_the_recorded_input';

  constructor(
    readonly candidateId: string,
    reason: string,
  ) {
    super(NotTheRecordedInput.code, `Not the recorded input of candidate '${candidateId}': ${reason} (decisions take the time of the recorded input, so the replay can re-derive them)`);
  }
}

/**
 * The handlers over an orchestrator whose every call is checked against CP-5's record first: the
 * time must be the recorded input's (the candidate's `createdAt` under AUTO_ENGINE; a recorded
 * request's `requestedAt` under a human authority, whose session id is the request id).
 */
export function candidateHandlers(context: HandlerContext, candidates: Pick<CandidateStore, 'get' | 'load' | 'refresh'>): CandidateHandlers {
  const orchestrator: Pick<IncidentOrchestrator, 'processCandidate'> = {
    processCandidate: async (candidateId, authority, currentTime) => {
      await assertRecordedInput(candidates, candidateId, authority, currentTime);
      return context.orchestrator.processCandidate(candidateId, authority, currentTime);
    },
  };
  const checked: HandlerContext = { ...context, orchestrator };
  return {
    handleCandidateCreated: (event) => handleCandidateCreated(event, checked),
    handleManualPromotionRequested: (event) => handleManualPromotionRequested(event, checked),
    handleRecordedEvent: (recorded) => handleCandidateStreamEvent(recorded, checked),
  };
}

async function assertRecordedInput(candidates: Pick<CandidateStore, 'get' | 'load' | 'refresh'>, candidateId: string, authority: AuthorityContext, time: string): Promise<void> {
  if (authority.authorityType === 'AUTO_ENGINE') {
    const { createdAt } = await candidates.get(candidateId); // the candidate never changes once recorded
    if (createdAt !== time) throw new NotTheRecordedInput(candidateId, `CandidateCreated says createdAt ${time}, the recorded candidate ${createdAt}`);
    return;
  }
  const requestOf = (history: CandidateHistory) => history.manualRequests.find((r) => r.requestId === authority.sessionId);
  // A remembered history is a prefix of the stream: a request it lacks may be recorded since.
  const request = requestOf(await candidates.load(candidateId)) ?? requestOf(await candidates.refresh(candidateId));
  if (request === undefined) throw new NotTheRecordedInput(candidateId, `no ManualPromotionRequested '${authority.sessionId}' is recorded`);
  if (request.requestedAt !== time) throw new NotTheRecordedInput(candidateId, `ManualPromotionRequested '${request.requestId}' says requestedAt ${time}, the recorded one ${request.requestedAt}`);
  if (!sameCanonicalJson(request.authority, authority)) throw new NotTheRecordedInput(candidateId, `ManualPromotionRequested '${request.requestId}' names another authority than the recorded one`);
}
