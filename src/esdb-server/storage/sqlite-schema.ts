import type BetterSqlite3 from 'better-sqlite3';
import type { StoredEvent } from './engine.js';
import { CorruptRecord, recordChecksum } from './record-checksum.js';

/** A row of the events table before it is checked (the columns of {@link SCHEMA} but its checksum). */
export interface UncheckedRow {
  position: bigint;
  stream: string;
  revision: bigint;
  event_id: string;
  type: string;
  content_type: string;
  data: Buffer;
  metadata: Buffer;
  created: bigint;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position     INTEGER PRIMARY KEY,  -- global position in $all (rowid: $all reads use it)
  stream       TEXT    NOT NULL,
  revision     INTEGER NOT NULL,
  event_id     TEXT    NOT NULL,
  type         TEXT    NOT NULL,
  content_type TEXT    NOT NULL,
  data         BLOB    NOT NULL,
  metadata     BLOB    NOT NULL,
  created      INTEGER NOT NULL,     -- .NET ticks since the Unix epoch
  checksum     INTEGER               -- recordChecksum() of the row, verified on every read
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream ON events (stream, revision);
CREATE INDEX IF NOT EXISTS events_by_id ON events (event_id);
CREATE TABLE IF NOT EXISTS subscription_groups (
  source     TEXT NOT NULL,
  group_name TEXT NOT NULL,
  settings   TEXT NOT NULL,
  PRIMARY KEY (source, group_name)
);
CREATE TABLE IF NOT EXISTS subscription_checkpoints (
  source     TEXT NOT NULL,
  group_name TEXT NOT NULL,
  checkpoint TEXT NOT NULL,
  PRIMARY KEY (source, group_name)
);
`;

/** Gives the rows of a database made before checksums theirs, once. */
const addChecksums = (db: BetterSqlite3.Database): void => {
  const columns = db.prepare('PRAGMA table_info(events)').all() as { name: string }[];
  if (columns.some((c) => c.name === 'checksum')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE events ADD COLUMN checksum INTEGER');
    const rows = db.prepare(`SELECT position, stream, revision, event_id, type, content_type, data, metadata, created FROM events`).safeIntegers(true).iterate() as IterableIterator<UncheckedRow>;
    const update = db.prepare('UPDATE events SET checksum = ? WHERE position = ?');
    const all = [...rows];
    for (const r of all) update.run(rowChecksum(r), r.position);
  })();
};

/** Creates the tables and indexes the engine needs, and gives older databases' rows their checksums. */
export const createSchema = (db: BetterSqlite3.Database): void => {
  db.exec(SCHEMA);
  addChecksums(db);
};

/** {@link recordChecksum} of a row as the events table holds it. */
export const rowChecksum = (r: UncheckedRow): number =>
  recordChecksum(r.position, r.stream, r.revision, r.event_id, r.type, r.content_type, r.created, r.data, r.metadata);

/** A row of the events table as the engine reads it. */
export interface EventRow extends UncheckedRow {
  checksum: bigint | null;
}

/** The event a row holds, once its checksum is verified (a {@link CorruptRecord} otherwise). */
export const toStored = (row: EventRow): StoredEvent => {
  verify(row);
  return {
    position: row.position,
    streamId: row.stream,
    revision: row.revision,
    eventId: row.event_id,
    type: row.type,
    contentType: row.content_type,
    data: row.data,
    metadata: row.metadata,
    created: row.created,
  };
};

const verify = (row: EventRow): void => {
  if (row.checksum === null) throw new CorruptRecord(row.position, 'it has no checksum');
  const expected = rowChecksum(row);
  if (Number(row.checksum) !== expected) throw new CorruptRecord(row.position, 'checksum mismatch');
};
