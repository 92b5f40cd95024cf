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
} from '../../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';

/** What an edit may change in a recorded event. */
export type EventEdit = Partial<Pick<RecordedEvent, 'streamId' | 'revision' | 'type' | 'id' | 'data' | 'metadata'>>;

/**
 * A store as someone with write access to its storage leaves it (an edited SQLite row, say):
 * events changed in place, removed, or slipped in between two others, seen by every read from then
 * on. Writes go to an in-memory store underneath; the view's positions are twice the store's, so
 * an event can be slipped in at an odd position between two recorded ones, as a storage-level
 * edit could. The port never lets a client do any of this: that is what makes it tampering.
 */
export class TamperingStore implements EventStore {
  readonly memory: InMemoryEventStore;
  private readonly changed = new Map<string, EventEdit>();
  private readonly removed = new Set<string>();
  /** Events slipped in right after the store's event at the key's position. */
  private readonly slipped = new Map<bigint, RecordedEvent>();

  constructor(memory: InMemoryEventStore = new InMemoryEventStore(() => new Date('2026-06-01T12:00:00.000Z'))) {
    this.memory = memory;
  }

  /** Changes the event at stream/revision in every later read. */
  change(streamId: string, revision: bigint, edit: (event: RecordedEvent) => EventEdit): void {
    const event = this.memory.snapshot(streamId)[Number(revision)];
    if (event === undefined) throw new Error(`no ${streamId}@${revision} to change`);
    this.changed.set(key(streamId, revision), edit(event));
  }

  /** Removes the event at stream/revision from every later read (the stream keeps a hole). */
  remove(streamId: string, revision: bigint): void {
    if (this.memory.snapshot(streamId)[Number(revision)] === undefined) throw new Error(`no ${streamId}@${revision} to remove`);
    this.removed.add(key(streamId, revision));
  }

  /** Slips an event into `$all` right after the event at stream/revision. */
  slipIn(afterStream: string, afterRevision: bigint, event: Omit<RecordedEvent, 'position' | 'created'>): void {
    const anchor = this.memory.snapshot(afterStream)[Number(afterRevision)];
    if (anchor === undefined) throw new Error(`no ${afterStream}@${afterRevision} to slip an event after`);
    this.slipped.set(anchor.position, { ...event, position: anchor.position * 2n + 1n, created: anchor.created });
  }

  /** The view of one recorded event: undefined when removed. */
  private view(event: RecordedEvent): RecordedEvent | undefined {
    const k = key(event.streamId, event.revision);
    if (this.removed.has(k)) return undefined;
    const edit = this.changed.get(k);
    const base = { id: event.id, type: event.type, streamId: event.streamId, revision: event.revision, data: event.data, metadata: event.metadata };
    return { ...base, ...edit, position: event.position * 2n, created: event.created };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const after = options.after;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    const wanted = (e: RecordedEvent): boolean =>
      (after === undefined || e.position > after) && (options.streamPrefixes === undefined || options.streamPrefixes.some((p) => e.streamId.startsWith(p)));
    for await (const event of this.memory.readAll(after === undefined ? {} : { after: after / 2n - (after % 2n === 0n ? 1n : 0n) })) {
      for (const seen of [this.view(event), this.slipped.get(event.position)]) {
        if (seen === undefined || !wanted(seen)) continue;
        if (remaining-- <= 0) return;
        yield seen;
      }
    }
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    for await (const event of this.memory.readStream(streamId, options)) {
      const seen = this.view(event);
      if (seen !== undefined) yield seen;
    }
  }

  async append(streamId: string, events: readonly EventToAppend[], expected: ExpectedRevision): Promise<AppendResult> {
    const result = await this.memory.append(streamId, events, expected);
    return { ...result, position: result.position * 2n };
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): CatchUpSubscription {
    const inner = this.memory.subscribeToAll(options.after === undefined ? {} : { after: options.after / 2n - (options.after % 2n === 0n ? 1n : 0n) });
    const view = (e: RecordedEvent): RecordedEvent | undefined => this.view(e);
    const after = options.after;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const event of inner) {
          const seen = view(event);
          if (seen !== undefined && (after === undefined || seen.position > after)) yield seen;
        }
      },
      close: () => inner.close(),
    };
  }

  setStreamMetadata(streamId: string, metadata: StreamMetadata): Promise<void> {
    return this.memory.setStreamMetadata(streamId, metadata);
  }

  getStreamMetadata(streamId: string): Promise<StreamMetadata> {
    return this.memory.getStreamMetadata(streamId);
  }

  async headPosition(): Promise<bigint | undefined> {
    const head = await this.memory.headPosition();
    return head === undefined ? undefined : head * 2n;
  }

  close(): Promise<void> {
    return this.memory.close();
  }
}

const key = (streamId: string, revision: bigint): string => `${streamId}@${revision}`;

/** A JSON object with the first character of its first string value found depth-first changed: one byte, deep inside. */
export function flipOneByte(value: JsonObject, path: readonly string[] = []): { value: JsonObject; path: string } {
  const found = flip(value, path);
  if (found === undefined) throw new Error('no string to change in this value');
  return found as { value: JsonObject; path: string };
}

function flip(value: unknown, path: readonly string[]): { value: unknown; path: string } | undefined {
  if (typeof value === 'string' && value.length > 0) {
    const first = value.charCodeAt(0);
    return { value: String.fromCharCode(first === 0x41 ? 0x42 : 0x41) + value.slice(1), path: path.join('.') };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = flip(value[i], [...path, String(i)]);
      if (inner !== undefined) return { value: value.map((v, j) => (j === i ? inner.value : v)), path: inner.path };
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const inner = flip(v, [...path, k]);
      if (inner !== undefined) return { value: { ...value, [k]: inner.value }, path: inner.path };
    }
  }
  return undefined;
}
