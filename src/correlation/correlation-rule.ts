import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsDefined,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
  IsObject,
} from '../shared/class-validator.js';

import { InvalidInput } from '../shared/errors.js';
import { validateAs } from '../shared/validation.js';
import { SEVERITIES, type Severity } from './signal.js';

/**
 * A versioned Phase 2.2 correlation rule: which signals it takes, how it groups them, over what
 * tumbling window, how many make a candidate, and which promotion policy (id + version) the
 * candidate names (Decision 1: the rule knows intent, the orchestrator never chooses a policy).
 */
export interface CorrelationRule {
  readonly id: string;
  readonly version: string;
  /**
   * Precedence: a signal is taken by the matching rule of lowest priority, and by no other, so two
   * rules that match the same signals never make two candidates of one problem. Unique in a set.
   */
  readonly priority: number;
  readonly match: {
    readonly services?: readonly string[];
    /** Only signals at least this severe (SEV1 most severe). */
    readonly minSeverity?: Severity;
  };
  /** Signal fields or `labels.<name>` that form the group key. */
  readonly groupBy: readonly string[];
  readonly windowSeconds: number;
  readonly threshold: number;
  readonly policy: { readonly id: string; readonly version: string };
}

export interface CorrelationRuleSet {
  readonly version: string;
  /** In precedence order (ascending priority). */
  readonly rules: readonly CorrelationRule[];
  /**
   * How far out of order (by their own time) signals may arrive and still be correlated in time
   * order; also how long a batch holds a signal for stragglers. Default {@link DEFAULT_LATENESS_SECONDS}.
   */
  readonly latenessSeconds: number;
}

export const DEFAULT_LATENESS_SECONDS = 300;

class MatchSchema {
  @IsOptional() @IsArray() @IsString({ each: true }) services?: string[];
  @IsOptional() @IsIn(SEVERITIES) minSeverity?: Severity;
}

class PolicyRefSchema {
  @IsString() @Length(1, 100) id!: string;
  @IsString() @Length(1, 50) version!: string;
}

class RuleSchema {
  @IsString() @Length(1, 100) @Matches(/^[a-z0-9][a-z0-9-]*$/) id!: string;
  @IsString() @Length(1, 50) version!: string;
  @IsInt() @Min(0) @Max(1_000_000) priority!: number;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => MatchSchema) match!: MatchSchema;
  @IsArray() @ArrayMinSize(1) @IsString({ each: true }) groupBy!: string[];
  @IsInt() @Min(1) @Max(7 * 24 * 3600) windowSeconds!: number;
  @IsInt() @Min(1) @Max(100000) threshold!: number;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => PolicyRefSchema) policy!: PolicyRefSchema;
}

export class RuleSetSchema {
  @IsString() @Length(1, 50) version!: string;
  @IsOptional() @IsInt() @Min(0) @Max(7 * 24 * 3600) latenessSeconds?: number;
  @IsDefined() @IsArray() @ValidateNested({ each: true }) @Type(() => RuleSchema) rules!: RuleSchema[];
}

const GROUP_FIELDS = new Set(['service', 'severity', 'fingerprint']);

export function parseCorrelationRules(raw: unknown): CorrelationRuleSet {
  const set = validateAs(RuleSetSchema, raw, 'correlation rules');
  const problems: string[] = [];
  const seen = new Set<string>();
  const priorities = new Map<number, string>();
  for (const rule of set.rules) {
    const key = `${rule.id}@${rule.version}`;
    if (seen.has(key)) problems.push(`rule ${key} is defined twice`);
    seen.add(key);
    const other = priorities.get(rule.priority);
    if (other !== undefined) problems.push(`rules ${other} and ${key} both have priority ${rule.priority}: precedence must be explicit, give each rule its own`);
    priorities.set(rule.priority, key);
    for (const field of rule.groupBy) {
      if (!GROUP_FIELDS.has(field) && !field.startsWith('labels.')) {
        problems.push(`rule ${key}: cannot group by '${field}' (use service, severity, fingerprint or labels.<name>)`);
      }
    }
  }
  if (problems.length > 0) throw new InvalidInput('correlation rules', problems);
  return { version: set.version, rules: [...set.rules].sort((a, b) => a.priority - b.priority), latenessSeconds: set.latenessSeconds ?? DEFAULT_LATENESS_SECONDS };
}
