import { expect } from 'chai';
import { CommitQueue } from '../../src/esdb-server/commit-queue.js';
import type { StorageEngine } from '../../src/esdb-server/storage/engine.js';

/** An engine that only counts: each commit's writes, and flushes that end when the test says (a disk that takes its time). */
class CountingEngine {
  readonly groupCommit = true;
  readonly batches: number[] = [];
  readonly #flushes: Array<() => void> = [];
  #current = 0;

  transaction<T>(work: () => T): T {
    return work();
  }

  transactionBeforeFlush<T>(work: () => T): T {
    this.#current = 0;
    const result = work();
    this.batches.push(this.#current);
    return result;
  }

  write(): void {
    this.#current++;
  }

  flush(): Promise<void> {
    return new Promise((resolve) => this.#flushes.push(resolve));
  }

  /** What {@link commitGate} gives after the next flush (a checkpoint's tail the next commit must wait for), and its release. */
  gate: Promise<void> | undefined;

  commitGate(): Promise<void> | undefined {
    const gate = this.gate;
    this.gate = undefined;
    return gate;
  }

  /** Lets the oldest flush under way land. */
  land(): void {
    this.#flushes.shift()?.();
  }

  get flushing(): number {
    return this.#flushes.length;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const after = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fast disk: each flush lands a millisecond or so after it starts, until the returned stop is awaited. */
function fastDisk(engine: CountingEngine): () => Promise<void> {
  let done = false;
  const landing = (async () => {
    while (!done) {
      engine.land();
      await after(1);
    }
  })();
  return async () => {
    done = true;
    await landing;
  };
}

describe(CommitQueue.name, function () {
  describe('when writers send their next write a round trip after their acknowledgement', function () {
    it('waits for the writers the landing flush acknowledged, not only for as many as that flush held', async function () {
      const engine = new CountingEngine();
      // a generous cap: what is tested is whom the commit waits for, not how long
      const queue = new CommitQueue(engine as unknown as StorageEngine, { maxFlushHoldMs: 1_000 });
      // each writer, once acknowledged, writes again a millisecond later (its round trip)
      const writer = async (writes: number): Promise<void> => {
        for (let i = 0; i < writes; i++) {
          await queue.run(() => engine.write());
          await after(1);
        }
      };
      const firstHalf = Array.from({ length: 4 }, () => writer(3));
      await tick();
      expect(engine.batches).to.deep.equal([4]);
      // the other four arrive while the first commit's flush is under way
      const secondHalf = Array.from({ length: 4 }, () => writer(2));
      await after(20);
      expect(engine.batches).to.deep.equal([4]);
      engine.land();
      // the four queued are not committed on their own: the four just acknowledged come back first
      while (engine.flushing === 0) await after(1);
      expect(engine.batches).to.deep.equal([4, 8]);
      engine.land();
      while (engine.flushing === 0) await after(1);
      expect(engine.batches).to.deep.equal([4, 8, 8]);
      engine.land();
      await Promise.all([...firstHalf, ...secondHalf]);
    });

    it('waits for writers whose round trip is longer than a commit takes', async function () {
      const engine = new CountingEngine();
      const queue = new CommitQueue(engine as unknown as StorageEngine, { maxFlushHoldMs: 1_000 });
      const stopDisk = fastDisk(engine);
      // slow clients: writer i sends its next write 20 + i ms after its acknowledgement
      const writer = async (i: number): Promise<void> => {
        for (let n = 0; n < 4; n++) {
          await queue.run(() => engine.write());
          await after(20 + i);
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => writer(i)));
      await stopDisk();
      // holding for one commit's duration committed the first writer back alone, then the other
      // seven: once the first writer's return is timed, each commit waits for all eight
      expect(engine.batches).to.deep.equal([8, 8, 8, 8]);
    });

    it('stops waiting for a writer that left', async function () {
      const engine = new CountingEngine();
      const queue = new CommitQueue(engine as unknown as StorageEngine);
      const stopDisk = fastDisk(engine);
      // eight writers 3 ms away; the last stops after its second write
      const writer = async (writes: number): Promise<void> => {
        for (let n = 0; n < writes; n++) {
          await queue.run(() => engine.write());
          await after(3);
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => writer(i === 7 ? 2 : 12)));
      await stopDisk();
      expect(engine.batches.slice(-5)).to.deep.equal([7, 7, 7, 7, 7]);
      // a hold or two for it, not one per commit
      expect(queue.stats().holds).to.be.at.most(3);
    });

    it('commits a lone writer at once, without holding', async function () {
      const engine = new CountingEngine();
      const queue = new CommitQueue(engine as unknown as StorageEngine, { maxFlushHoldMs: 1_000 });
      const first = queue.run(() => engine.write());
      await tick();
      engine.land();
      await first;
      const second = queue.run(() => engine.write());
      while (engine.flushing === 0) await tick();
      expect(engine.batches).to.deep.equal([1, 1]);
      engine.land();
      await second;
      expect(queue.stats()).to.include({ commits: 2, writes: 2, holds: 0 });
    });
  });

  it("answers a commit's writers once it is on disk, but starts the next commit only when the engine's gate opens", async function () {
    const engine = new CountingEngine();
    const queue = new CommitQueue(engine as unknown as StorageEngine, { maxFlushHoldMs: 0 });
    let open = (): void => {};
    engine.gate = new Promise((resolve) => (open = resolve));
    const first = queue.run(() => engine.write());
    await tick();
    engine.land();
    await first; // answered while the gate is shut
    const second = queue.run(() => engine.write());
    for (let i = 0; i < 5; i++) await tick();
    expect(engine.batches).to.deep.equal([1]);
    open();
    while (engine.flushing === 0) await tick();
    expect(engine.batches).to.deep.equal([1, 1]);
    engine.land();
    await second;
    expect(queue.stats()).to.include({ commits: 2, gated: 1 });
  });
});
