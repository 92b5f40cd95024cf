import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { ticksFromMillis } from './clock.js';
import type { NewEvent, StorageEngine, StoredEvent } from './storage/engine.js';

/**
 * EventStoreDB semantics over a {@link StorageEngine}: expected revisions, idempotent appends,
 * soft delete (`$tb` = long.MaxValue in the metastream) and tombstones (an event at revision
 * long.MaxValue), stream metadata (`$maxAge`, `$maxCount`, `$tb`) applied on stream reads, and
 * link (`$>`) resolution. The rules follow EventStore's `IndexWriter.CheckCommit`,
 * `StorageWriterService` and `IndexReader` (read, never copied).
 */

/** long.MaxValue: the tombstone's revision and the soft-delete `$tb` marker. */
export const DELETED_STREAM = 9223372036854775807n;
export const ALL_STREAM = '$all';
export const LINK_EVENT_TYPE = '$>';
export const METADATA_EVENT_TYPE = '$metadata';
export const STREAM_DELETED_EVENT_TYPE = '$streamDeleted';

export const metastreamOf = (streamId: string): string => `$$${streamId}`;
export const isMetastream = (streamId: string): boolean => streamId.startsWith('$$');
export const originalStreamOf = (metastreamId: string): string => metastreamId.slice(2);

export type ExpectedRevision =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: bigint };

/** The numeric form EventStoreDB uses in error trailers. */
export const expectedVersionNumber = (expected: ExpectedRevision): bigint => {
  switch (expected.kind) {
    case 'any':
      return -2n;
    case 'no_stream':
      return -1n;
    case 'stream_exists':
      return -4n;
    case 'revision':
      return expected.revision;
    default: {
      const never: never = expected;
      return never;
    }
  }
};

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

export interface StreamMetadataView {
  readonly maxAgeSeconds?: number;
  readonly maxCount?: bigint;
  readonly truncateBefore?: bigint;
}

export type StreamPage =
  | { readonly status: 'ok'; readonly events: StoredEvent[]; readonly next: bigint | undefined }
  | { readonly status: 'no_stream' }
  | { readonly status: 'deleted' };

type CommitDecision =
  | { readonly kind: 'ok'; readonly softDeleted: boolean }
  | { readonly kind: 'idempotent'; readonly last: StoredEvent }
  | { readonly kind: 'wrong_expected_version' }
  | { readonly kind: 'deleted' };

const EMPTY = new Uint8Array(0);
/** The longest a group commit waits for more writes to join it. */
const MAX_COMMIT_HOLD_MS = 2;
const METADATA_CACHE_LIMIT = 10_000;
const NO_METADATA: { view: StreamMetadataView; json: Record<string, unknown> } = Object.freeze({ view: Object.freeze({}), json: Object.freeze({}) });

const parseMetadata = (data: Uint8Array): { view: StreamMetadataView; json: Record<string, unknown> } => {
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    return { view: {}, json };
  }
  const integer = (value: unknown): bigint | undefined => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
    // 2^63-1 does not survive JSON.parse exactly; anything that large means "deleted".
    return value >= 9.2e18 ? DELETED_STREAM : BigInt(Math.trunc(value));
  };
  const view: { maxAgeSeconds?: number; maxCount?: bigint; truncateBefore?: bigint } = {};
  const maxAge = json['$maxAge'];
  if (typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0) view.maxAgeSeconds = maxAge;
  const maxCount = integer(json['$maxCount']);
  if (maxCount !== undefined && maxCount > 0n) view.maxCount = maxCount;
  const tb = integer(json['$tb']);
  if (tb !== undefined) view.truncateBefore = tb;
  return { view, json };
};

/** Serializes metadata JSON, keeping `$tb` exact even at long.MaxValue. */
const serializeMetadata = (json: Record<string, unknown>, truncateBefore: bigint): Uint8Array => {
  const { $tb: _ignored, ...rest } = json;
  const body = JSON.stringify(rest);
  const tb = `"$tb":${truncateBefore.toString()}`;
  return Buffer.from(body === '{}' ? `{${tb}}` : `{${tb},${body.slice(1)}`, 'utf8');
};

/**
 * Lets a reader sleep until the next committed write without missing one: `arm()` before a
 * (synchronous) read, then `wait()` returns at once if anything was written since.
 */
export class AppendWaiter {
  #dirty = true;
  #resolve: (() => void) | undefined;
  readonly #unsubscribe: () => void;

  constructor(store: EventStoreCore) {
    this.#unsubscribe = store.onAppend(() => this.wake());
  }

  arm(): void {
    this.#dirty = false;
  }

