import type { AuthorityContext } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import { candidateCodec } from '../candidates/candidate-codec.js';
import { candidateStreamId, type AuthenticatedBy } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore } from '../eventstore/event-store.js';
import { domainId, eventId } from '../shared/ids.js';
import { ManualPromotionRefused, manualPromotionRefusal } from './promotion-engine.js';

export interface ManualPromotionCommand {
  readonly candidateId: string;
  readonly operator: string;
  readonly justification: string;
  /** When the human asked, stamped at the edge (CLI) and recorded; decisions use this time. */
  readonly requestedAt: string;
  readonly authorityType?: AuthorityContext['authorityType'];
  /** Who proved to be asking, and how (recorded in the event's metadata). */
  readonly authenticatedBy?: AuthenticatedBy;
}

/**
 * A human asks to promote a deferred candidate (INV-P2.3.8: the only way it moves again). The
 * request is recorded on the candidate stream at the revision read; the orchestrator then
 * handles it like any input, so it is audited and replayed. Refused, with the reason, when the
 * candidate is not deferred, a request is already pending, or the authority lacks the right.
 */
export async function requestManualPromotion(
  store: EventStore,
  candidates: CandidateStore,
  authorityMatrix: AuthorityMatrix,
  command: ManualPromotionCommand,
): Promise<{ requestId: string }> {
  const requestId = domainId('req', [command.candidateId, command.operator, command.requestedAt]);
  const authority: AuthorityContext = {
    authorityType: command.authorityType ?? 'HUMAN_OPERATOR',
    authorityId: command.operator,
    sessionId: requestId,
    justification: command.justification,
  };
  authorityMatrix.assertAllowed(authority, 'MANUAL_PROMOTE');
  const history = await candidates.refresh(command.candidateId);
  const refusal = manualPromotionRefusal(history);
  if (refusal !== undefined) throw new ManualPromotionRefused(command.candidateId, refusal);
  const decided = new Set(history.decisions.map((d) => d.authority.sessionId));
  const pending = history.manualRequests.find((r) => !decided.has(r.requestId));
  if (pending !== undefined) throw new ManualPromotionRefused(command.candidateId, `request ${pending.requestId} by '${pending.authority.authorityId}' is already pending`);

  const event = candidateCodec.encode(
    {
      type: 'ManualPromotionRequested',
      data: { candidateId: command.candidateId, requestId, authority, requestedAt: command.requestedAt },
      metadata: {
        $correlationId: history.createdEventId,
        $causationId: history.decisions.at(-1)?.eventId ?? history.createdEventId,
        schemaVersion: 1,
        ...(command.authenticatedBy === undefined ? {} : { authenticatedBy: command.authenticatedBy }),
      },
    },
    eventId(`ManualPromotionRequested:${requestId}`),
  );
  await store.append(candidateStreamId(command.candidateId), [event], history.revision);
  return { requestId };
}
