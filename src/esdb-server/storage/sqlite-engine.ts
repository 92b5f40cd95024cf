import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type {
  CheckpointRecord,
  GroupRecord,
  NewEvent,
  StorageEngine,
  StoredEvent,
} from './engine.js';
import { optionalCommonJs } from '../../shared/optional-dependency.js';

// better-sqlite3 is an optional dependency: loaded when the first data dir is opened, so an
// in-memory server or a real EventStoreDB never needs it, and a missing one is named in the error.
const Database = optionalCommonJs<typeof BetterSqlite3>('better-sqlite3', 'A data dir (the embedded server on SQLite)');
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace Database {
  type Database = BetterSqlite3.Database;
  type Statement = BetterSqlite3.Statement;
}
import { recordChecksum } from './record-checksum.js';
import { createSchema, toStored, type EventRow } from './sqlite-schema.js';
import { WalSync } from './wal-sync.js';
import { SubscriptionRecords } from './sqlite-subscriptions.js';
import { WalCheckpointer, type CheckpointOptions, type CheckpointStats, type RoundResult } from './checkpointer.js';
import { checkWatermark, Watermark, WATERMARK_FILE_NAME } from './watermark.js';

export { AcknowledgedDataMissing, WATERMARK_FILE_NAME } from './watermark.js';

export const SQLITE_FILE_NAME = 'opx-store.sqlite';

export interface SqliteEngineOptions {
  /**
   * `FULL` (default) fsyncs the WAL on every commit, so an acknowledged append survives power
   * loss, like EventStoreDB which acknowledges only after flushing. `NORMAL` survives a process
   * crash but may lose the last commits on power loss; it is ~20x faster on this hardware.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * Streams whose last revision is kept in memory (default 100,000). A server reads it on every
   * append; a one-pass reader of history (the replay audit) reads each stream once and wants few.
   */
  readonly lastRevisionCacheSize?: number;
  /**
   * Open even when the database ends before the last position it acknowledged (its WAL was lost
   * or cut short), accepting that those events are gone. Without it such a data dir is refused.
   */
  readonly acceptDataLoss?: boolean;
  /** When and where the WAL is copied into the database file (default: a thread, every ~4,000 pages). */
  readonly checkpoint?: CheckpointOptions;
}

/** A row of {@link SqliteEngine.readHistoryForward}: payloads as UTF-8 text, `created` in ms since the Unix epoch. */
export type HistoryRow = readonly [position: number, streamId: string, revision: number, eventId: string, type: string, data: string, metadata: string, createdMs: number];

/** Streams whose last revision is kept in memory before the cache starts over. */
const DEFAULT_LAST_REVISION_CACHE_SIZE = 100_000;

const COLUMNS = 'position, stream, revision, event_id, type, content_type, data, metadata, created, checksum';

/** Durable engine: one SQLite file in WAL mode at `<dataDir>/opx-store.sqlite`. */
export class SqliteEngine implements StorageEngine {
  /**
   * Each commit fsyncs the WAL (synchronous=FULL), so writes share commits. The server commits
   * through {@link transactionBeforeFlush} and {@link flush}, the fsync off the event loop; every
   * other write (and {@link transaction}) fsyncs inside its commit, as SQLite does with FULL.
   */
  readonly groupCommit = true;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #lastPosition: Database.Statement;
  readonly #streamLast: Database.Statement;
  readonly #streamForward: Database.Statement;
  readonly #streamBackward: Database.Statement;
  readonly #allForward: Database.Statement;
  readonly #historyForward: Database.Statement;
  readonly #allBackward: Database.Statement;
  readonly #findInStream: Database.Statement;
  readonly #appendTx: (events: readonly NewEvent[]) => StoredEvent[];
  /** Runs its argument in a transaction (one wrapper for every call, not one made per call). */
  readonly #inTransaction: (work: () => unknown) => unknown;
  #position: bigint;
  readonly #watermark: Watermark;
  /** Flushes the WAL after a commit made without one ({@link transactionBeforeFlush}); undefined with synchronous=NORMAL. */
  readonly #walSync: WalSync | undefined;
  readonly #deferSync: Database.Statement;
  readonly #restoreSync: Database.Statement;
  /**
   * Last revision per stream (undefined = no event), read on every append and stream read.
   * Updated after each successful insert; cleared when a transaction rolls back.
   */
  readonly #lastRevisions = new Map<string, bigint | undefined>();
  readonly #lastRevisionCacheSize: number;
  /** A commit was made without an fsync and no flush has started since. */
  #unflushed = false;
  /**
   * Why a flush failed, if one did. Which of the commits since the last good flush reached the
   * disk is then unknown, and a later fsync may report success without them (the kernel drops
   * the failed pages), so nothing more is written: a restart finds out what the disk holds.
   */
  #flushFailure: Error | undefined;
  readonly #checkpointer: WalCheckpointer;
  readonly #subscriptions: SubscriptionRecords;
  /** WAL pages the commit under way writes, estimated: the table's page and a leaf of each index per row, and its payload's pages. */
  #walFrames = 0;

