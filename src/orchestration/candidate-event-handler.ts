import { autoEngineAuthority } from '../authority/authority.js';
import { candidateCodec } from '../candidates/candidate-codec.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import {
  CandidateCreatedSchema,
  ManualPromotionRequestedSchema,
  CANDIDATE_OUTPUT_TYPES,
  candidateIdOfStream,
  type CandidateCreatedEvent,
  type ManualPromotionRequestedData,
} from '../candidates/candidate-events.js';
import type { RecordedEvent } from '../eventstore/event-store.js';
import { InvalidInput, OpxError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { validateAs } from '../shared/validation.js';
import type { IncidentOrchestrator, OrchestrationResult } from './incident-orchestrator.js';

export type { CandidateCreatedEvent } from '../candidates/candidate-events.js';

/**
 * What the spec's `LambdaContext` becomes here: the invocation's collaborators. A persistent-
 * subscription worker, an in-process loop and the replay audit each pass their own.
 */
export interface HandlerContext {
  readonly orchestrator: Pick<IncidentOrchestrator, 'processCandidate'>;
  readonly logger: Logger;
  /**
   * CP-5 of the orchestrator, shown every event the handler is given before it acts on it, so a
   * delivered input is orchestrated from what was delivered, with no read of its stream (see
   * CandidateStore.observe). Every runtime passes events through here (the worker, the
   * in-process loop, the replay audit), so each gets that by having it in its context.
   */
  readonly candidates?: Pick<CandidateStore, 'observe'>;
}

export class OrchestrationUnsuccessful extends OpxError {
  static readonly code = 'opx.orchestration.unsuccessful';

  constructor(
    readonly candidateId: string,
    readonly result: OrchestrationResult,
  ) {
    super(OrchestrationUnsuccessful.code, `Orchestration failed: ${result.error ?? 'the orchestrator reported success=false'} (candidate '${candidateId}')`);
  }
}

/**
 * Component 2 (frozen algorithm), fail-fast: an invalid event throws, an orchestrator error
 * propagates, success=false throws. Nothing is swallowed, so redelivery (nack -> retry -> park)
 * is the only retry. The decision time is the event's own createdAt, never the clock.
 */
export async function handleCandidateCreated(event: CandidateCreatedEvent, context: HandlerContext): Promise<void> {
  await orchestrateCandidateCreated(validateAs(CandidateCreatedSchema, event, 'CandidateCreated event'), context);
}

/** Steps 3-6 of the handler, for a payload the candidate codec has already validated. */
async function orchestrateCandidateCreated(valid: CandidateCreatedEvent, context: HandlerContext): Promise<void> {
  const authority = autoEngineAuthority(valid.candidateId);
  const result = await context.orchestrator.processCandidate(valid.candidateId, authority, valid.createdAt);
  if (!result.success) throw new OrchestrationUnsuccessful(valid.candidateId, result);
  context.logger.debug({ candidateId: valid.candidateId, decision: result.decision, incidentId: result.incidentId }, 'candidate orchestrated');
}

/**
 * Manual promotion (INV-P2.3.8): the only way a deferred candidate moves again. The human's
 * recorded request flows through the same orchestrator, under the human's authority, at the time
 * the request was made, so it replays like everything else.
 */
export async function handleManualPromotionRequested(event: ManualPromotionRequestedData, context: HandlerContext): Promise<void> {
  await orchestrateManualPromotion(validateAs(ManualPromotionRequestedSchema, event, 'ManualPromotionRequested event'), context);
}

async function orchestrateManualPromotion(valid: ManualPromotionRequestedData, context: HandlerContext): Promise<void> {
  const result = await context.orchestrator.processCandidate(valid.candidateId, valid.authority, valid.requestedAt);
  if (!result.success) throw new OrchestrationUnsuccessful(valid.candidateId, result);
  context.logger.info({ candidateId: valid.candidateId, decision: result.decision, incidentId: result.incidentId, operator: valid.authority.authorityId }, 'manual promotion orchestrated');
}

export type Handled = 'handled' | 'ignored';

const OUTPUT_TYPES = new Set<string>(CANDIDATE_OUTPUT_TYPES);

/**
 * Routes a recorded candidate-stream event: inputs go to their handler, the handlers' own outputs
 * are acknowledged without work, and anything unknown or malformed throws (so a subscription
 * retries it and finally parks it), an input naming another candidate than its stream's too.
 */
export async function handleCandidateStreamEvent(recorded: RecordedEvent, context: HandlerContext): Promise<Handled> {
  context.candidates?.observe(recorded); // never throws: a malformed event is refused below
  // The handlers' own outputs need no work, so no validation either; an input is validated
  // (data and metadata) before anything runs: fail-fast on malformed input.
  if (OUTPUT_TYPES.has(recorded.type)) return 'ignored';
  const event = candidateCodec.decode(recorded);
  // An input acts on the candidate it names: on another candidate's stream it is malformed.
  const own = candidateIdOfStream(recorded.streamId);
  if ((event.type === 'CandidateCreated' || event.type === 'ManualPromotionRequested') && event.data.candidateId !== own) {
    throw new InvalidInput(`${recorded.type} at ${recorded.streamId}@${recorded.revision}`, [`it names candidate '${event.data.candidateId}', not its stream's candidate '${String(own)}'`]);
  }
  switch (event.type) {
    case 'CandidateCreated':
      await orchestrateCandidateCreated(event.data, context);
      return 'handled';
    case 'ManualPromotionRequested':
      await orchestrateManualPromotion(event.data, context);
      return 'handled';
    case 'PromotionDecided':
    case 'IncidentCreated':
      return 'ignored';
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled candidate event ${(unhandled as { type: string }).type}`);
    }
  }
}
