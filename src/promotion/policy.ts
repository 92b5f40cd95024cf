import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Min,
  ValidateNested,
  IsObject,
} from '../shared/class-validator.js';

import { DECISIONS, type Decision } from '../candidates/candidate-events.js';
import type { Candidate } from '../correlation/correlator.js';
import { SEVERITIES, type Severity } from '../correlation/signal.js';
import { InvalidInput, OpxError } from '../shared/errors.js';
import { contentHash } from '../shared/ids.js';
import { validateAs } from '../shared/validation.js';

/** A promotion policy: ordered rules, first match wins, else the default. Immutable per id@version. */
export interface PolicyDocument {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly rules: readonly PolicyRule[];
  readonly default: { readonly decision: Decision; readonly reason: string };
}

export interface PolicyRule {
  readonly name: string;
  /** Every condition given must hold. */
  readonly when: {
    readonly severities?: readonly Severity[];
    readonly services?: readonly string[];
    readonly correlationRules?: readonly string[];
    readonly minSignalCount?: number;
    readonly maxSignalCount?: number;
  };
  readonly decision: Decision;
  readonly reason: string;
}

/** A loaded policy: its document and the SHA-256 of the document's canonical JSON. */
export interface Policy {
  readonly document: PolicyDocument;
  readonly hash: string;
  /**
   * {@link evaluatePolicy} under this policy, each rule's outcome made once when the policy was
   * loaded and shared by every decision it gives (a reason built per decision was a string held by
   * each recorded decision).
   */
  evaluate(candidate: Candidate): PolicyOutcome;
  /** The file it was read from, when it was read from one (named by errors about it). */
  readonly source?: string | undefined;
}

export interface PolicyOutcome {
  readonly decision: Decision;
  readonly reason: string;
  readonly matchedRule: string;
}

/** CP-6's decision function, pure: the same candidate and policy always give the same outcome. */
export function evaluatePolicy(policy: PolicyDocument, candidate: Candidate): PolicyOutcome {
  const rule = policy.rules.find((r) => ruleMatches(r, candidate));
  return outcomeOf(rule ?? policy.default);
}

/** The outcome of a rule, or of a policy's default when no rule matched. */
function outcomeOf(rule: PolicyRule | PolicyDocument['default']): PolicyOutcome {
  return Object.freeze(
    'name' in rule
      ? { decision: rule.decision, reason: `rule '${rule.name}' matched: ${rule.reason}`, matchedRule: rule.name }
      : { decision: rule.decision, reason: `no rule matched: ${rule.reason}`, matchedRule: 'default' },
  );
}

/** A policy as the registry holds it: its outcomes made once, first matching rule wins. */
class LoadedPolicy implements Policy {
  private readonly outcomes: readonly PolicyOutcome[];
  private readonly otherwise: PolicyOutcome;

  constructor(
    readonly document: PolicyDocument,
    readonly hash: string,
    readonly source?: string,
  ) {
    this.outcomes = document.rules.map(outcomeOf);
    this.otherwise = outcomeOf(document.default);
  }

  evaluate(candidate: Candidate): PolicyOutcome {
    const rules = this.document.rules;
    for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i] as PolicyRule, candidate)) return this.outcomes[i] as PolicyOutcome;
    return this.otherwise;
  }
}

function ruleMatches({ when }: PolicyRule, candidate: Candidate): boolean {
  return (
    (when.severities === undefined || when.severities.includes(candidate.severity)) &&
    (when.services === undefined || when.services.includes(candidate.service)) &&
    (when.correlationRules === undefined || when.correlationRules.includes(candidate.correlationRuleId)) &&
    (when.minSignalCount === undefined || candidate.signalCount >= when.minSignalCount) &&
    (when.maxSignalCount === undefined || candidate.signalCount <= when.maxSignalCount)
  );
}

export class UnknownPolicy extends OpxError {
  static readonly code = 'opx.policy.unknown';

