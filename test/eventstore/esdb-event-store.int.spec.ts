import type { EventStoreDBClient } from '@eventstore/db-client';
import { expect } from 'chai';

import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.js';
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

describe(`${EsdbEventStore.name} closing`, () => {
  it("lets go of a client whose dispose() never finishes (a call broken by a restarted server) after its timeout", async () => {
    let disposeCalled = false;
    const stuck = { dispose: () => ((disposeCalled = true), new Promise<void>(() => undefined)) } as unknown as EventStoreDBClient;
    const store = new EsdbEventStore(stuck, { disposeTimeoutMs: 50 });
    await store.close(); // without the bound this never resolves, and mocha's timeout fails the test
    expect(disposeCalled).to.equal(true);
  });

  it('waits for a client that disposes in time', async () => {
    let disposed = false;
    const client = { dispose: () => new Promise<void>((resolve) => setTimeout(() => resolve(void (disposed = true)), 20)) } as unknown as EventStoreDBClient;
    await new EsdbEventStore(client, { disposeTimeoutMs: 60_000 }).close();
    expect(disposed).to.equal(true);
  });
});

describe(`${EsdbEventStore.name} paging through $all`, () => {
  let server: EmbeddedServer;
  let paged: EsdbEventStore;
  let whole: EsdbEventStore;

  before(async () => {
    server = await startEmbeddedServer({ insecure: true });
    whole = EsdbEventStore.fromConnectionString(server.connectionString);
    paged = EsdbEventStore.fromConnectionString(server.connectionString, { readAllPageSize: 2 });
    for (let i = 0; i < 11; i++) await whole.append(`${['alpha', 'beta', 'gamma'][i % 3] as string}-paging`, events(1), 'any');
    await whole.setStreamMetadata('beta-paging', { maxCount: 100 }); // a system event ($$beta-paging) among them
    await whole.append('alpha-paging', events(2), 'any');
  });

  after(async () => {
    await Promise.all([paged.close(), whole.close()]);
    await server.close();
  });

  const ids = (recorded: readonly RecordedEvent[]): string[] => recorded.map((e) => `${e.streamId}@${e.revision}:${e.id}`);

  it('reads every event once, in order, a page at a time, with or without a prefix, after a position, up to a count', async () => {
    const all = await collect(whole.readAll());
    expect(all).to.have.length(13);
    expect(ids(await collect(paged.readAll()))).to.deep.equal(ids(all));
    expect(ids(await collect(paged.readAll({ streamPrefixes: ['beta', 'gamma'] })))).to.deep.equal(ids(all.filter((e) => !e.streamId.startsWith('alpha'))));
    const after = all[4]?.position as bigint;
    expect(ids(await collect(paged.readAll({ after })))).to.deep.equal(ids(all.slice(5)));
    expect(ids(await collect(paged.readAll({ after, maxCount: 4 })))).to.deep.equal(ids(all.slice(5, 9)));
    expect(ids(await collect(paged.readAll({ streamPrefixes: ['alpha'], maxCount: 3 })))).to.deep.equal(ids(all.filter((e) => e.streamId.startsWith('alpha')).slice(0, 3)));
  });

  it('refuses a page size under 2 (a page starts at the event the one before ended on) or not an integer', () => {
    for (const readAllPageSize of [1, 0, -1, 2.5]) expect(() => EsdbEventStore.fromConnectionString(server.connectionString, { readAllPageSize })).to.throw(RangeError, /readAllPageSize/);
  });
});
