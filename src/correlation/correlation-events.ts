import 'reflect-metadata';
import { IsBoolean, IsIn, IsISO8601, IsOptional, IsString, Length } from '../shared/class-validator.js';

import { EventMetadataSchema, type EventMetadata } from '../candidates/candidate-events.js';
import { SIGNAL_STATUSES, type SignalStatus } from '../signals/signal-events.js';
import { EventCodec } from '../shared/event-codec.js';
import { domainId, eventId, eventIdOf } from '../shared/ids.js';
import { SEVERITIES, type Severity } from './signal.js';

/**
 * The streams correlation keeps its state in, every event derived from recorded inputs only:
 *
 *   correlation-<groupId>    one group of a rule (rule id, version and group key): a
 *                            SignalCorrelated per signal fact the group took (counted in its
 *                            window, opening a candidate, attached to the open one, resolved,
 *                            repeated), an EpisodeClosed when the open candidate's incident is
 *                            resolved or closed. Folded, it is the group's state.
 *   correlation-clock        CorrelationClockTicked: "every input up to this time has arrived",
 *                            written by a running correlator when it has held inputs long enough
 *                            (or a batch at its end): time, recorded, so replay sees it too.
 *   correlation-checkpoint   where a correlator got to (observability and restart; never a fact).
 */
export const GROUP_STREAM_PREFIX = 'correlation-grp-';
export const CLOCK_STREAM = 'correlation-clock';
export const CHECKPOINT_STREAM = 'correlation-checkpoint';

export const groupIdOf = (ruleId: string, ruleVersion: string, groupKey: string): string => domainId('grp', [ruleId, ruleVersion, groupKey]);
/** `correlation-grp-<24 hex>`: the group id is `grp-<24 hex>`. */
export const groupStreamId = (groupId: string): string => `correlation-${groupId}`;

export const OUTCOMES = ['counted', 'opened', 'attached', 'resolved', 'repeated'] as const;
/**
 * What a group did with a signal: counted it toward its window's threshold, opened a candidate
 * with it (the threshold was reached), attached it to the candidate already open, recorded its
 * resolution, or found it repeated (the same signal id from another source).
 */
export type Outcome = (typeof OUTCOMES)[number];

export interface SignalCorrelatedData {
  readonly groupId: string;
  readonly ruleId: string;
  readonly ruleVersion: string;
  readonly groupKey: string;
  /** Where the fact is recorded. */
  readonly signalStream: string;
  readonly signalId: string;
  readonly status: SignalStatus;
  readonly fingerprint: string;
  readonly service: string;
  readonly severity: Severity;
  readonly observedAt: string;
  readonly endsAt?: string;
  readonly alertname?: string;
  readonly windowStart: string;
  readonly outcome: Outcome;
  readonly candidateId?: string;
  /** It arrived after correlation had moved past its time: taken in arrival order, not time order. */
  readonly late: boolean;
}

export interface EpisodeClosedData {
  readonly groupId: string;
  readonly candidateId: string;
  readonly incidentId: string;
  /** The incident state that closed it (RESOLVED or CLOSED). */
  readonly state: string;
  readonly closedAt: string;
}

export interface ClockTickedData {
  /** Every input whose time is at or before this has arrived. */
  readonly through: string;
}

export type SignalCorrelated = { readonly type: 'SignalCorrelated'; readonly data: SignalCorrelatedData; readonly metadata: EventMetadata };
export type EpisodeClosed = { readonly type: 'EpisodeClosed'; readonly data: EpisodeClosedData; readonly metadata: EventMetadata };
export type GroupEvent = SignalCorrelated | EpisodeClosed;
export type CorrelationClockTicked = { readonly type: 'CorrelationClockTicked'; readonly data: ClockTickedData; readonly metadata: { readonly schemaVersion: number } };

/** A group event's id: one per (group, input), so redoing a step re-appends the same id. */
export const groupEventId = (type: GroupEvent['type'], groupId: string, inputEventId: string): string => eventIdOf(type, groupId, inputEventId);
export const clockTickEventId = (through: string): string => eventId(`CorrelationClockTicked:${through}`);

const ISO = { strict: true, strictSeparator: true } as const;

class SignalCorrelatedSchema {
  @IsString() @Length(1, 100) groupId!: string;
  @IsString() @Length(1, 100) ruleId!: string;
  @IsString() @Length(1, 50) ruleVersion!: string;
  @IsString() @Length(0, 2000) groupKey!: string;
  @IsString() @Length(1, 200) signalStream!: string;
  @IsString() @Length(1, 600) signalId!: string;
  @IsIn(SIGNAL_STATUSES) status!: SignalStatus;
  @IsString() @Length(1, 500) fingerprint!: string;
  @IsString() @Length(1, 200) service!: string;
  @IsIn(SEVERITIES) severity!: Severity;
  @IsISO8601(ISO) observedAt!: string;
  @IsOptional() @IsISO8601(ISO) endsAt?: string;
  @IsOptional() @IsString() @Length(0, 4096) alertname?: string;
  @IsISO8601(ISO) windowStart!: string;
  @IsIn(OUTCOMES) outcome!: Outcome;
  @IsOptional() @IsString() @Length(1, 200) candidateId?: string;
  @IsBoolean() late!: boolean;
}

class EpisodeClosedSchema {
  @IsString() @Length(1, 100) groupId!: string;
  @IsString() @Length(1, 200) candidateId!: string;
  @IsString() @Length(1, 200) incidentId!: string;
  @IsIn(['RESOLVED', 'CLOSED']) state!: string;
  @IsISO8601(ISO) closedAt!: string;
}

export const groupCodec = new EventCodec<GroupEvent>('correlation group', {
  SignalCorrelated: [SignalCorrelatedSchema, EventMetadataSchema],
  EpisodeClosed: [EpisodeClosedSchema, EventMetadataSchema],
});

class ClockTickedSchema {
  @IsISO8601(ISO) through!: string;
}

class TickMetadataSchema {
  @IsIn([1]) schemaVersion!: number;
}

export const clockCodec = new EventCodec<CorrelationClockTicked>('correlation clock', {
  CorrelationClockTicked: [ClockTickedSchema, TickMetadataSchema],
});
