import { expect } from 'chai';

import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { anEvent, collect, describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract(InMemoryEventStore.name, () => new InMemoryEventStore());

describe(`${InMemoryEventStore.name} readAll`, () => {
  it('reads the log as it grows: an event appended during a read is read by it', async () => {
    const store = new InMemoryEventStore();
    await store.append('s-1', [anEvent('First')], 'no_stream');
    const types: string[] = [];
    for await (const recorded of store.readAll()) {
      types.push(recorded.type);
      if (recorded.type === 'First') await store.append('s-2', [anEvent('Second')], 'no_stream');
    }
    expect(types).to.deep.equal(['First', 'Second']);
  });

  it('checks the store is open when the read starts, not when it is asked for', async () => {
    const store = new InMemoryEventStore();
    await store.append('s-1', [anEvent()], 'no_stream');
    const read = store.readAll();
    await store.close();
    await expect(collect(read)).to.be.rejectedWith('InMemoryEventStore is closed');
  });

  it('ends for good once broken off or read to the end, whatever is appended later', async () => {
    const store = new InMemoryEventStore();
    await store.append('s-1', [anEvent(), anEvent()], 'no_stream');
    const iterator = store.readAll()[Symbol.asyncIterator]();
    expect((await iterator.next()).done).to.equal(false);
    await iterator.return?.();
    await store.append('s-2', [anEvent()], 'no_stream');
    expect((await iterator.next()).done).to.equal(true);

    const toEnd = store.readAll({ maxCount: 1 })[Symbol.asyncIterator]();
    expect((await toEnd.next()).done).to.equal(false);
    expect((await toEnd.next()).done).to.equal(true);
    await store.append('s-3', [anEvent()], 'no_stream');
    expect((await toEnd.next()).done).to.equal(true);
  });
});
