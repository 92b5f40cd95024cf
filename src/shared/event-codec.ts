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
 * class-validator schema per type for data and one for metadata. Validation is remembered by
 * payload identity (recorded payloads are frozen): an input this process validated and reads back
 * (a CandidateCreated it recorded, then handles), or an event it reads twice, is validated once; a
 * payload that arrives from the wire is always new, so always validated.
 */
export class EventCodec<E extends DomainEvent> {
  /** Validated payloads by identity: data object -> [metadata object, event]. */
  private readonly validated = new WeakMap<object, readonly [object, E]>();

  constructor(
    private readonly name: string,
    private readonly schemas: { readonly [T in E['type']]: readonly [data: Schema, metadata: Schema] },
  ) {}

  knows(type: string): type is E['type'] {
    return Object.prototype.hasOwnProperty.call(this.schemas, type);
  }

  /** The [data, metadata] schemas of a type this codec knows. */
  schemasOf(type: E['type']): readonly [data: Schema, metadata: Schema] {
    return this.schemas[type];
  }

  decode(recorded: RecordedEvent): E {
    const cached = this.validated.get(recorded.data);
    if (cached !== undefined && cached[0] === recorded.metadata && cached[1].type === recorded.type) return cached[1];
    const event = this.validate(recorded.type, recorded.data, recorded.metadata, `${recorded.type} at ${recorded.streamId}@${recorded.revision}`, recorded.streamId);
    this.validated.set(recorded.data, [recorded.metadata, event]);
    return event;
  }

  /**
   * An event built by the domain's own typed code from validated inputs (a decision, an incident):
   * the compiler has checked its shape, so it is written without a second runtime check. Anything
   * that reaches the process from outside (a read from EventStoreDB, a file, a request) is a new
   * object and is always validated by {@link decode}; `test/core` proves every output of a run
   * passes it. A deliberate departure from "validate on write" on the hot path: see
   * docs/performance.md. Unlike {@link encode} it does not remember the payload as validated: the hot
   * paths that write outputs (orchestration, and the replay audit, which writes hundreds of
   * thousands into scratch stores) never read one back, and a WeakMap entry per output cost the
   * audit ~7% of its throughput; a reader that does meet one in-process validates it.
   */
  encodeTrusted(event: E, id: string): EventToAppend {
    return { id, type: event.type, data: event.data as JsonObject, metadata: event.metadata as JsonObject };
  }

  /** Validates an event that came from outside (correlation, a person) and pairs it with its id. */
  encode(event: E, id: string): EventToAppend {
    const valid = this.validate(event.type, event.data, event.metadata, `${event.type} (${this.name}) to write`, this.name);
    this.validated.set(event.data, [event.metadata, valid]);
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
