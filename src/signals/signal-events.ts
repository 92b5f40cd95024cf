import 'reflect-metadata';
import { IsArray, IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, Length, Matches, Min } from '../shared/class-validator.js';

import { SEVERITIES, type Severity } from '../correlation/signal.js';
import { EventMetadataSchema, type EventMetadata } from '../candidates/candidate-events.js';
import { EventCodec } from '../shared/event-codec.js';
import { domainId, eventId } from '../shared/ids.js';

/**
 * Signals are recorded facts, one stream per fact: `signal-<factId>`, written once at
 * `no_stream`. A fact is one alert firing (`SignalFired`), the same firing resolved
 * (`SignalResolved`), or an alert a source mapping ignores (`SignalIgnored`, e.g. Watchdog): its
 * identity is (source, signalId, status), where an Alertmanager alert's signalId is
 * `<fingerprint>@<startsAt>`. The event id derives from the identity, so a repeat of the same fact
 * (an Alertmanager retry, an HA pair posting the same group, a file ingested twice) is a no-op at
 * the store, with no read first. An input that cannot be a signal is recorded as `SignalRejected`
 * in `signal-rejected-<hash of its content>`, with why.
 */
export const SIGNAL_STREAM_PREFIX = 'signal-';
export const REJECTED_SIGNAL_STREAM_PREFIX = 'signal-rejected-';

export const SIGNAL_STATUSES = ['firing', 'resolved'] as const;
export type SignalStatus = (typeof SIGNAL_STATUSES)[number];

/** What a recorded signal fact says. `observedAt` is when the firing started (Alertmanager's startsAt). */
export interface SignalFact {
  readonly signalId: string;
  readonly source: string;
  readonly status: SignalStatus;
  readonly fingerprint: string;
  readonly service: string;
  readonly severity: Severity;
  readonly observedAt: string;
  /** When the firing ended (resolved facts only). */
  readonly endsAt?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The source's link back to what fired (Prometheus expression browser URL). */
  readonly generatorUrl?: string;
}

/** An alert the source mapping ignores (its ignore list): recorded, acknowledged, never correlated. */
export interface SignalIgnoredData extends SignalFact {
  readonly ignoredBy: string;
}

export interface SignalRejectedData {
  readonly source: string;
  /** Where in its input it was: `alerts[3]`, `line 7`. */
  readonly location: string;
  readonly problems: readonly string[];
  /** The input itself, as JSON text, cut to 4 KiB. */
  readonly input: string;
}

/** How a fact reached the store: edge facts, never read by a decision. */
export interface SignalMetadata extends EventMetadata {
  readonly receivedAt: string;
  /** The channel (`http`, `file`, `api`) and the principal that sent it, when authenticated. */
  readonly channel: string;
  readonly principal?: string;
}

export type SignalFired = { readonly type: 'SignalFired'; readonly data: SignalFact; readonly metadata: SignalMetadata };
export type SignalResolved = { readonly type: 'SignalResolved'; readonly data: SignalFact; readonly metadata: SignalMetadata };
export type SignalIgnored = { readonly type: 'SignalIgnored'; readonly data: SignalIgnoredData; readonly metadata: SignalMetadata };
export type SignalRejected = { readonly type: 'SignalRejected'; readonly data: SignalRejectedData; readonly metadata: SignalMetadata };
/** Alertmanager left alerts out of a webhook body (its max_alerts): they never reached OPX. */
export interface AlertsTruncatedData {
  readonly source: string;
  readonly receiver?: string;
  readonly groupKey?: string;
  readonly truncatedAlerts: number;
}

export type AlertsTruncated = { readonly type: 'AlertsTruncated'; readonly data: AlertsTruncatedData; readonly metadata: SignalMetadata };
export type SignalEvent = SignalFired | SignalResolved | SignalIgnored | SignalRejected | AlertsTruncated;

/** The facts correlation reads (ignored and rejected inputs are recorded, never correlated). */
export const CORRELATED_SIGNAL_TYPES = ['SignalFired', 'SignalResolved'] as const;

