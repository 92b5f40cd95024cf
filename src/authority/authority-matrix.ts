import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsDefined, IsIn, IsString, Length, ValidateNested, IsObject } from 'class-validator';

import { validateAs } from '../shared/validation.js';
import { ACTIONS, AuthorityDenied, type Action, type AuthorityContext, type AuthorityType } from './authority.js';

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

  /** Validates the document (missing, extra and wrong-typed fields named) and builds the matrix. */
  static fromDocument(raw: unknown): AuthorityMatrix {
    return new AuthorityMatrix(validateAs(AuthorityMatrixSchema, raw, 'authority matrix'));
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

class GrantSchema {
  @IsDefined() @IsArray() @IsIn(ACTIONS, { each: true }) actions!: Action[];
  @IsDefined() @IsArray() @ArrayNotEmpty() @IsString({ each: true }) @Length(1, 200, { each: true }) principals!: string[];
}

/** One grant per authority type, all required: adding an authority type means granting it here. */
class GrantsSchema implements Record<AuthorityType, GrantSchema> {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) AUTO_ENGINE!: GrantSchema;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) HUMAN_OPERATOR!: GrantSchema;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantSchema) ON_CALL_RESPONDER!: GrantSchema;
}

export class AuthorityMatrixSchema {
  @IsString() @Length(1, 50) version!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => GrantsSchema) grants!: GrantsSchema;
  @IsDefined() @IsArray() @IsIn(ACTIONS, { each: true }) justificationRequired!: Action[];
}
