import { PassThrough } from 'node:stream';

import { expect } from 'chai';
import * as sinon from 'sinon';

import { closableStream } from '../../src/eventstore/esdb/closable-stream.js';

const objectStream = (): PassThrough => new PassThrough({ objectMode: true });

describe(closableStream.name, () => {
  it('yields the transformed items and completes when the source ends', async () => {
    const source = objectStream();
    const iterable = closableStream<number, string>(source, {
      cancel: async () => undefined,
      transform: (n) => (n % 2 === 0 ? `even ${n}` : undefined),
      mapError: (error) => error,
    });
    source.write(1);
    source.write(2);
    source.end(4);

    const items: string[] = [];
    for await (const item of iterable) items.push(item);

    expect(items).to.deep.equal(['even 2', 'even 4']);
  });

  it('reports an error emitted before iteration began, after the items received before it', async () => {
    const source = objectStream();
    const iterable = closableStream<number, number>(source, {
      cancel: async () => undefined,
      transform: (n) => n,
      mapError: (error) => new Error(`mapped: ${(error as Error).message}`),
    });
    source.write(1);
    source.emit('error', new Error('boom'));

    const iterator = iterable[Symbol.asyncIterator]();
    expect(await iterator.next()).to.deep.equal({ done: false, value: 1 });
    await expect(iterator.next()).to.be.rejectedWith(Error, 'mapped: boom');
  });

  it('completes a pending next() when closed and cancels the call once', async () => {
    const source = objectStream();
    const cancel = sinon.fake.resolves(undefined);
    const iterable = closableStream<number, number>(source, { cancel, transform: (n) => n, mapError: (e) => e });
    const iterator = iterable[Symbol.asyncIterator]();

    const pending = iterator.next();
    await iterable.close();

    expect(await pending).to.deep.equal({ done: true, value: undefined });
    expect(await iterator.next()).to.deep.equal({ done: true, value: undefined });
    expect(cancel.callCount).to.equal(1);
  });

  it('cancels the call when the consumer stops early', async () => {
    const source = objectStream();
    const cancel = sinon.fake.resolves(undefined);
    const iterable = closableStream<number, number>(source, { cancel, transform: (n) => n, mapError: (e) => e });
    source.write(1);
    source.write(2);

    for await (const item of iterable) {
      expect(item).to.equal(1);
      break;
    }

    expect(cancel.callCount).to.equal(1);
    expect(source.destroyed).to.equal(true);
  });

  it('pauses a source that runs ahead of its consumer and resumes it when drained', async () => {
    const source = objectStream();
    const iterable = closableStream<number, number>(source, {
      cancel: async () => undefined,
      transform: (n) => n,
      mapError: (e) => e,
      highWaterMark: 4,
    });
    for (let i = 0; i < 10; i++) source.write(i);
    source.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.isPaused()).to.equal(true);

    const items: number[] = [];
    for await (const item of iterable) items.push(item);

    expect(items).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
