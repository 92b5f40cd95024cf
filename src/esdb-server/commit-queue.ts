import type { StorageEngine } from './storage/engine.js';
import type { EventStoreCore } from './store.js';

/** The longest a group commit waits for more writes to join it. */
const MAX_COMMIT_HOLD_MS = 2;

/**
 * Lets a reader sleep until the next committed write without missing one: `arm()` before a
 * (synchronous) read, then `wait()` returns at once if anything was written since.
 */
export class AppendWaiter {
  #dirty = true;
  #resolve: (() => void) | undefined;
  readonly #unsubscribe: () => void;

  constructor(store: EventStoreCore) {
    this.#unsubscribe = store.onAppend(() => this.wake());
  }

  arm(): void {
    this.#dirty = false;
  }

  wake(): void {
    this.#dirty = true;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }

  async wait(): Promise<void> {
    if (this.#dirty) return;
    await new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  dispose(): void {
    this.#unsubscribe();
    this.wake();
  }
}

/**
 * Group commit: writes requested during one event-loop turn run inside one engine transaction,
 * so with SQLite `synchronous=FULL` they share a single fsync. Each write still sees the effects
 * of the ones before it (same connection), and callers get their own outcome or error. An engine
 * without a flush to share (memory) commits in a microtask instead, so an append's response
 * does not wait for the check phase of the event loop.
 */
export class CommitQueue {
  #jobs: { work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  /** When the first job of the pending batch was queued, and how the last commit went (ms). */
  #firstQueuedAt = 0;
  #lastCommitEnd = Number.NEGATIVE_INFINITY;
  #lastCommitMs = 0;
  #lastBatchSize = 0;

  constructor(private readonly engine: StorageEngine) {}

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#jobs.length === 0) {
        if (this.engine.groupCommit) {
          this.#firstQueuedAt = performance.now();
          setImmediate(() => this.#flushWhenSettled());
        } else {
          queueMicrotask(() => this.#flush());
        }
      }
      this.#jobs.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * Concurrent clients send their writes one event-loop turn apart (each client call stream
   * flushes one message per turn), so committing at the end of the first turn shares few fsyncs.
   * While writes keep coming (the last commit had several and this batch began right after it),
   * the commit waits, one turn at a time, for at most one commit's duration: a lone writer, or
   * the first write after a pause, is committed at once.
   */
  #flushWhenSettled(): void {
    const now = performance.now();
    const hold = Math.min(this.#lastCommitMs, MAX_COMMIT_HOLD_MS);
    const busy = this.#lastBatchSize > 1 && this.#firstQueuedAt - this.#lastCommitEnd < hold;
    if (busy && now - this.#firstQueuedAt < hold) {
      setImmediate(() => this.#flushWhenSettled());
      return;
    }
    this.#flush();
    this.#lastCommitEnd = performance.now();
    this.#lastCommitMs = this.#lastCommitEnd - now;
  }

  #flush(): void {
    const jobs = this.#jobs;
    this.#jobs = [];
    this.#lastBatchSize = jobs.length;
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.engine.transaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: job.work() });
          } catch (error) {
            results.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) => {
      const result = results[i]!;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }
}
