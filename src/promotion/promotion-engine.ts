import type { AuthorityContext } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { candidateCodec } from '../candidates/candidate-codec.js';
import { candidateStreamId, type PromotionDecidedData } from '../candidates/candidate-events.js';
import type { CandidateHistory, CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore } from '../eventstore/event-store.js';
import { OpxError, WrongExpectedVersion } from '../shared/errors.js';
import { domainId, eventId } from '../shared/ids.js';
import type { Policy, PolicyOutcome, PolicyRegistry } from './policy.js';

export interface PromotionRequest {
  readonly candidateId: string;
  readonly policyId: string;
  readonly policyVersion: string;
  readonly authority: AuthorityContext;
  /** SHA-256 of the canonical request context; recorded on the decision. */
  readonly requestContextHash: string;
}

/** A recorded CP-6 decision. `alreadyRecorded` is true when it was found, not made, this time. */
export interface PromotionDecision extends PromotionDecidedData {
  readonly eventId: string;
  readonly alreadyRecorded: boolean;
}

export class PolicyMismatch extends OpxError {
  static readonly code = 'opx.promotion.policy_mismatch';

  constructor(candidateId: string, requested: string, named: string) {
    super(PolicyMismatch.code, `Candidate '${candidateId}' names policy ${named}; a request for ${requested} may not override it (INV-P2.3.7)`);
  }
}

export class AutomaticDecisionRefused extends OpxError {
  static readonly code = 'opx.promotion.automatic_refused';

  constructor(candidateId: string, reason: string) {
    super(AutomaticDecisionRefused.code, `Automatic decision on candidate '${candidateId}' refused: ${reason}`);
  }
}

export class ManualPromotionRefused extends OpxError {
  static readonly code = 'opx.promotion.manual_refused';

  constructor(candidateId: string, reason: string) {
    super(ManualPromotionRefused.code, `Manual promotion of candidate '${candidateId}' refused: ${reason}`);
  }
}

/** Same candidate + same policy + same authority -> same decision id (INV-P2.3.1). */
export const decisionIdOf = (candidateId: string, policyId: string, policyVersion: string, authority: AuthorityContext): string =>
  domainId('dec', [candidateId, policyId, policyVersion, authority.authorityType, authority.authorityId, authority.sessionId]);

export const promotionDecidedEventId = (decisionId: string): string => eventId(`PromotionDecided:${decisionId}`);

/**
 * CP-6, the promotion engine: the only place a candidate's fate is decided. It evaluates the
 * policy the candidate names (never another), checks the authority matrix, and records the
 * decision on the candidate stream at the revision it read. A decision already recorded for the
 * same decision id is returned, not made again; a concurrent writer loses on the expected
 * revision, and finds the winner's decision.
 */
