import type { RecordedEvent } from './event-store.js';

/** One reader of a {@link shareScan}: the streams it wants, and what it does with their events. */
export interface ScanConsumer<T> {
  /** Only events of streams starting with one of these; every event when omitted. */
  readonly streamPrefixes?: readonly string[];
  consume(events: AsyncIterable<RecordedEvent>): Promise<T>;
}

export interface SharedScanOptions {
  /** Events handed to a consumer at once. */
  readonly batch?: number;
  /** Batches a consumer may have waiting before the read pauses for it (memory is bounded by this). */
  readonly ahead?: number;
}

type Results<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K] };
type Consumers<T extends readonly unknown[]> = { readonly [K in keyof T]: ScanConsumer<T[K]> };

/**
 * One read of history shared by several consumers that would each read it in turn: every consumer
 * runs at once and sees the events of its own streams in the read's order, so history is read
 * once whatever their number, and every consumer sees the same history (a store still written to
 * cannot give a later consumer events an earlier one never saw). The read is the union of what they
 * want (`read` is called with those prefixes, or none when one consumer wants everything).
 *
 * The read runs as far ahead of the slowest consumer as `ahead` batches, so memory is bounded
 * whatever the history's length. A consumer that finishes without reading to the end is let go;
 * when one fails, the read stops and every other consumer's events end with that error.
 */
export async function shareScan<T extends readonly unknown[]>(
  read: (streamPrefixes: readonly string[] | undefined) => AsyncIterable<RecordedEvent>,
  consumers: Consumers<T>,
  options: SharedScanOptions = {},
): Promise<Results<T>> {
  const list = consumers as readonly ScanConsumer<unknown>[];
  const everything = list.some((consumer) => consumer.streamPrefixes === undefined);
  const union = everything ? undefined : [...new Set(list.flatMap((consumer) => consumer.streamPrefixes ?? []))];
  const scan = new Scan(read(union), list.map((consumer) => consumer.streamPrefixes), options.batch ?? 256, options.ahead ?? 4);
  const running = list.map((consumer, i) =>
    consumer.consume(scan.events(i)).then(
      (result) => {
        scan.release(i);
        return result;
      },
      (error: unknown) => {
        scan.abort(error);
        throw error;
      },
    ),
  );
  return (await Promise.all(running)) as Results<T>;
}

/** A consumer's side of the scan: batches read for it, not yet taken. */
class Branch {
  readonly queue: RecordedEvent[][] = [];
  released = false;
  /** Wakes the consumer when a batch arrives or the read ends. */
  wakeConsumer: (() => void) | undefined;

  constructor(readonly streamPrefixes: readonly string[] | undefined) {}

  wants(streamId: string): boolean {
    if (this.streamPrefixes === undefined) return true;
    for (const prefix of this.streamPrefixes) if (streamId.startsWith(prefix)) return true;
    return false;
  }

  wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }
}

class Scan {
  private readonly branches: Branch[];
  private reading: Promise<void> | undefined;
  private finished = false;
  private failure: { readonly error: unknown } | undefined;
  /** Wakes the read when a consumer takes a batch or is let go. */
  private wakeReader: (() => void) | undefined;

  constructor(
    private readonly source: AsyncIterable<RecordedEvent>,
    prefixes: readonly (readonly string[] | undefined)[],
    private readonly batch: number,
    private readonly ahead: number,
  ) {
    this.branches = prefixes.map((p) => new Branch(p));
  }

  /**
   * A consumer's events. Hand-written rather than an async generator: an event already read is
   * handed over in one resolved promise (a generator's `yield*` over a batch costs several per event).
   */
  events(index: number): AsyncIterable<RecordedEvent> {
    const branch = this.branches[index] as Branch;
    let batch: RecordedEvent[] = [];
    let at = 0;
    const next = async (): Promise<IteratorResult<RecordedEvent>> => {
      for (;;) {
        if (at < batch.length) return { value: batch[at++] as RecordedEvent, done: false };
        const taken = branch.queue.shift();
        if (taken !== undefined) {
          batch = taken;
          at = 0;
          this.wake();
          continue;
        }
        if (this.failure !== undefined) {
          this.release(index);
          throw this.failure.error;
        }
        if (this.finished || branch.released) {
          this.release(index);
          return { value: undefined, done: true };
        }
        this.reading ??= this.read();
        await new Promise<void>((resolve) => (branch.wakeConsumer = resolve));
      }
    };
    const iterator: AsyncIterator<RecordedEvent> = {
      next,
      return: async () => {
        this.release(index);
        return { value: undefined, done: true };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  release(index: number): void {
    const branch = this.branches[index] as Branch;
    if (branch.released) return;
    branch.released = true;
    branch.queue.length = 0;
    this.wake();
  }

  abort(error: unknown): void {
    if (this.finished) return;
    this.failure = { error };
    this.end();
  }

  private async read(): Promise<void> {
    const pending = this.branches.map((): RecordedEvent[] => []);
    try {
      let count = 0;
      for await (const event of this.source) {
        if (this.finished) break;
        for (let i = 0; i < this.branches.length; i++) if ((this.branches[i] as Branch).wants(event.streamId)) (pending[i] as RecordedEvent[]).push(event);
        if (++count < this.batch) continue;
        count = 0;
        this.hand(pending);
        while (!this.finished && this.branches.some((branch) => !branch.released && branch.queue.length > this.ahead)) {
          await new Promise<void>((resolve) => (this.wakeReader = resolve));
        }
        if (this.finished || this.branches.every((branch) => branch.released)) break;
      }
      if (!this.finished) this.hand(pending);
    } catch (error) {
      this.failure ??= { error };
    }
    this.end();
  }

  /** Hands each consumer what was read for it since the last time. */
  private hand(pending: RecordedEvent[][]): void {
    this.branches.forEach((branch, i) => {
      const events = pending[i] as RecordedEvent[];
      if (events.length === 0) return;
      pending[i] = [];
      if (branch.released) return;
      branch.queue.push(events);
      branch.wake();
    });
  }

  private end(): void {
    this.finished = true;
    for (const branch of this.branches) branch.wake();
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }
}
