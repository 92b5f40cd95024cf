import { expect } from 'chai';

import { OutputCursor, PlaceAtPosition } from '../../src/correlation/output-cursor.js';
import type { EventReader, ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.js';

const event = (streamId: string, position: bigint): RecordedEvent => ({
  id: `${streamId}@${position}`,
  type: 'SignalCorrelated',
  streamId,
  revision: 0n,
  position,
  data: {},
  metadata: {},
  created: new Date(0),
});

/** $all as EventStoreDB gives it: the two events of one append share commit position 7. */
const ALL = [event('correlation-grp-a', 5n), event('correlation-grp-b', 7n), event('correlation-grp-c', 7n), event('correlation-grp-d', 9n)];

const source: EventReader = {
  async *readStream(): AsyncIterable<RecordedEvent> {},
  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    for (const e of ALL) if (options.after === undefined || e.position > options.after) yield e;
  },
};

describe(OutputCursor.name, () => {
  it('passes over exactly the outputs it compared, told apart by their place when they share a position', async () => {
    const cursor = new OutputCursor(source);
    let met = 0;
    // it compares the second event at position 7 only (the first is not held)
    await cursor.advance(5n, (e) => e.streamId === 'correlation-grp-c', () => ++met > 3, 10);
    await cursor.close();
    const place = new PlaceAtPosition();
    const passed = ALL.slice(1).map((e) => cursor.passes(e.position, place.of(e.position)));
    expect(passed).to.deep.equal([false, true, false]);
  });

  it('reads on from where the scan is, never from before it', async () => {
    const read: string[] = [];
    const cursor = new OutputCursor(source);
    await cursor.advance(7n, (e) => (read.push(e.streamId), false), () => false, 10);
    expect(read).to.deep.equal(['correlation-grp-d']);
  });
});