  constructor(dataDir: string, options: SqliteEngineOptions = {}) {
    this.#lastRevisionCacheSize = options.lastRevisionCacheSize ?? DEFAULT_LAST_REVISION_CACHE_SIZE;
    // Only the owner reads the events: the dir is made 0700 and the database 0600 (SQLite gives its
    // -wal and -shm files the database file's mode).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, SQLITE_FILE_NAME);
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    const synchronous = options.synchronous ?? 'FULL';
    this.#db.pragma(`synchronous = ${synchronous}`);
    // checkpoints run off the commit path (see WalCheckpointer), not in the commit that crosses 1,000 pages
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#checkpointer = new WalCheckpointer(file, () => (this.#db.pragma('wal_checkpoint(PASSIVE)') as [RoundResult])[0], options.checkpoint);
    createSchema(this.#db);
    const prepare = (sql: string): Database.Statement => this.#db.prepare(sql).safeIntegers(true);
    this.#insert = prepare(
      `INSERT INTO events (${COLUMNS}) VALUES (@position, @stream, @revision, @event_id, @type, @content_type, @data, @metadata, @created, @checksum)`,
    );
    this.#lastPosition = prepare('SELECT coalesce(max(position), 0) AS p FROM events');
    this.#streamLast = prepare('SELECT max(revision) AS r FROM events WHERE stream = ?');
    this.#streamForward = prepare(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    );
    this.#streamBackward = prepare(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
    );
    this.#allForward = prepare(`SELECT ${COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?`);
    // Integers as numbers (no BigInt per value; positions and revisions stay far below 2^53, and
    // `created` is turned from ticks into milliseconds by SQLite), payloads as TEXT, rows as arrays.
    this.#historyForward = this.#db
      .prepare(
        `SELECT position, stream, revision, event_id, type, CAST(data AS TEXT), CAST(metadata AS TEXT), created / 10000, content_type, CAST(created AS TEXT), checksum FROM events WHERE position >= ? ORDER BY position LIMIT ?`,
      )
      .raw(true);
    this.#allBackward = prepare(`SELECT ${COLUMNS} FROM events WHERE position <= ? ORDER BY position DESC LIMIT ?`);
    this.#findInStream = prepare(`SELECT ${COLUMNS} FROM events WHERE event_id = ? AND stream = ? LIMIT 1`);
    this.#position = (this.#lastPosition.get() as { p: bigint }).p;
    const watermark = join(dataDir, WATERMARK_FILE_NAME);
    checkWatermark(watermark, this.#position, options.acceptDataLoss === true);
    this.#watermark = new Watermark(watermark, this.#position);
    this.#walSync = synchronous === 'FULL' ? new WalSync(`${file}-wal`) : undefined;
    this.#deferSync = this.#db.prepare('PRAGMA synchronous = NORMAL');
    this.#restoreSync = this.#db.prepare(`PRAGMA synchronous = ${synchronous}`);
    this.#appendTx = this.#db.transaction((events: readonly NewEvent[]): StoredEvent[] => this.#insertRows(events));
    this.#inTransaction = this.#db.transaction((work: () => unknown) => work());
    this.#subscriptions = new SubscriptionRecords(this.#db);
  }

