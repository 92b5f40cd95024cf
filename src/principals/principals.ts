import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayMinSize, IsArray, IsIn, IsString, Length, Matches, ValidateNested } from '../shared/class-validator.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { parseUntrustedJson } from '../shared/canonical-json.js';
import { InvalidInput } from '../shared/errors.js';
import { sha256Hex } from '../shared/ids.js';
import { validateAs } from '../shared/validation.js';

/**
 * Who may talk to OPX: named principals with roles and credentials stored hashed. A credential is
 * a token OPX generated (`opx principals token`): 32 random bytes, so a SHA-256 of it is what is
 * stored, as API keys are; it cannot be guessed from its hash, and checking it costs one hash.
 *
 * Roles: `ingest` (may post signals to the receiver), and the authority types of the CP-8 matrix
 * (HUMAN_OPERATOR, ON_CALL_RESPONDER) for people acting on candidates and incidents.
 */
export const ROLES = ['ingest', 'HUMAN_OPERATOR', 'ON_CALL_RESPONDER', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  readonly name: string;
  readonly roles: readonly Role[];
}

/** How a request proved who it is: recorded with every act it makes. */
export interface Authenticated {
  readonly principal: Principal;
  readonly method: 'bearer' | 'basic' | 'env-token' | 'session';
}

class CredentialSchema {
  @IsIn(['token']) kind!: 'token';
  @IsString() @Matches(/^sha256:[0-9a-f]{64}$/, { message: 'sha256 must be sha256:<64 lowercase hex> (the hash of the token, never the token)' }) sha256!: string;
}

class PrincipalSchema {
  @IsString() @Length(1, 200) @Matches(/^[A-Za-z0-9][A-Za-z0-9._@:-]*$/) name!: string;
  @IsArray() @ArrayMinSize(1) @IsIn(ROLES, { each: true }) roles!: Role[];
  @IsArray() @ValidateNested({ each: true }) @Type(() => CredentialSchema) credentials!: CredentialSchema[];
}

class PrincipalsSchema {
  @IsString() @Length(1, 50) version!: string;
  @IsArray() @ValidateNested({ each: true }) @Type(() => PrincipalSchema) principals!: PrincipalSchema[];
}

export interface PrincipalsDocument {
  readonly version: string;
  readonly principals: ReadonlyArray<{ readonly name: string; readonly roles: readonly Role[]; readonly credentials: ReadonlyArray<{ readonly kind: 'token'; readonly sha256: string }> }>;
}

/** The prefix of every token OPX makes, so a leaked one is recognisable (secret scanners). */
export const TOKEN_PREFIX = 'opx_';

/** A new token: 32 random bytes, base64url, prefixed. Shown once; only its hash is kept. */
export const newToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
export const tokenHash = (token: string): string => `sha256:${sha256Hex(token)}`;

/** The principals a process knows, found by the hash of a presented token. */
export class PrincipalDirectory {
  private constructor(private readonly byHash: ReadonlyMap<string, Principal>) {}

  static empty(): PrincipalDirectory {
    return new PrincipalDirectory(new Map());
  }

  /** Validates a principals document: names unique, every credential a hash, none shared by two principals. */
  static fromDocument(raw: unknown, subject = 'principals'): PrincipalDirectory {
    const document = validateAs(PrincipalsSchema, raw, subject);
    const problems: string[] = [];
    const names = new Set<string>();
    const byHash = new Map<string, Principal>();
    for (const p of document.principals) {
      if (names.has(p.name)) problems.push(`principal '${p.name}' is listed twice`);
      names.add(p.name);
      const principal: Principal = { name: p.name, roles: [...new Set(p.roles)] };
      for (const credential of p.credentials) {
        const other = byHash.get(credential.sha256);
        if (other !== undefined) problems.push(`principals '${other.name}' and '${p.name}' share a credential`);
        byHash.set(credential.sha256, principal);
      }
    }
    if (problems.length > 0) throw new InvalidInput(subject, problems);
    return new PrincipalDirectory(byHash);
  }

  static fromFile(path: string): PrincipalDirectory {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new InvalidInput(`principals file ${path}`, [(error as Error).message], { cause: error });
    }
    return PrincipalDirectory.fromDocument(parseUntrustedJson(text, `principals file ${path}`, { maxBytes: 4 * 1024 * 1024, maxDepth: 8 }), `principals file ${path}`);
  }

  /** This directory with one more principal holding `token` (an env-provided token, say). */
  with(name: string, roles: readonly Role[], token: string): PrincipalDirectory {
    const byHash = new Map(this.byHash);
    byHash.set(tokenHash(token), { name, roles });
    return new PrincipalDirectory(byHash);
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The principal a token belongs to, or undefined. */
  authenticate(token: string): Principal | undefined {
    if (token.length === 0 || token.length > 512) return undefined;
    return this.byHash.get(tokenHash(token));
  }
}

export const hasRole = (principal: Principal, role: Role): boolean => principal.roles.includes(role) || principal.roles.includes('admin');