export class PromotionEngine {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly policies: PolicyRegistry,
    private readonly authorityMatrix: AuthorityMatrix,
  ) {}

  async processPromotionRequest(request: PromotionRequest, currentTime: string): Promise<PromotionDecision> {
    const policy = this.policies.get(request.policyId, request.policyVersion);
    let history = await this.candidates.load(request.candidateId);
    if (request.authority.authorityType !== 'AUTO_ENGINE' && !history.manualRequests.some((r) => r.requestId === request.authority.sessionId)) {
      history = await this.candidates.refresh(request.candidateId); // a remembered history may predate the request
    }
    const { candidate } = history;
    if (candidate.policyId !== request.policyId || candidate.policyVersion !== request.policyVersion) {
      throw new PolicyMismatch(candidate.candidateId, `${request.policyId}@${request.policyVersion}`, `${candidate.policyId}@${candidate.policyVersion}`);
    }
    const decisionId = decisionIdOf(candidate.candidateId, policy.document.id, policy.document.version, request.authority);
    const recorded = findDecision(history, decisionId);
    if (recorded !== undefined) return recorded;

    const outcome = this.decide(history, request.authority, policy);
    const data: PromotionDecidedData = {
      decisionId,
      candidateId: candidate.candidateId,
      decision: outcome.decision,
      reason: outcome.reason,
      matchedRule: outcome.matchedRule,
      policyId: policy.document.id,
      policyVersion: policy.document.version,
      policyHash: policy.hash,
      authority: request.authority,
      authorityMatrixVersion: this.authorityMatrix.version,
      requestContextHash: request.requestContextHash,
      decidedAt: currentTime,
    };
    const id = promotionDecidedEventId(decisionId);
    const causation = history.manualRequests.find((r) => r.requestId === request.authority.sessionId)?.eventId ?? history.createdEventId;
    const decided = { type: 'PromotionDecided', data, metadata: { $correlationId: history.createdEventId, $causationId: causation, schemaVersion: 1 } } as const;
    try {
      await this.store.append(candidateStreamId(candidate.candidateId), [candidateCodec.encodeTrusted(decided, id)], history.revision);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersion)) throw error;
      const winner = findDecision(await this.candidates.refresh(candidate.candidateId), decisionId);
      if (winner === undefined) throw error;
      return winner;
    }
    this.candidates.appended(history, decided, id);
    return promotionDecisionOf(data, id, false);
  }

  /** AUTO_ENGINE evaluates the policy; a human may only promote a deferred candidate they asked to promote. */
  private decide(history: CandidateHistory, authority: AuthorityContext, policy: Policy): PolicyOutcome {
    const { candidate } = history;
    if (authority.authorityType === 'AUTO_ENGINE') {
      this.authorityMatrix.assertAllowed(authority, 'EVALUATE_PROMOTION');
      if (authority.sessionId !== candidate.candidateId) {
        throw new AutomaticDecisionRefused(candidate.candidateId, `an AUTO_ENGINE session is the candidate itself (Decision 3), not '${authority.sessionId}'`);
      }
      const automatic = history.decisions.find((d) => d.authority.authorityType === 'AUTO_ENGINE');
      if (automatic !== undefined) {
        throw new AutomaticDecisionRefused(candidate.candidateId, `it was already decided automatically (${automatic.decision}, ${automatic.decisionId}); only a human may move it now (INV-P2.3.8)`);
      }
      return policy.evaluate(candidate);
    }
    this.authorityMatrix.assertAllowed(authority, 'MANUAL_PROMOTE');
    const request = history.manualRequests.find((r) => r.requestId === authority.sessionId);
    if (request === undefined) throw new ManualPromotionRefused(candidate.candidateId, `no ManualPromotionRequested with request id '${authority.sessionId}' is recorded`);
    const refusal = manualPromotionRefusal(history);
    if (refusal !== undefined) throw new ManualPromotionRefused(candidate.candidateId, refusal);
    return {
      decision: 'PROMOTE',
      reason: `manual promotion by ${authority.authorityType} '${authority.authorityId}': ${authority.justification}`,
      matchedRule: 'manual-promotion',
    };
  }
}

/**
 * Why a candidate cannot be promoted by hand, or undefined when it can: only a candidate whose
 * automatic decision was DEFER, and that no decision has promoted since, may be (INV-P2.3.8).
 */
export function manualPromotionRefusal(history: CandidateHistory): string | undefined {
  const automatic = history.decisions.find((d) => d.authority.authorityType === 'AUTO_ENGINE');
  if (automatic === undefined) return 'it has no automatic decision yet';
  if (automatic.decision !== 'DEFER') return `its decision was ${automatic.decision}, not DEFER`;
  if (history.decisions.some((d) => d.decision === 'PROMOTE')) return 'it was already promoted';
  return undefined;
}

function findDecision(history: CandidateHistory, decisionId: string): PromotionDecision | undefined {
  const found = history.decisions.find((d) => d.decisionId === decisionId);
  if (found === undefined) return undefined;
  return promotionDecisionOf(found, found.eventId, true);
}

/**
 * CP-6's answer, field by field: a spread or rest copy here (of the data, or of the recorded
 * decision less its revision) takes V8's slow copying path, and this runs once per candidate.
 */
function promotionDecisionOf(data: PromotionDecidedData, eventId: string, alreadyRecorded: boolean): PromotionDecision {
  return {
    decisionId: data.decisionId,
    candidateId: data.candidateId,
    decision: data.decision,
    reason: data.reason,
    matchedRule: data.matchedRule,
    policyId: data.policyId,
    policyVersion: data.policyVersion,
    policyHash: data.policyHash,
    authority: data.authority,
    authorityMatrixVersion: data.authorityMatrixVersion,
    requestContextHash: data.requestContextHash,
    decidedAt: data.decidedAt,
    eventId,
    alreadyRecorded,
  };
}
