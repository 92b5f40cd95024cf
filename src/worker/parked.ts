import type { EventStore, JsonObject, PersistentSubscriptions, PersistentSubscriptionTarget, RecordedEvent } from '../eventstore/event-store.js';
import type { AuthenticatedBy } from '../candidates/candidate-events.js';
import { InvalidInput } from '../shared/errors.js';
import { eventId } from '../shared/ids.js';
import { CANDIDATE_TARGET, DEFAULT_GROUP } from './worker.js';

/**
 * Parked events: what the server set aside after maxRetryCount failed deliveries. Functions for
 * operators (the CLI calls them): list, count, and replay (optionally at most `stopAt`, or a dry
 * run that only counts). Every replay is recorded as a `ParkedEventsReplayed` event in
 * {@link PARKED_OPERATIONS_STREAM} before the server is asked to replay, so no replay goes
 * unrecorded.
 */
export const PARKED_OPERATIONS_STREAM = 'opx-operations-parked';
export const PARKED_EVENTS_REPLAYED = 'ParkedEventsReplayed';

/** Event ids kept on the recorded replay event (the first ones; the count is always exact). */
export const MAX_RECORDED_EVENT_IDS = 1_000;

export interface ParkedOptions {
  readonly group?: string;
  readonly target?: PersistentSubscriptionTarget;
}

/** A parked event as an operator sees it. */
export interface ParkedEvent {
  readonly eventId: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: RecordedEvent['data'];
  readonly metadata: RecordedEvent['metadata'];
}

const scope = (options: ParkedOptions): { group: string; target: PersistentSubscriptionTarget } => ({
  group: options.group ?? DEFAULT_GROUP,
  target: options.target ?? CANDIDATE_TARGET,
});

/** Parked events still waiting, oldest first (at most `limit`). */
export async function listParkedEvents(subscriptions: PersistentSubscriptions, options: ParkedOptions & { readonly limit?: number } = {}): Promise<ParkedEvent[]> {
  const { group, target } = scope(options);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const parked: ParkedEvent[] = [];
  if (limit <= 0) return parked;
  for await (const event of subscriptions.readParked(target, group)) {
    parked.push({
      eventId: event.id,
      streamId: event.streamId,
      revision: event.revision,
      position: event.position,
      type: event.type,
      created: event.created,
      data: event.data,
      metadata: event.metadata,
    });
    if (parked.length >= limit) break;
  }
  return parked;
}

export async function countParkedEvents(subscriptions: PersistentSubscriptions, options: ParkedOptions = {}): Promise<number> {
  const { group, target } = scope(options);
  let count = 0;
  for await (const _ of subscriptions.readParked(target, group)) count++;
  return count;
}

export interface ReplayParkedOptions extends ParkedOptions {
  /** Replay at most this many (the oldest first); default: all. */
  readonly stopAt?: number;
  /** Only count what would be replayed; nothing is replayed or recorded. */
  readonly dryRun?: boolean;
  /** Who asked (an operator id), recorded on the event. */
  readonly requestedBy: string;
  /** When they asked, ISO 8601, given by the caller (time enters from outside). */
  readonly requestedAt: string;
  /** Why, recorded on the event. */
  readonly reason?: string;
  /** The principal who asked, proven, and how (recorded in the event's metadata). */
  readonly authenticatedBy?: AuthenticatedBy;
}

export interface ReplayParkedResult {
  readonly group: string;
  readonly dryRun: boolean;
  /** Parked events waiting before the replay. */
  readonly parked: number;
  /** Events replayed (or, in a dry run, that would be). */
  readonly replayed: number;
  readonly replayedEvents: ReadonlyArray<Pick<ParkedEvent, 'eventId' | 'streamId' | 'revision' | 'type'>>;
  /** Id of the ParkedEventsReplayed event (absent in a dry run or when nothing was parked). */
  readonly recordedEventId?: string;
}

/**
 * Replays parked events of the group (the oldest `stopAt`, or all). A dry run reads and counts
 * only. A real replay first appends `ParkedEventsReplayed` to {@link PARKED_OPERATIONS_STREAM}
 * (who, when, why, how many, which), then asks the server to redeliver; the worker then handles
 * them like any delivery (idempotent effects; parked again after maxRetryCount if still failing).
 * With nothing parked, nothing is recorded.
 */
export async function replayParkedEvents(
  deps: { readonly subscriptions: PersistentSubscriptions; readonly store: EventStore },
  options: ReplayParkedOptions,
): Promise<ReplayParkedResult> {
  const { group, target } = scope(options);
  const problems: string[] = [];
  if (options.stopAt !== undefined && (!Number.isInteger(options.stopAt) || options.stopAt < 1)) problems.push('stopAt must be a positive integer');
  if (options.requestedBy.trim() === '') problems.push('requestedBy is required');
  if (Number.isNaN(Date.parse(options.requestedAt))) problems.push('requestedAt must be an ISO 8601 time');
  if (problems.length > 0) throw new InvalidInput('replay of parked events', problems);

  const waiting = await listParkedEvents(deps.subscriptions, { group, target });
  const selected = options.stopAt === undefined ? waiting : waiting.slice(0, options.stopAt);
  const replayedEvents = selected.map(({ eventId: id, streamId, revision, type }) => ({ eventId: id, streamId, revision, type }));
  const result = { group, dryRun: options.dryRun === true, parked: waiting.length, replayed: selected.length, replayedEvents };
  if (options.dryRun === true || selected.length === 0) return result;

  const recordedEventId = eventId(`${PARKED_EVENTS_REPLAYED}:${group}:${options.requestedBy}:${options.requestedAt}:${options.stopAt ?? 'all'}`);
  await deps.store.append(
    PARKED_OPERATIONS_STREAM,
    [
      {
        id: recordedEventId,
        type: PARKED_EVENTS_REPLAYED,
        data: {
          group,
          target: describeTarget(target),
          requestedBy: options.requestedBy,
          requestedAt: options.requestedAt,
          reason: options.reason ?? null,
          stopAt: options.stopAt ?? null,
          parkedBefore: waiting.length,
          replayed: selected.length,
          events: replayedEvents.slice(0, MAX_RECORDED_EVENT_IDS).map((e) => ({ eventId: e.eventId, streamId: e.streamId, revision: e.revision.toString(), type: e.type })),
        },
        metadata: { $correlationId: recordedEventId, $causationId: recordedEventId, schemaVersion: 1, ...(options.authenticatedBy === undefined ? {} : { authenticatedBy: { ...options.authenticatedBy } }) },
      },
    ],
    'any',
  );
  await deps.subscriptions.replayParked(target, group, options.stopAt === undefined ? {} : { stopAt: options.stopAt });
  return { ...result, recordedEventId };
}

/** The target as plain JSON, for the operations record. */
function describeTarget(target: PersistentSubscriptionTarget): JsonObject {
  switch (target.kind) {
    case 'all':
      return { kind: 'all', streamPrefixes: [...target.streamPrefixes] };
    case 'all-event-types':
      return { kind: 'all-event-types', eventTypePrefixes: [...target.eventTypePrefixes] };
    case 'stream':
      return { kind: 'stream', streamId: target.streamId };
    default: {
      const unknown: never = target;
      throw new Error(`unknown target ${JSON.stringify(unknown)}`);
    }
  }
}
