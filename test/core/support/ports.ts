import type {
  AppendResult,
  CatchUpSubscription,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamMetadata,
  SubscribeToAllOptions,
} from '../../../src/eventstore/event-store.js';
import type { MessageBus, Subscriber } from '../../../src/orchestration/message-bus.js';
import type { OrchestrationEvent, OrchestrationEventType } from '../../../src/orchestration/orchestration-event.schema.js';
import { OrchestrationStore, type OrchestrationAttempt } from '../../../src/orchestration/orchestration-store.js';
import { StoreUnavailable } from '../../../src/shared/errors.js';

export interface StoreHooks {
  /** Called before an append reaches the store; throw to make the append fail. */
  readonly beforeAppend?: (streamId: string, events: readonly EventToAppend[]) => void;
  /** Called before any read of one stream (events or metadata); throw to make it fail. */
  readonly beforeRead?: (streamId: string) => void;
  /** Called before a read of `$all`. */
  readonly beforeReadAll?: (options: ReadAllOptions) => void;
}

/**
 * The EventStore port with a spy and fault injection in front of a real store: every append and
 * read is recorded (stream id, event types) and may be made to fail. A stub at the port, so the
 * code under test runs unchanged.
 */
export class InterceptingEventStore implements EventStore {
  readonly appends: Array<{ readonly streamId: string; readonly types: readonly string[] }> = [];
  readonly reads: string[] = [];
  readonly metadataWrites: string[] = [];
  /** Events handed out by stream reads, per stream (a read stopped early counts what it took). */
  readonly eventsRead = new Map<string, number>();

  constructor(
    private readonly inner: EventStore,
    private readonly hooks: StoreHooks = {},
  ) {}

  async append(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    this.hooks.beforeAppend?.(streamId, events);
    const result = await this.inner.append(streamId, events, expectedRevision);
    this.appends.push({ streamId, types: events.map((e) => e.type) });
    return result;
  }

  async *readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    this.reads.push(streamId);
    this.hooks.beforeRead?.(streamId);
    for await (const event of this.inner.readStream(streamId, options)) {
      this.eventsRead.set(streamId, (this.eventsRead.get(streamId) ?? 0) + 1);
      yield event;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.hooks.beforeReadAll?.(options);
    yield* this.inner.readAll(options);
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.metadataWrites.push(streamId);
    await this.inner.setStreamMetadata(streamId, metadata);
  }

  async getStreamMetadata(streamId: string): Promise<StreamMetadata> {
    this.reads.push(streamId);
    this.hooks.beforeRead?.(streamId);
    return this.inner.getStreamMetadata(streamId);
  }

  subscribeToAll(options?: SubscribeToAllOptions): CatchUpSubscription {
    return this.inner.subscribeToAll(options);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }

  /** Types appended, in order, across all streams. */
  get appendedTypes(): string[] {
    return this.appends.flatMap((a) => a.types);
  }
}

/**
 * The EventStore port in front of a real store, holding every append to one stream until the test
 * opens the gate (a slow network write), and recording each append and metadata write.
 */
export class GatedEventStore extends InterceptingEventStore {
  readonly calls: Array<{ readonly kind: 'append' | 'metadata'; readonly streamId: string; readonly events: number }> = [];
  /** Appends to the gated stream waiting for the gate. */
  held = 0;
  private opened = false;
  private readonly waiting: Array<() => void> = [];

  constructor(
    inner: EventStore,
    private readonly gated: string,
  ) {
    super(inner);
  }

  override async append(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    this.calls.push({ kind: 'append', streamId, events: events.length });
    if (streamId === this.gated && !this.opened) {
      this.held++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      this.held--;
    }
    return super.append(streamId, events, expectedRevision);
  }

  override async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.calls.push({ kind: 'metadata', streamId, events: 0 });
    await super.setStreamMetadata(streamId, metadata);
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

/** beforeAppend hook: the first append carrying `type` fails (a crash at that point), later ones pass. */
export function failFirstAppendOf(type: string): NonNullable<StoreHooks['beforeAppend']> {
  let failed = false;
  return (streamId, events) => {
    if (!failed && events.some((e) => e.type === type)) {
      failed = true;
      throw new StoreUnavailable(`injected: append of ${type} to ${streamId} failed`);
    }
  };
}

/** Keeps every event published, in order. */
/** A host's own bus: keeps every event it is given (no dedupe) and delivers each to its subscribers. */
export class RecordingEmitter implements MessageBus {
  readonly events: OrchestrationEvent[] = [];
  private readonly subscribers: Array<{ readonly eventType: string; readonly deliver: (event: OrchestrationEvent) => void | Promise<void> }> = [];

  async emit(event: OrchestrationEvent): Promise<void> {
    this.events.push(event);
    for (const subscriber of this.subscribers) if (subscriber.eventType === event.eventType) await subscriber.deliver(event);
  }

  subscribe<T extends OrchestrationEventType>(eventType: T, subscriber: Subscriber<T>): () => void {
    const entry = { eventType, deliver: subscriber as (event: OrchestrationEvent) => void | Promise<void> };
    this.subscribers.push(entry);
    return () => void this.subscribers.splice(this.subscribers.indexOf(entry), 1);
  }
}

/** An emitter whose transport is down: every emit rejects. Counts the attempts. */
export class ThrowingEmitter implements MessageBus {
  attempts = 0;

  async emit(event: OrchestrationEvent): Promise<void> {
    this.attempts++;
    throw new Error(`bus down: ${event.eventType} not delivered`);
  }

  subscribe(): () => void {
    return () => undefined;
  }
}

/**
 * The orchestration log port with its backing table unavailable: writes reject, and the debug
 * read throws (so any hot-path read would fail orchestration).
 */
export class UnavailableOrchestrationStore extends OrchestrationStore {
  logAttempts = 0;
  getAttemptsCalls = 0;

  override async logAttempt(): Promise<void> {
    this.logAttempts++;
    throw new StoreUnavailable('orchestration log table unavailable');
  }

  override async getAttempts(): Promise<OrchestrationAttempt[]> {
    this.getAttemptsCalls++;
    throw new StoreUnavailable('getAttempts is debug only and must not be called by orchestration');
  }
}

/** An OrchestrationStore whose debug read throws, while writes still land in the store. */
export class WriteOnlyOrchestrationStore extends OrchestrationStore {
  getAttemptsCalls = 0;

  override async getAttempts(): Promise<OrchestrationAttempt[]> {
    this.getAttemptsCalls++;
    throw new StoreUnavailable('getAttempts must not be called on the hot path');
  }
}
