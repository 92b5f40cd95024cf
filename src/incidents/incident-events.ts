import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsISO8601, IsString, Length, ValidateNested, IsObject } from '../shared/class-validator.js';

import type { AuthorityContext } from '../authority/authority.js';
import { AuthoritySchema, EventMetadataSchema, HumanActMetadataSchema, type EventMetadata, type HumanActMetadata } from '../candidates/candidate-events.js';
import { EventCodec } from '../shared/event-codec.js';

/**
 * The incident stream, `incident-<incidentId>`: IncidentOpened at revision 0 (written by CP-7
 * right after IncidentCreated on the candidate stream, idempotently at `no_stream`), then one
 * IncidentStateChanged per lifecycle transition, each carrying the authority that made it.
 */
export const INCIDENT_STREAM_PREFIX = 'incident-';
export const incidentStreamId = (incidentId: string): string => `${INCIDENT_STREAM_PREFIX}${incidentId}`;

export const INCIDENT_STATES = ['OPEN', 'ACKNOWLEDGED', 'MITIGATED', 'RESOLVED', 'CLOSED'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const INCIDENT_ACTIONS = ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT', 'RESOLVE_INCIDENT', 'CLOSE_INCIDENT'] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

export interface IncidentOpenedData {
  readonly incidentId: string;
  readonly candidateId: string;
  readonly decisionId: string;
  readonly severity: string;
  readonly service: string;
  readonly openedAt: string;
  readonly authority: AuthorityContext;
}

export interface IncidentStateChangedData {
  readonly incidentId: string;
  readonly action: IncidentAction;
  readonly from: IncidentState;
  readonly to: IncidentState;
  readonly authority: AuthorityContext;
  readonly changedAt: string;
}

export type IncidentOpened = { readonly type: 'IncidentOpened'; readonly data: IncidentOpenedData; readonly metadata: EventMetadata };
export type IncidentStateChanged = { readonly type: 'IncidentStateChanged'; readonly data: IncidentStateChangedData; readonly metadata: HumanActMetadata };
export type IncidentStreamEvent = IncidentOpened | IncidentStateChanged;

class IncidentOpenedSchema {
  @IsString() @Length(1, 200) incidentId!: string;
  @IsString() @Length(1, 200) candidateId!: string;
  @IsString() @Length(1, 200) decisionId!: string;
  @IsString() @Length(1, 20) severity!: string;
  @IsString() @Length(1, 200) service!: string;
  @IsISO8601({ strict: true }) openedAt!: string;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => AuthoritySchema) authority!: AuthoritySchema;
}

class IncidentStateChangedSchema {
  @IsString() @Length(1, 200) incidentId!: string;
  @IsIn(INCIDENT_ACTIONS) action!: IncidentAction;
  @IsIn(INCIDENT_STATES) from!: IncidentState;
  @IsIn(INCIDENT_STATES) to!: IncidentState;
  @IsDefined() @IsObject() @ValidateNested() @Type(() => AuthoritySchema) authority!: AuthoritySchema;
  @IsISO8601({ strict: true }) changedAt!: string;
}

export const incidentCodec = new EventCodec<IncidentStreamEvent>('incident stream', {
  IncidentOpened: [IncidentOpenedSchema, EventMetadataSchema],
  IncidentStateChanged: [IncidentStateChangedSchema, HumanActMetadataSchema],
});
