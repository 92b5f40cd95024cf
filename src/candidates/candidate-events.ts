import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  IsDefined,
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
  IsObject,
  IsOptional,
} from '../shared/class-validator.js';

import { AUTHORITY_TYPES, type AuthorityContext, type AuthorityType } from '../authority/authority.js';
import type { CandidateContext } from '../correlation/correlator.js';
import { SEVERITIES, type Severity } from '../correlation/signal.js';

/**
 * The events of a candidate stream, `candidate-<candidateId>`:
 *
 *   r0  CandidateCreated            input  (correlation, CP-5)
 *   r1  PromotionDecided            output (CP-6, AUTO_ENGINE)
 *   r2  IncidentCreated             output (CP-7), on PROMOTE only
 *   ..  ManualPromotionRequested    input  (a human, only after a DEFER)
 *   ..  PromotionDecided            output (CP-6, HUMAN_OPERATOR)
 *   ..  IncidentCreated             output (CP-7)
 *
 * Inputs are what the handlers react to; outputs are what they write, and what the replay audit
 * re-derives and compares byte for byte.
 */
export const CANDIDATE_STREAM_PREFIX = 'candidate-';
export const candidateStreamId = (candidateId: string): string => `${CANDIDATE_STREAM_PREFIX}${candidateId}`;
export const candidateIdOfStream = (streamId: string): string | undefined =>
  streamId.startsWith(CANDIDATE_STREAM_PREFIX) ? streamId.slice(CANDIDATE_STREAM_PREFIX.length) : undefined;

export const DECISIONS = ['PROMOTE', 'DEFER', 'SUPPRESS'] as const;
export type Decision = (typeof DECISIONS)[number];

/** Metadata every OPX event carries: deterministic correlation and causation ids. */
export interface EventMetadata {
  readonly $correlationId: string;
  readonly $causationId: string;
  readonly schemaVersion: number;
}

/** The spec's CandidateCreatedEvent (frozen), stored as the data of CandidateCreated. */
export interface CandidateCreatedEvent {
  readonly eventType: 'CandidateCreated';
  readonly candidateId: string;
  readonly correlationRuleId: string;
  readonly correlationRuleVersion: string;
  readonly signalCount: number;
  readonly severity: string;
  readonly service: string;
  readonly createdAt: string;
}

/** The CP-5 candidate facts beyond the frozen event: the policy it names (Decision 1) and its group. */
export interface CandidateMetadata extends EventMetadata {
  readonly candidate: {
    readonly policyId: string;
    readonly policyVersion: string;
    readonly groupKey: string;
    readonly windowStart: string;
    readonly windowEnd: string;
    readonly signalIds: readonly string[];
    /** Live correlation only (absent on candidates of the batch correlation). */
    readonly title?: string;
    readonly context?: CandidateContext;
  };
}

export interface ManualPromotionRequestedData {
  readonly candidateId: string;
  readonly requestId: string;
  readonly authority: AuthorityContext;
  readonly requestedAt: string;
}

export interface PromotionDecidedData {
  readonly decisionId: string;
  readonly candidateId: string;
  readonly decision: Decision;
  readonly reason: string;
  /** The policy rule that produced the decision (or `default`, or `manual-promotion`). */
  readonly matchedRule: string;
  readonly policyId: string;
  readonly policyVersion: string;
  /** SHA-256 of the policy document's canonical JSON: proves which content decided. */
  readonly policyHash: string;
  readonly authority: AuthorityContext;
  readonly authorityMatrixVersion: string;
  readonly requestContextHash: string;
  readonly decidedAt: string;
}

/** The spec's IncidentCreatedEvent (frozen), stored as the data of IncidentCreated. */
export interface IncidentCreatedEvent {
  readonly eventType: 'IncidentCreated';
  readonly incidentId: string;
  readonly candidateId: string;
  readonly decisionId: string;
  readonly severity: string;
  readonly service: string;
  readonly createdAt: string;
}

/**
 * The IncidentCreatedEvent fields of `incident` (which may carry more, as CP-7's answer does), in a
 * new object built field by field: an object rest or a non-leading spread copies through V8's slow
 * path, which on the orchestration hot path was measurable.
 */
export const incidentCreatedEventOf = (incident: IncidentCreatedEvent): IncidentCreatedEvent => ({
  eventType: 'IncidentCreated',
  incidentId: incident.incidentId,
  candidateId: incident.candidateId,
  decisionId: incident.decisionId,
  severity: incident.severity,
  service: incident.service,
  createdAt: incident.createdAt,
});

export interface IncidentCreatedMetadata extends EventMetadata {
  /** INV-P2.3.6: the authority of the decision, carried onto the incident. */
  readonly authority: AuthorityContext;
}

export type CandidateCreated = { readonly type: 'CandidateCreated'; readonly data: CandidateCreatedEvent; readonly metadata: CandidateMetadata };
export type ManualPromotionRequested = { readonly type: 'ManualPromotionRequested'; readonly data: ManualPromotionRequestedData; readonly metadata: HumanActMetadata };
export type PromotionDecided = { readonly type: 'PromotionDecided'; readonly data: PromotionDecidedData; readonly metadata: EventMetadata };
export type IncidentCreated = { readonly type: 'IncidentCreated'; readonly data: IncidentCreatedEvent; readonly metadata: IncidentCreatedMetadata };

export type CandidateStreamEvent = CandidateCreated | ManualPromotionRequested | PromotionDecided | IncidentCreated;
export type CandidateStreamEventType = CandidateStreamEvent['type'];
export const CANDIDATE_INPUT_TYPES = ['CandidateCreated', 'ManualPromotionRequested'] as const;
export const CANDIDATE_OUTPUT_TYPES = ['PromotionDecided', 'IncidentCreated'] as const;

