/**
 * The storage port of the embedded server. Engines are deliberately dumb and synchronous: they
 * append rows atomically, page through the log and keep subscription-group records. Every
 * EventStoreDB rule (expected revisions, idempotency, deletes, stream metadata) lives above them
 * in {@link ../store.ts}, so the in-memory and SQLite engines cannot drift apart semantically.
 */

/** A row of the log. `position` is the global commit (= prepare) position in `$all`. */
export interface StoredEvent {
  readonly position: bigint;
  readonly streamId: string;
  readonly revision: bigint;
  readonly eventId: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  /** .NET ticks since the Unix epoch, assigned by the server clock. */
  readonly created: bigint;
}

export type NewEvent = Omit<StoredEvent, 'position'>;

/** A persisted persistent-subscription group: `source` is a stream name or `$all`. */
export interface GroupRecord {
  readonly source: string;
  readonly group: string;
  /** Settings as JSON (see persistent/settings.ts); opaque to the engine. */
  readonly settings: string;
}

export interface CheckpointRecord {
  readonly source: string;
  readonly group: string;
  /** The last fully processed revision (stream) or position (`$all`), as a decimal string. */
  readonly checkpoint: string;
}

export interface StorageEngine {
  /** Position of the newest event, or 0n when the log is empty (positions start at 1). */
  lastPosition(): bigint;
  /** Highest revision written to the stream (including a tombstone's), or undefined. */
  streamLastRevision(streamId: string): bigint | undefined;
  /** Appends atomically, assigning consecutive positions; returns the stored rows. */
  append(events: readonly NewEvent[]): StoredEvent[];
  /** Events with revision >= fromRevision, ascending, at most `limit`. */
  readStreamForward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[];
  /** Events with revision <= fromRevision, descending, at most `limit`. */
  readStreamBackward(streamId: string, fromRevision: bigint, limit: number): StoredEvent[];
  /** Events with position >= fromPosition, ascending, at most `limit`. */
  readAllForward(fromPosition: bigint, limit: number): StoredEvent[];
  /** Events with position <= fromPosition, descending, at most `limit`. */
  readAllBackward(fromPosition: bigint, limit: number): StoredEvent[];
  /** Names of the streams that start with `prefix` (e.g. every metastream, `$$`). */
  streamIdsWithPrefix(prefix: string): string[];
  /** The event of the stream carrying this id, if any (idempotency checks). */
  findInStream(streamId: string, eventId: string): StoredEvent | undefined;

  /**
   * Runs `work` in one transaction (nested appends become savepoints), so the server can commit
   * the writes of one event-loop turn with a single fsync (group commit).
   */
  transaction<T>(work: () => T): T;
  /**
   * Whether a commit costs a flush worth sharing (group commit): then writes wait for the end of
   * the event-loop turn to commit together; otherwise each commits as soon as it is received.
   */
  readonly groupCommit: boolean;
  /**
   * Optional, with {@link flush}: {@link transaction} whose commit is not yet on disk when it
   * returns, so the server can go on serving reads while the disk flushes. Nothing it wrote may
   * be acknowledged before {@link flush} resolves.
   */
  transactionBeforeFlush?<T>(work: () => T): T;
  /** Resolves once every commit made so far is on disk. */
  flush?(): Promise<void>;
  /** Optional, with {@link flush}: undefined, or a promise the next commit waits for (its maintenance under way). */
  commitGate?(): Promise<void> | undefined;

  loadGroups(): GroupRecord[];
  saveGroup(record: GroupRecord): void;
  deleteGroup(source: string, group: string): void;
  loadCheckpoints(): CheckpointRecord[];
  saveCheckpoint(record: CheckpointRecord): void;

  close(): void;
}
