/**
 * The replay audit in a worker thread of this process, under a heap of fixed size.
 *
 * The audit's memory is flat by design (see ReplayAudit: a few hundred candidate streams at a time
 * and compact tables, ~20-50 MB live at any length of history). Left alone, V8 still lets the
 * heap grow far past what is live: the main thread's limit is sized for the machine (~4 GB here),
 * so garbage piles up between collections and the peak RSS with it. A worker thread is the one
 * place node lets a program choose a heap's size at run time (`resourceLimits`; V8 flags set after
 * start-up do not resize a heap), so the audit runs in one, and the process stays small whatever
 * the history's length. A history that needs more than the limit (one divergent stream set entry
 * per stream, say, in a history that diverges everywhere) fails with an error naming --heap-mb.
 *
 * Through EventStoreDB (`--connection`), the official client reads in a second thread of its own,
 * which streams the events to the audit's thread over a MessagePort (eventstore/threaded): the
 * client spends more CPU decoding an event than the audit spends on it, and in one thread the two
 * took turns; in two they overlap on two cores. That thread's heap is bounded too.
 *
 * This module is all three sides: {@link auditInThread} on the calling side; run as the audit
 * worker, it opens the store itself (the calling process holds a data dir's lock) or reads from
 * the reader thread, audits, and posts back progress and the report, or the error; run as the
 * reader worker, it opens EventStoreDB and serves reads.
 */
import { getHeapStatistics } from 'node:v8';
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';

import type { EventReader } from '../eventstore/event-store.js';
import type { HistoryAuditReport } from '../replay/history-audit.js';
import type { ReplayOptions } from '../replay/replay-audit.js';
import { OpxError } from '../shared/errors.js';
import { rebuiltError, transferredError, type TransferredError } from '../shared/transferred-error.js';
import { AUDIT_HEAP_EXHAUSTED } from './exit-codes.js';
import type { StoreSelection } from './store-selection.js';

/** The audit thread's old-generation limit unless --heap-mb says otherwise (see docs/performance.md). */
export const DEFAULT_AUDIT_HEAP_MB = 128;

/**
 * The reader thread's old-generation limit. It holds only a few batches of events, but the client
 * decodes a stream of them into garbage: at 48 MB the thread spent over half its time collecting
 * and read at half the speed (200k events through the client: 9,400 events/s at 48 MB, 16,100 at
 * 96, 16,300 at 128).
 */
export const READER_HEAP_MB = 96;

export interface ThreadAuditRequest {
  /** A store the thread can open itself: a data dir (locked by the caller) or EventStoreDB. */
  readonly selection: Exclude<StoreSelection, { readonly kind: 'memory' }>;
  readonly configDir: string;
  readonly options: Pick<ReplayOptions, 'concurrency' | 'liveWindow'>;
}

export interface ThreadAuditResult {
  readonly report: HistoryAuditReport;
  /** The heap limit the audit ran under, as V8 reports it inside the thread (old and young generations). */
  readonly heapLimitMb: number;
  /** The heap limit of the thread that read EventStoreDB for the audit, when one did (`--connection`). */
  readonly readerHeapLimitMb?: number;
}

export class AuditHeapExhausted extends OpxError {
  static readonly code = AUDIT_HEAP_EXHAUSTED;

  constructor(heapMb: number) {
    super(AuditHeapExhausted.code, `the replay audit needed more than its ${heapMb} MB heap; run it again with a larger --heap-mb (e.g. ${heapMb * 2})`);
  }
}

type ThreadMessage =
  | { readonly kind: 'progress'; readonly eventsRead: number }
  | { readonly kind: 'report'; readonly result: ThreadAuditResult }
  | { readonly kind: 'error'; readonly failure: TransferredError };

const REQUEST = 'opx.replay-thread.request';
/** The audit thread's end of the port to the reader thread, when there is one. */
const READ_PORT = 'opx.replay-thread.read-port';
/** What the reader thread serves: EventStoreDB at this connection string, on this port. */
const READER = 'opx.replay-thread.reader';
const MB = 1024 * 1024;