  constructor(
    readonly policyId: string,
    readonly policyVersion: string,
    known: readonly string[],
  ) {
    super(
      UnknownPolicy.code,
      `Unknown policy ${policyId}@${policyVersion}` + (known.length > 0 ? ` (known versions of ${policyId}: ${known.join(', ')})` : ` (no policy with id '${policyId}')`),
    );
  }
}

/** The versioned, immutable policies CP-6 can decide under. */
export class PolicyRegistry {
  private readonly policies = new Map<string, Policy>();

  private constructor(policies: readonly Policy[]) {
    for (const policy of policies) this.policies.set(key(policy.document.id, policy.document.version), policy);
  }

  /**
   * Validates every document; the same id@version twice is refused, whatever the content.
   * `sources[i]`, when given, is the file document i was read from.
   */
  static fromDocuments(documents: readonly unknown[], sources: readonly string[] = []): PolicyRegistry {
    const policies: Policy[] = [];
    const seen = new Set<string>();
    for (const [index, raw] of documents.entries()) {
      const source = sources[index];
      const document = parsePolicyDocument(raw, source ?? `policy document #${index + 1}`);
      const id = key(document.id, document.version);
      if (seen.has(id)) throw new InvalidInput('policy registry', [`policy ${id} is defined twice${source === undefined ? '' : ` (again in ${source})`}; a policy version is immutable, publish a new version instead`]);
      seen.add(id);
      policies.push(new LoadedPolicy(document, contentHash(document), source));
    }
    return new PolicyRegistry(policies);
  }

  get(policyId: string, policyVersion: string): Policy {
    const policy = this.policies.get(key(policyId, policyVersion));
    if (policy === undefined) throw new UnknownPolicy(policyId, policyVersion, this.versionsOf(policyId));
    return policy;
  }

  find(policyId: string, policyVersion: string): Policy | undefined {
    return this.policies.get(key(policyId, policyVersion));
  }

  versionsOf(policyId: string): string[] {
    return [...this.policies.values()].filter((p) => p.document.id === policyId).map((p) => p.document.version).sort();
  }

  all(): Policy[] {
    return [...this.policies.values()];
  }
}

/** `id@version`, how a policy version is named everywhere (lock file, reports, errors). */
export const policyKey = (id: string, version: string): string => `${id}@${version}`;
const key = policyKey;

class WhenSchema {
  @IsOptional() @IsArray() @IsIn(SEVERITIES, { each: true }) severities?: Severity[];
  @IsOptional() @IsArray() @IsString({ each: true }) services?: string[];
  @IsOptional() @IsArray() @IsString({ each: true }) correlationRules?: string[];
  @IsOptional() @IsInt() @Min(0) minSignalCount?: number;
  @IsOptional() @IsInt() @Min(0) maxSignalCount?: number;
}

class RuleSchema {
  @IsString() @Length(1, 100) name!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => WhenSchema) when!: WhenSchema;
  @IsIn(DECISIONS) decision!: Decision;
  @IsString() @Length(1, 500) reason!: string;
}

class DefaultSchema {
  @IsIn(DECISIONS) decision!: Decision;
  @IsString() @Length(1, 500) reason!: string;
}

export class PolicySchema {
  @IsString() @Length(1, 100) @Matches(/^[a-z0-9][a-z0-9-]*$/) id!: string;
  @IsString() @Length(1, 50) @Matches(/^[0-9A-Za-z.+-]+$/) version!: string;
  @IsString() @Length(0, 2000) description!: string;
  @IsDefined() @IsArray() @ValidateNested({ each: true }) @Type(() => RuleSchema) rules!: RuleSchema[];
  @IsDefined() @IsObject() @ValidateNested() @Type(() => DefaultSchema) default!: DefaultSchema;
}

export function parsePolicyDocument(raw: unknown, subject = 'policy document'): PolicyDocument {
  return validateAs(PolicySchema, raw, subject);
}
