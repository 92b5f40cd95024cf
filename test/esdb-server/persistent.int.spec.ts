import {
  jsonEvent,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionExistsError,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  streamNameFilter,
  type EventStoreDBClient,
  type PersistentSubscriptionToStreamResolvedEvent,
  type PersistentSubscriptionToAllResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { EmbeddedServer } from '../../src/esdb-server/server.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { collect, connect, eventually, freshStream, once } from './helpers.js';

type Delivery = PersistentSubscriptionToStreamResolvedEvent | PersistentSubscriptionToAllResolvedEvent;

const event = (i: number) => jsonEvent({ type: 'Numbered', data: { i } });
const numberOf = (d: Delivery): number => (d.event!.data as { i: number }).i;

/** Short timeouts keep the suite fast; no test asserts on timings. */
const settings = (changes: Parameters<typeof persistentSubscriptionToStreamSettingsFromDefaults>[0] = {}) =>
  persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start', messageTimeout: 300, ...changes });

describe('embedded EventStoreDB server: persistent subscriptions', function () {
  let server: EmbeddedServer;
  let client: EventStoreDBClient;

  before(async function () {
    server = await sharedEmbeddedServer();
    client = connect(server.connectionString);
  });

  after(async function () {
    await client.dispose();
  });

  /**
   * Consumes with a handler until `until` holds, returning what was delivered meanwhile. It reads
   * through one shared iterator per subscription and never breaks out of it (breaking would
   * destroy the client's stream), so a test can consume the same subscription several times.
   */
  const iterators = new WeakMap<object, AsyncIterator<Delivery>>();
  async function consume(
    subscription: AsyncIterable<Delivery>,
    handle: (d: Delivery) => Promise<void>,
    until: (seen: Delivery[]) => boolean,
  ): Promise<Delivery[]> {
    let iterator = iterators.get(subscription);
    if (iterator === undefined) {
      iterator = subscription[Symbol.asyncIterator]();
      iterators.set(subscription, iterator);
    }
    const seen: Delivery[] = [];
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return seen;
      seen.push(next.value);
      await handle(next.value);
      if (until(seen)) return seen;
    }
  }

  it('delivers from the start, acks, and reports stats in getInfo', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1), event(2), event(3)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings({ checkPointLowerBound: 1, checkPointUpperBound: 1 }));
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    const seen = await consume(sub, (d) => sub.ack(d), (s) => s.length === 3);
    expect(seen.map(numberOf)).to.deep.equal([1, 2, 3]);
    expect(seen.map((d) => d.retryCount)).to.deep.equal([0, 0, 0]);
    const info = await eventually(async () => {
      const i = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
      return i.stats.lastCheckpointedEventRevision === 2n ? i : undefined;
    });
    expect(info.stats.totalItems).to.equal(3n);
    expect(info.settings.startFrom).to.equal('start');
    expect(info.connections).to.have.length(1);
    await sub.unsubscribe();
  });

  it('redelivers a nacked (retry) message with an increased retryCount', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings({ maxRetryCount: 5 }));
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    const seen = await consume(
      sub,
      (d) => (d.retryCount < 2 ? sub.nack('retry', 'try again', d) : sub.ack(d)),
      (s) => s.length === 3,
    );
    expect(seen.map((d) => [numberOf(d), d.retryCount])).to.deep.equal([
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    await sub.unsubscribe();
  });

  it('parks after maxRetryCount; the parked stream shows it; replayParked redelivers it', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1), event(2)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings({ maxRetryCount: 1 }));
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    // event 1 always fails; after retryCount 1 it is parked, event 2 is acked
    const seen = await consume(
      sub,
      (d) => (numberOf(d) === 1 ? sub.nack('retry', 'poison', d) : sub.ack(d)),
      (s) => s.filter((d) => numberOf(d) === 1).length === 2 && s.some((d) => numberOf(d) === 2),
    );
    expect(seen.filter((d) => numberOf(d) === 1).map((d) => d.retryCount)).to.deep.equal([0, 1]);
    const parkedStream = `$persistentsubscription-${stream}::g-parked`;
    const parked = await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
      return info.stats.parkedMessageCount === 1n ? collect(client.readStream(parkedStream, { resolveLinkTos: true })) : undefined;
    });
    expect(parked).to.have.length(1);
    expect(parked[0]!.link!.type).to.equal('$>');
    expect(numberOf(parked[0] as Delivery)).to.equal(1);

    await client.replayParkedMessagesToStream(stream, 'g');
    const replayed = await consume(sub, (d) => sub.ack(d), () => true);
    expect(replayed.map((d) => [numberOf(d), d.retryCount, d.link?.type])).to.deep.equal([[1, 0, '$>']]);
    const after = await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
      return info.stats.parkedMessageCount === 0n ? info : undefined;
    });
    expect(after.stats.parkedMessageCount).to.equal(0n);
    await sub.unsubscribe();
  });

  it('parks on an explicit nack park and replays only up to stopAt', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1), event(2), event(3)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings());
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    await consume(sub, (d) => sub.nack('park', 'bad', d), (s) => s.length === 3);
    await eventually(async () =>
      (await client.getPersistentSubscriptionToStreamInfo(stream, 'g')).stats.parkedMessageCount === 3n ? true : undefined,
    );
    await client.replayParkedMessagesToStream(stream, 'g', { stopAt: 2 });
    const replayed = await consume(sub, (d) => sub.ack(d), (s) => s.length === 2);
    expect(replayed.map(numberOf)).to.deep.equal([1, 2]);
    const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
    expect(info.stats.parkedMessageCount).to.equal(1n);
    await sub.unsubscribe();
  });

  it('skips a message on nack skip', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1), event(2)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings());
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    const seen = await consume(
      sub,
      (d) => (numberOf(d) === 1 ? sub.nack('skip', 'not mine', d) : sub.ack(d)),
      (s) => s.length === 2,
    );
    expect(seen.map((d) => [numberOf(d), d.retryCount])).to.deep.equal([
      [1, 0],
      [2, 0],
    ]);
    await sub.unsubscribe();
  });

  it('redelivers a message that is not acked within the message timeout', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings({ messageTimeout: 100, maxRetryCount: 5 }));
    const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
    // the first delivery is neither acked nor nacked
    const seen = await consume(sub, (d) => (d.retryCount === 0 ? Promise.resolve() : sub.ack(d)), (s) => s.length === 2);
    expect(seen.map((d) => [numberOf(d), d.retryCount])).to.deep.equal([
      [1, 0],
      [1, 1],
    ]);
    await sub.unsubscribe();
  });

  it('retries the messages of a consumer that leaves, then parks them after maxRetryCount', async function () {
    const stream = freshStream();
    await client.appendToStream(stream, [event(1), event(2)]);
    await client.createPersistentSubscriptionToStream(stream, 'g', settings({ maxRetryCount: 1, messageTimeout: 60_000 }));
    // Each consumer takes event 1 and leaves without acking it (a consumer that cannot decode it).
    const retryCounts: number[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g', { bufferSize: 1 });
      const [first] = await consume(sub, () => Promise.resolve(), () => true);
      expect(numberOf(first!)).to.equal(1);
      retryCounts.push(first!.retryCount);
      await sub.unsubscribe();
    }
    expect(retryCounts).to.deep.equal([0, 1]);

    const parkedStream = `$persistentsubscription-${stream}::g-parked`;
    const parked = await eventually(async () => {
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
      return info.stats.parkedMessageCount === 1n ? collect(client.readStream(parkedStream, { resolveLinkTos: true })) : undefined;
    });
    expect(parked.map((d) => numberOf(d as Delivery))).to.deep.equal([1]);

    const next = client.subscribeToPersistentSubscriptionToStream(stream, 'g', { bufferSize: 1 });
    const seen = await consume(next, (d) => next.ack(d), () => true);
    expect(seen.map((d) => [numberOf(d), d.retryCount])).to.deep.equal([[2, 0]]);
    await next.unsubscribe();
  });

  describe('consumer strategies with several consumers', function () {
    async function twoConsumers(stream: string, strategy: 'RoundRobin' | 'DispatchToSingle') {
      await client.createPersistentSubscriptionToStream(stream, 'g', settings({ consumerStrategyName: strategy }));
      const a = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
      await once(a, 'confirmation');
      const b = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
      await once(b, 'confirmation');
      return { a, b };
    }

    it('RoundRobin alternates deliveries between consumers', async function () {
      const stream = freshStream();
      const { a, b } = await twoConsumers(stream, 'RoundRobin');
      const gotA: number[] = [];
      const gotB: number[] = [];
      a.on('data', (d: Delivery) => void a.ack(d).then(() => gotA.push(numberOf(d))));
      b.on('data', (d: Delivery) => void b.ack(d).then(() => gotB.push(numberOf(d))));
      await client.appendToStream(stream, [event(1), event(2), event(3), event(4)]);
      await eventually(() => (gotA.length + gotB.length === 4 ? true : undefined));
      expect(gotA.length).to.equal(2);
      expect(gotB.length).to.equal(2);
      await Promise.all([a.unsubscribe(), b.unsubscribe()]);
    });

    it('DispatchToSingle sends everything to the first consumer with free slots', async function () {
      const stream = freshStream();
      const { a, b } = await twoConsumers(stream, 'DispatchToSingle');
      const gotA: number[] = [];
      const gotB: number[] = [];
      a.on('data', (d: Delivery) => void a.ack(d).then(() => gotA.push(numberOf(d))));
      b.on('data', (d: Delivery) => void b.ack(d).then(() => gotB.push(numberOf(d))));
      await client.appendToStream(stream, [event(1), event(2), event(3), event(4)]);
      await eventually(() => (gotA.length + gotB.length === 4 ? true : undefined));
      expect(gotA).to.deep.equal([1, 2, 3, 4]);
      expect(gotB).to.deep.equal([]);
      await Promise.all([a.unsubscribe(), b.unsubscribe()]);
    });

    it('Pinned keeps every stream on one consumer, for a filtered subscription to $all', async function () {
      const prefix = `pin-${randomUUID()}-`;
      const group = `g-${randomUUID()}`;
      await client.createPersistentSubscriptionToAll(
        group,
        persistentSubscriptionToAllSettingsFromDefaults({ startFrom: 'end', consumerStrategyName: 'Pinned', messageTimeout: 300 }),
        { filter: streamNameFilter({ prefixes: [prefix] }) },
      );
      const a = client.subscribeToPersistentSubscriptionToAll(group);
      await once(a, 'confirmation');
      const b = client.subscribeToPersistentSubscriptionToAll(group);
      await once(b, 'confirmation');
      const byConsumer = new Map<string, Set<string>>([
        ['a', new Set()],
        ['b', new Set()],
      ]);
      let total = 0;
      const track = (name: string, sub: typeof a) => (d: Delivery) =>
        void sub.ack(d).then(() => {
          byConsumer.get(name)!.add(d.event!.streamId);
          total += 1;
        });
      a.on('data', track('a', a));
      b.on('data', track('b', b));
      const streams = Array.from({ length: 6 }, (_, i) => `${prefix}${i}`);
      for (const s of streams) await client.appendToStream(s, [event(1), event(2)]);
      await eventually(() => (total === 12 ? true : undefined));
      const [onA, onB] = [byConsumer.get('a')!, byConsumer.get('b')!];
      expect([...onA].filter((s) => onB.has(s))).to.deep.equal([]);
      expect(onA.size + onB.size).to.equal(6);
      await Promise.all([a.unsubscribe(), b.unsubscribe()]);
    });
  });

  describe('management', function () {
    it('rejects creating an existing group and reading an unknown one', async function () {
      const stream = freshStream();
      await client.createPersistentSubscriptionToStream(stream, 'g', settings());
      await expect(client.createPersistentSubscriptionToStream(stream, 'g', settings())).to.be.rejectedWith(
        PersistentSubscriptionExistsError,
      );
      await expect(client.getPersistentSubscriptionToStreamInfo(stream, 'nope')).to.be.rejectedWith(
        PersistentSubscriptionDoesNotExistError,
      );
      const unknown = client.subscribeToPersistentSubscriptionToStream(stream, 'nope');
      await expect(collect(unknown)).to.be.rejectedWith(PersistentSubscriptionDoesNotExistError);
    });

    it('updates, lists and deletes groups', async function () {
      const stream = freshStream();
      await client.createPersistentSubscriptionToStream(stream, 'g1', settings());
      await client.createPersistentSubscriptionToStream(stream, 'g2', settings({ startFrom: 'end' }));
      await client.updatePersistentSubscriptionToStream(stream, 'g1', settings({ maxRetryCount: 7, consumerStrategyName: 'Pinned' }));
      const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g1');
      expect(info.settings.maxRetryCount).to.equal(7);
      expect(info.settings.consumerStrategyName).to.equal('Pinned');
      const listed = await client.listPersistentSubscriptionsToStream(stream);
      expect(listed.map((i) => i.groupName).sort()).to.deep.equal(['g1', 'g2']);
      expect(listed.find((i) => i.groupName === 'g2')!.settings.startFrom).to.equal('end');
      const all = await client.listAllPersistentSubscriptions();
      expect(all.filter((i) => i.eventSource === stream)).to.have.length(2);
      await client.deletePersistentSubscriptionToStream(stream, 'g1');
      await expect(client.getPersistentSubscriptionToStreamInfo(stream, 'g1')).to.be.rejectedWith(
        PersistentSubscriptionDoesNotExistError,
      );
      await expect(client.updatePersistentSubscriptionToStream(stream, 'g1', settings())).to.be.rejectedWith(
        PersistentSubscriptionDoesNotExistError,
      );
      await expect(client.deletePersistentSubscriptionToStream(stream, 'g1')).to.be.rejectedWith(
        PersistentSubscriptionDoesNotExistError,
      );
    });

    it('drops connected consumers of a deleted group with PersistentSubscriptionDoesNotExistError', async function () {
      const stream = freshStream();
      await client.createPersistentSubscriptionToStream(stream, 'g', settings());
      const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
      await once(sub, 'confirmation');
      const ended = expect(collect(sub)).to.be.rejectedWith(PersistentSubscriptionDoesNotExistError);
      await client.deletePersistentSubscriptionToStream(stream, 'g');
      await ended;
    });

    it('supports $all groups: getInfo, list, replayParked and delete', async function () {
      const group = `g-${randomUUID()}`;
      const prefix = `psall-${randomUUID()}-`;
      await client.createPersistentSubscriptionToAll(
        group,
        persistentSubscriptionToAllSettingsFromDefaults({ startFrom: 'start', maxRetryCount: 0, messageTimeout: 300 }),
        { filter: streamNameFilter({ prefixes: [prefix] }) },
      );
      await client.appendToStream(`${prefix}x`, [event(1)]);
      const sub = client.subscribeToPersistentSubscriptionToAll(group);
      await consume(sub, (d) => sub.nack('retry', 'fails', d), () => true);
      await eventually(async () =>
        (await client.getPersistentSubscriptionToAllInfo(group)).stats.parkedMessageCount === 1n ? true : undefined,
      );
      const parked = await collect(client.readStream(`$persistentsubscription-$all::${group}-parked`));
      expect(parked).to.have.length(1);
      await client.replayParkedMessagesToAll(group);
      const replayed = await consume(sub, (d) => sub.ack(d), () => true);
      expect(replayed.map((d) => d.event!.streamId)).to.deep.equal([`${prefix}x`]);
      expect((await client.listPersistentSubscriptionsToAll()).some((i) => i.groupName === group)).to.equal(true);
      await sub.unsubscribe();
      await client.deletePersistentSubscriptionToAll(group);
      await expect(client.getPersistentSubscriptionToAllInfo(group)).to.be.rejectedWith(PersistentSubscriptionDoesNotExistError);
    });
  });
});
