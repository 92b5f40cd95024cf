import { AuthorityDenied, type AuthorityContext, type AuthorityType } from '../authority/authority.js';
import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import type { AuthenticatedBy } from '../candidates/candidate-events.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { IncidentAction } from '../incidents/incident-events.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { Incident } from '../incidents/incident-state-machine.js';
import type { Authenticated, Role } from '../principals/principals.js';
import { requestManualPromotion } from '../promotion/manual-promotion.js';
import type { Clock } from '../shared/clock.js';
import { domainId } from '../shared/ids.js';

/** The authority types a person can act under (the CP-8 matrix grants them their rights). */
const HUMAN_AUTHORITIES: readonly AuthorityType[] = ['HUMAN_OPERATOR', 'ON_CALL_RESPONDER'];

/** A person who proved who they are, acting in one of their roles. */
export interface Actor {
  readonly name: string;
  readonly role: AuthorityType;
  readonly authenticatedBy: AuthenticatedBy;
}

/**
 * The actor an authenticated principal is in `requested` role (one of theirs), or in their first
 * human role. A principal with no human role (an `ingest` sender) may not act on candidates or
 * incidents, whatever it asks.
 */
export function actorOf(who: Authenticated, requested: AuthorityType | undefined, method: AuthenticatedBy['method'] = who.method): Actor {
  const roles = who.principal.roles;
  const admin = roles.includes('admin');
  const mine = HUMAN_AUTHORITIES.filter((r) => admin || roles.includes(r as Role));
  const role = requested ?? mine[0];
  if (role === undefined || !mine.includes(role)) {
    const authority: AuthorityContext = { authorityType: requested ?? 'HUMAN_OPERATOR', authorityId: who.principal.name, sessionId: '-', justification: '' };
    throw new AuthorityDenied(authority, 'MANUAL_PROMOTE', requested === undefined ? `principal '${who.principal.name}' has no role that acts on candidates or incidents (roles: ${roles.join(', ')})` : `principal '${who.principal.name}' does not have the role ${requested} (roles: ${roles.join(', ')})`);
  }
  return { name: who.principal.name, role, authenticatedBy: { principal: who.principal.name, method } };
}

/**
 * Every human act, in one place for the CLI and the operator API: each is stamped at this edge
 * with the clock, recorded with the authenticated principal and how it was proven, and checked
 * against the authority matrix (CP-8) by the component that records it.
 */
export class HumanActs {
  constructor(
    private readonly store: EventStore,
    private readonly candidates: CandidateStore,
    private readonly incidents: IncidentManager,
    private readonly matrix: AuthorityMatrix,
    private readonly clock: Clock,
  ) {}

  /** Records a ManualPromotionRequested (INV-P2.3.8: the only way a deferred candidate moves); the orchestrator decides it. */
  async requestPromotion(actor: Actor, candidateId: string, justification: string): Promise<{ readonly requestId: string; readonly requestedAt: string }> {
    const requestedAt = this.clock.now().toISOString();
    const { requestId } = await requestManualPromotion(this.store, this.candidates, this.matrix, {
      candidateId,
      operator: actor.name,
      justification,
      requestedAt,
      authorityType: actor.role,
      authenticatedBy: actor.authenticatedBy,
    });
    return { requestId, requestedAt };
  }

  /** Moves an incident through CP-7's lifecycle; with `expectedRevision`, refused (StaleIncident) if it moved since. */
  async transition(actor: Actor, incidentId: string, action: IncidentAction, justification: string, expectedRevision?: bigint): Promise<{ readonly incident: Incident; readonly at: string }> {
    const at = this.clock.now().toISOString();
    const incident = await this.incidents.transition(incidentId, {
      action,
      at,
      authority: { authorityType: actor.role, authorityId: actor.name, sessionId: domainId('act', [incidentId, action, actor.name, at]), justification },
      authenticatedBy: actor.authenticatedBy,
      ...(expectedRevision === undefined ? {} : { expectedRevision }),
    });
    return { incident, at };
  }
}