/** The fact's identity as a short id: (source, signalId, status). */
export const signalFactId = (source: string, signalId: string, status: SignalStatus): string => domainId('sig', [source, signalId, status]);
export const signalStreamId = (factId: string): string => `${SIGNAL_STREAM_PREFIX}${factId}`;
export const rejectedSignalStreamId = (contentHash: string): string => `${REJECTED_SIGNAL_STREAM_PREFIX}${contentHash.slice(0, 32)}`;
export const truncationStreamId = (contentHash: string): string => `signal-truncated-${contentHash.slice(0, 32)}`;
export const signalEventId = (streamId: string): string => eventId(`Signal:${streamId}`);

/** A signal fact as the event that records it, in its own stream. */
export function signalEvent(fact: SignalFact, edge: Omit<SignalMetadata, '$correlationId' | '$causationId' | 'schemaVersion'>, ignoredBy?: string): { streamId: string; event: SignalFired | SignalResolved | SignalIgnored; id: string } {
  const streamId = signalStreamId(signalFactId(fact.source, fact.signalId, fact.status));
  const id = signalEventId(streamId);
  const metadata: SignalMetadata = { $correlationId: id, $causationId: id, schemaVersion: 1, ...edge };
  if (ignoredBy !== undefined) return { streamId, id, event: { type: 'SignalIgnored', data: { ...fact, ignoredBy }, metadata } };
  return { streamId, id, event: fact.status === 'firing' ? { type: 'SignalFired', data: fact, metadata } : { type: 'SignalResolved', data: fact, metadata } };
}

/** The time a fact happened, which orders it in correlation: the firing's start, or its end. */
export const factTime = (fact: SignalFact): string => (fact.status === 'resolved' && fact.endsAt !== undefined ? fact.endsAt : fact.observedAt);

// ---- schemas (class-validator) for the serialization boundary -------------------------------

const ISO = { strict: true, strictSeparator: true } as const;

export class SignalFactSchema {
  @IsString() @Length(1, 600) signalId!: string;
  @IsString() @Length(1, 200) @Matches(/^[A-Za-z0-9._:/-]+$/, { message: 'source may only contain letters, digits and . _ : / -' }) source!: string;
  @IsIn(SIGNAL_STATUSES) status!: SignalStatus;
  @IsString() @Length(1, 500) fingerprint!: string;
  @IsString() @Length(1, 200) service!: string;
  @IsIn(SEVERITIES) severity!: Severity;
  @IsISO8601(ISO) observedAt!: string;
  @IsOptional() @IsISO8601(ISO) endsAt?: string;
  @IsObject() labels!: Record<string, string>;
  @IsObject() annotations!: Record<string, string>;
  @IsOptional() @IsString() @Length(1, 2000) generatorUrl?: string;
}

export class SignalIgnoredSchema extends SignalFactSchema {
  @IsString() @Length(1, 500) ignoredBy!: string;
}

export class SignalRejectedSchema {
  @IsString() @Length(1, 200) source!: string;
  @IsString() @Length(1, 200) location!: string;
  @IsArray() @IsString({ each: true }) problems!: string[];
  @IsString() @Length(0, 4096) input!: string;
}

export class AlertsTruncatedSchema {
  @IsString() @Length(1, 200) source!: string;
  @IsOptional() @IsString() @Length(0, 2000) receiver?: string;
  @IsOptional() @IsString() @Length(0, 4000) groupKey?: string;
  @IsInt() @Min(1) truncatedAlerts!: number;
}

export class SignalMetadataSchema extends EventMetadataSchema {
  @IsISO8601(ISO) receivedAt!: string;
  @IsString() @Length(1, 50) channel!: string;
  @IsOptional() @IsString() @Length(1, 200) principal?: string;
}

export const signalCodec = new EventCodec<SignalEvent>('signal', {
  SignalFired: [SignalFactSchema, SignalMetadataSchema],
  SignalResolved: [SignalFactSchema, SignalMetadataSchema],
  SignalIgnored: [SignalIgnoredSchema, SignalMetadataSchema],
  SignalRejected: [SignalRejectedSchema, SignalMetadataSchema],
  AlertsTruncated: [AlertsTruncatedSchema, SignalMetadataSchema],
});