/** Runs the replay audit in a worker thread whose old generation is limited to `heapMb`. */
export function auditInThread(request: ThreadAuditRequest, limits: { readonly heapMb: number; readonly onProgress?: (eventsRead: number) => void }): Promise<ThreadAuditResult> {
  return new Promise((resolve, reject) => {
    const { reader, readPort } = request.selection.kind === 'connection' ? startReader(request.selection) : { reader: undefined, readPort: undefined };
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { [REQUEST]: request, ...(readPort === undefined ? {} : { [READ_PORT]: readPort }) },
      transferList: readPort === undefined ? [] : [readPort],
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb },
    });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
      // The report is in: the threads' store connections need not close gracefully.
      void worker.terminate();
      void reader?.terminate();
    };
    // The reader says, once its store is open (before the audit can read a thing), the heap it has.
    let readerHeapLimitMb: number | undefined;
    reader?.on('message', (heapLimitMb: number) => (readerHeapLimitMb = heapLimitMb));
    reader?.on('error', (error: NodeJS.ErrnoException) =>
      settle(() => reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new Error(`the replay's reader thread ran out of its ${READER_HEAP_MB} MB heap`) : error)),
    );
    // The reader ends by itself (code 0) only once it has nothing left to serve: after announcing
    // that the store would not open, or when the audit closed its port. The audit thread reports
    // why, with the error's code, so only an abnormal end settles the audit here.
    reader?.on('exit', (code) => {
      if (code !== 0) settle(() => reject(new Error(`the replay's reader thread exited (code ${code}) before the audit reported`)));
    });
    worker.on('message', (message: ThreadMessage) => {
      switch (message.kind) {
        case 'progress':
          limits.onProgress?.(message.eventsRead);
          break;
        case 'report':
          settle(() => resolve(readerHeapLimitMb === undefined ? message.result : { ...message.result, readerHeapLimitMb }));
          break;
        case 'error':
          settle(() => reject(rebuiltError(message.failure)));
          break;
        default: {
          const unknown: never = message;
          settle(() => reject(new Error(`unknown message from the replay audit thread: ${JSON.stringify(unknown)}`)));
        }
      }
    });
    worker.on('error', (error: NodeJS.ErrnoException) => settle(() => reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new AuditHeapExhausted(limits.heapMb) : error)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the replay audit thread exited (code ${code}) before it reported`))));
  });
}

/** The reader thread for EventStoreDB, and the audit's end of the port it serves reads on. */
function startReader(selection: Extract<ThreadAuditRequest['selection'], { readonly kind: 'connection' }>): { reader: Worker; readPort: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  const reader = new Worker(new URL(import.meta.url), {
    workerData: { [READER]: { selection, port: port1 } },
    transferList: [port1],
    resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB },
  });
  return { reader, readPort: port2 };
}

/** The audit worker's side: open the store (or connect to the reader thread), audit, post the report (or the error). */
async function serve(request: ThreadAuditRequest, port: MessagePort, readPort: MessagePort | undefined): Promise<void> {
  try {
    // Imported here, not at the top: the calling side needs none of it.
    await import('reflect-metadata');
    const [{ loadConfig }, { auditHistory }, { openDataDirReader, openStore }] = await Promise.all([
      import('../container/config.js'),
      import('../replay/history-audit.js'),
      import('./store-selection.js'),
    ]);
    const config = loadConfig(request.configDir);
    const opened: { readonly store: EventReader; close(): Promise<void> } =
      readPort !== undefined
        ? await import('../eventstore/threaded/port-reads.js')
            .then(({ PortEventReader }) => PortEventReader.connect(readPort))
            .then((reader) => ({ store: reader, close: async () => reader.close() }))
        : request.selection.kind === 'data'
          ? await openDataDirReader(request.selection.dir)
          : await openStore(request.selection, 'opx replay');
    try {
      const report = await auditHistory(config, opened.store, { ...request.options, onProgress: (eventsRead) => port.postMessage({ kind: 'progress', eventsRead } satisfies ThreadMessage) });
      const result: ThreadAuditResult = { report, heapLimitMb: getHeapStatistics().heap_size_limit / MB };
      port.postMessage({ kind: 'report', result } satisfies ThreadMessage);
    } finally {
      await opened.close();
    }
  } catch (error) {
    port.postMessage({ kind: 'error', failure: transferredError(error) } satisfies ThreadMessage);
  }
}

/** The reader worker's side: open EventStoreDB (probed, as any command opens it), announce how that went, serve reads. */
async function serveReadsOf(selection: ThreadAuditRequest['selection'], port: MessagePort): Promise<void> {
  const [{ openStore }, { announceOpened, serveReads }] = await Promise.all([import('./store-selection.js'), import('../eventstore/threaded/port-reads.js')]);
  try {
    const opened = await openStore(selection, 'opx replay');
    serveReads(port, opened.store);
    parentPort?.postMessage(getHeapStatistics().heap_size_limit / MB);
    announceOpened(port);
  } catch (error) {
    announceOpened(port, error);
  }
}

const data = isMainThread ? undefined : (workerData as Record<string, unknown> | null);
const request = data?.[REQUEST] as ThreadAuditRequest | undefined;
const reader = data?.[READER] as { readonly selection: ThreadAuditRequest['selection']; readonly port: MessagePort } | undefined;
if (request !== undefined && parentPort !== null) await serve(request, parentPort, data?.[READ_PORT] as MessagePort | undefined);
else if (reader !== undefined) await serveReadsOf(reader.selection, reader.port);
