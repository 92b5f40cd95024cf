import { deepFreeze } from '../shared/canonical-json.js';
import { WrongExpectedVersion } from '../shared/errors.js';
import type {
  AppendResult,
  CatchUpSubscription,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  JsonObject,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamMetadata,
  SubscribeToAllOptions,
} from './event-store.js';
import { readAllIncludes } from './event-store.js';

// Events and stream state come from constructors and `new Array`, not literals: keeps V8's
// allocation-site pretenuring from putting a replay's short-lived scratch events in the old
// generation once a store has held a history (docs/performance.md).

class StreamState {
  readonly events = new Array<RecordedEvent>();
  /** event id -> revision, for idempotent re-appends. */
  readonly ids = new Map<string, number>();
  metadata: StreamMetadata = NO_METADATA;
}

/** A stream's metadata until some is set (replaced then, never changed). */
const NO_METADATA: StreamMetadata = Object.freeze({});

/** An event as the store holds it (frozen on creation, see appendSync). */
class StoredEvent implements RecordedEvent {
  constructor(
    readonly id: string,
    readonly type: string,
    readonly streamId: string,
    readonly revision: bigint,
    readonly position: bigint,
    readonly data: JsonObject,
    readonly metadata: JsonObject,
    readonly created: Date,
  ) {}
}

/**
 * An in-memory event store with EventStoreDB's append semantics (expected revision, idempotent
 * re-append of the same event ids, revisions from 0, a global order). The store takes ownership
 * of appended payloads and deep-freezes them instead of copying: neither the writer nor any reader
 * can mutate history afterwards (a write to a frozen object throws in strict mode), and no time is
 * spent serializing in-process.
 */
