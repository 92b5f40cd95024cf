import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { ticksFromMillis } from './clock.js';
import { checkCommit, type ExpectedRevision } from './commit-check.js';
import type { NewEvent, StorageEngine, StoredEvent } from './storage/engine.js';
import {
  DELETED_STREAM,
  isMetastream,
  LINK_EVENT_TYPE,
  METADATA_EVENT_TYPE,
  metastreamOf,
  originalStreamOf,
  STREAM_DELETED_EVENT_TYPE,
} from './system-streams.js';
import { NO_METADATA, parseMetadata, serializeMetadata, type ParsedMetadata, type StreamMetadataView } from './stream-metadata.js';

export type { StreamMetadataView } from './stream-metadata.js';
export { expectedVersionNumber, type ExpectedRevision } from './commit-check.js';

/**
 * EventStoreDB semantics over a {@link StorageEngine}: expected revisions, idempotent appends,
 * soft delete (`$tb` = long.MaxValue in the metastream) and tombstones (an event at revision
 * long.MaxValue), stream metadata (`$maxAge`, `$maxCount`, `$tb`) applied on stream reads, and
 * link (`$>`) resolution. The rules follow EventStore's `IndexWriter.CheckCommit`,
 * `StorageWriterService` and `IndexReader` (read, never copied).
 */

export {
  ALL_STREAM,
  DELETED_STREAM,
  isMetastream,
  LINK_EVENT_TYPE,
  METADATA_EVENT_TYPE,
  metastreamOf,
  originalStreamOf,
  STREAM_DELETED_EVENT_TYPE,
} from './system-streams.js';

export interface ProposedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

export type WriteOutcome =
  | {
      readonly kind: 'success';
      /** Revision of the last event (-1n: the stream still has none). */
      readonly currentRevision: bigint;
      readonly position: bigint | undefined;
    }
  | { readonly kind: 'wrong_expected_version'; readonly currentRevision: bigint }
  | { readonly kind: 'stream_deleted' };

export type StreamPage =
  | { readonly status: 'ok'; readonly events: StoredEvent[]; readonly next: bigint | undefined }
  | { readonly status: 'no_stream' }
  | { readonly status: 'deleted' };

const EMPTY = new Uint8Array(0);
const METADATA_CACHE_LIMIT = 10_000;

export class EventStoreCore {
  readonly #listeners = new Set<() => void>();
  readonly #metadata = new Map<string, ParsedMetadata>();
  /**
   * Streams that have a metastream. Most streams have none, and without this set every stream
   * read would query the metastream (the cache cannot hold a history's worth of streams).
   */
  readonly #withMetadata: Set<string>;

  constructor(
    readonly engine: StorageEngine,
    readonly clock: Clock,
  ) {
    this.#withMetadata = new Set(engine.streamIdsWithPrefix('$$').map(originalStreamOf));
  }

  lastPosition(): bigint {
    return this.engine.lastPosition();
  }

  /** Calls `listener` after every committed write; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  streamLastRevision(streamId: string): bigint | undefined {
    return this.engine.streamLastRevision(streamId);
  }

  /** The stream's metadata as JSON (`$acl` and the rest). */
  metadataJsonOf(streamId: string): Record<string, unknown> {
    return this.#metadataEntry(streamId).json;
  }

