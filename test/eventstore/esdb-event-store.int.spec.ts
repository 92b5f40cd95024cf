import { expect } from 'chai';

import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { StoreUnavailable } from '../../src/shared/errors.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { collect, describeEventStoreContract, events, freshStreamId } from './event-store.contract.js';

describeEventStoreContract(`${EsdbEventStore.name} over the embedded server`, async () =>
  EsdbEventStore.fromConnectionString((await sharedEmbeddedServer()).connectionString),
);

const realConnectionString = process.env['EVENTSTORE_CONNECTION_STRING'];
if (realConnectionString !== undefined && realConnectionString !== '') {
  describeEventStoreContract(`${EsdbEventStore.name} over EventStoreDB`, () =>
    EsdbEventStore.fromConnectionString(realConnectionString),
  );
} else {
  console.log('EVENTSTORE_CONNECTION_STRING not set: contract suite against real EventStoreDB skipped');
  describe.skip(`${EsdbEventStore.name} over EventStoreDB (EVENTSTORE_CONNECTION_STRING not set)`, () => {
    it('passes the EventStore contract');
  });
}

describe(`${EsdbEventStore.name} when the server cannot be reached`, () => {
  let store: EsdbEventStore;

  before(() => {
    // Port 1 on the loopback interface: nothing listens there, the connection is refused.
    store = EsdbEventStore.fromConnectionString('esdb://127.0.0.1:1?tls=false');
  });

  after(async () => {
    await store.close();
  });

  it('rejects an append with StoreUnavailable, keeping the client error as cause', async () => {
    const error: unknown = await expect(store.append(freshStreamId('down'), events(1), 'any')).to.be.rejectedWith(
      StoreUnavailable,
    );
    expect((error as StoreUnavailable).cause).to.be.instanceOf(Error);
  });

  it('fails a read with StoreUnavailable', async () => {
    await expect(collect(store.readStream(freshStreamId('down')))).to.be.rejectedWith(StoreUnavailable);
    await expect(collect(store.readAll({ maxCount: 1 }))).to.be.rejectedWith(StoreUnavailable);
  });
});
