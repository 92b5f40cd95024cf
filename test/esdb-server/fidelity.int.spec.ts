import {
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  START,
  type EventStoreDBClient,
  type PersistentSubscriptionToAllResolvedEvent,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMINS, UserStore } from '../../src/esdb-server/auth/users.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { collect, connect, eventually, freshStream, makeTestCerts } from './helpers.js';

/**
 * What the official client's own test suite (v6.2.1) showed differing from EventStoreDB: each
 * case here failed before the server did it EventStoreDB's way.
 */
const event = (i: number) => jsonEvent({ type: 'Numbered', data: { i } });

type Delivery = PersistentSubscriptionToStreamResolvedEvent | PersistentSubscriptionToAllResolvedEvent;

type Subscription = AsyncIterable<Delivery> & { ack(e: Delivery): Promise<void> };
const iterators = new WeakMap<Subscription, AsyncIterator<Delivery>>();

/**
 * Reads `subscription`, acking each delivery, until `until` holds; returns what was delivered.
 * One iterator per subscription, never broken out of (that would end the client's stream), so a
 * test can consume the same subscription again.
 */
async function consume(subscription: Subscription, until: (seen: Delivery[]) => boolean): Promise<Delivery[]> {
  let iterator = iterators.get(subscription);
  if (iterator === undefined) {
    iterator = subscription[Symbol.asyncIterator]();
    iterators.set(subscription, iterator);
  }
  const seen: Delivery[] = [];
  while (!until(seen)) {
    const next = await iterator.next();
    if (next.done === true) break;
    seen.push(next.value);
    await subscription.ack(next.value);
  }
  return seen;
}