  /** Inserts the rows at the positions after {@link #position} (which it leaves as it was). */
  #insertRows(events: readonly NewEvent[]): StoredEvent[] {
    const stored: StoredEvent[] = [];
    let position = this.#position;
    for (const event of events) {
      position += 1n;
      this.#insert.run({
        position,
        stream: event.streamId,
        revision: event.revision,
        event_id: event.eventId,
        type: event.type,
        content_type: event.contentType,
        data: Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength),
        metadata: Buffer.from(event.metadata.buffer, event.metadata.byteOffset, event.metadata.byteLength),
        created: event.created,
        checksum: recordChecksum(position, event.streamId, event.revision, event.eventId, event.type, event.contentType, event.created, event.data, event.metadata),
      });
      stored.push({ ...event, position });
      this.#walFrames += 3 + ((event.data.byteLength + event.metadata.byteLength) >> 12);
    }
    return stored;
  }

  lastPosition(): bigint {
    return this.#position;
  }

  streamIdsWithPrefix(prefix: string): string[] {
    // A range on the (stream, revision) index: every name from `prefix` up to `prefix` + U+FFFF.
    const rows = this.#db.prepare('SELECT DISTINCT stream FROM events WHERE stream >= ? AND stream < ?').all(prefix, `${prefix}\uffff`) as Array<{ stream: string }>;
    return rows.map((row) => row.stream);
  }

  streamLastRevision(streamId: string): bigint | undefined {
    if (this.#lastRevisions.has(streamId)) return this.#lastRevisions.get(streamId);
    const row = this.#streamLast.get(streamId) as { r: bigint | null };
    const revision = row.r ?? undefined;
    if (this.#lastRevisions.size >= this.#lastRevisionCacheSize) this.#lastRevisions.clear();
    this.#lastRevisions.set(streamId, revision);
    return revision;
  }

  /** Records the last position acknowledged to a writer, outside the database (see checkWatermark). */
  #markCommitted(): void {
    if (this.#db.inTransaction) return;
    this.#watermark.write(this.#position);
    this.#committed();
  }

  /** A commit was made (`frames`: a subscription record's, written outside the commit queue): the checkpointer counts its pages. */
  #committed(frames = 0): void {
    if (this.#db.inTransaction) return void (this.#walFrames += frames);
    this.#checkpointer.written(this.#walFrames + frames);
    this.#walFrames = 0;
  }

  /** How the WAL's checkpoints went so far. */
  checkpointStats(): CheckpointStats {
    return this.#checkpointer.stats();
  }

  /** While the checkpointer's thread copies a tail of the WAL, its end: the next commit waits for it (see WalCheckpointer.gate). */
  commitGate(): Promise<void> | undefined {
    return this.#checkpointer.gate();
  }

  /** Resolves when no checkpoint is under way in the checkpointer's thread. */
  checkpointIdle(): Promise<void> {
    return this.#checkpointer.idle();
  }

  append(events: readonly NewEvent[]): StoredEvent[] {
    this.#writable();
    let stored: StoredEvent[];
    try {
      // One row inside a transaction (a group commit's) needs no savepoint of its own: a single
      // INSERT is atomic, and undone alone when it fails. More rows, or none around, take one.
      stored = events.length === 1 && this.#db.inTransaction ? this.#insertRows(events) : this.#appendTx(events);
    } catch (error) {
      this.#rolledBack();
      throw error;
    }
    const last = stored[stored.length - 1];
    if (last !== undefined) this.#position = last.position;
    for (const event of stored) {
      const known = this.#lastRevisions.get(event.streamId);
      if (known === undefined || event.revision > known) this.#lastRevisions.set(event.streamId, event.revision);
    }
    this.#markCommitted();
    return stored;
  }

  #rolledBack(): void {
    this.#walFrames = 0;
    this.#position = (this.#lastPosition.get() as { p: bigint }).p;
    this.#lastRevisions.clear();
  }

  readStreamForward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[] {
    return (this.#streamForward.all(streamId, fromRevision, limit) as EventRow[]).map(toStored);
  }

  readStreamBackward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[] {
    return (this.#streamBackward.all(streamId, fromRevision, limit) as EventRow[]).map(toStored);
  }

  readAllForward(fromPosition: bigint, limit: number): StoredEvent[] {
    return (this.#allForward.all(fromPosition, limit) as EventRow[]).map(toStored);
  }

  /**
   * A page of `$all` for a one-pass reader of JSON history (the replay audit's EmbeddedReader):
   * the same rows as {@link readAllForward}, about twice as cheap to read (SQLite hands over the
   * UTF-8 payloads as strings, so no Buffer and no decoding per payload).
   */
  readHistoryForward(fromPosition: number, limit: number): HistoryRow[] {
    const rows = this.#historyForward.all(fromPosition, limit) as [...HistoryRow, string, string, number | null][];
    const out: HistoryRow[] = new Array<HistoryRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [position, stream, revision, eventId, type, data, metadata, createdMs, contentType, created, checksum] = rows[i]!;
      // payloads came as text: a row whose bytes are not UTF-8 is checked again from its blobs
      if (checksum === null || recordChecksum(position, stream, revision, eventId, type, contentType, created, data, metadata) !== checksum)
        this.readAllForward(BigInt(position), 1);
      out[i] = [position, stream, revision, eventId, type, data, metadata, createdMs];
    }
    return out;
  }

  readAllBackward(fromPosition: bigint, limit: number): StoredEvent[] {
    return (this.#allBackward.all(fromPosition, limit) as EventRow[]).map(toStored);
  }

  findInStream(streamId: string, eventId: string): StoredEvent | undefined {
    const row = this.#findInStream.get(eventId, streamId) as EventRow | undefined;
    return row === undefined ? undefined : toStored(row);
  }

  transaction<T>(work: () => T): T {
    this.#writable();
    try {
      const result = this.#inTransaction(work) as T;
      this.#markCommitted();
      return result;
    } catch (error) {
      this.#rolledBack();
      throw error;
    }
  }

  /**
   * {@link transaction} without the fsync: the commit is in the WAL (it survives a process crash)
   * but not yet on disk; {@link flush} puts it there. Nothing may be acknowledged before then.
   */
  transactionBeforeFlush<T>(work: () => T): T {
    if (this.#walSync === undefined) return this.transaction(work);
    this.#writable();
    this.#deferSync.run();
    let result: T;
    try {
      result = this.#inTransaction(work) as T;
      this.#unflushed = true;
    } catch (error) {
      this.#rolledBack();
      throw error;
    } finally {
      this.#restoreSync.run();
    }
    this.#committed();
    return result;
  }

  /** Resolves once every commit made so far is on disk (an fsync of the WAL off the event loop). */
  async flush(): Promise<void> {
    if (this.#walSync === undefined || !this.#unflushed) return;
    this.#unflushed = false;
    const position = this.#position;
    try {
      await this.#walSync.later();
    } catch (error) {
      this.#flushFailure = new Error(`the event store's write-ahead log could not be flushed to disk; the store takes no more writes until restarted: ${String(error)}`, { cause: error });
      throw this.#flushFailure;
    }
    if (this.#db.open) this.#watermark.write(position);
  }

  #writable(): void {
    if (this.#flushFailure !== undefined) throw this.#flushFailure;
  }

  loadGroups(): GroupRecord[] {
    return this.#subscriptions.loadGroups();
  }

  saveGroup(record: GroupRecord): void {
    this.#writable();
    this.#subscriptions.saveGroup(record);
    this.#committed(2);
  }

  deleteGroup(source: string, group: string): void {
    this.#writable();
    this.#subscriptions.deleteGroup(source, group);
    this.#committed(3);
  }

  loadCheckpoints(): CheckpointRecord[] {
    return this.#subscriptions.loadCheckpoints();
  }

  saveCheckpoint(record: CheckpointRecord): void {
    this.#writable();
    this.#subscriptions.saveCheckpoint(record);
    this.#committed(2);
  }

  close(): void {
    if (!this.#db.open) return;
    this.#checkpointer.close(); // its connection closed first: the writer's, closing last, checkpoints and removes the WAL
    this.#db.close();
    this.#watermark.close();
    this.#walSync?.close();
  }
}
