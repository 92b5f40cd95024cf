import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { ServerThread } from '../esdb-server/server-thread.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { EsdbEventStore } from '../eventstore/esdb/esdb-event-store.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { OpxError, StoreUnavailable } from '../shared/errors.js';
import { settlesWithin } from '../shared/time-limit.js';
import { CliUsageError, DATA_DIR_MISSING } from './exit-codes.js';

export const DEFAULT_DATA_DIR = './.opx-data';
export const CONNECTION_ENV = 'OPX_EVENTSTORE';

/** The embedded store's SQLite file in a data dir (esdb-server's SQLITE_FILE_NAME; a test holds them equal). */
export const STORE_FILE_NAME = 'opx-store.sqlite';

/** Where a command's events live, as chosen on the command line. */
export type StoreSelection =
  /** `create`: make the data dir and its store when missing (else a missing one is an error). */
  | { readonly kind: 'data'; readonly dir: string; readonly explicit: boolean; readonly create: boolean }
  | { readonly kind: 'memory' }
  | { readonly kind: 'connection'; readonly connectionString: string; readonly from: 'flag' | 'env' };

export interface StoreOptions {
  readonly data?: string;
  readonly memory?: boolean;
  readonly connection?: string;
  /** `--create`: the data dir may be created. */
  readonly create?: boolean;
}

/**
 * `--data DIR` | `--memory` | `--connection esdb://...` | env OPX_EVENTSTORE | the embedded
 * default (./.opx-data). Flags win over the environment; two flags at once are a usage error.
 * A data dir named with --data must hold a store unless `--create` is given: a mistyped path is an
 * error, not a new empty store that answers "no incidents" and "IDENTICAL". The default dir is
 * created when missing unless `createDefault` is false (commands that only read pass false).
 */
export function selectStore(options: StoreOptions, env: NodeJS.ProcessEnv = process.env, defaults: { readonly createDefault?: boolean } = {}): StoreSelection {
  const given = [options.data !== undefined && '--data', options.memory === true && '--memory', options.connection !== undefined && '--connection'].filter(
    (flag): flag is string => flag !== false,
  );
  if (given.length > 1) throw new CliUsageError(`choose one event store: ${given.join(' and ')} were both given`);
  const create = options.create === true;
  if (create && (options.memory === true || options.connection !== undefined)) throw new CliUsageError('--create makes a data dir: it goes with --data DIR (or the default), not --memory or --connection');
  if (options.memory === true) return { kind: 'memory' };
  if (options.data !== undefined) return { kind: 'data', dir: options.data, explicit: true, create };
  if (options.connection !== undefined) return { kind: 'connection', connectionString: checkConnectionString(options.connection, '--connection'), from: 'flag' };
  const fromEnv = env[CONNECTION_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    if (create) throw new CliUsageError(`--create makes a data dir: it does not go with ${CONNECTION_ENV}`);
    return { kind: 'connection', connectionString: checkConnectionString(fromEnv.trim(), CONNECTION_ENV), from: 'env' };
  }
  return { kind: 'data', dir: DEFAULT_DATA_DIR, explicit: false, create: create || defaults.createDefault !== false };
}

/** A data dir that holds no store, named when it was not to be created. */
export class DataDirMissing extends OpxError {
  static readonly code = DATA_DIR_MISSING;

  private constructor(message: string) {
    super(DataDirMissing.code, message);
  }

  static at(dir: string, explicit: boolean, why: 'no-dir' | 'no-store'): DataDirMissing {
    const what = why === 'no-dir' ? 'does not exist' : `holds no store (no ${STORE_FILE_NAME})`;
    const fix = explicit
      ? `check the path (a mistyped --data is not a new store), or create one with --create or \`opx store init ${dir}\``
      : 'nothing has been recorded here: name a store with --data DIR or --connection URL, record signals first (`opx signals ingest`), or create one with --create';
    return new DataDirMissing(`the data dir ${resolve(dir)} ${what}: ${fix}`);
  }
}

