import { expect } from 'chai';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

import type { EventReader, ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { announceOpened, BATCH_SIZE, BATCHES_AHEAD, PortEventReader, serveReads } from '../../src/eventstore/threaded/port-reads.js';
import { OpxError, StoreUnavailable } from '../../src/shared/errors.js';
import { collect, events } from './event-store.contract.js';

/** A store served on one end of a channel and read on the other, in this thread (the CLI puts the two in threads). */
async function served(store: EventReader): Promise<{ reader: PortEventReader; stop: () => void; ports: MessagePort[] }> {
  const { port1, port2 } = new MessageChannel();
  const stop = serveReads(port1, store);
  announceOpened(port1);
  return { reader: await PortEventReader.connect(port2), stop, ports: [port1, port2] };
}

/** A reader of `inner` that counts what has been pulled from it (how far the serving side read ahead). */
class CountingReader implements EventReader {
  pulled = 0;

  constructor(private readonly inner: EventReader) {}

  readStream(streamId: string): AsyncIterable<RecordedEvent> {
    return this.inner.readStream(streamId);
  }

  async *readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    for await (const event of this.inner.readAll(options)) {
      this.pulled++;
      yield event;
    }
  }
}

/** Events in the served store: many batches, the last one short. */
const TOTAL = 8 * BATCH_SIZE + 17;

const key = (e: RecordedEvent): string => `${e.streamId}@${e.revision}#${e.position}:${e.type}:${e.id}`;

describe('reads served across a MessagePort (the replay reader thread)', () => {
  let store: InMemoryEventStore;
  const closers: Array<() => void> = [];

  before(async () => {
    store = new InMemoryEventStore();
    for (let i = 0; i < TOTAL; i++) await store.append(`${i % 2 === 0 ? 'candidate' : 'incident'}-${i % 7}`, events(1), 'any');
  });

  after(() => {
    for (const close of closers) close();
  });

  const open = async (source: EventReader = store): Promise<PortEventReader> => {
    const { reader, stop, ports } = await served(source);
    closers.push(stop, () => ports.forEach((p) => p.close()));
    return reader;
  };

  it('reads $all and streams exactly as the store does: order, positions, revisions, payloads and every option', async () => {
    const reader = await open();
    const all = await collect(store.readAll());
    const through = await collect(reader.readAll());
    expect(through.map(key)).to.deep.equal(all.map(key));
    expect(through.map((e) => e.data)).to.deep.equal(all.map((e) => e.data));
    expect(through[0]?.created).to.be.instanceOf(Date).and.deep.equal(all[0]?.created);
    const after = all[100]?.position as bigint;
    for (const options of [{ streamPrefixes: ['incident-'] }, { after }, { after, maxCount: 300 }, { maxCount: 0 }, { streamPrefixes: ['nothing-'] }]) {
      expect((await collect(reader.readAll(options))).map(key), JSON.stringify(options, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).to.deep.equal(
        (await collect(store.readAll(options))).map(key),
      );
    }
    for (const options of [{}, { fromRevision: 5n }, { direction: 'backwards' as const, maxCount: 3 }]) {
      expect((await collect(reader.readStream('candidate-2', options))).map(key)).to.deep.equal((await collect(store.readStream('candidate-2', options))).map(key));
    }
    expect(await collect(reader.readStream('no-such-stream'))).to.deep.equal([]);
  });

  it('keeps several reads open at once, each in its own order', async () => {
    const reader = await open();
    const [a, b, c] = await Promise.all([collect(reader.readAll()), collect(reader.readAll({ streamPrefixes: ['candidate-'] })), collect(reader.readStream('incident-3'))]);
    expect(a.map(key)).to.deep.equal((await collect(store.readAll())).map(key));
    expect(b.map(key)).to.deep.equal((await collect(store.readAll({ streamPrefixes: ['candidate-'] }))).map(key));
    expect(c.map(key)).to.deep.equal((await collect(store.readStream('incident-3'))).map(key));
  });

  it('reads at most a few batches ahead of the reader, and stops reading when the reader leaves early', async () => {
    const counting = new CountingReader(store);
    const reader = await open(counting);
    const iterator = reader.readAll()[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // taken (1) + posted ahead (BATCHES_AHEAD + 1, the credit) + the one being filled (1)
    expect(counting.pulled).to.be.at.most((BATCHES_AHEAD + 3) * BATCH_SIZE);
    expect(counting.pulled).to.be.below(TOTAL);
    await iterator.return?.();
    const pulledWhenLeft = counting.pulled;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counting.pulled).to.be.at.most(pulledWhenLeft + BATCH_SIZE);
    // the port still serves new reads after one was left
    expect(await collect(reader.readStream('candidate-0'))).to.have.length((await collect(store.readStream('candidate-0'))).length);
  });

  it('starts nothing for an iterator returned before its first next(), so nothing is left reading', async () => {
    const counting = new CountingReader(store);
    const reader = await open(counting);
    const iterator = reader.readAll()[Symbol.asyncIterator]();
    await iterator.return?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counting.pulled).to.equal(0);
    expect(await collect(reader.readStream('candidate-1'))).to.have.length((await collect(store.readStream('candidate-1'))).length);
  });

  it('stops pulling from its source as soon as the reader cancels, without filling the batch', async () => {
    let pulled = 0;
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: EventReader = {
      readStream: () => store.readStream('candidate-0'),
      readAll: async function* () {
        for await (const event of store.readAll()) {
          pulled++;
          yield event;
          if (pulled === BATCH_SIZE + 1) await gate; // the second batch has just begun
        }
      },
    };
    const reader = await open(slow);
    const iterator = reader.readAll()[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await iterator.return?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pulled).to.be.at.most(BATCH_SIZE + 2);
  });

  it("rethrows a read's failure on the reading side with its code", async () => {
    const failing: EventReader = {
      readStream: () => store.readStream('candidate-0'),
      // eslint-disable-next-line require-yield
      readAll: async function* () {
        throw new StoreUnavailable('EventStoreDB went away');
      },
    };
    const reader = await open(failing);
    const error = await collect(reader.readAll()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(OpxError.hasCode(error, StoreUnavailable.code), String(error)).to.equal(true);
    expect((error as Error).message).to.include('EventStoreDB went away');
    expect(await collect(reader.readStream('x'))).to.have.length.greaterThan(0);
  });

  it('ends a read still open with an error when the reader is closed', async () => {
    const { reader, stop, ports } = await served(store);
    closers.push(stop, () => ports.forEach((p) => p.close()));
    const iterator = reader.readAll()[Symbol.asyncIterator]();
    expect((await iterator.next()).done).to.equal(false);
    reader.close();
    const error = await (async () => {
      for (let i = 0; i < TOTAL; i++) if ((await iterator.next()).done === true) return undefined;
      return undefined;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error | undefined)?.message).to.equal('the read port was closed');
  });

  it('fails to connect with the serving side’s failure to open its store, code kept', async () => {
    const { port1, port2 } = new MessageChannel();
    announceOpened(port1, new StoreUnavailable('esdb://127.0.0.1:1 is unavailable'));
    const error = await PortEventReader.connect(port2).then(
      () => undefined,
      (e: unknown) => e,
    );
    port1.close();
    expect(OpxError.hasCode(error, StoreUnavailable.code)).to.equal(true);
    expect((error as Error).message).to.include('unavailable');
  });
});
