import type { EventToAppend, JsonObject, RecordedEvent } from '../eventstore/event-store.js';
import { OpxError } from './errors.js';
import { validateAs } from './validation.js';

export class UnknownEventType extends OpxError {
  static readonly code = 'opx.event.unknown_type';

  constructor(
    readonly eventType: string,
    readonly streamId: string,
  ) {
    super(UnknownEventType.code, `Unknown event type '${eventType}' on stream '${streamId}'`);
  }
}

type Schema = new () => object;

/** A typed event as the domain sees it. */
export interface DomainEvent {
  readonly type: string;
  readonly data: object;
  readonly metadata: object;
}

/**
 * Validates events at the serialization boundary, on write and on read, against one
 * class-validator schema per type for data and one for metadata. A decoded recorded event is
 * cached by identity: recorded events are immutable, so each is validated once.
 */
export class EventCodec<E extends DomainEvent> {
  private readonly decoded = new WeakMap<RecordedEvent, E>();

  constructor(
    private readonly name: string,
    private readonly schemas: { readonly [T in E['type']]: readonly [data: Schema, metadata: Schema] },
  ) {}

  knows(type: string): type is E['type'] {
    return Object.prototype.hasOwnProperty.call(this.schemas, type);
  }

  decode(recorded: RecordedEvent): E {
    const cached = this.decoded.get(recorded);
    if (cached !== undefined) return cached;
    const event = this.validate(recorded.type, recorded.data, recorded.metadata, `${recorded.type} at ${recorded.streamId}@${recorded.revision}`, recorded.streamId);
    this.decoded.set(recorded, event);
    return event;
  }

  /** Validates an event the domain is about to write and pairs it with its deterministic id. */
  encode(event: E, id: string): EventToAppend {
    this.validate(event.type, event.data, event.metadata, `${event.type} (${this.name}) to write`, this.name);
    return { id, type: event.type, data: event.data as JsonObject, metadata: event.metadata as JsonObject };
  }

  private validate(type: string, data: unknown, metadata: unknown, subject: string, streamId: string): E {
    if (!this.knows(type)) throw new UnknownEventType(type, streamId);
    const [dataSchema, metadataSchema] = this.schemas[type];
    validateAs(dataSchema, data, `${subject} data`);
    validateAs(metadataSchema, metadata, `${subject} metadata`);
    return { type, data, metadata } as E;
  }
}
