import { randomUUID } from 'node:crypto';
import { binaryEvent, EventStoreDBClient } from '@eventstore/db-client';
import { expect } from 'chai';

import type {
  PersistentDelivery,
  PersistentSubscription,
  PersistentSubscriptionSettings,
  PersistentSubscriptionTarget,
  RecordedEvent,
} from '../../src/eventstore/event-store.js';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { anEvent, collect, events, freshStreamId } from './event-store.contract.js';

const settings = (overrides: Partial<PersistentSubscriptionSettings> = {}): PersistentSubscriptionSettings => ({
  maxRetryCount: 5,
  messageTimeoutMs: 60_000,
  consumerStrategy: 'RoundRobin',
  startFrom: 'start',
  ...overrides,
});

const allWithPrefix = (prefix: string): PersistentSubscriptionTarget => ({ kind: 'all', streamPrefixes: [prefix] });

/** Polls until `done` holds; the mocha timeout bounds it (no assertion is made on timing). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe(`${EsdbEventStore.name} persistent subscriptions (embedded server)`, () => {
  let store: EsdbEventStore;
  const open: PersistentSubscription[] = [];

  before(async () => {
    store = EsdbEventStore.fromConnectionString((await sharedEmbeddedServer()).connectionString);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((subscription) => subscription.close()));
  });

  after(async () => {
    await store?.close();
  });

  /** Subscribes and returns a function taking the next delivery. */
  function subscribe(target: PersistentSubscriptionTarget, group: string) {
    const subscription = store.subscribe(target, group);
    open.push(subscription);
    const iterator = subscription[Symbol.asyncIterator]();
    const next = async (): Promise<PersistentDelivery> => {
      const result = await iterator.next();
      if (result.done === true) throw new Error(`subscription to '${group}' ended`);
      return result.value;
    };
    return { subscription, next };
  }

  const readParkedIds = async (target: PersistentSubscriptionTarget, group: string): Promise<string[]> =>
    (await collect(store.readParked(target, group))).map((event: RecordedEvent) => event.id);

  describe('ensureGroup', () => {
    it('creates the group once and leaves an existing group as it is', async () => {
      const prefix = `${freshStreamId('ps-ensure')}-`;
      const group = `g-${prefix}`;
      const written = events(1);
      await store.append(`${prefix}s`, written, 'no_stream');

      await store.ensureGroup(allWithPrefix(prefix), group, settings());
      await store.ensureGroup(allWithPrefix(prefix), group, settings({ startFrom: 'end', maxRetryCount: 0 }));

      const { next } = subscribe(allWithPrefix(prefix), group);
      expect((await next()).event.id).to.equal(written[0]?.id);
    });
  });

  describe('subscribe', () => {
    it('delivers the events of matching streams from the start, first with retryCount 0', async () => {
      const prefix = `${freshStreamId('ps-deliver')}-`;
      const group = `g-${prefix}`;
      const written = [anEvent('First', { n: 1 }, { $correlationId: 'c-1' }), anEvent('Second', { n: 2 })];
      await store.append(`other-${prefix}s`, events(1), 'no_stream');
      await store.append(`${prefix}s`, written, 'no_stream');
      await store.ensureGroup(allWithPrefix(prefix), group, settings());

      const { subscription, next } = subscribe(allWithPrefix(prefix), group);
      const first = await next();
      const second = await next();
      await subscription.ack(first);
      await subscription.ack(second);

      expect([first, second].map((d) => d.event.id)).to.deep.equal(written.map((e) => e.id));
      expect([first, second].map((d) => d.retryCount)).to.deep.equal([0, 0]);
      expect(first.event).to.include({ type: 'First', streamId: `${prefix}s`, revision: 0n });
      expect(first.event.data).to.deep.equal({ n: 1 });
      expect(first.event.metadata).to.deep.equal({ $correlationId: 'c-1' });
      expect(first.event.position).to.be.a('bigint');
    });

    it('does not redeliver acknowledged events to the next consumer of the group', async () => {
      const prefix = `${freshStreamId('ps-ack')}-`;
      const group = `g-${prefix}`;
      const [early, late] = [anEvent('Early'), anEvent('Late')];
      await store.append(`${prefix}s`, [early], 'no_stream');
      await store.ensureGroup(allWithPrefix(prefix), group, settings());

      const first = subscribe(allWithPrefix(prefix), group);
      const delivered = await first.next();
      await first.subscription.ack(delivered);
      await first.subscription.close();

      await store.append(`${prefix}s`, [late], 0n);
      const second = subscribe(allWithPrefix(prefix), group);

      expect((await second.next()).event.id).to.equal(late.id);
      expect(delivered.event.id).to.equal(early.id);
    });

    it('redelivers an event nacked with retry, with retryCount + 1', async () => {
      const prefix = `${freshStreamId('ps-retry')}-`;
      const group = `g-${prefix}`;
      const written = anEvent('Flaky');
      await store.append(`${prefix}s`, [written], 'no_stream');
      await store.ensureGroup(allWithPrefix(prefix), group, settings());

      const { subscription, next } = subscribe(allWithPrefix(prefix), group);
      const first = await next();
      await subscription.nack(first, 'retry', 'transient failure');
      const second = await next();
      await subscription.ack(second);

      expect([first.event.id, second.event.id]).to.deep.equal([written.id, written.id]);
      expect([first.retryCount, second.retryCount]).to.deep.equal([0, 1]);
    });

    it('delivers the events of one stream to a group on that stream', async () => {
      const streamId = freshStreamId('ps-stream');
      const target: PersistentSubscriptionTarget = { kind: 'stream', streamId };
      const group = `g-${streamId}`;
      const written = events(2);
      await store.append(streamId, written, 'no_stream');
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      const delivered = [await next(), await next()];
      await Promise.all(delivered.map((d) => subscription.ack(d)));

      expect(delivered.map((d) => d.event.id)).to.deep.equal(written.map((e) => e.id));
      expect(delivered.map((d) => d.event.revision)).to.deep.equal([0n, 1n]);
    });
  });

  describe('parking', () => {
    it('parks an event once its retries exceed maxRetryCount; readParked shows it; replayParked redelivers it', async () => {
      const prefix = `${freshStreamId('ps-park')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const poison = anEvent('Poison', { bad: true });
      await store.append(`${prefix}s`, [poison], 'no_stream');
      await store.ensureGroup(target, group, settings({ maxRetryCount: 2 }));

      const { subscription, next } = subscribe(target, group);
      const retryCounts: number[] = [];
      // EventStoreDB retries while retryCount < maxRetryCount and parks on the nack after that.
      for (let attempt = 0; attempt <= 2; attempt++) {
        const delivery = await next();
        expect(delivery.event.id).to.equal(poison.id);
        retryCounts.push(delivery.retryCount);
        await subscription.nack(delivery, 'retry', 'still failing');
      }
      expect(retryCounts).to.deep.equal([0, 1, 2]);

      const parked = await eventually(
        () => collect(store.readParked(target, group)),
        (found) => found.length > 0,
      );
      expect(parked.map((e) => e.id)).to.deep.equal([poison.id]);
      expect(parked[0]).to.include({ type: 'Poison', streamId: `${prefix}s`, revision: 0n });
      expect(parked[0]?.data).to.deep.equal({ bad: true });

      await store.replayParked(target, group);
      const replayed = await next();
      await subscription.ack(replayed);

      expect(replayed.event.id).to.equal(poison.id);
      expect(await eventually(() => readParkedIds(target, group), (ids) => ids.length === 0)).to.deep.equal([]);
    });

    it('parks on nack park and replays at most stopAt parked events', async () => {
      const prefix = `${freshStreamId('ps-stop-at')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const written = events(2);
      await store.append(`${prefix}s`, written, 'no_stream');
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      for (let i = 0; i < 2; i++) await subscription.nack(await next(), 'park', 'needs a human');
      expect(
        await eventually(() => readParkedIds(target, group), (ids) => ids.length === 2),
      ).to.deep.equal(written.map((e) => e.id));

      await store.replayParked(target, group, { stopAt: 1 });
      const replayed = await next();
      await subscription.ack(replayed);

      expect(replayed.event.id).to.equal(written[0]?.id);
      expect(
        await eventually(() => readParkedIds(target, group), (ids) => ids.length === 1),
      ).to.deep.equal([written[1]?.id]);
    });

    it('replays at most stopAt parked events each time, also after an earlier replay', async () => {
      const prefix = `${freshStreamId('ps-stop-at-twice')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const written = events(3);
      await store.append(`${prefix}s`, written, 'no_stream');
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      for (let i = 0; i < 3; i++) await subscription.nack(await next(), 'park', 'needs a human');
      await eventually(() => readParkedIds(target, group), (ids) => ids.length === 3);

      const replayedIds: string[] = [];
      for (let round = 0; round < 2; round++) {
        await store.replayParked(target, group, { stopAt: 1 });
        const replayed = await next();
        await subscription.ack(replayed);
        replayedIds.push(replayed.event.id);
        await eventually(() => readParkedIds(target, group), (ids) => ids.length === 2 - round);
      }

      expect(replayedIds).to.deep.equal([written[0]?.id, written[1]?.id]);
      expect(await readParkedIds(target, group)).to.deep.equal([written[2]?.id]);
    });

    it('replays nothing with stopAt 0 or when nothing is parked', async () => {
      const prefix = `${freshStreamId('ps-stop-at-zero')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const [parkedEvent, following] = [anEvent('Parked'), anEvent('Following')];
      await store.append(`${prefix}s`, [parkedEvent], 'no_stream');
      await store.ensureGroup(target, group, settings());
      await store.replayParked(target, group, { stopAt: 1 });

      const { subscription, next } = subscribe(target, group);
      await subscription.nack(await next(), 'park', 'needs a human');
      await eventually(() => readParkedIds(target, group), (ids) => ids.length === 1);
      await store.replayParked(target, group, { stopAt: 0 });
      await store.append(`${prefix}s`, [following], 0n);
      const delivered = await next();
      await subscription.ack(delivered);

      expect(delivered.event.id).to.equal(following.id);
      expect(await readParkedIds(target, group)).to.deep.equal([parkedEvent.id]);
    });

    it("reads the parked events of a stream group from the stream's parked stream", async () => {
      const streamId = freshStreamId('ps-stream-park');
      const target: PersistentSubscriptionTarget = { kind: 'stream', streamId };
      const group = `g-${streamId}`;
      const written = events(1);
      await store.append(streamId, written, 'no_stream');
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      await subscription.nack(await next(), 'park', 'needs a human');

      expect(await eventually(() => readParkedIds(target, group), (ids) => ids.length === 1)).to.deep.equal(
        written.map((e) => e.id),
      );
    });

    it('parks an undecodable event and keeps the subscription going', async () => {
      const prefix = `${freshStreamId('ps-undecodable')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const raw = EventStoreDBClient.connectionString((await sharedEmbeddedServer()).connectionString);
      const undecodable = randomUUID();
      try {
        await raw.appendToStream(`${prefix}s`, [
          binaryEvent({ id: undecodable, type: 'Garbled', data: Buffer.from('not json', 'utf8') }),
        ]);
      } finally {
        await raw.dispose();
      }
      const following = anEvent('Following');
      await store.append(`${prefix}s`, [following], 0n);
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      const delivered = await next();
      await subscription.ack(delivered);

      expect(delivered.event.id).to.equal(following.id);
      const parkedStream = `$persistentsubscription-$all::${group}-parked`;
      const parked = await eventually(
        async () => {
          const client = EventStoreDBClient.connectionString((await sharedEmbeddedServer()).connectionString);
          try {
            const links: { id: string; reason: string }[] = [];
            for await (const resolved of client.readStream(parkedStream, { resolveLinkTos: true })) {
              links.push({
                id: resolved.event?.id ?? '',
                reason: (resolved.link?.metadata as { Reason?: string } | undefined)?.Reason ?? '',
              });
            }
            return links;
          } catch {
            return [];
          } finally {
            await client.dispose();
          }
        },
        (links) => links.length > 0,
      );
      expect(parked.map((p) => p.id)).to.deep.equal([undecodable]);
      expect(parked[0]?.reason).to.contain('undecodable:');

      // and the port's parked listing shows it, payload marked undecodable, instead of failing
      const listed: RecordedEvent[] = [];
      for await (const event of store.readParked(target, group)) listed.push(event);
      expect(listed.map((e) => [e.id, e.type])).to.deep.equal([[undecodable, 'Garbled']]);
      expect(listed[0]?.data['$undecodable']).to.be.a('string').and.match(/data is not JSON/);
    });

    it('skips an event nacked with skip: it is neither redelivered nor parked', async () => {
      const prefix = `${freshStreamId('ps-skip')}-`;
      const group = `g-${prefix}`;
      const target = allWithPrefix(prefix);
      const [skipped, following] = [anEvent('Skipped'), anEvent('Following')];
      await store.append(`${prefix}s`, [skipped, following], 'no_stream');
      await store.ensureGroup(target, group, settings());

      const { subscription, next } = subscribe(target, group);
      const first = await next();
      await subscription.nack(first, 'skip', 'not for us');
      const second = await next();
      await subscription.ack(second);

      expect([first.event.id, second.event.id]).to.deep.equal([skipped.id, following.id]);
      expect(await readParkedIds(target, group)).to.deep.equal([]);
    });
  });
});
