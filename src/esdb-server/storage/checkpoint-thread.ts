/**
 * The WAL checkpointer's thread (see {@link WalCheckpointer}): a second connection to the
 * database that runs a PASSIVE checkpoint when asked, so copying the WAL into the database file
 * and fsyncing it never stall the writer's event loop. It answers each round with SQLite's own
 * figures, and closes its connection when told, saying so through the shared state the writer
 * waits on (it may be closing synchronously).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

import { optionalCommonJs } from '../../shared/optional-dependency.js';
import {
  CHECKPOINT,
  CLOSE,
  STATE_BUSY,
  STATE_CHECKPOINTED,
  STATE_ENDED,
  STATE_LOG,
  STATE_OPEN,
  THREAD_CLOSED,
  THREAD_DATA,
  type CheckpointThreadData,
  type RoundResult,
} from './checkpointer.js';

const Database = optionalCommonJs<typeof BetterSqlite3>('better-sqlite3', 'A data dir (the embedded server on SQLite)');

function run(port: NonNullable<typeof parentPort>, data: CheckpointThreadData): void {
  const state = new Int32Array(data.state);
  let db: BetterSqlite3.Database | undefined;
  const close = (): void => {
    try {
      db?.close();
    } finally {
      db = undefined;
      Atomics.store(state, STATE_OPEN, THREAD_CLOSED);
      Atomics.notify(state, STATE_OPEN);
      port.close();
    }
  };
  port.on('message', (message: unknown) => {
    if (message === CLOSE) return close();
    if (message !== CHECKPOINT) return;
    let result: RoundResult;
    try {
      if (db === undefined) {
        db = new Database(data.file, { fileMustExist: true });
        // FULL: the WAL is synced before its frames are copied and the database file after, before
        // SQLite counts them as copied (only then may the writer start the WAL over).
        db.pragma('synchronous = FULL');
        db.pragma('wal_autocheckpoint = 0');
      }
      const [row] = db.pragma('wal_checkpoint(PASSIVE)') as RoundResult[];
      result = row ?? { busy: -1, log: 0, checkpointed: 0 };
    } catch {
      result = { busy: -1, log: 0, checkpointed: 0 };
    }
    state[STATE_BUSY] = result.busy;
    state[STATE_LOG] = result.log;
    state[STATE_CHECKPOINTED] = result.checkpointed;
    Atomics.add(state, STATE_ENDED, 1); // after the figures: the writer reads them once it sees this
    port.postMessage(null); // wakes a writer waiting on its event loop
  });
}

// only in the checkpointer's own thread (this module is never imported elsewhere, but a server thread is a worker too)
const data = (workerData as Record<string, CheckpointThreadData | undefined> | null)?.[THREAD_DATA];
if (parentPort !== null && data !== undefined) run(parentPort, data);
