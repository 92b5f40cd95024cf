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
 * This module is both sides: {@link auditInThread} on the calling side; run as the worker, it opens
 * the store itself (the calling process holds a data dir's lock), audits, and posts back progress
 * and the report, or the error.
 */
import { getHeapStatistics } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';

import type { ReplayOptions, ReplayReport } from '../replay/replay-audit.js';
import { OpxError } from '../shared/errors.js';
import { AUDIT_HEAP_EXHAUSTED } from './exit-codes.js';
import type { StoreSelection } from './store-selection.js';

/** The audit thread's old-generation limit unless --heap-mb says otherwise (see README, Performance). */
export const DEFAULT_AUDIT_HEAP_MB = 128;

export interface ThreadAuditRequest {
  /** A store the thread can open itself: a data dir (locked by the caller) or EventStoreDB. */
  readonly selection: Exclude<StoreSelection, { readonly kind: 'memory' }>;
  readonly configDir: string;
  readonly options: Pick<ReplayOptions, 'concurrency' | 'liveWindow'>;
}

export interface ThreadAuditResult {
  readonly report: ReplayReport;
  /** The heap limit the audit ran under, as V8 reports it inside the thread (old and young generations). */
  readonly heapLimitMb: number;
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
  | { readonly kind: 'error'; readonly opxCode: string | undefined; readonly errno: string | undefined; readonly message: string };

const REQUEST = 'opx.replay-thread.request';
const MB = 1024 * 1024;

/** Runs the replay audit in a worker thread whose old generation is limited to `heapMb`. */
export function auditInThread(request: ThreadAuditRequest, limits: { readonly heapMb: number; readonly onProgress?: (eventsRead: number) => void }): Promise<ThreadAuditResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { [REQUEST]: request }, resourceLimits: { maxOldGenerationSizeMb: limits.heapMb } });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
      // The report is in: the thread's store connections need not close gracefully.
      void worker.terminate();
    };
    worker.on('message', (message: ThreadMessage) => {
      switch (message.kind) {
        case 'progress':
          limits.onProgress?.(message.eventsRead);
          break;
        case 'report':
          settle(() => resolve(message.result));
          break;
        case 'error':
          settle(() => reject(rebuiltError(message)));
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

/** An error of the thread as the caller's exit codes see it: same code, same message. */
function rebuiltError(message: Extract<ThreadMessage, { kind: 'error' }>): Error {
  if (message.opxCode !== undefined) return new OpxError(message.opxCode, message.message);
  const error: NodeJS.ErrnoException = new Error(message.message);
  if (message.errno !== undefined) error.code = message.errno;
  return error;
}

/** The worker's side: open the store, audit, post the report (or the error). */
async function serve(request: ThreadAuditRequest, port: MessagePort): Promise<void> {
  try {
    // Imported here, not at the top: the calling side needs none of it.
    await import('reflect-metadata');
    const [{ loadConfig }, { ReplayAudit }, { openDataDirReader, openStore }] = await Promise.all([
      import('../container/config.js'),
      import('../replay/replay-audit.js'),
      import('./store-selection.js'),
    ]);
    const config = loadConfig(request.configDir);
    const opened = request.selection.kind === 'data' ? await openDataDirReader(request.selection.dir) : await openStore(request.selection, 'opx replay');
    try {
      const report = await new ReplayAudit(config).run(opened.store, { ...request.options, onProgress: (eventsRead) => port.postMessage({ kind: 'progress', eventsRead } satisfies ThreadMessage) });
      const result: ThreadAuditResult = { report, heapLimitMb: getHeapStatistics().heap_size_limit / MB };
      port.postMessage({ kind: 'report', result } satisfies ThreadMessage);
    } finally {
      await opened.close();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const errno = (error as NodeJS.ErrnoException | undefined)?.code;
    port.postMessage({ kind: 'error', opxCode: OpxError.is(error) ? error.code : undefined, errno: typeof errno === 'string' ? errno : undefined, message } satisfies ThreadMessage);
  }
}

const request = isMainThread ? undefined : ((workerData as Record<string, unknown> | null)?.[REQUEST] as ThreadAuditRequest | undefined);
if (request !== undefined && parentPort !== null) await serve(request, parentPort);
