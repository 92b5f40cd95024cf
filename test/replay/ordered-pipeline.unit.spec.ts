import { expect } from 'chai';

import { OrderedPipeline } from '../../src/replay/ordered-pipeline.js';

/** A task whose result comes when the test says. */
class Deferred<T> {
  resolve!: (value: T) => void;
  readonly promise = new Promise<T>((resolve) => (this.resolve = resolve));
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe(OrderedPipeline.name, () => {
  it('hands results on in the order tasks were pushed, whatever order they finish in', async () => {
    const sunk: number[] = [];
    const pipeline = new OrderedPipeline<number>(8, (n) => sunk.push(n));
    const tasks = [new Deferred<number>(), new Deferred<number>(), new Deferred<number>()];
    for (const task of tasks) await pipeline.push(() => task.promise);
    tasks[2]!.resolve(2);
    tasks[1]!.resolve(1);
    await turn();
    expect(sunk).to.deep.equal([]); // the first has not finished: nothing may pass it
    tasks[0]!.resolve(0);
    await pipeline.drain();
    expect(sunk).to.deep.equal([0, 1, 2]);
  });

  it('runs at most `width` tasks at once: push waits for the oldest', async () => {
    const pipeline = new OrderedPipeline<number>(2, () => undefined);
    const first = new Deferred<number>();
    await pipeline.push(() => first.promise);
    let started = 0;
    const second = pipeline.push(async () => ++started);
    let pushed = false;
    void second.then(() => (pushed = true));
    await turn();
    expect(started).to.equal(1);
    expect(pushed).to.equal(false); // two running: the push waits until the first is handed on
    first.resolve(0);
    await second;
    expect(pushed).to.equal(true);
  });

  it('drains nothing when nothing was pushed', async () => {
    const sunk: number[] = [];
    await new OrderedPipeline<number>(4, (n) => sunk.push(n)).drain();
    expect(sunk).to.deep.equal([]);
  });
});
