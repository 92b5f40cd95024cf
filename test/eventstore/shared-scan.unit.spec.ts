import { expect } from 'chai';

import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { shareScan, type ScanConsumer } from '../../src/eventstore/shared-scan.js';

/** A store of `count` events over three kinds of stream, counting the `$all` reads and the events they yield. */
class CountingStore extends InMemoryEventStore {
  readonly reads: Array<readonly string[] | undefined> = [];
  yielded = 0;

  static async of(count: number): Promise<CountingStore> {
    const store = new CountingStore();
    for (let i = 0; i < count; i++) {
      const stream = ['a-', 'b-', 'c-'][i % 3] as string;
      await store.append(`${stream}${i}`, [{ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, type: 'Happened', data: { i }, metadata: {} }], 'no_stream');
    }
    return store;
  }

  override async *readAll(options: { readonly streamPrefixes?: readonly string[] } = {}): AsyncIterable<RecordedEvent> {
    this.reads.push(options.streamPrefixes);
    for await (const event of super.readAll(options)) {
      this.yielded++;
      yield event;
    }
  }

  /** Every event of the store on streams with these prefixes, in order (read around the counters). */
  async expected(prefixes?: readonly string[]): Promise<number[]> {
    const out: number[] = [];
    for await (const event of super.readAll(prefixes === undefined ? {} : { streamPrefixes: prefixes })) out.push(Number(event.position));
    return out;
  }
}

const read = (store: CountingStore) => (streamPrefixes: readonly string[] | undefined) => store.readAll(streamPrefixes === undefined ? {} : { streamPrefixes });

/** A consumer collecting the positions of what it is given. */
const collecting = (streamPrefixes?: readonly string[]): ScanConsumer<number[]> => ({
  ...(streamPrefixes === undefined ? {} : { streamPrefixes }),
  consume: async (events) => {
    const out: number[] = [];
    for await (const event of events) out.push(Number(event.position));
    return out;
  },
});

describe(shareScan.name, () => {
  it('gives each consumer the events of its own streams in order, from one read of the union', async () => {
    const store = await CountingStore.of(2_000);
    const [a, ab, all] = await shareScan<[number[], number[], number[]]>(read(store), [collecting(['a-']), collecting(['a-', 'b-']), collecting()], { batch: 64, ahead: 2 });
    expect(a).to.deep.equal(await store.expected(['a-']));
    expect(ab).to.deep.equal(await store.expected(['a-', 'b-']));
    expect(all).to.deep.equal(await store.expected()).and.have.length(2_000);
    expect(store.reads).to.deep.equal([undefined]);
  });

  it('reads only the union of the prefixes when no consumer wants everything', async () => {
    const store = await CountingStore.of(300);
    const [a, b] = await shareScan<[number[], number[]]>(read(store), [collecting(['a-']), collecting(['b-'])]);
    expect(store.reads).to.deep.equal([['a-', 'b-']]);
    expect(a).to.have.length(100);
    expect(b).to.have.length(100);
  });

  it('reads no further ahead of the slowest consumer than its window (memory bounded whatever the length)', async () => {
    const store = await CountingStore.of(5_000);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let readWhenStalled = -1;
    const slow: ScanConsumer<number> = {
      consume: async (events) => {
        let n = 0;
        for await (const _ of events) {
          if (++n === 10) {
            await new Promise((resolve) => setTimeout(resolve, 20)); // let the read run as far as it may
            readWhenStalled = store.yielded;
            await gate;
          }
        }
        return n;
      },
    };
    const done = shareScan<[number, number[]]>(read(store), [slow, collecting()], { batch: 100, ahead: 3 });
    while (readWhenStalled < 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // the batch being read, the one taken, and `ahead` waiting: nothing more
    expect(readWhenStalled).to.be.at.most(100 * (3 + 2)).and.at.least(100);
    release();
    const [count, fast] = await done;
    expect(count).to.equal(5_000);
    expect(fast).to.have.length(5_000);
  });

  it('ends every other consumer with the error of one that fails, and rejects with it', async () => {
    const store = await CountingStore.of(3_000);
    let otherError: unknown;
    const failing: ScanConsumer<never> = {
      consume: async (events) => {
        let n = 0;
        for await (const _ of events) if (++n === 500) throw new Error('consumer broke');
        throw new Error('unreachable');
      },
    };
    const other: ScanConsumer<number> = {
      consume: async (events) => {
        let n = 0;
        try {
          for await (const _ of events) n++;
        } catch (error) {
          otherError = error;
        }
        return n;
      },
    };
    await expect(shareScan(read(store), [other, failing], { batch: 50, ahead: 1 })).to.be.rejectedWith('consumer broke');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((otherError as Error | undefined)?.message).to.equal('consumer broke');
    expect(store.yielded).to.be.below(3_000);
  });

  it('ends every consumer with the error of a read that fails', async () => {
    async function* failingRead(): AsyncGenerator<RecordedEvent> {
      const store = await CountingStore.of(10);
      yield* store.readAll();
      throw new Error('store unavailable');
    }
    const consumers = [collecting(), collecting()] as const;
    await expect(shareScan(() => failingRead(), consumers, { batch: 4 })).to.be.rejectedWith('store unavailable');
  });

  it('lets a consumer go when it stops early or never reads, and the others read to the end', async () => {
    const store = await CountingStore.of(2_000);
    const stopsEarly: ScanConsumer<number> = {
      consume: async (events) => {
        let n = 0;
        for await (const _ of events) if (++n === 7) break;
        return n;
      },
    };
    const neverReads: ScanConsumer<string> = { consume: async () => 'nothing read' };
    const [early, none, all] = await shareScan<[number, string, number[]]>(read(store), [stopsEarly, neverReads, collecting()], { batch: 10, ahead: 1 });
    expect(early).to.equal(7);
    expect(none).to.equal('nothing read');
    expect(all).to.have.length(2_000);
  });

  it('stops reading once every consumer has let go', async () => {
    const store = await CountingStore.of(5_000);
    const firstOnly: ScanConsumer<number> = {
      consume: async (events) => {
        for await (const event of events) return Number(event.position);
        return -1;
      },
    };
    await shareScan(read(store), [firstOnly, firstOnly], { batch: 10, ahead: 1 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.yielded).to.be.below(100);
  });
});
