import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';

/**
 * A file beside the database holding the last position acknowledged to a writer, rewritten once
 * each commit is on disk, before it is acknowledged. It is not in the WAL: when the WAL is lost or cut short after a crash, the database
 * opens without the commits it held, and this file tells (EventStoreDB likewise refuses to start
 * on a checksum mismatch). It is written without an fsync of its own, so it guards against a lost
 * or damaged WAL after a process crash, not against every power loss.
 */
export const WATERMARK_FILE_NAME = 'opx-store.acknowledged';

/** Positions are written zero-padded to this width (2^63 has 19 digits), so each write covers the last. */
const WIDTH = 20;

/** Refuses a database that ends before the acknowledged position, unless told to accept the loss. */
export const checkWatermark = (file: string, lastPosition: bigint, acceptDataLoss: boolean): void => {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8').trim();
  const acknowledged = /^\d+$/.test(text) ? BigInt(text) : undefined;
  if (acknowledged !== undefined && acknowledged <= lastPosition) return;
  if (!acceptDataLoss) {
    throw new AcknowledgedDataMissing(
      acknowledged === undefined
        ? `the acknowledged-position file ${file} is unreadable ('${text.slice(0, 40)}')`
        : `events up to position ${acknowledged} were acknowledged, but the database ends at position ${lastPosition}: ${acknowledged - lastPosition} acknowledged events are missing (was the WAL file, opx-store.sqlite-wal, lost or cut short?)`,
    );
  }
  writeFileSync(file, lastPosition.toString());
};

/** A data dir that lost events it had acknowledged; it opens only when told to accept the loss. */
export class AcknowledgedDataMissing extends Error {
  readonly code = 'opx.store.acknowledged_data_missing';

  constructor(detail: string) {
    super(`${detail}. Refusing to start; to start anyway and accept the loss, pass --accept-data-loss.`);
    this.name = 'AcknowledgedDataMissing';
  }
}

/**
 * The acknowledged-position file, kept open and overwritten in place: one positional write per
 * commit, where writing the file anew costs an open, a truncate, a write and a close (a CPU
 * profile of 8 writers put that at ~8% of the server's time). Every write has the same width, so
 * the file never holds a mix of two positions; the page cache makes it survive a process crash
 * like the WAL itself.
 */
export class Watermark {
  readonly #fd: number;
  #written: bigint | undefined;

  /** Opens (or creates) the file; call after {@link checkWatermark}, which it does not replace. */
  constructor(file: string, position: bigint) {
    closeSync(openSync(file, 'a', 0o600));
    this.#fd = openSync(file, 'r+');
    this.write(position);
    ftruncateSync(this.#fd, WIDTH);
  }

  /**
   * Records `position` as acknowledged, unless a later one already is: a flush that started
   * before a commit fsynced in its own transaction may end after it, and must not move the mark back.
   */
  write(position: bigint): void {
    if (this.#written !== undefined && position <= this.#written) return;
    writeSync(this.#fd, position.toString().padStart(WIDTH, '0'), 0, 'latin1');
    this.#written = position;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
