import type { StorageEngine } from './storage/engine.js';
import type { EventStoreCore } from './store.js';

/** The longest a group commit waits for more writes to join it (engines that flush in the commit). */
const MAX_COMMIT_HOLD_MS = 2;
/** The longest a commit waits for the writers of the last one to come back (engines that flush off the event loop). */
const MAX_FLUSH_HOLD_MS = 10;
/** What is left of a slower round's round trip after each round that was faster. */
const ROUND_TRIP_DECAY = 0.75;

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

interface Job {
  readonly work: () => unknown;
  /** When the job was queued (ms, performance.now), for {@link CommitStats}; absent when not counted. */
  readonly queuedAt?: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * How the commits went so far (engines that flush off the event loop): how many writes shared a
 * commit and its fsync, and where a write's time went (ms summed over commits or writes).
 */
export interface CommitStats {
  /** Commits made, each with one fsync of its own. */
  readonly commits: number;
  /** Writes (appends, deletes) committed. */
  readonly writes: number;
  /** Writes per commit, as a map from batch size to the number of commits of that size. */
  readonly batchSizes: Readonly<Record<number, number>>;
  /** Summed over writes: from queued to their commit starting (holds and the flush before). */
  readonly queuedMs: number;
  /** Summed over commits: the SQLite transaction (on the event loop). */
  readonly commitMs: number;
  /** Summed over commits: from the commit to its fsync landing back on the event loop. */
  readonly flushMs: number;
  /** Commits that waited for the writers of the last one to come back. */
  readonly holds: number;
  /** Commits after which the next waited for the engine ({@link StorageEngine.commitGate}: a WAL checkpoint's tail). */
  readonly gated: number;
}

/**
 * Group commit: writes requested during one event-loop turn run inside one engine transaction,
 * so with SQLite `synchronous=FULL` they share a single fsync. Each write still sees the effects
 * of the ones before it (same connection), and callers get their own outcome or error. An engine
 * without a flush to share (memory) commits in a microtask instead, so an append's response
 * does not wait for the check phase of the event loop. An engine that flushes off the event loop
 * ({@link StorageEngine.flush}) commits while no flush is under way, and the writes that arrive
 * meanwhile wait for the next commit. Its writers are answered only once their commit is on
 * disk; readers and subscriptions see a commit as soon as it is made, up to one fsync before
 * that (anything written in reaction to it is committed after it, so never reaches the disk
 * without it; only an effect outside the store, in that window before a power loss, could
 * outlive the event).
 */
export class CommitQueue {
  #jobs: Job[] = [];
  /** When the first job of the pending batch was queued, and how the last commit went (ms). */
  #firstQueuedAt = 0;
  #lastCommitEnd = Number.NEGATIVE_INFINITY;
  #lastCommitMs = 0;
  #lastBatchSize = 0;
  /**
   * When each writer still expected back was acknowledged (ms, oldest first): a writer sends its
   * next write about a round trip after its acknowledgement. One not back when a hold ends is
   * still expected by the next commits (so a straggler is not left out of the count for good),
   * until two holds have passed since its acknowledgement. A write that arrives is taken as the
   * return of the latest acknowledged: so a writer that left sinks to the front and ages out,
   * where taking the oldest would renew it every round and hold every commit for it.
   */
  #acked: number[] = [];
  /**
   * The writers' round trip (ms from an acknowledgement to that writer's next write): the longest
   * seen lately, decaying by {@link ROUND_TRIP_DECAY} per return, so that one slow client holds
   * the next commits long enough for it, and a machine that became quicker is soon followed.
   */
  #roundTripMs = 0;
  #stats = { commits: 0, writes: 0, batchSizes: {} as Record<number, number>, queuedMs: 0, commitMs: 0, flushMs: 0, holds: 0, gated: 0 };
  /** A commit waiting for the disk, a check for the next commit scheduled, a hold under way. */
  #flushing = false;
  #scheduled = false;
  #hold: NodeJS.Timeout | undefined;

  readonly #maxFlushHoldMs: number;

  /** `maxFlushHoldMs`: the cap on a hold for writers to come back (default {@link MAX_FLUSH_HOLD_MS}). */
  constructor(
    private readonly engine: StorageEngine,
    options: { readonly maxFlushHoldMs?: number } = {},
  ) {
    this.#maxFlushHoldMs = options.maxFlushHoldMs ?? MAX_FLUSH_HOLD_MS;
  }

