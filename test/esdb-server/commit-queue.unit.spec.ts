import { expect } from 'chai';

import { CommitQueue } from '../../src/esdb-server/commit-queue.js';
import type { StorageEngine } from '../../src/esdb-server/storage/engine.js';

/** An engine whose commit takes `commitMs` of this thread, as a synchronous fsync does; it counts the writes of each commit. */
function slowEngine(commitMs: number): { engine: StorageEngine; batches: number[] } {
  const batches: number[] = [];
  const engine = {
    groupCommit: true,
    transaction(work: () => void): void {
      batches.push(0);
      work();
      const until = performance.now() + commitMs;
      while (performance.now() < until) {
        // the fsync
      }
    },
  } as unknown as StorageEngine;
  return { engine, batches };
}

const turns = (n: number): Promise<void> => (n <= 0 ? Promise.resolve() : new Promise<void>((resolve) => setImmediate(() => void turns(n - 1).then(resolve))));

/**
 * A connection that hands the server one write per event-loop turn, as grpc-js over TLS does
 * (each client's message decrypted on a turn of its own), in the order they were sent.
 */
class OneWritePerTurn {
  readonly #pending: Array<() => void> = [];
  #scheduled = false;

  send<T>(write: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push(() => void write().then(resolve, reject));
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pending.shift()?.();
      if (this.#pending.length > 0) this.#schedule();
    });
  }
}

async function writers(queue: CommitQueue, batches: number[], count: number, appends: number): Promise<void> {
  const wire = new OneWritePerTurn();
  await Promise.all(
    Array.from({ length: count }, async () => {
      for (let i = 0; i < appends; i++) await wire.send(() => queue.run(() => void (batches[batches.length - 1]! += 1)));
    }),
  );
}

describe(CommitQueue.name, function () {
  it('gathers concurrent writers into shared commits even when each write arrives on a turn of its own (TLS)', async function () {
    const { engine, batches } = slowEngine(3);
    await writers(new CommitQueue(engine), batches, 8, 30);
    const mean = batches.reduce((a, b) => a + b, 0) / batches.length;
    expect(batches.reduce((a, b) => a + b, 0)).to.equal(240);
    expect(mean, `batches ${batches.join(',')}`).to.be.above(1.5);
  });

  it('commits a lone writer without waiting, but for a rare probe', async function () {
    const { engine, batches } = slowEngine(3);
    const queue = new CommitQueue(engine);
    let held = 0;
    for (let i = 0; i < 200; i++) {
      let committed = false;
      const done = queue.run(() => void (committed = true));
      await turns(1); // a write is committed at the end of the turn it arrived on, unless held
      if (!committed) held += 1;
      await done;
    }
    expect(batches).to.have.length(200);
    // a hold is tried after 1, 2, 4 ... 64 commits: 8 tries in 200 writes
    expect(held).to.be.within(1, 10);
  });
});