  /** The last event of a stream parsed as a JSON object (`$settings`), if it has one. */
  lastEventJsonOf(streamId: string): Record<string, unknown> | undefined {
    const [last] = this.engine.readStreamBackward(streamId, DELETED_STREAM - 1n, 1);
    if (last === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(last.data).toString('utf8'));
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  metadataOf(streamId: string): StreamMetadataView {
    return this.#metadataEntry(streamId).view;
  }

  #metadataEntry(streamId: string): ParsedMetadata {
    if (!this.#withMetadata.has(streamId)) return NO_METADATA;
    const cached = this.#metadata.get(streamId);
    if (cached !== undefined) return cached;
    const [last] = this.engine.readStreamBackward(metastreamOf(streamId), DELETED_STREAM - 1n, 1);
    const entry = last === undefined ? { view: {}, json: {} } : parseMetadata(last.data);
    if (this.#metadata.size >= METADATA_CACHE_LIMIT) {
      // evict the oldest entry (insertion order) rather than starting over with an empty cache
      const oldest = this.#metadata.keys().next();
      if (oldest.done !== true) this.#metadata.delete(oldest.value);
    }
    this.#metadata.set(streamId, entry);
    return entry;
  }

  #isSoftDeleted(streamId: string): boolean {
    return this.metadataOf(streamId).truncateBefore === DELETED_STREAM;
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly ProposedEvent[]): WriteOutcome {
    const decision = checkCommit(this.engine, (id) => this.#isSoftDeleted(id), 
      streamId,
      expected,
      events.map((e) => e.eventId),
    );
    const current = this.engine.streamLastRevision(streamId) ?? -1n;
    switch (decision.kind) {
      case 'deleted':
        return { kind: 'stream_deleted' };
      case 'wrong_expected_version':
        return { kind: 'wrong_expected_version', currentRevision: current };
      case 'idempotent':
        return { kind: 'success', currentRevision: decision.last.revision, position: decision.last.position };
      case 'ok':
        break;
      default: {
        const never: never = decision;
        return never;
      }
    }
    if (events.length === 0) return { kind: 'success', currentRevision: current, position: undefined };

    const created = ticksFromMillis(this.clock.now());
    const rows: NewEvent[] = [];
    if (decision.softDeleted) rows.push(this.#undeleteRow(streamId, current + 1n, created));
    let revision = current;
    for (const e of events) {
      revision += 1n;
      rows.push({ streamId, revision, created, ...e });
    }
    if (isMetastream(streamId)) {
      const original = originalStreamOf(streamId);
      const lastMeta = events[events.length - 1]!;
      if (this.#isSoftDeleted(original)) {
        // Writing metadata to a soft-deleted stream undeletes it from its next revision on.
        const { json } = parseMetadata(lastMeta.data);
        rows.push({
          streamId,
          revision: revision + 1n,
          eventId: randomUUID(),
          type: METADATA_EVENT_TYPE,
          contentType: 'application/json',
          data: serializeMetadata(json, (this.engine.streamLastRevision(original) ?? -1n) + 1n),
          metadata: EMPTY,
          created,
        });
      }
    }
    const stored = this.#commit(rows);
    const lastOfStream = [...stored].reverse().find((e) => e.streamId === streamId)!;
    return { kind: 'success', currentRevision: revision, position: lastOfStream.position };
  }

  #undeleteRow(streamId: string, recreateFrom: bigint, created: bigint): NewEvent {
    const metastream = metastreamOf(streamId);
    const { json } = this.#metadataEntry(streamId);
    return {
      streamId: metastream,
      revision: (this.engine.streamLastRevision(metastream) ?? -1n) + 1n,
      eventId: randomUUID(),
      type: METADATA_EVENT_TYPE,
      contentType: 'application/json',
      data: serializeMetadata(json, recreateFrom),
      metadata: EMPTY,
      created,
    };
  }

  #commit(rows: readonly NewEvent[]): StoredEvent[] {
    const stored = this.engine.append(rows);
    for (const row of rows) {
      if (!isMetastream(row.streamId)) continue;
      this.#metadata.delete(originalStreamOf(row.streamId));
      this.#withMetadata.add(originalStreamOf(row.streamId));
    }
    for (const listener of [...this.#listeners]) {
      // The rows are written: a listener's failure must not turn this write into an error.
      try {
        listener();
      } catch {
        // listeners only wake readers and schedule pumps; each guards its own work
      }
    }
    return stored;
  }