/**
 * A new data dir and its store file, private to the user: the dir 0700, the file 0600 (SQLite gives
 * its -wal and -shm files the database file's mode, so they are 0600 too). An existing dir keeps
 * its mode. Returns whether the store file was made now.
 */
export function createDataDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    writeFileSync(join(dir, STORE_FILE_NAME), '', { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && existsSync(join(dir, STORE_FILE_NAME))) return false;
    throw new StoreUnavailable(`cannot create the data dir ${resolve(dir)}: ${(error as Error).message}`, { cause: error });
  }
}

function checkConnectionString(value: string, source: string): string {
  if (!/^esdb(\+discover)?:\/\/\S+$/.test(value)) throw new CliUsageError(`${source} must be an EventStoreDB connection string (esdb://USER:PASSWORD@host:2113?tls=true&tlsCAFile=CA), got '${value}'`);
  return value;
}

export const describeSelection = (selection: StoreSelection): string => {
  switch (selection.kind) {
    case 'data':
      return `embedded store at ${resolve(selection.dir)}`;
    case 'memory':
      return 'throwaway in-memory store';
    case 'connection':
      return `EventStoreDB at ${redact(selection.connectionString)}`;
    default: {
      const unknown: never = selection;
      return String(unknown);
    }
  }
};

/** Hides credentials in a connection string before it is printed. */
const redact = (connectionString: string): string => connectionString.replace(/\/\/[^@/]*@/, '//***@');

/** An open store and how to release it (the embedded server and the data-dir lock included). */
export interface OpenedStore {
  readonly store: EventStore;
  readonly description: string;
  close(): Promise<void>;
}

const LOCK_FILE = 'opx.lock';

/**
 * A data dir is owned by one process at a time (the embedded engine caches positions and stream
 * revisions in memory): a pid lock file, taken here and by `opx store serve`. A stale lock (its
 * process is gone) is taken over. A dir that does not exist, or holds no store, is refused unless
 * the selection may create it (then it is made private: see {@link createDataDir}); the lock is
 * taken before the store file is looked for, so a dir another process is creating is not refused.
 */
export function lockDataDir(selection: { readonly dir: string; readonly explicit: boolean; readonly create: boolean }, purpose: string): () => void {
  const { dir } = selection;
  if (!existsSync(dir)) {
    if (!selection.create) throw DataDirMissing.at(dir, selection.explicit, 'no-dir');
    createDataDir(dir);
  }
  const release = takeLock(dir, purpose);
  if (!existsSync(join(dir, STORE_FILE_NAME))) {
    if (!selection.create) {
      release();
      throw DataDirMissing.at(dir, selection.explicit, 'no-store');
    }
    createDataDir(dir);
  }
  return release;
}

