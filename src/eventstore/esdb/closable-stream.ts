import type { Readable } from 'node:stream';

/** How long a read let finish (finishRatherThanCancel) may take before it is cancelled after all. */
const FINISH_WAIT_MS = 5_000;

/** An async iterable that can be stopped from outside; its iterator then completes. */
export interface ClosableIterable<T> extends AsyncIterable<T> {
  close(): Promise<void>;
}

export interface ClosableStreamOptions<S, T> {
  /** Stops the underlying call (the client's `cancel()` / `unsubscribe()`). */
  readonly cancel: () => Promise<void>;
  /** Maps one item; `undefined` drops it. */
  readonly transform: (item: S) => T | undefined | Promise<T | undefined>;
  /** Maps a failure of the source into the error the iterator throws. */
  readonly mapError: (error: unknown) => unknown;
  /** Items buffered before the source is paused. */
  readonly highWaterMark?: number;
  /** Called once when the iterable is closed or its iteration has finished. */
  readonly onFinished?: () => void;
  /**
   * A read known to end by itself soon (one with a small maxCount): when the reader leaves early,
   * let the call finish (dropping what is left) instead of cancelling it (see `finish`).
   */
  readonly finishRatherThanCancel?: boolean;
}

/**
 * Adapts one of the client's object-mode readables (reads, catch-up and persistent
 * subscriptions) to an async iterable that
 * - listens from the moment it is created, so an error emitted before the first `next()` is
 *   neither lost nor an uncaught 'error' event;
 * - yields what was received before it reports a failure;
 * - completes when `close()` is called, even while a `next()` is pending: the client's
 *   readables do not end when their call is cancelled, so iterating them directly would hang.
 */
export function closableStream<S, T>(source: Readable, options: ClosableStreamOptions<S, T>): ClosableIterable<T> {
  const highWaterMark = options.highWaterMark ?? 64;
  const buffer: S[] = [];
  let failure: { readonly error: unknown } | undefined;
  let ended = false;
  let closed = false;
  let wake: (() => void) | undefined;
  let cancelled: Promise<void> | undefined;
  let wakeOnEnd: (() => void) | undefined;

  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
    if (ended || failure !== undefined) wakeOnEnd?.();
  };
  const finish = async (): Promise<void> => {
    options.onFinished?.();
    // A call that ended (or failed: a stream not found) has nothing left to cancel, and a cancel
    // would still send a RST_STREAM: an HTTP/2 server that receives a burst of them (Node's
    // nghttp2: about 1,000, then 33 a second) closes the whole session, failing every call on it.
    if (ended || failure !== undefined) return;
    if (options.finishRatherThanCancel === true) {
      buffer.length = 0;
      source.on('data', () => {
        buffer.length = 0;
      });
      source.resume();
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wakeOnEnd = resolve;
        // a server that never ends the call does not keep the reader waiting: it is cancelled after all
        timer = setTimeout(resolve, FINISH_WAIT_MS);
      });
      clearTimeout(timer);
      if (ended || failure !== undefined) return;
    }
    try {
      await options.cancel();
    } catch {
      // The call is being abandoned: a failure to cancel it changes nothing for the reader.
    }
    source.destroy();
  };
  const cancelOnce = (): Promise<void> => (cancelled ??= finish());

  source.on('data', (item: S) => {
    buffer.push(item);
    if (buffer.length >= highWaterMark) source.pause();
    notify();
  });
  source.on('error', (error: unknown) => {
    failure ??= { error };
    notify();
  });
  source.on('end', () => {
    ended = true;
    notify();
  });
  source.on('close', () => {
    ended = true;
    notify();
  });

  async function* iterate(): AsyncGenerator<T> {
    try {
      while (!closed) {
        if (buffer.length > 0) {
          const item = buffer.shift() as S;
          if (source.isPaused() && buffer.length < highWaterMark / 2) source.resume();
          const out = options.transform(item);
          const mapped = out instanceof Promise ? await out : out; // no await (a microtask turn) for a plain value
          if (mapped !== undefined && !closed) yield mapped;
          continue;
        }
        if (failure !== undefined) throw failure.error;
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } catch (error) {
      if (closed) return;
      throw options.mapError(error);
    } finally {
      closed = true;
      await cancelOnce();
    }
  }

  const iterator = iterate();
  return {
    [Symbol.asyncIterator]: () => iterator,
    close: async () => {
      closed = true;
      notify();
      await cancelOnce();
    },
  };
}
