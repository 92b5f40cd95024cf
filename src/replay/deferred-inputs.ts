import { CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { StreamIdSet } from './stream-id-set.js';

/** Reads a candidate stream whole and replays it from revision `from` (the scan's fallback). */
export type ReadWhole = (streamId: string, from: bigint) => Promise<void>;

/**
 * Inputs the scan met with the live window full, kept as positions only and fetched again, when
 * their stream's outputs come, by a second cursor over `$all` that follows the first: a history
 * recorded ingest-first (every candidate created, then every one decided, in creation order) is
 * then replayed live all through, with two sequential reads of history instead of one read per
 * candidate stream. The cursor holds up to `window` deferred inputs it passed while looking for
 * another (outputs in another order than their inputs); past that, the oldest is read whole.
 * The deferred streams are held compactly (see {@link StreamIdSet}), their positions in a queue.
 */
export class DeferredInputs {
  private readonly deferred = new StreamIdSet(`${CANDIDATE_STREAM_PREFIX}cand-`);
  /** Positions of the deferred inputs, in history order, from `head` on. */
  private positions: number[] = [];
  private head = 0;
  /** Deferred inputs the cursor passed, not claimed yet, in history order. */
  private readonly held = new Map<string, RecordedEvent>();
  private cursor: AsyncIterator<RecordedEvent> | undefined;
  /** Where the cursor starts: after the event the scan met just before the first deferred input. */
  private start: bigint | undefined;

  constructor(
    private readonly source: EventReader,
    private readonly window: number,
  ) {}

  isDeferred(streamId: string): boolean {
    return this.deferred.has(streamId);
  }

  /** Defers an input (revision 0) the scan met, `after` the position of the event before it; false when deferral is off. */
  defer(input: RecordedEvent, after: bigint | undefined): boolean {
    if (this.window === 0) return false;
    if (this.positions.length === 0 && this.cursor === undefined) this.start = after; // the first one: the cursor starts there
    this.positions.push(Number(input.position));
    this.deferred.add(input.streamId);
    return true;
  }

  /** The stream is no longer deferred (read whole instead): the cursor drops its input when it passes it. */
  forget(streamId: string): void {
    this.deferred.delete(streamId);
    this.held.delete(streamId);
  }

  /**
   * The deferred input of `streamId`, found by the cursor: inputs it passes on the way are held,
   * up to the window; the oldest one held beyond it is handed to `readWhole`. Undefined when the
   * cursor cannot find it (it was handed to `readWhole` on the way).
   */
  async take(streamId: string, readWhole: ReadWhole): Promise<RecordedEvent | undefined> {
    for (;;) {
      const held = this.held.get(streamId);
      if (held !== undefined) return this.claim(held);
      if (!this.isDeferred(streamId)) return undefined;
      const next = await this.nextDeferred();
      if (next === undefined) return undefined;
      if (next.streamId === streamId) return this.claim(next);
      this.held.set(next.streamId, next);
      if (this.held.size > this.window) {
        const [oldest] = this.held.keys();
        this.forget(oldest as string);
        await readWhole(oldest as string, 0n);
      }
    }
  }

  /** Every deferred input nothing claimed, in history order, once the scan is over. */
  async *unclaimed(): AsyncGenerator<RecordedEvent> {
    try {
      for (const input of [...this.held.values()]) yield this.claim(input);
      for (let next = await this.nextDeferred(); next !== undefined; next = await this.nextDeferred()) yield this.claim(next);
    } finally {
      await this.cursor?.return?.();
    }
  }

  private claim(input: RecordedEvent): RecordedEvent {
    this.forget(input.streamId);
    return input;
  }

  /** The next deferred input still deferred, from the cursor, or undefined when none is left. */
  private async nextDeferred(): Promise<RecordedEvent | undefined> {
    while (this.head < this.positions.length) {
      const position = this.positions[this.head++] as number;
      this.cursor ??= this.open();
      for (;;) {
        const next: IteratorResult<RecordedEvent> = await this.cursor.next();
        if (next.done === true) throw new Error(`replay: the second cursor over $all ended before position ${position}`);
        const value = next.value;
        const at = Number(value.position);
        if (at < position) continue;
        if (at > position) throw new Error(`replay: the second cursor over $all passed position ${position} (at ${at})`);
        if (this.isDeferred(value.streamId)) {
          this.compact();
          return value;
        }
        break; // read whole since: dropped
      }
    }
    this.positions = [];
    this.head = 0;
    return undefined;
  }

  /** Drops the positions already taken once they are most of the queue. */
  private compact(): void {
    if (this.head >= 1024 && this.head * 2 >= this.positions.length) {
      this.positions = this.positions.slice(this.head);
      this.head = 0;
    }
  }

  private open(): AsyncIterator<RecordedEvent> {
    const options = { streamPrefixes: [CANDIDATE_STREAM_PREFIX], ...(this.start === undefined ? {} : { after: this.start }) };
    return this.source.readAll(options)[Symbol.asyncIterator]();
  }
}