function takeLock(dir: string, purpose: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, JSON.stringify({ pid: process.pid, purpose }), { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(path, { force: true });
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new StoreUnavailable(`cannot lock the data dir ${resolve(dir)}: ${(error as Error).message}`, { cause: error });
      const holder = readHolder(path);
      if (holder !== undefined && isAlive(holder.pid)) {
        throw new StoreUnavailable(
          `the data dir ${resolve(dir)} is in use by process ${holder.pid} (${holder.purpose}); ` +
            `talk to that process with --connection 'esdb://USER:PASSWORD@localhost:<port>?tls=true&tlsCAFile=CA' (as it printed), or stop it`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new StoreUnavailable(`cannot lock the data dir ${resolve(dir)}`);
}

function readHolder(path: string): { pid: number; purpose: string } | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; purpose?: unknown };
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, purpose: typeof parsed.purpose === 'string' ? parsed.purpose : 'opx' } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Opens the selected store. The adapters are imported by the first command that opens a store of
 * their kind, not at start-up: `opx --help`, and the replay audit's calling thread, load neither
 * the client with gRPC nor the server (some 30 MB of RSS each).
 * The embedded default starts the embedded server in a thread of this process (its work on one
 * core, the command's on the other: src/esdb-server/server-thread.ts) on
 * an ephemeral loopback port over the data dir (SQLite) and talks to it with the official client,
 * exactly as it would talk to EventStoreDB: over TLS, as a user, with a CA, a certificate and a
 * secret the server made for this process and kept in memory (docs/security.md says why). A remote connection is probed once, so an unreachable
 * server is reported up front (exit 3) rather than in the middle of a command.
 */
export async function openStore(selection: StoreSelection, purpose: string): Promise<OpenedStore> {
  const description = describeSelection(selection);
  switch (selection.kind) {
    case 'memory': {
      const store = new InMemoryEventStore();
      return { store, description, close: () => store.close() };
    }
    case 'data': {
      const release = lockDataDir(selection, purpose);
      let server: ServerThread;
      try {
        const { startServerThread } = await import('../esdb-server/server-thread.js');
        server = await startServerThread({ dataDir: selection.dir });
      } catch (error) {
        release();
        throw new StoreUnavailable(`cannot open the embedded store at ${resolve(selection.dir)}: ${(error as Error).message}`, { cause: error });
      }
      const { EsdbEventStore } = await import('../eventstore/esdb/esdb-event-store.js');
      // the server made a CA, a certificate and a user for this process (in memory): its endpoint carries them
      const store = EsdbEventStore.fromEndpoint(server.endpoint);
      return {
        store,
        description,
        close: async () => {
          await store.close().catch(() => undefined);
          await server.close();
          release();
        },
      };
    }
    case 'connection': {
      const { EsdbEventStore } = await import('../eventstore/esdb/esdb-event-store.js');
      let store: EsdbEventStore;
      try {
        store = EsdbEventStore.fromConnectionString(selection.connectionString);
      } catch (error) {
        throw new CliUsageError(`invalid connection string: ${(error as Error).message}`);
      }
      await probe(store, description);
      return { store, description, close: () => store.close() };
    }
    default: {
      const unknown: never = selection;
      throw new Error(`unknown store selection ${String(unknown)}`);
    }
  }
}

const PROBE_TIMEOUT_MS = 5_000;

async function probe(store: EsdbEventStore, description: string): Promise<void> {
  try {
    const answer = await settlesWithin(store.getStreamMetadata('opx-cli-probe'), PROBE_TIMEOUT_MS);
    if (!answer.settled) throw new StoreUnavailable(`${description} did not answer within ${PROBE_TIMEOUT_MS / 1000} s`);
  } catch (error) {
    await store.close().catch(() => undefined);
    if (error instanceof StoreUnavailable) throw new StoreUnavailable(`${description} is unavailable: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Opens the selected store for a long read of history (the replay audit, what-if): a data dir is
 * read in this process straight from its storage, without the server and gRPC in between; any
 * other store is opened as usual.
 */
export async function openHistory(selection: StoreSelection, purpose: string): Promise<OpenedStore> {
  if (selection.kind !== 'data') return openStore(selection, purpose);
  const release = lockDataDir(selection, purpose);
  try {
    const reader = await openDataDirReader(selection.dir);
    return {
      store: reader.store,
      description: reader.description,
      close: async () => {
        await reader.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * A data dir's reader, in this thread, for a caller that holds the data dir's lock already (the
 * replay audit's worker thread, whose process took it): see {@link openHistory}.
 */
export async function openDataDirReader(dir: string): Promise<OpenedStore> {
  const { EmbeddedReader } = await import('../eventstore/embedded/embedded-reader.js');
  try {
    const reader = EmbeddedReader.open(dir);
    return { store: reader, description: `${describeSelection({ kind: 'data', dir, explicit: true, create: false })} (read in-process)`, close: () => reader.close() };
  } catch (error) {
    throw new StoreUnavailable(`cannot open the embedded store at ${resolve(dir)}: ${(error as Error).message}`, { cause: error });
  }
}
