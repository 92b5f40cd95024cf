import { millisFromTicks, systemClock } from '../../esdb-server/clock.js';
import type { StoredEvent } from '../../esdb-server/storage/engine.js';
import { SqliteEngine, type HistoryRow } from '../../esdb-server/storage/sqlite-engine.js';
import { EventStoreCore } from '../../esdb-server/store.js';
import type { EventStore, JsonObject, ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../event-store.js';
import { readAllIncludes } from '../event-store.js';

/**
 * Rows read at once. A page lives until the scan has passed it: at 1,024 rows its payloads outlived
 * one or two scavenges and were copied and promoted (see docs/performance.md, "The replay audit's memory").
 */
const PAGE = 256;

/**
 * A read-only EventStore over an embedded data dir, in this process: the embedded server's own
 * storage core, read in pages, with no gRPC in between. What a long read of history (the replay
 * audit, what-if, a projection rebuild) uses on a data dir; writers and subscribers go through the
 * server and the official client. Streams history page by page, so memory stays flat.
 */
export class EmbeddedReader implements EventStore {
  private constructor(
    private readonly engine: SqliteEngine,
    private readonly core: EventStoreCore,
  ) {}

  /** Opens the SQLite store in `dataDir` (the caller holds the data-dir lock). */
  static open(dataDir: string): EmbeddedReader {
    // Long reads touch each stream about once: a small last-revision cache keeps memory flat.
    const engine = new SqliteEngine(dataDir, { lastRevisionCacheSize: 1_024 });
    return new EmbeddedReader(engine, new EventStoreCore(engine, systemClock));
  }

  /** `$all` in pages straight from the engine (the core adds nothing to a read of `$all`). */
  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return { [Symbol.asyncIterator]: () => new PageRead(this.engine, options) };
  }

  async *readStream(streamId: string, options: ReadStreamOptions = {}): AsyncIterable<RecordedEvent> {
    const direction = options.direction ?? 'forwards';
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let from = options.fromRevision ?? (direction === 'forwards' ? 0n : BigInt(Number.MAX_SAFE_INTEGER));
    while (remaining > 0) {
      const page = this.core.readStreamPage(streamId, direction, from, Math.min(PAGE, remaining));
      if (page.status !== 'ok') return;
      for (const e of page.events) {
        if (remaining-- <= 0) return;
        yield this.toRecorded(e);
      }
      if (page.next === undefined || page.events.length === 0) return;
      from = page.next;
    }
  }

  async getStreamMetadata(streamId: string): ReturnType<EventStore['getStreamMetadata']> {
    const { maxAgeSeconds, maxCount } = this.core.metadataOf(streamId);
    return { ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }), ...(maxCount === undefined ? {} : { maxCount: Number(maxCount) }) };
  }

  append(): never {
    throw new Error('EmbeddedReader is read-only: write through the embedded server');
  }

  setStreamMetadata(): never {
    throw new Error('EmbeddedReader is read-only: write through the embedded server');
  }

  subscribeToAll(): never {
    throw new Error('EmbeddedReader does not subscribe: use the embedded server');
  }

  async close(): Promise<void> {
    this.engine.close();
  }

  private toRecorded(e: StoredEvent): RecordedEvent {
    return StoredRecordedEvent.fromStored(e);
  }
}

/**
 * One read of `$all`, page by page: an iterator written out rather than an async generator, whose
 * every `yield` suspends and resumes through the microtask queue (a promise and a resumption per
 * event of a long read; see docs/performance.md, "Where the time goes").
 */
class PageRead implements AsyncIterator<RecordedEvent> {
  #page: HistoryRow[] = [];
  #at = 0;
  /** The position the next page starts at, or undefined once the last page is read. */
  #from: number | undefined;
  #remaining: number;
  readonly #prefixes: readonly string[] | undefined;

  constructor(
    private readonly engine: SqliteEngine,
    options: ReadAllOptions,
  ) {
    this.#from = options.after === undefined ? 0 : Number(options.after) + 1;
    this.#remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    this.#prefixes = options.streamPrefixes;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    try {
      return Promise.resolve(this.#next());
    } catch (error) {
      this.#from = undefined;
      this.#page = [];
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  return(): Promise<IteratorResult<RecordedEvent>> {
    this.#from = undefined;
    this.#page = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  #next(): IteratorResult<RecordedEvent> {
    for (;;) {
      while (this.#at < this.#page.length) {
        const row = this.#page[this.#at++] as HistoryRow;
        const streamId = row[1];
        if (!readAllIncludes(streamId, this.#prefixes)) continue;
        if (this.#remaining <= 0) break;
        this.#remaining--;
        return { value: StoredRecordedEvent.fromRow(row), done: false };
      }
      if (this.#from === undefined || this.#remaining <= 0) {
        this.#from = undefined;
        this.#page = [];
        return { value: undefined, done: true };
      }
      this.#page = this.engine.readHistoryForward(this.#from, PAGE);
      this.#at = 0;
      const last = this.#page.at(-1);
      this.#from = this.#page.length < PAGE || last === undefined ? undefined : last[0] + 1;
    }
  }
}

/**
 * A stored event as a RecordedEvent whose data and metadata are parsed when first read: a long
 * scan of `$all` that looks only at stream, revision and type (the replay audit's) parses nothing.
 * data, metadata and created are getters: read them, as every consumer of the port does; a
 * spread copy (`{ ...event }`) would not carry them.
 */
class StoredRecordedEvent implements RecordedEvent {
  /** The payloads as stored, until first read: UTF-8 text (a `$all` page) or bytes (a stream page). */
  #stored: { readonly data: Payload; readonly metadata: Payload; readonly createdMs: number } | undefined;
  #data: JsonObject | undefined;
  #metadata: JsonObject | undefined;
  #created: Date | undefined;

  private constructor(
    readonly id: string,
    readonly type: string,
    readonly streamId: string,
    readonly revision: bigint,
    readonly position: bigint,
    data: Payload,
    metadata: Payload,
    createdMs: number,
  ) {
    this.#stored = { data, metadata, createdMs };
  }

  static fromStored(e: StoredEvent): StoredRecordedEvent {
    return new StoredRecordedEvent(e.eventId, e.type, e.streamId, e.revision, e.position, e.data, e.metadata, millisFromTicks(e.created));
  }

  static fromRow(row: HistoryRow): StoredRecordedEvent {
    return new StoredRecordedEvent(row[3], row[4], row[1], BigInt(row[2]), BigInt(row[0]), row[5], row[6], row[7]);
  }

  get data(): JsonObject {
    this.#parse();
    return this.#data as JsonObject;
  }

  get metadata(): JsonObject {
    this.#parse();
    return this.#metadata as JsonObject;
  }

  get created(): Date {
    this.#parse();
    return this.#created as Date;
  }

  #parse(): void {
    const stored = this.#stored;
    if (stored === undefined) return;
    this.#data = JSON.parse(textOf(stored.data)) as JsonObject;
    const metadata = textOf(stored.metadata);
    this.#metadata = metadata === '' ? {} : (JSON.parse(metadata) as JsonObject);
    this.#created = new Date(stored.createdMs);
    this.#stored = undefined;
  }
}

type Payload = string | Uint8Array;

const UTF8 = new TextDecoder();

/** A stored payload as text, a leading byte order mark dropped on both paths (TextDecoder drops it; SQLite's CAST to TEXT keeps it). */
function textOf(payload: Payload): string {
  const text = typeof payload === 'string' ? payload : UTF8.decode(payload);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