describe('embedded EventStoreDB server: fidelity to EventStoreDB', function () {
  let dataDir: string;
  const servers: EmbeddedServer[] = [];
  const clients: EventStoreDBClient[] = [];
  const start = async (options: Parameters<typeof startEmbeddedServer>[0] = {}): Promise<EmbeddedServer> => {
    const server = await startEmbeddedServer(options);
    servers.push(server);
    return server;
  };
  const client = (connectionString: string): EventStoreDBClient => {
    const c = connect(connectionString);
    clients.push(c);
    return c;
  };

  beforeEach(function () {
    dataDir = mkdtempSync(join(tmpdir(), 'opx-fidelity-'));
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('Gossip', function () {
    it('answers the single node as leader, so esdb+discover:// and multi-host connection strings connect', async function () {
      const server = await start();
      const stream = freshStream();
      const discover = client(`esdb+discover://127.0.0.1:${server.port}?tls=false`);
      await discover.appendToStream(stream, event(1));
      const multiHost = client(`esdb://127.0.0.1:${server.port},localhost:${server.port}?tls=false`);
      await multiHost.appendToStream(stream, event(2));
      const read = await collect(client(server.connectionString).readStream(stream));
      expect(read.map((e) => (e.event!.data as { i: number }).i)).to.deep.equal([1, 2]);
    });
  });

  describe('system events at start', function () {
    it('writes an $epoch-information event each time the server starts, as EventStoreDB does when a node starts leading', async function () {
      const first = await start({ dataDir });
      const [epoch] = await collect(client(first.connectionString).readAll({ maxCount: 1 }));
      expect(epoch!.event!.streamId).to.equal('$epoch-information');
      expect(epoch!.event!.type).to.equal('$epoch-information');
      expect(epoch!.event!.data).to.include({ epochNumber: 0, prevEpochPosition: -1 });
      await first.close();
      const second = await start({ dataDir });
      const epochs = await collect(client(second.connectionString).readStream('$epoch-information'));
      expect(epochs.map((e) => (e.event!.data as { epochNumber: number }).epochNumber)).to.deep.equal([0, 1]);
    });
  });

  describe('persistent subscriptions', function () {
    it('accepts a checkpoint lower bound above the upper bound, as EventStoreDB does', async function () {
      const server = await start();
      const c = client(server.connectionString);
      const stream = freshStream();
      await c.createPersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ checkPointLowerBound: 20, checkPointUpperBound: 10 }));
      const info = await c.getPersistentSubscriptionToStreamInfo(stream, 'g');
      expect(info.settings).to.include({ checkPointLowerBound: 20, checkPointUpperBound: 10 });
    });

    it('records the configuration as $PersistentConfig events in $persistentSubscriptionConfig after create, update and delete', async function () {
      const server = await start();
      const c = client(server.connectionString);
      const stream = freshStream();
      const config = async () => {
        const [last] = await collect(c.readStream('$persistentSubscriptionConfig', { direction: 'backwards', fromRevision: 'end', maxCount: 1 }));
        expect(last!.event!.type).to.equal('$PersistentConfig');
        return last!.event!.data as { version: string; entries: { stream: string; group: string; maxRetryCount: number }[] };
      };
      await c.createPersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ maxRetryCount: 3 }));
      expect((await config()).entries).to.deep.equal([
        {
          ...(await config()).entries[0],
          stream,
          group: 'g',
          maxRetryCount: 3,
        },
      ]);
      expect((await config()).version).to.equal('2');
      await c.updatePersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ maxRetryCount: 7 }));
      expect((await config()).entries.map((e) => e.maxRetryCount)).to.deep.equal([7]);
      await c.deletePersistentSubscriptionToStream(stream, 'g');
      expect((await config()).entries).to.deep.equal([]);
      expect((await c.getStreamMetadata('$persistentSubscriptionConfig')).metadata).to.deep.include({ maxCount: 2 });
    });

    it('writes each checkpoint as a $SubscriptionCheckpoint event to $persistentsubscription-<stream>::<group>-checkpoint', async function () {
      const server = await start();
      const c = client(server.connectionString);
      const stream = freshStream();
      await c.appendToStream(stream, [0, 1, 2, 3].map(event));
      await c.createPersistentSubscriptionToStream(
        stream,
        'g',
        persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, checkPointLowerBound: 1, checkPointUpperBound: 1, checkPointAfter: 100 }),
      );
      const subscription = c.subscribeToPersistentSubscriptionToStream(stream, 'g');
      await consume(subscription, (seen) => seen.length === 4);
      const checkpointStream = `$persistentsubscription-${stream}::g-checkpoint`;
      const last = await eventually(async () => {
        const [e] = await collect(c.readStream(checkpointStream, { direction: 'backwards', fromRevision: 'end', maxCount: 1 })).catch(() => []);
        return e?.event?.data === '3' ? e : undefined;
      });
      expect(last.event!.type).to.equal('$SubscriptionCheckpoint');
      await subscription.unsubscribe();
      expect((await c.getStreamMetadata(checkpointStream)).metadata).to.deep.include({ maxCount: 2 });
      await c.deletePersistentSubscriptionToStream(stream, 'g');
      await expect(collect(c.readStream(checkpointStream))).to.be.rejectedWith(/not found/i);
    });

    it("gives a $all group without a filter neither $epoch-information nor its own checkpoints, like EventStoreDB's default $all filter", async function () {
      const server = await start();
      const c = client(server.connectionString);
      await c.createPersistentSubscriptionToAll(
        'all-group',
        persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START, checkPointLowerBound: 1, checkPointUpperBound: 1, checkPointAfter: 100 }),
      );
      const stream = freshStream();
      await c.appendToStream(stream, [0, 1, 2].map(event));
      const subscription = c.subscribeToPersistentSubscriptionToAll('all-group');
      await consume(subscription, (seen) => seen.filter((d) => d.event?.streamId === stream).length === 3);
      await eventually(async () => ((await c.getPersistentSubscriptionToAllInfo('all-group')).stats.lastCheckpointedEventPosition !== undefined ? true : undefined));
      await c.appendToStream(stream, event(3));
      const after = await consume(subscription, (seen) => seen.some((d) => d.event?.streamId === stream));
      await subscription.unsubscribe();
      const everything = await collect(c.readAll());
      expect(everything.map((e) => e.event!.streamId)).to.include.members(['$epoch-information', '$persistentsubscription-$all::all-group-checkpoint']);
      expect(after.map((d) => d.event!.streamId)).to.not.include.members(['$epoch-information', '$persistentsubscription-$all::all-group-checkpoint']);
      // what EventStoreDB does deliver: the checkpoint stream's metadata (a `$$` stream), then the event
      expect(after.map((d) => d.event!.streamId)).to.deep.equal(['$$$persistentsubscription-$all::all-group-checkpoint', stream]);
    });

    it('reports per-connection extraStatistics (message timings) when the group asks for them', async function () {
      const server = await start();
      const c = client(server.connectionString);
      const stream = freshStream();
      await c.appendToStream(stream, [0, 1].map(event));
      await c.createPersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, extraStatistics: true }));
      const subscription = c.subscribeToPersistentSubscriptionToStream(stream, 'g');
      await consume(subscription, (seen) => seen.length === 2);
      const info = await eventually(async () => {
        const found = await c.getPersistentSubscriptionToStreamInfo(stream, 'g');
        return found.connections.length === 1 ? found : undefined;
      });
      const statistics = info.connections[0]!.extraStatistics!;
      expect([...statistics.keys()]).to.include.members(['mean', 'median', 'fastest', 'quintile 1', 'quintile 3', 'quintile 5', '90%', '99.9%', 'highest']);
      await subscription.unsubscribe();
    });

    it("reports a connection's user name", async function () {
      const certDir = mkdtempSync(join(tmpdir(), 'opx-certs-'));
      try {
        const certs = makeTestCerts(certDir);
        const users = new UserStore([]);
        users.add('admin', 'admin-secret', [ADMINS]);
        const server = await start({ users, tls: certs });
        const c = client(`esdb://admin:admin-secret@127.0.0.1:${server.port}?tls=true&tlsCAFile=${encodeURIComponent(certs.caFile)}`);
        const stream = freshStream();
        await c.appendToStream(stream, event(0));
        await c.createPersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START }));
        const subscription = c.subscribeToPersistentSubscriptionToStream(stream, 'g');
        await consume(subscription, (seen) => seen.length === 1);
        const info = await c.getPersistentSubscriptionToStreamInfo(stream, 'g');
        expect(info.connections.map((connection) => connection.username)).to.deep.equal(['admin']);
        await subscription.unsubscribe();
      } finally {
        rmSync(certDir, { recursive: true, force: true });
      }
    });
  });
});
