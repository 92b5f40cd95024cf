import { closeSync, fstatSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Flushes a WAL-mode SQLite database's write-ahead log to disk. With `synchronous=NORMAL` a commit
 * writes its WAL frames without an fsync; an fsync of the WAL file after the commit makes it as
 * durable as `synchronous=FULL` (which does exactly that inside the commit), and it can run on
 * libuv's thread pool, so the event loop goes on serving reads while the disk flushes.
 *
 * The WAL stays open here (one thread-pool job per flush, not three). SQLite deletes the WAL only
 * when its last connection closes, so while the engine is open it is the same file; should it ever
 * be gone (no links left), it is opened again and flushed at once, never trusted. The WAL's
 * directory entry is flushed once too (SQLite does it on the first sync of a new WAL, which
 * `synchronous=NORMAL` leaves to a checkpoint).
 */
export class WalSync {
  #fd: number | undefined;
  /** Flushes under way, and whether to close the file when the last ends (it may not close under one). */
  #inFlight = 0;
  #closing = false;

  constructor(private readonly walFile: string) {}

  /** Blocks until every commit so far is on disk. */
  now(): void {
    fsyncSync(this.#open());
  }

  /** Resolves once every commit made before the call is on disk; the fsync runs off the event loop. */
  later(): Promise<void> {
    const fd = this.#open();
    this.#inFlight++;
    return new Promise((resolve, reject) =>
      fsync(fd, (error) => {
        this.#inFlight--;
        try {
          if (error !== null) throw error;
          if (this.#closing) return resolve();
          if (fstatSync(fd).nlink === 0) this.#reopen().now();
          resolve();
        } catch (failure) {
          reject(failure instanceof Error ? failure : new Error(String(failure)));
        } finally {
          if (this.#closing && this.#inFlight === 0) this.close();
        }
      }),
    );
  }

  /** Closes the file, once the flushes under way have ended. */
  close(): void {
    this.#closing = this.#inFlight > 0;
    if (this.#closing || this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #reopen(): this {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    return this;
  }

  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    const fd = openSync(this.walFile, 'r');
    const directory = openSync(dirname(this.walFile), 'r');
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
    this.#fd = fd;
    return fd;
  }
}