  stats(): CommitStats {
    return { ...this.#stats, batchSizes: { ...this.#stats.batchSizes } };
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.engine.flush !== undefined) {
        const now = performance.now();
        this.#jobs.push({ work, resolve: resolve as (value: unknown) => void, reject, queuedAt: now });
        const ackedAt = this.#acked.pop();
        if (ackedAt !== undefined) this.#roundTripMs = Math.max(now - ackedAt, this.#roundTripMs * ROUND_TRIP_DECAY);
        this.#schedule();
        return;
      }
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
    const results = this.#commit(jobs, (work) => this.engine.transaction(work));
    if (results !== undefined) this.#settle(jobs, results);
  }

  /** At the end of this event-loop turn, commits what is queued if it is time (see {@link #commitWhenReady}). */
  #schedule(): void {
    if (this.#flushing || this.#scheduled || this.#jobs.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#commitWhenReady();
    });
  }

  /**
   * The writers acknowledged by the last commits send their next writes a round trip later. Were
   * the first of them committed at once, the others would arrive during its flush and wait for
   * it, and the batches would alternate between few and many writes; so, while writers are still
   * expected back ({@link #acked}), the commit waits for them: for twice their round trip, or one
   * commit's duration if longer, capped. Waiting only for as many as the last commit held kept 8
   * writers in two halves of 4 for good (each half arrived during the other's flush); waiting only
   * for one commit's duration, when the clients' round trip was longer, committed the first writer
   * back alone, the other 7 arriving during its flush (docs/performance.md). A lone writer, or the
   * first write after a pause, is committed at once.
   */
  #commitWhenReady(): void {
    if (this.#flushing || this.#jobs.length === 0) return;
    const now = performance.now();
    const hold = Math.min(Math.max(this.#lastCommitMs, 2 * this.#roundTripMs), this.#maxFlushHoldMs);
    // a writer not back within two holds of its acknowledgement has left, or is too slow to wait for
    while (this.#acked.length > 0 && now - this.#acked[0]! > 2 * hold) this.#acked.shift();
    const wait = hold - (now - this.#lastCommitEnd);
    if (this.#acked.length > 0 && wait > 0) {
      // the round trip may have grown since the hold began: the hold ends when it now says
      if (this.#hold === undefined) this.#stats.holds++;
      clearTimeout(this.#hold);
      this.#hold = setTimeout(() => this.#commitThenFlush(), wait);
      return;
    }
    this.#commitThenFlush();
  }

  /**
   * Commits the writes queued so far and flushes them off the event loop; writes that arrive
   * meanwhile queue for the next commit, which starts when this one is on disk (so one fsync
   * serves every write that came while the last one ran). Outcomes are given only once on disk.
   */
  #commitThenFlush(): void {
    clearTimeout(this.#hold);
    this.#hold = undefined;
    if (this.#flushing || this.#jobs.length === 0) return;
    const jobs = this.#jobs;
    this.#jobs = [];
    this.#lastBatchSize = jobs.length;
    const started = performance.now();
    const stats = this.#stats;
    stats.commits++;
    stats.writes += jobs.length;
    stats.batchSizes[jobs.length] = (stats.batchSizes[jobs.length] ?? 0) + 1;
    for (const job of jobs) stats.queuedMs += started - (job.queuedAt ?? started);
    const results = this.#commit(jobs, (work) => this.engine.transactionBeforeFlush!(work));
    const committed = performance.now();
    stats.commitMs += committed - started;
    if (results === undefined) return this.#schedule();
    this.#flushing = true;
    this.engine
      .flush!()
      .then(
        () => {
          stats.flushMs += performance.now() - committed;
          const ackedAt = performance.now();
          for (const _job of jobs) this.#acked.push(ackedAt);
          this.#settle(jobs, results);
        },
        (error: unknown) => jobs.forEach((job) => job.reject(error)),
      )
      .finally(() => {
        this.#lastCommitMs = performance.now() - started;
        const gate = this.engine.commitGate?.();
        if (gate === undefined) return this.#flushed();
        this.#stats.gated++;
        void gate.then(() => this.#flushed());
      });
  }

  /** The last commit is on disk, and the engine lets the next one start. */
  #flushed(): void {
    this.#flushing = false;
    this.#lastCommitEnd = performance.now();
    this.#schedule();
  }

  /** Runs the jobs in one transaction: their outcomes, or undefined (all rejected) when it failed. */
  #commit(jobs: Job[], transaction: (work: () => void) => void): Outcome[] | undefined {
    const results: Outcome[] = [];
    try {
      transaction(() => {
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
      return undefined;
    }
    return results;
  }

  #settle(jobs: Job[], results: Outcome[]): void {
    jobs.forEach((job, i) => {
      const result = results[i]!;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }
}