  wake(): void {
    this.#dirty = true;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  async wait(): Promise<void> {
    if (this.#dirty) return;
    await new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  dispose(): void {
    this.#unsubscribe();
    this.wake();
  }
}

/**
 * Group commit: writes requested during one event-loop turn run inside one engine transaction,
 * so with SQLite `synchronous=FULL` they share a single fsync. Each write still sees the effects
 * of the ones before it (same connection), and callers get their own outcome or error. An engine
 * without a flush to share (memory) commits in a microtask instead, so an append's response
 * does not wait for the check phase of the event loop.
 */
export class CommitQueue {
  #jobs: { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  /** When the first job of the pending batch was queued, and how the last commit went (ms). */
  #firstQueuedAt = 0;
  #lastCommitEnd = Number.NEGATIVE_INFINITY;
  #lastCommitMs = 0;
  #lastBatchSize = 0;

  constructor(private readonly engine: StorageEngine) {}

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#jobs.length === 0) {
        if (this.engine.groupCommit) {
          this.#firstQueuedAt = performance.now();
          setImmediate(() => this.#flushWhenSettled());
        } else {
          queueMicrotask(() => this.#flush());
        }
      }
      this.#jobs.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * Concurrent clients send their writes one event-loop turn apart (each client call stream
   * flushes one message per turn), so committing at the end of the first turn shares few fsyncs.
   * While writes keep coming (the last commit had several and this batch began right after it),
   * the commit waits, one turn at a time, for at most one commit's duration: a lone writer, or
   * the first write after a pause, is committed at once.
   */
  #flushWhenSettled(): void {
    const now = performance.now();
    const hold = Math.min(this.#lastCommitMs, MAX_COMMIT_HOLD_MS);
    const busy = this.#lastBatchSize > 1 && this.#firstQueuedAt - this.#lastCommitEnd < hold;
    if (busy && now - this.#firstQueuedAt < hold) {
      setImmediate(() => this.#flushWhenSettled());
      return;
    }
    this.#flush();
    this.#lastCommitEnd = performance.now();
    this.#lastCommitMs = this.#lastCommitEnd - now;
  }

  #flush(): void {
    const jobs = this.#jobs;
    this.#jobs = [];
    this.#lastBatchSize = jobs.length;
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.engine.transaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: job.work() });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const result = results[i]!;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }
}

export class EventStoreCore {
  readonly #listeners = new Set<() => void>();
  readonly #metadata = new Map<string, { view: StreamMetadataView; json: Record<string, unknown> }>();
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

  metadataOf(streamId: string): StreamMetadataView {
    return this.#metadataEntry(streamId).view;
  }

  #metadataEntry(streamId: string): { view: StreamMetadataView; json: Record<string, unknown> } {
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

  #checkCommit(streamId: string, expected: ExpectedRevision, eventIds: readonly string[]): CommitDecision {
    const current = this.engine.streamLastRevision(streamId);
    if (current === DELETED_STREAM) return { kind: 'deleted' };
    if (current === undefined && !this.#isSoftDeleted(streamId)) {
      switch (expected.kind) {
        case 'any':
        case 'no_stream':
          return { kind: 'ok', softDeleted: false };
        case 'stream_exists':
          if (this.engine.streamLastRevision(metastreamOf(streamId)) === undefined)
            return { kind: 'wrong_expected_version' };
          break;
        case 'revision':
          return { kind: 'wrong_expected_version' };
        default: {
          const never: never = expected;
          return never;
        }
      }
    }
    const cur = current ?? -1n;
    const softDeleted = this.#isSoftDeleted(streamId);
    if (expected.kind === 'stream_exists' && softDeleted) return { kind: 'deleted' };

    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      let last: StoredEvent | undefined;
      for (const [i, id] of eventIds.entries()) {
        const found = this.engine.findInStream(streamId, id);
        if (found === undefined) return i === 0 ? { kind: 'ok', softDeleted } : { kind: 'wrong_expected_version' };
        last = found;
      }
      return last === undefined ? { kind: 'ok', softDeleted } : { kind: 'idempotent', last };
    }

    const expectedVersion = expected.kind === 'no_stream' ? -1n : expected.revision;
    if (expectedVersion < cur) {
      let revision = expectedVersion;
      let last: StoredEvent | undefined;
      for (const id of eventIds) {
        revision += 1n;
        const [atRevision] = this.engine.readStreamForward(streamId, revision, 1);
        if (atRevision !== undefined && atRevision.revision === revision && atRevision.eventId === id) {
          last = atRevision;
          continue;
        }
        if (revision !== expectedVersion + 1n) return { kind: 'wrong_expected_version' };
        if (expected.kind === 'no_stream' && softDeleted) return { kind: 'ok', softDeleted };
        return { kind: 'wrong_expected_version' };
      }
      return last === undefined ? { kind: 'wrong_expected_version' } : { kind: 'idempotent', last };
    }
    if (expectedVersion > cur) return { kind: 'wrong_expected_version' };
    return { kind: 'ok', softDeleted };
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly ProposedEvent[]): WriteOutcome {
    const decision = this.#checkCommit(
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
    const decision = this.#checkCommit(streamId, expected, [randomUUID()]);
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

  readAllForward(fromPosition: bigint, limit: number): StoredEvent[] {
    return this.engine.readAllForward(fromPosition, limit);
  }

  readAllBackward(fromPosition: bigint, limit: number): StoredEvent[] {
    return fromPosition < 1n ? [] : this.engine.readAllBackward(fromPosition, limit);
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
