import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsDefined, IsIn, IsOptional, IsString, Length, ValidateNested, IsObject } from '../shared/class-validator.js';

import { InvalidInput } from '../shared/errors.js';
import { validateAs } from '../shared/validation.js';
import { ACTIONS, ALERT_AUTOMATION_ID, AUTOMATION_GRANTABLE, AuthorityDenied, type Action, type AuthorityContext, type AuthorityType } from './authority.js';

export interface AuthorityGrant {
  /** Actions this authority type may take. */
  readonly actions: readonly Action[];
  /** Principals (authorityId) allowed under this type; `*` admits any. */
  readonly principals: readonly string[];
}

export interface AuthorityMatrixDocument {
  readonly version: string;
  /** Every authority type but ALERT_AUTOMATION must be listed; ALERT_AUTOMATION absent is not granted (the default). */
  readonly grants: Readonly<Record<Exclude<AuthorityType, 'ALERT_AUTOMATION'>, AuthorityGrant>> & { readonly ALERT_AUTOMATION?: AuthorityGrant };
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

  /** Validates the document (missing, extra and wrong-typed fields named) and builds the matrix. */
  static fromDocument(raw: unknown): AuthorityMatrix {
    const doc: AuthorityMatrixDocument = validateAs(AuthorityMatrixSchema, raw, 'authority matrix');
    const problems = automationProblems(doc);
    if (problems.length > 0) throw new InvalidInput('authority matrix', problems);
    return new AuthorityMatrix(doc);
  }

  /** Whether this matrix lets the authority take the action (the same check as {@link assertAllowed}, as a boolean). */
  allows(authority: AuthorityContext, action: Action): boolean {
    return this.denialReason(authority, action) === undefined;
  }

  /** Throws {@link AuthorityDenied} naming the reason when the authority may not take the action. */
  assertAllowed(authority: AuthorityContext, action: Action): void {
    const reason = this.denialReason(authority, action);
    if (reason !== undefined) throw new AuthorityDenied(authority, action, reason);
  }

  private denialReason(authority: AuthorityContext, action: Action): string | undefined {
    const grant: AuthorityGrant | undefined = (this.doc.grants as Partial<Record<string, AuthorityGrant>>)[authority.authorityType];
    if (grant === undefined && authority.authorityType === 'ALERT_AUTOMATION') return `the authority matrix v${this.doc.version} does not grant ALERT_AUTOMATION anything (the default)`;
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

/**
 * An automation authority may be granted only what {@link AUTOMATION_GRANTABLE} lists for it (never
 * a person's act), and only to its own named principal (a wildcard would let anyone act as it).
 */
function automationProblems(doc: AuthorityMatrixDocument): string[] {
  const problems: string[] = [];
  const grant = doc.grants.ALERT_AUTOMATION;
  if (grant === undefined) return problems;
  const grantable = AUTOMATION_GRANTABLE.ALERT_AUTOMATION ?? [];
  for (const action of grant.actions) {
    if (!grantable.includes(action)) problems.push(`grants.ALERT_AUTOMATION.actions: ${action} is a person's act; ALERT_AUTOMATION may only be granted ${grantable.join(', ')}`);
  }
  for (const principal of grant.principals) {
    if (principal !== ALERT_AUTOMATION_ID) problems.push(`grants.ALERT_AUTOMATION.principals: '${principal}' is not the alert automation; list exactly '${ALERT_AUTOMATION_ID}'`);
  }
  if (doc.justificationRequired.some((action) => grant.actions.includes(action))) {
    problems.push('justificationRequired: an action granted to ALERT_AUTOMATION cannot require a justification (the automation records its own)');
  }
  return problems;
}

class GrantSchema {
  @IsDefined() @IsArray() @IsIn(ACTIONS, { each: true }) actions!: Action[];
  @IsDefined() @IsArray() @ArrayNotEmpty() @IsString({ each: true }) @Length(1, 200, { each: true }) principals!: string[];
}

/**
 * One grant per authority type, all required but ALERT_AUTOMATION (absent: not granted, so a
 * matrix written before it still loads); any other key is refused as unknown.
 */
class GrantsSchema implements Record<Exclude<AuthorityType, 'ALERT_AUTOMATION'>, GrantSchema> {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) AUTO_ENGINE!: GrantSchema;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) HUMAN_OPERATOR!: GrantSchema;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) ON_CALL_RESPONDER!: GrantSchema;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => GrantSchema) ALERT_AUTOMATION?: GrantSchema;
}

export class AuthorityMatrixSchema {
  @IsString() @Length(1, 50) version!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantsSchema) grants!: GrantsSchema;
  @IsDefined() @IsArray() @IsIn(ACTIONS, { each: true }) justificationRequired!: Action[];
}
