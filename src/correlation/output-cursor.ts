import { CANDIDATE_STREAM_PREFIX } from '../candidates/candidate-events.js';
import type { EventReader, RecordedEvent } from '../eventstore/event-store.js';
import { GROUP_STREAM_PREFIX } from './correlation-events.js';

/**
 * A second cursor over `$all`, ahead of the correlation audit's scan, for outputs the replay
 * derived long before the scan meets them (a history recorded ingest-first: every signal, then
 * every output). Past its hold, the audit lets this cursor read on from where the scan is and
 * compare what it meets with what is held, instead of reading each held output's stream back (one
 * round trip per stream through EventStoreDB). It never goes back: one more sequential read of the
 * output streams at most. What it compared is kept as positions only, in history order, and the
 * scan passes over them when it gets there. Events appended together share a commit position in
 * EventStoreDB, so an output is its position and its place among the outputs at that position.
 */
export class OutputCursor {
  private cursor: AsyncIterator<RecordedEvent> | undefined;
  /** The position of the last event the cursor read. */
  private at: bigint | undefined;
  private ended = false;
  private readonly place = new PlaceAtPosition();
  /** Positions of the outputs the cursor compared, in history order, from `head` on, and their places there. */
  private settled: number[] = [];
  private places: number[] = [];
  private head = 0;

  constructor(private readonly source: EventReader) {}

  /**
   * Reads on from `scanAt` (the last position the scan met), or from where the cursor is if that
   * is further, handing every output it meets to `settle` (true when it compared a held one),
   * until `enough()`, the end of history, or `patience` events in a row that settle nothing (the
   * held outputs are then not ahead: the caller reads them back). True when it settled any.
   */
  async advance(scanAt: bigint | undefined, settle: (recorded: RecordedEvent) => boolean, enough: () => boolean, patience: number): Promise<boolean> {
    if (this.ended) return false;
    if (this.cursor !== undefined && scanAt !== undefined && (this.at === undefined || this.at < scanAt)) await this.close(); // the scan went past it
    if (this.cursor === undefined) {
      this.at = scanAt;
      this.place.reset(); // it starts after every event at scanAt (a commit is read whole or not at all)
      this.cursor = this.source.readAll({ streamPrefixes: [GROUP_STREAM_PREFIX, CANDIDATE_STREAM_PREFIX], ...(scanAt === undefined ? {} : { after: scanAt }) })[Symbol.asyncIterator]();
    }
    let idle = 0;
    let any = false;
    while (!enough() && idle < patience) {
      const next = await this.cursor.next();
      if (next.done === true) {
        this.ended = true;
        await this.close();
        break;
      }
      this.at = next.value.position;
      const place = this.place.of(next.value.position);
      if (settle(next.value)) {
        this.settled.push(Number(next.value.position));
        this.places.push(place);
        any = true;
        idle = 0;
      } else idle++;
    }
    return any;
  }

  /**
   * True when the cursor compared this output already. Call with every group and candidate event
   * the scan meets, in order, with its place at its position ({@link PlaceAtPosition}).
   */
  passes(position: bigint, place: number): boolean {
    const at = Number(position);
    const before = (i: number): boolean => (this.settled[i] as number) < at || (this.settled[i] === at && (this.places[i] as number) < place);
    while (this.head < this.settled.length && before(this.head)) this.head++;
    if (this.head >= this.settled.length || this.settled[this.head] !== at || this.places[this.head] !== place) return false;
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.settled.length) {
      this.settled = this.settled.slice(this.head);
      this.places = this.places.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  async close(): Promise<void> {
    const cursor = this.cursor;
    this.cursor = undefined;
    await cursor?.return?.();
  }
}

/** An event's place among the events read at its position so far: 0 for the first (positions are unique in a data dir, not in EventStoreDB). */
export class PlaceAtPosition {
  private position: bigint | undefined;
  private count = 0;

  of(position: bigint): number {
    if (position !== this.position) {
      this.position = position;
      this.count = 0;
    }
    return this.count++;
  }

  reset(): void {
    this.position = undefined;
    this.count = 0;
  }
}
