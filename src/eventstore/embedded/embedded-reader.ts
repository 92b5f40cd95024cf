import { millisFromTicks, systemClock } from '../../esdb-server/clock.js';
import type { StoredEvent } from '../../esdb-server/storage/engine.js';
import { SqliteEngine } from '../../esdb-server/storage/sqlite-engine.js';
import { EventStoreCore } from '../../esdb-server/store.js';
import type { EventStore, JsonObject, ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../event-store.js';

const PAGE = 1024;

/**
 * A read-only EventStore over an embedded data dir, in this process: the embedded server's own
 * storage core, read in pages, with no gRPC in between. What a long read of history (the replay
 * audit, what-if, a projection rebuild) uses on a data dir; writers and subscribers go through the
 * server and the official client. Streams history page by page, so memory stays flat.
 */
export class EmbeddedReader implements EventStore {
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly core: EventStoreCore,
    private readonly release: () => void,
  ) {}

  /** Opens the SQLite store in `dataDir` (the caller holds the data-dir lock). */
  static open(dataDir: string): EmbeddedReader {
    const engine = new SqliteEngine(dataDir);
    return new EmbeddedReader(new EventStoreCore(engine, systemClock), () => engine.close());
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let from = options.after === undefined ? 0n : options.after + 1n;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const page = this.core.readAllForward(from, PAGE);
      for (const e of page) {
        if (e.streamId.startsWith('$')) continue;
        if (options.streamPrefixes !== undefined && !options.streamPrefixes.some((p) => e.streamId.startsWith(p))) continue;
        if (remaining-- <= 0) return;
        yield this.toRecorded(e);
      }
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) return;
      from = last.position + 1n;
    }
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
    this.release();
  }

  private toRecorded(e: StoredEvent): RecordedEvent {
    return {
      id: e.eventId,
      type: e.type,
      streamId: e.streamId,
      revision: e.revision,
      position: e.position,
      data: JSON.parse(this.decoder.decode(e.data)) as JsonObject,
      metadata: e.metadata.byteLength === 0 ? {} : (JSON.parse(this.decoder.decode(e.metadata)) as JsonObject),
      created: new Date(millisFromTicks(e.created)),
    };
  }
}
