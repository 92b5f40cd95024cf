import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { rowChecksum, type UncheckedRow } from './sqlite-schema.js';
import { SQLITE_FILE_NAME, WATERMARK_FILE_NAME } from './sqlite-engine.js';

/** What `opx store verify DIR` finds in a data dir. */
export interface VerifyReport {
  readonly dataDir: string;
  readonly records: number;
  readonly lastPosition: number;
  /** The last position acknowledged to a writer, from the file beside the database (undefined: none yet). */
  readonly acknowledged: number | undefined;
  /** SQLite's own `PRAGMA integrity_check` lines other than 'ok'. */
  readonly integrity: readonly string[];
  /** Records whose checksum does not match (or that have none), by position. */
  readonly corrupt: readonly { readonly position: number; readonly detail: string }[];
  /** Positions missing between 1 and the last one. */
  readonly missingPositions: number;
  readonly ok: boolean;
}

const MAX_LISTED = 1_000;

/** Reads every record of a data dir (read-only) and checks its checksum, the log's continuity and the acknowledged position. */
export function verifyDataDir(dataDir: string): VerifyReport {
  const file = join(dataDir, SQLITE_FILE_NAME);
  if (!existsSync(file)) throw new Error(`${dataDir} holds no event store (${SQLITE_FILE_NAME} not found)`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).filter((line) => line !== 'ok');
    const hasChecksum = (db.prepare('PRAGMA table_info(events)').all() as { name: string }[]).some((c) => c.name === 'checksum');
    const rows = db
      .prepare(`SELECT position, stream, revision, event_id, type, content_type, data, metadata, created${hasChecksum ? ', checksum' : ''} FROM events ORDER BY position`)
      .safeIntegers(true)
      .iterate() as IterableIterator<UncheckedRow & { checksum?: bigint | null }>;
    const corrupt: { position: number; detail: string }[] = [];
    let records = 0;
    let expected = 1n;
    let missingPositions = 0n;
    let last = 0n;
    let corruptCount = 0;
    for (const row of rows) {
      records++;
      if (row.position > expected) missingPositions += row.position - expected;
      expected = row.position + 1n;
      last = row.position;
      const checksum = row.checksum ?? null;
      const detail =
        checksum === null
          ? 'no checksum'
          : Number(checksum) !== rowChecksum(row)
            ? 'checksum mismatch'
            : undefined;
      if (detail !== undefined) {
        corruptCount++;
        if (corrupt.length < MAX_LISTED) corrupt.push({ position: Number(row.position), detail });
      }
    }
    const watermark = join(dataDir, WATERMARK_FILE_NAME);
    const text = existsSync(watermark) ? readFileSync(watermark, 'utf8').trim() : undefined;
    const acknowledged = text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
    const lastPosition = Number(last);
    const ok = integrity.length === 0 && corruptCount === 0 && missingPositions === 0n && (acknowledged === undefined || acknowledged <= lastPosition) && (text === undefined || acknowledged !== undefined);
    return { dataDir, records, lastPosition, acknowledged, integrity, corrupt, missingPositions: Number(missingPositions), ok };
  } finally {
    db.close();
  }
}