  /** Soft delete (hard = false) or tombstone (hard = true). */
  delete(streamId: string, expected: ExpectedRevision, hard: boolean): WriteOutcome {
    const decision = checkCommit(this.engine, (id) => this.#isSoftDeleted(id), streamId, expected, [randomUUID()]);
    const current = this.engine.streamLastRevision(streamId) ?? -1n;
    if (decision.kind === 'deleted') return { kind: 'stream_deleted' };
    if (decision.kind !== 'ok') return { kind: 'wrong_expected_version', currentRevision: current };
    const created = ticksFromMillis(this.clock.now());
    if (hard) {
      const [tombstone] = this.#commit([
        {
          streamId,
          revision: DELETED_STREAM,
          eventId: randomUUID(),
          type: STREAM_DELETED_EVENT_TYPE,
          contentType: 'application/json',
          data: EMPTY,
          metadata: EMPTY,
          created,
        },
      ]);
      return { kind: 'success', currentRevision: current, position: tombstone!.position };
    }
    const metastream = metastreamOf(streamId);
    const metaLast = this.engine.streamLastRevision(metastream);
    if (current < 0n && metaLast === undefined) return { kind: 'wrong_expected_version', currentRevision: -1n };
    const [marker] = this.#commit([
      {
        streamId: metastream,
        revision: (metaLast ?? -1n) + 1n,
        eventId: randomUUID(),
        type: METADATA_EVENT_TYPE,
        contentType: 'application/json',
        data: serializeMetadata({}, DELETED_STREAM),
        metadata: EMPTY,
        created,
      },
    ]);
    return { kind: 'success', currentRevision: current, position: marker!.position };
  }

  /**
   * Appends one event to a stream regardless of its revision (system writes: parked messages).
   * A tombstoned stream takes nothing, as in EventStoreDB (the write fails with StreamDeleted):
   * undefined, and no row past the tombstone's revision, long.MaxValue, which no revision may pass.
   */
  appendSystem(streamId: string, event: ProposedEvent): StoredEvent | undefined {
    const current = this.engine.streamLastRevision(streamId);
    if (current === DELETED_STREAM) return undefined;
    const created = ticksFromMillis(this.clock.now());
    const rows: NewEvent[] = [];
    if (current !== DELETED_STREAM && this.#isSoftDeleted(streamId))
      rows.push(this.#undeleteRow(streamId, (current ?? -1n) + 1n, created));
    rows.push({ streamId, revision: (current ?? -1n) + 1n, created, ...event });
    const stored = this.#commit(rows);
    return stored[stored.length - 1]!;
  }

  /** Writes new metadata JSON (system writes: parked-stream truncation). */
  writeMetadataSystem(streamId: string, json: Record<string, unknown>, truncateBefore: bigint): void {
    const metastream = metastreamOf(streamId);
    this.#commit([
      {
        streamId: metastream,
        revision: (this.engine.streamLastRevision(metastream) ?? -1n) + 1n,
        eventId: randomUUID(),
        type: METADATA_EVENT_TYPE,
        contentType: 'application/json',
        data: serializeMetadata(json, truncateBefore),
        metadata: EMPTY,
        created: ticksFromMillis(this.clock.now()),
      },
    ]);
  }

  /** The lowest revision a read may return, from `$maxCount`, `$tb` and metastream rules. */
  #minRevision(streamId: string, last: bigint, meta: StreamMetadataView): bigint {
    let min = 0n;
    if (meta.maxCount !== undefined) min = last - meta.maxCount + 1n > min ? last - meta.maxCount + 1n : min;
    if (meta.truncateBefore !== undefined && meta.truncateBefore > min) min = meta.truncateBefore;
    // EventStoreDB keeps only the latest metadata event visible in a metastream.
    if (isMetastream(streamId) && last > min) min = last;
    return min;
  }

  #isExpired(event: StoredEvent, meta: StreamMetadataView): boolean {
    if (meta.maxAgeSeconds === undefined) return false;
    return event.created < ticksFromMillis(this.clock.now() - meta.maxAgeSeconds * 1000);
  }

  /** One page of a stream read, forwards from (inclusive) `from` or backwards from `from`. */
  readStreamPage(streamId: string, direction: 'forwards' | 'backwards', from: bigint, limit: number): StreamPage {
    const last = this.engine.streamLastRevision(streamId);
    if (last === DELETED_STREAM) return { status: 'deleted' };
    const meta = isMetastream(streamId) ? {} : this.metadataOf(streamId);
    if (last === undefined || meta.truncateBefore === DELETED_STREAM) return { status: 'no_stream' };
    const min = this.#minRevision(streamId, last, meta);
    if (direction === 'forwards') {
      const start = from > min ? from : min;
      if (start > last) return { status: 'ok', events: [], next: undefined };
      const rows = this.engine.readStreamForward(streamId, start, limit);
      const lastRow = rows[rows.length - 1];
      const next = rows.length === limit && lastRow !== undefined && lastRow.revision < last ? lastRow.revision + 1n : undefined;
      return { status: 'ok', events: rows.filter((e) => !this.#isExpired(e, meta)), next };
    }
    const start = from < last ? from : last;
    if (start < min) return { status: 'ok', events: [], next: undefined };
    const rows = this.engine.readStreamBackward(streamId, start, limit).filter((e) => e.revision >= min);
    const lastRow = rows[rows.length - 1];
    const next = rows.length === limit && lastRow !== undefined && lastRow.revision > min ? lastRow.revision - 1n : undefined;
    return { status: 'ok', events: rows.filter((e) => !this.#isExpired(e, meta)), next };
  }

  /**
   * Positions are uint64 on the wire and may be anything up to 2^64-1; the engines hold the log's
   * positions only (SQLite integers stop at 2^63-1), so a position past the end is settled here.
   */
  readAllForward(fromPosition: bigint, limit: number): StoredEvent[] {
    return fromPosition > this.engine.lastPosition() ? [] : this.engine.readAllForward(fromPosition, limit);
  }

  readAllBackward(fromPosition: bigint, limit: number): StoredEvent[] {
    if (fromPosition < 1n) return [];
    const last = this.engine.lastPosition();
    return this.engine.readAllBackward(fromPosition > last ? last : fromPosition, limit);
  }

  /** The event a `$>` link points at (`<revision>@<stream>`), if it is still readable. */
  resolveLink(link: StoredEvent): StoredEvent | undefined {
    if (link.type !== LINK_EVENT_TYPE) return undefined;
    const text = Buffer.from(link.data).toString('utf8');
    const at = text.indexOf('@');
    if (at <= 0) return undefined;
    const revisionText = text.slice(0, at);
    if (!/^\d+$/.test(revisionText)) return undefined;
    const revision = BigInt(revisionText);
    const page = this.readStreamPage(text.slice(at + 1), 'forwards', revision, 1);
    if (page.status !== 'ok') return undefined;
    const [event] = page.events;
    return event !== undefined && event.revision === revision ? event : undefined;
  }
}
