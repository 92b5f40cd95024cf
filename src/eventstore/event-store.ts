/**
 * The event-store port. Everything in the domain talks to EventStoreDB through this interface
 * only; the in-memory implementation and the EventStoreDB adapter (the single module that
 * imports `@eventstore/db-client`) both pass the same contract suite.
 *
 * Semantics follow EventStoreDB exactly:
 * - stream revisions start at 0; a global position orders every event in `$all`;
 * - an append names an expected revision ('any' | 'no_stream' | 'stream_exists' | exact bigint)
 *   and fails with {@link WrongExpectedVersion} carrying expected and actual;
 * - re-appending the same event ids at the same expected revision is idempotent: nothing is
 *   written and the original result is returned;
 * - reading a stream that does not exist yields nothing (not an error).
 */

/** A JSON value as stored in an event's data or metadata. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** An event proposed for appending. `id` is a UUID, derived deterministically by the caller. */
export interface EventToAppend {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** An event as read back from the store. */
export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  /** Revision within its stream, from 0. */
  readonly revision: bigint;
  /** Global commit position in `$all` (server-assigned; excluded from replay comparison). */
  readonly position: bigint;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  /** Server-assigned creation time (excluded from replay comparison; never used in decisions). */
  readonly created: Date;
}

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event written (or of the original write when idempotent). */
  readonly position: bigint;
  /**
   * False when nothing was written because the same events were already there (an idempotent
   * re-append); true when they were written now; absent when the store cannot tell.
   */
  readonly written?: boolean;
}

export interface ReadStreamOptions {
  /** Inclusive start revision; default: 0 forwards, end backwards. */
  readonly fromRevision?: bigint;
  readonly direction?: 'forwards' | 'backwards';
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Only events whose stream id starts with one of these prefixes. */
  readonly streamPrefixes?: readonly string[];
  /** Exclusive start position: events strictly after it. Default: from the beginning. */
  readonly after?: bigint;
  readonly maxCount?: number;
}

/**
 * Whether a read of `$all` (or a subscription to it) under `prefixes` delivers an event of this
 * stream: never a system stream (`$`), and with prefixes only a stream that starts with one of
 * them (an empty list matches nothing). Every adapter applies this one rule.
 */
export function readAllIncludes(streamId: string, prefixes: readonly string[] | undefined): boolean {
  if (streamId.charCodeAt(0) === DOLLAR) return false;
  if (prefixes === undefined) return true;
  for (let i = 0; i < prefixes.length; i++) if (streamId.startsWith(prefixes[i] as string)) return true;
  return false;
}

const DOLLAR = '$'.charCodeAt(0);

export interface StreamMetadata {
  /** `$maxAge` in seconds. */
  readonly maxAge?: number;
  /** `$maxCount`. */
  readonly maxCount?: number;
}

export interface SubscribeToAllOptions {
  readonly streamPrefixes?: readonly string[];
  /** Exclusive start position; default: from the beginning. */
  readonly after?: bigint;
}

/** A live catch-up subscription: historical events first, then new ones as they are appended. */
export interface CatchUpSubscription extends AsyncIterable<RecordedEvent> {
  /** Stops the subscription; the iterator then completes. */
  close(): Promise<void>;
}

export interface EventStore {
  append(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult>;

  /** Events of one stream; an unknown stream yields nothing. */
  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;

  /** Events of `$all` in global order, without system streams (names starting with `$`). */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;

  setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void>;
  getStreamMetadata(streamId: string): Promise<StreamMetadata>;

  subscribeToAll(options?: SubscribeToAllOptions): CatchUpSubscription;

  /**
   * The position of the last event in `$all` (system events included), or undefined when empty.
   * Optional: used only to tell a write from an idempotent re-append in reports, never for a decision.
   */
  headPosition?(): Promise<bigint | undefined>;

  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** The read half of the port: all that an audit of recorded history needs. */
export type EventReader = Pick<EventStore, 'readStream' | 'readAll'>;

/**
 * Persistent subscriptions (competing consumers with server-side checkpoints, retry and parking).
 * Implemented by the EventStoreDB adapter; used by the worker.
 */
export type PersistentSubscriptionTarget =
  /** `$all`, filtered on the server by stream-name prefix. */
  | { readonly kind: 'all'; readonly streamPrefixes: readonly string[] }
  /** `$all`, filtered on the server by event-type prefix (EventStoreDB filters on one or the other). */
  | { readonly kind: 'all-event-types'; readonly eventTypePrefixes: readonly string[] }
  | { readonly kind: 'stream'; readonly streamId: string };

export interface PersistentSubscriptionSettings {
  readonly maxRetryCount: number;
  readonly messageTimeoutMs: number;
  readonly consumerStrategy: 'RoundRobin' | 'DispatchToSingle' | 'Pinned';
  readonly startFrom: 'start' | 'end';
  readonly checkpointAfterMs?: number;
  readonly liveBufferSize?: number;
}

export interface PersistentDelivery {
  readonly event: RecordedEvent;
  /** How many times this event was delivered before (0 on first delivery). */
  readonly retryCount: number;
}

export type NackAction = 'retry' | 'park' | 'skip';

export interface PersistentSubscription extends AsyncIterable<PersistentDelivery> {
  ack(delivery: PersistentDelivery): Promise<void>;
  nack(delivery: PersistentDelivery, action: NackAction, reason: string): Promise<void>;
  close(): Promise<void>;
}

export interface PersistentSubscriptions {
  /** Creates the group if it does not exist; an existing group is left as it is. */
  ensureGroup(
    target: PersistentSubscriptionTarget,
    group: string,
    settings: PersistentSubscriptionSettings,
  ): Promise<void>;
  subscribe(
    target: PersistentSubscriptionTarget,
    group: string,
    options?: { readonly bufferSize?: number },
  ): PersistentSubscription;
  /** Re-delivers parked events of the group (optionally at most `stopAt` of them). */
  replayParked(
    target: PersistentSubscriptionTarget,
    group: string,
    options?: { readonly stopAt?: number },
  ): Promise<void>;
  /**
   * Parked events still waiting (read from the group's parked stream). An event whose payload is
   * not a JSON object (often why it was parked) comes back with `data.$undecodable` saying why.
   */
  readParked(target: PersistentSubscriptionTarget, group: string): AsyncIterable<RecordedEvent>;
}
