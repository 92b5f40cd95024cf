import { OpxError } from '../shared/errors.js';

/**
 * Who acts. AUTO_ENGINE is the orchestrator itself (Decision 3); ALERT_AUTOMATION moves an incident
 * on when its alerts resolve, and only if the matrix grants it that; the rest are people.
 */
export const AUTHORITY_TYPES = ['AUTO_ENGINE', 'HUMAN_OPERATOR', 'ON_CALL_RESPONDER', 'ALERT_AUTOMATION'] as const;
export type AuthorityType = (typeof AUTHORITY_TYPES)[number];

export interface AuthorityContext {
  readonly authorityType: AuthorityType;
  readonly authorityId: string;
  readonly sessionId: string;
  readonly justification: string;
}

/** What an authority may do; granted per authority type in config/authority-matrix.json. */
export const ACTIONS = [
  'EVALUATE_PROMOTION',
  'MANUAL_PROMOTE',
  'CREATE_INCIDENT',
  'ACKNOWLEDGE_INCIDENT',
  'MITIGATE_INCIDENT',
  'RESOLVE_INCIDENT',
  'CLOSE_INCIDENT',
] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * The actions an automation authority may ever be granted: anything else is a person's act, and a
 * matrix granting it is refused at load. (AUTO_ENGINE's rights are the spec's, Decision 3.)
 */
export const AUTOMATION_GRANTABLE: Readonly<Partial<Record<AuthorityType, readonly Action[]>>> = {
  ALERT_AUTOMATION: ['RESOLVE_INCIDENT'],
};

export const AUTO_ENGINE_ID = 'opx-candidate-processor';
/** The one principal ALERT_AUTOMATION acts as (the matrix must list it to grant anything). */
export const ALERT_AUTOMATION_ID = 'opx-alert-automation';
export const AUTO_ENGINE_JUSTIFICATION = 'Auto-promotion from correlation';

/** Decision 3, exactly: the authority under which every automatic promotion runs. */
export function autoEngineAuthority(candidateId: string): AuthorityContext {
  return {
    authorityType: 'AUTO_ENGINE',
    authorityId: AUTO_ENGINE_ID,
    sessionId: candidateId,
    justification: AUTO_ENGINE_JUSTIFICATION,
  };
}

/**
 * The authority under which an incident is resolved because every alert on it resolved: the session
 * is the recorded resolution that triggered it (its group event id), so the act names its cause.
 */
export function alertAutomationAuthority(triggerEventId: string, justification: string): AuthorityContext {
  return { authorityType: 'ALERT_AUTOMATION', authorityId: ALERT_AUTOMATION_ID, sessionId: triggerEventId, justification };
}

export class AuthorityDenied extends OpxError {
  static readonly code = 'opx.authority.denied';

  constructor(
    readonly authority: AuthorityContext,
    readonly action: Action,
    reason: string,
  ) {
    super(AuthorityDenied.code, `${authority.authorityType} '${authority.authorityId}' may not ${action}: ${reason}`);
  }
}