export class InMemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private waiters: Array<() => void> = [];
  private closed = false;

  /** @param now server-assigned `created` time (never read by decisions) */
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** The events of a stream as held (no $maxAge/$maxCount applied): replay and test aid. */
  snapshot(streamId: string): readonly RecordedEvent[] {
    return this.streams.get(streamId)?.events ?? [];
  }

  /** Ids of the streams held, in creation order. */
  streamIds(): IterableIterator<string> {
    return this.streams.keys();
  }

  async append(
    streamId: string,
    events: readonly EventToAppend[],
    expectedRevision: ExpectedRevision,
  ): Promise<AppendResult> {
    return this.appendSync(streamId, events, expectedRevision);
  }

  /** The synchronous core of {@link append}; exposed for benchmarks that measure raw cost. */
  appendSync(streamId: string, events: readonly EventToAppend[], expected: ExpectedRevision): AppendResult {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    const current = stream === undefined ? -1 : stream.events.length - 1;

    const idempotent = this.idempotentResult(stream, events, expected, current);
    if (idempotent !== undefined) return idempotent;

    // A stream that only has metadata (setStreamMetadata) has no events yet: for 'no_stream' and
    // exact revisions it does not exist, as in EventStoreDB; 'stream_exists' accepts it.
    // An exact revision is compared as a number (exact: a revision is far below 2^53), and the
    // actual one made a bigint only to throw: no BigInt per append to a stream that exists.
    if (
      (expected === 'no_stream' && current >= 0) ||
      (expected === 'stream_exists' && stream === undefined) ||
      (typeof expected === 'bigint' && Number(expected) !== current)
    ) {
      throw new WrongExpectedVersion(streamId, expected, current < 0 ? 'no_stream' : BigInt(current));
    }
    if (events.length === 0) {
      return { nextExpectedRevision: BigInt(current), position: this.lastPosition() };
    }

    const state = stream ?? new StreamState();
    if (stream === undefined) this.streams.set(streamId, state);
    const created = this.now();
    let position = -1n;
    for (const proposed of events) {
      position = BigInt(this.log.length);
      const recorded: RecordedEvent = Object.freeze(
        new StoredEvent(proposed.id, proposed.type, streamId, BigInt(state.events.length), position, deepFreeze(proposed.data), deepFreeze(proposed.metadata), created),
      );
      state.ids.set(proposed.id, state.events.length);
      state.events.push(recorded);
      this.log.push(recorded);
    }
    this.notify();
    return { nextExpectedRevision: BigInt(state.events.length - 1), position, written: true };
  }

  /**
   * EventStoreDB's idempotency rule: when the proposed ids are already in the stream, in order,
   * exactly where the expected revision says they would have been written, the append is a
   * no-op that reports the original write.
   */
  private idempotentResult(
    stream: StreamState | undefined,
    events: readonly EventToAppend[],
    expected: ExpectedRevision,
    current: number,
  ): AppendResult | undefined {
    const first = events[0];
    if (stream === undefined || first === undefined) return undefined;
    let start: number | undefined;
    if (expected === 'any' || expected === 'stream_exists') start = stream.ids.get(first.id);
    else if (expected === 'no_stream') start = 0;
    else if (expected < current) start = Number(expected) + 1;
    if (start === undefined) return undefined;
    for (let i = 0; i < events.length; i++) {
      if (stream.events[start + i]?.id !== events[i]?.id) return undefined;
    }
    const last = stream.events[start + events.length - 1];
    if (last === undefined) return undefined;
    return { nextExpectedRevision: last.revision, position: last.position, written: false };
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    const visible = this.visibleFrom(stream);
    const backwards = options.direction === 'backwards';
    const last = stream.events.length - 1;
    let index = options.fromRevision === undefined ? (backwards ? last : 0) : Number(options.fromRevision);
    // Forwards, events hidden by $maxCount / $maxAge are skipped rather than ending the read.
    if (!backwards && index < visible) index = visible;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0 && index >= visible && index <= last) {
      const event = stream.events[index];
      if (event === undefined) break;
      yield event;
      remaining--;
      index += backwards ? -1 : 1;
    }
  }

  /** Index of the first event still visible under $maxCount / $maxAge (applied on read). */
  private visibleFrom(stream: StreamState): number {
    let from = 0;
    const { maxCount, maxAge } = stream.metadata;
    if (maxCount !== undefined) from = Math.max(from, stream.events.length - maxCount);
    if (maxAge !== undefined) {
      const oldest = this.now().getTime() - maxAge * 1000;
      while (from < stream.events.length && (stream.events[from]?.created.getTime() ?? 0) < oldest) from++;
    }
    return from;
  }

  /**
   * An iterator written out rather than an async generator: a generator's `yield` awaits the value
   * and resumes through the microtask queue, a few promises per event, and correlation reads all
   * of `$all` this way (~40 MB of promises and iterator results per 50,000 facts). Same reads: the
   * log is read as it grows, the store must be open at the first `next()`.
   */
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return { [Symbol.asyncIterator]: () => new LogRead(this.log, () => this.assertOpen(), this.startIndex(options.after), options) };
  }

  async headPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    return this.log.length === 0 ? undefined : BigInt(this.log.length - 1);
  }

  private startIndex(after: bigint | undefined): number {
    return after === undefined ? 0 : Number(after) + 1;
  }

  async setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    this.assertOpen();
    let stream = this.streams.get(streamId);
    if (stream === undefined) this.streams.set(streamId, (stream = new StreamState()));
    stream.metadata = { ...metadata };
  }

  async getStreamMetadata(streamId: string): Promise<StreamMetadata> {
    this.assertOpen();
    return { ...(this.streams.get(streamId)?.metadata ?? {}) };
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): CatchUpSubscription {
    const control: LiveControl = { stopped: false, wake: undefined };
    const iterator = this.liveEvents(options, control);
    const close = async (): Promise<void> => {
      control.stopped = true;
      control.wake?.();
    };
    return { [Symbol.asyncIterator]: () => iterator, close };
  }

  private async *liveEvents(options: SubscribeToAllOptions, control: LiveControl): AsyncGenerator<RecordedEvent> {
    let index = this.startIndex(options.after);
    try {
      while (!control.stopped && !this.closed) {
        while (index < this.log.length && !control.stopped) {
          const event = this.log[index++];
          if (event !== undefined && readAllIncludes(event.streamId, options.streamPrefixes)) yield event;
        }
        if (control.stopped || this.closed) break;
        await new Promise<void>((resolve) => {
          control.wake = resolve;
          this.waiters.push(resolve);
        });
      }
    } finally {
      control.stopped = true;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
  }

  /** Number of events in the global log (a test and benchmark aid). */
  get size(): number {
    return this.log.length;
  }

  private lastPosition(): bigint {
    return BigInt(this.log.length - 1);
  }


  private notify(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('InMemoryEventStore is closed');
  }
}

/** One read of `$all` over the log, from `index`, as {@link InMemoryEventStore.readAll} describes it. */
class LogRead implements AsyncIterator<RecordedEvent> {
  private remaining: number;
  private readonly prefixes: readonly string[] | undefined;
  private started = false;
  private done = false;

  constructor(
    private readonly log: readonly RecordedEvent[],
    private readonly assertOpen: () => void,
    private index: number,
    options: ReadAllOptions,
  ) {
    this.remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    this.prefixes = options.streamPrefixes;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    if (!this.started) {
      this.started = true;
      try {
        this.assertOpen();
      } catch (error) {
        this.done = true;
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    while (!this.done && this.index < this.log.length && this.remaining > 0) {
      const event = this.log[this.index++];
      if (event === undefined || !readAllIncludes(event.streamId, this.prefixes)) continue;
      this.remaining--;
      return Promise.resolve({ value: event, done: false });
    }
    this.done = true;
    return Promise.resolve({ value: undefined, done: true });
  }

  return(): Promise<IteratorResult<RecordedEvent>> {
    this.done = true;
    return Promise.resolve({ value: undefined, done: true });
  }
}

interface LiveControl {
  stopped: boolean;
  wake: (() => void) | undefined;
}