// ---- schemas (class-validator) for the serialization boundary -------------------------------

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/;
const idMessage = { message: '$property must be an id of letters, digits and . _ : @ -' };

export class AuthoritySchema {
  @IsIn(AUTHORITY_TYPES) authorityType!: AuthorityType;
  @IsString() @Length(1, 200) authorityId!: string;
  @IsString() @Length(1, 200) sessionId!: string;
  @IsString() @Length(0, 2000) justification!: string;
}

export class CandidateCreatedSchema {
  @IsIn(['CandidateCreated']) eventType!: 'CandidateCreated';
  @IsString() @Length(1, 200) @Matches(ID, idMessage) candidateId!: string;
  @IsString() @Length(1, 100) correlationRuleId!: string;
  @IsString() @Length(1, 50) correlationRuleVersion!: string;
  @IsInt() @Min(1) @Max(1_000_000) signalCount!: number;
  @IsIn(SEVERITIES) severity!: Severity;
  @IsString() @Length(1, 200) service!: string;
  @IsISO8601({ strict: true, strictSeparator: true }) createdAt!: string;
}

class CandidateContextSchema {
  @IsOptional() @IsString() @Length(0, 4096) alertname?: string;
  @IsOptional() @IsString() @Length(0, 4096) summary?: string;
  @IsOptional() @IsString() @Length(0, 4096) description?: string;
  @IsOptional() @IsString() @Length(0, 2000) runbookUrl?: string;
  @IsOptional() @IsString() @Length(0, 2000) generatorUrl?: string;
  @IsDefined() @IsObject() labels!: Record<string, string>;
}

class CandidateFactsSchema {
  @IsString() @Length(1, 100) policyId!: string;
  @IsString() @Length(1, 50) policyVersion!: string;
  @IsString() @Length(0, 2000) groupKey!: string;
  @IsISO8601({ strict: true }) windowStart!: string;
  @IsISO8601({ strict: true }) windowEnd!: string;
  @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) signalIds!: string[];
  @IsOptional() @IsString() @Length(1, 300) title?: string;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => CandidateContextSchema) context?: CandidateContextSchema;
}

export class EventMetadataSchema {
  @IsString() @Length(1, 100) $correlationId!: string;
  @IsString() @Length(1, 100) $causationId!: string;
  @IsInt() @Min(1) schemaVersion!: number;
}

/**
 * Who did a human act and how it was proven (recorded on every human act since principals; absent
 * on older ones). `automation`: no person; the process itself acted under an automation authority
 * the matrix grants (ALERT_AUTOMATION), never a method a person can present.
 */
export interface AuthenticatedBy {
  readonly principal: string;
  readonly method: 'bearer' | 'basic' | 'env-token' | 'session' | 'cli-token' | 'automation';
}

export const AUTHENTICATION_METHODS = ['bearer', 'basic', 'env-token', 'session', 'cli-token', 'automation'] as const;

class AuthenticatedBySchema {
  @IsString() @Length(1, 200) principal!: string;
  @IsIn(AUTHENTICATION_METHODS) method!: AuthenticatedBy['method'];
}

/** The metadata of a human act: the authenticated principal beside the usual ids. */
export class HumanActMetadataSchema extends EventMetadataSchema {
  @IsOptional() @IsObject() @ValidateNested() @Type(() => AuthenticatedBySchema) authenticatedBy?: AuthenticatedBySchema;
}

export interface HumanActMetadata extends EventMetadata {
  readonly authenticatedBy?: AuthenticatedBy;
}

export class CandidateMetadataSchema extends EventMetadataSchema {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => CandidateFactsSchema) candidate!: CandidateFactsSchema;
}

export class IncidentCreatedMetadataSchema extends EventMetadataSchema {
  @IsDefined() @IsObject() @ValidateNested() @Type(() => AuthoritySchema) authority!: AuthoritySchema;
}

export class ManualPromotionRequestedSchema {
  @IsString() @Length(1, 200) @Matches(ID, idMessage) candidateId!: string;
  @IsString() @Length(1, 200) requestId!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => AuthoritySchema) authority!: AuthoritySchema;
  @IsISO8601({ strict: true, strictSeparator: true }) requestedAt!: string;
}

export class PromotionDecidedSchema {
  @IsString() @Length(1, 200) decisionId!: string;
  @IsString() @Length(1, 200) candidateId!: string;
  @IsIn(DECISIONS) decision!: Decision;
  @IsString() @Length(1, 2000) reason!: string;
  @IsString() @Length(1, 200) matchedRule!: string;
  @IsString() @Length(1, 100) policyId!: string;
  @IsString() @Length(1, 50) policyVersion!: string;
  @IsString() @Matches(/^[0-9a-f]{64}$/) policyHash!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => AuthoritySchema) authority!: AuthoritySchema;
  @IsString() @Length(1, 50) authorityMatrixVersion!: string;
  @IsString() @Matches(/^[0-9a-f]{64}$/) requestContextHash!: string;
  @IsISO8601({ strict: true }) decidedAt!: string;
}

export class IncidentCreatedSchema {
  @IsIn(['IncidentCreated']) eventType!: 'IncidentCreated';
  @IsString() @Length(1, 200) incidentId!: string;
  @IsString() @Length(1, 200) candidateId!: string;
  @IsString() @Length(1, 200) decisionId!: string;
  @IsString() @Length(1, 20) severity!: string;
  @IsString() @Length(1, 200) service!: string;
  @IsISO8601({ strict: true }) createdAt!: string;
}
