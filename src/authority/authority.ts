import { OpxError } from '../shared/errors.js';

/** Who acts. AUTO_ENGINE is the orchestrator itself (Decision 3); the rest are people. */
export const AUTHORITY_TYPES = ['AUTO_ENGINE', 'HUMAN_OPERATOR', 'ON_CALL_RESPONDER'] as const;
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

export const AUTO_ENGINE_ID = 'opx-candidate-processor';
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
