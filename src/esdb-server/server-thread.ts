/**
 * The embedded server in a worker thread of its own, for a process that is also its client (the
 * CLI's in-process store, `opx serve --data`): the server's work (gRPC, TLS, the store, SQLite's
 * commits) runs on one core and the client's (the domain, the official client) on the other,
 * instead of taking turns on one thread. The client reaches it exactly as before, over loopback
 * gRPC, with the credentials made for this process.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { rebuiltError, transferredError, type TransferredError } from '../shared/transferred-error.js';
// Types only on the caller's side: the server's modules load in the thread, not in both.
import type { EmbeddedServer, EmbeddedServerEndpoint, EmbeddedServerOptions } from './server.js';

/** What a thread can be given: plain data (no engine, clock or log objects cross into it). */
export type ThreadedServerOptions = Pick<EmbeddedServerOptions, 'dataDir' | 'acceptDataLoss' | 'sqliteSynchronous' | 'maxAppendSize' | 'writeTimeoutMs'>;

export interface ServerThread {
  readonly endpoint: EmbeddedServerEndpoint;
  /** Closes the server (its store flushed and closed), then ends the thread. */
  close(): Promise<void>;
}

type FromThread = { readonly kind: 'started'; readonly endpoint: EmbeddedServerEndpoint } | { readonly kind: 'failed'; readonly failure: TransferredError };

const OPTIONS = 'opx.server-thread.options';
const CLOSE = 'close';

/** Starts the embedded server in a new thread; rejects with the server's own error when it does not start. */
export function startServerThread(options: ThreadedServerOptions = {}): Promise<ServerThread> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(new URL(import.meta.url), { workerData: { [OPTIONS]: options } });
    let started = false;
    let failure: Error | undefined;
    const ended = new Promise<void>((done) => thread.once('exit', () => done()));
    thread.on('message', (message: FromThread) => {
      if (message.kind === 'started') {
        started = true;
        resolve({
          endpoint: message.endpoint,
          close: async () => {
            thread.postMessage(CLOSE);
            await ended; // the thread ends once the server has closed
          },
        });
      } else {
        failure = rebuiltError(message.failure); // said once the thread is gone
      }
    });
    thread.on('error', (error) => {
      if (!started) reject(error);
      // The server answers every client input without throwing: a failure here is a bug, and
      // fails the process as it did when the server shared its thread.
      else setImmediate(() => {
        throw error;
      });
    });
    thread.on('exit', (code) => {
      if (!started) reject(failure ?? new Error(`the embedded server's thread exited (code ${code}) before the server started`));
    });
  });
}

/** The thread's side: start, say where, close when asked. */
async function serve(options: ThreadedServerOptions): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  let server: EmbeddedServer;
  try {
    const { startEmbeddedServer } = await import('./server.js');
    server = await startEmbeddedServer(options);
  } catch (error) {
    port.postMessage({ kind: 'failed', failure: transferredError(error) } satisfies FromThread);
    port.close();
    return;
  }
  port.on('message', (message: unknown) => {
    if (message !== CLOSE) return;
    void server.close().finally(() => port.close());
  });
  port.postMessage({ kind: 'started', endpoint: server.endpoint } satisfies FromThread);
}

const given = isMainThread ? undefined : (workerData as Record<string, unknown> | null)?.[OPTIONS];
if (given !== undefined) await serve(given as ThreadedServerOptions);
