import type { Readable } from 'node:stream';

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

  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const finish = async (): Promise<void> => {
    options.onFinished?.();
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
          const mapped = await options.transform(item);
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
