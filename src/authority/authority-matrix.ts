import { ACTIONS, AUTHORITY_TYPES, AuthorityDenied, type Action, type AuthorityContext, type AuthorityType } from './authority.js';
import { InvalidInput } from '../shared/errors.js';

export interface AuthorityGrant {
  /** Actions this authority type may take. */
  readonly actions: readonly Action[];
  /** Principals (authorityId) allowed under this type; `*` admits any. */
  readonly principals: readonly string[];
}

export interface AuthorityMatrixDocument {
  readonly version: string;
  readonly grants: Readonly<Record<AuthorityType, AuthorityGrant>>;
  /** Actions that need a non-empty justification whoever takes them. */
  readonly justificationRequired: readonly Action[];
}

/**
 * CP-8: who may do what. Pure data (config/authority-matrix.json), checked on every decision and
 * every incident transition; the matrix version is recorded with each of them.
 */
export class AuthorityMatrix {
  private constructor(private readonly doc: AuthorityMatrixDocument) {}

  get version(): string {
    return this.doc.version;
  }

  static fromDocument(raw: unknown): AuthorityMatrix {
    const problems: string[] = [];
    const doc = raw as Partial<AuthorityMatrixDocument> | null;
    if (typeof doc !== 'object' || doc === null) throw new InvalidInput('authority matrix', ['not an object']);
    if (typeof doc.version !== 'string' || doc.version === '') problems.push('version must be a non-empty string');
    const grants = doc.grants as Record<string, AuthorityGrant> | undefined;
    if (typeof grants !== 'object' || grants === null) problems.push('grants must be an object');
    else {
      for (const key of Object.keys(grants)) {
        if (!(AUTHORITY_TYPES as readonly string[]).includes(key)) problems.push(`grants.${key} is not an authority type`);
      }
      for (const type of AUTHORITY_TYPES) {
        const grant = grants[type];
        if (grant === undefined) {
          problems.push(`grants.${type} is missing`);
          continue;
        }
        for (const action of grant.actions ?? []) {
          if (!(ACTIONS as readonly string[]).includes(action)) problems.push(`grants.${type}.actions: unknown action '${action}'`);
        }
        if (!Array.isArray(grant.principals) || grant.principals.length === 0) {
          problems.push(`grants.${type}.principals must be a non-empty list`);
        }
      }
    }
    for (const action of doc.justificationRequired ?? []) {
      if (!(ACTIONS as readonly string[]).includes(action)) problems.push(`justificationRequired: unknown action '${action}'`);
    }
    if (problems.length > 0) throw new InvalidInput('authority matrix', problems);
    return new AuthorityMatrix(doc as AuthorityMatrixDocument);
  }

  allows(authority: AuthorityContext, action: Action): boolean {
    return this.denialReason(authority, action) === undefined;
  }

  /** Throws {@link AuthorityDenied} naming the reason when the authority may not take the action. */
  assertAllowed(authority: AuthorityContext, action: Action): void {
    const reason = this.denialReason(authority, action);
    if (reason !== undefined) throw new AuthorityDenied(authority, action, reason);
  }

  private denialReason(authority: AuthorityContext, action: Action): string | undefined {
    const grant = this.doc.grants[authority.authorityType];
    if (grant === undefined) return `unknown authority type '${String(authority.authorityType)}'`;
    if (!grant.actions.includes(action)) return `the authority matrix v${this.doc.version} does not grant ${action} to ${authority.authorityType}`;
    if (!grant.principals.includes('*') && !grant.principals.includes(authority.authorityId)) {
      return `'${authority.authorityId}' is not a listed ${authority.authorityType} principal`;
    }
    if (authority.authorityId.trim() === '') return 'authorityId is empty';
    if (this.doc.justificationRequired.includes(action) && authority.justification.trim() === '') {
      return `${action} requires a justification`;
    }
    return undefined;
  }
}
