import { InvalidInput } from '../../shared/errors.js';
import type { JsonObject, PersistentSubscriptionTarget, RecordedEvent } from '../event-store.js';

/** The fields of the client's recorded event the adapter reads (structural: no client import). */
interface ClientRecordedEvent {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position?: { readonly commit: bigint; readonly prepare: bigint };
}

/** A resolved event as the client delivers it from reads and subscriptions. */
export interface ClientResolvedEvent {
  readonly event?: ClientRecordedEvent;
  readonly commitPosition?: bigint;
}

/** What servers before 22.6 send as the position of an event read from a stream: "none". */
const NO_POSITION = 0xffff_ffff_ffff_ffffn;

/**
 * The port's view of a read event: the original event (the link target when a link was resolved)
 * with its id, stream, revision, commit position, data, metadata and creation time.
 */
export function toRecordedEvent(resolved: ClientResolvedEvent): RecordedEvent {
  const event = resolved.event;
  if (event === undefined) throw new Error('A resolved event without an event (unresolved link) cannot be read');
  const subject = `event ${event.id} in stream '${event.streamId}'`;
  return {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    revision: event.revision,
    position: positionOf(event, resolved.commitPosition),
    data: toJsonObject(event.data, subject, 'data'),
    metadata: event.metadata === undefined ? {} : toJsonObject(event.metadata, subject, 'metadata'),
    created: event.created,
  };
}

function positionOf(event: ClientRecordedEvent, commitPosition: bigint | undefined): bigint {
  const commit = event.position?.commit;
  if (commit !== undefined && commit !== NO_POSITION) return commit;
  if (commitPosition !== undefined && commitPosition !== NO_POSITION) return commitPosition;
  return -1n;
}

function toJsonObject(value: unknown, subject: string, field: string): JsonObject {
  let parsed = value;
  if (value instanceof Uint8Array) {
    try {
      parsed = JSON.parse(Buffer.from(value).toString('utf8'));
    } catch (error) {
      throw new InvalidInput(subject, [`${field} is not JSON`], { cause: error });
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInput(subject, [`${field} is not a JSON object`]);
  }
  return parsed as JsonObject;
}

/** `$persistentsubscription-<stream or $all>::<group>-parked`, where the server parks events. */
export function parkedStreamOf(target: PersistentSubscriptionTarget, group: string): string {
  const source = target.kind === 'stream' ? target.streamId : '$all';
  return `$persistentsubscription-${source}::${group}-parked`;
}
