/**
 * The worker's two concurrency primitives: a counting semaphore (bounded in-flight work across
 * candidates) and a keyed serial queue (the events of one stream are never processed at the
 * same time, and run in the order they were received).
 */

/** A counting semaphore whose waiters can be released with `false` when the worker stops. */
export class Semaphore {
  #available: number;
  readonly #waiters: Array<(granted: boolean) => void> = [];
  #closed = false;

  constructor(readonly permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError(`permits must be a positive integer, got ${permits}`);
    this.#available = permits;
  }

  /** Permits currently taken. */
  get inUse(): number {
    return this.permits - this.#available;
  }

  /** Takes a permit if one is free now (false: none free, or closed; then {@link acquire} waits). */
  tryAcquire(): boolean {
    if (this.#closed || this.#available === 0) return false;
    this.#available--;
    return true;
  }

  /** Resolves `true` with a permit, or `false` once the semaphore is closed. */
  acquire(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#available > 0) {
      this.#available--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next(true);
    else this.#available = Math.min(this.permits, this.#available + 1);
  }

  /** Refuses further permits; pending waiters get `false`. Permits already held stay valid. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(false);
  }

  reopen(): void {
    this.#closed = false;
  }
}

/** Runs tasks one at a time per key, in submission order; different keys run concurrently. */
export class KeyedSerialQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Keys with queued or running work. */
  get size(): number {
    return this.#tails.size;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const tails = this.#tails;
    const previous = tails.get(key);
    // A key with nothing queued (nearly always: one event per candidate) starts its task at once.
    const result = previous === undefined ? start(task) : previous.then(task, task);
    const settle = (): void => {
      if (tails.get(key) === tail) tails.delete(key);
    };
    const tail: Promise<unknown> = result.then(settle, settle);
    tails.set(key, tail);
    return result;
  }
}

/** Runs `task` now; a synchronous throw becomes a rejection, as it would inside `then`. */
function start<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Fraction of the delay randomised (0 = none), so that a fleet does not reconnect in step. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5_000, jitter: 0.2 };

/** Capped exponential backoff: initial * 2^attempt, at most max, minus up to `jitter` of it. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponential = policy.initialMs * 2 ** Math.min(attempt, 30);
  const capped = Math.min(policy.maxMs, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}

/** Sleeps `ms`, or less when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
