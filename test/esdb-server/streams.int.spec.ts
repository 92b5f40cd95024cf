import grpc from '@grpc/grpc-js';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  MaxAppendSizeExceededError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  eventTypeFilter,
  streamNameFilter,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import serverFeaturesGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import serverFeaturesPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { collect, connect, freshStream, once, take } from './helpers.js';

const event = (type: string, data: Record<string, unknown> = {}, id?: string) =>
  jsonEvent({ type, data, ...(id === undefined ? {} : { id }) });

const revisions = (events: ResolvedEvent[]): bigint[] => events.map((e) => e.event!.revision);

describe('embedded EventStoreDB server: streams', function () {
  let server: EmbeddedServer;
  let client: EventStoreDBClient;

  before(async function () {
    server = await sharedEmbeddedServer();
    client = connect(server.connectionString);
  });

  after(async function () {
    await client.dispose();
  });

  describe('ServerFeatures', function () {
    it('advertises batch append and persistent subscriptions to $all with a server version', async function () {
      const features = new serverFeaturesGrpc.ServerFeaturesClient(
        `127.0.0.1:${server.port}`,
        grpc.credentials.createInsecure(),
      );
      const supported = await new Promise<InstanceType<typeof serverFeaturesPb.SupportedMethods>>(
        (resolve, reject) => features.getSupportedMethods(new sharedPb.Empty(), (error, value) => (error ? reject(error) : resolve(value))),
      );
      features.close();
      const methods = supported.getMethodsList().map((m) => `${m.getServiceName()}/${m.getMethodName()}:${m.getFeaturesList().join(',')}`);
      expect(methods).to.include('event_store.client.streams.streams/batchappend:');
      expect(methods).to.include('event_store.client.persistent_subscriptions.persistentsubscriptions/create:stream,all');
      expect(methods).to.include('event_store.client.streams.streams/read:position,events');
      expect(supported.getEventStoreServerVersion()).to.match(/^2\d\.\d+\.\d+$/);
    });
  });

  describe('appendToStream', function () {
    it('appends with no_stream, then an exact revision, then stream_exists and any', async function () {
      const stream = freshStream();
      const first = await client.appendToStream(stream, [event('A'), event('B')], { expectedRevision: 'no_stream' });
      expect(first.nextExpectedRevision).to.equal(1n);
      const second = await client.appendToStream(stream, event('C'), { expectedRevision: 1n });
      expect(second.nextExpectedRevision).to.equal(2n);
      const third = await client.appendToStream(stream, event('D'), { expectedRevision: 'stream_exists' });
      expect(third.nextExpectedRevision).to.equal(3n);
      const fourth = await client.appendToStream(stream, event('E'), { expectedRevision: 'any' });
      expect(fourth.nextExpectedRevision).to.equal(4n);
      expect(fourth.position!.commit > first.position!.commit).to.equal(true);
      const read = await collect(client.readStream(stream));
      expect(read.map((e) => e.event!.type)).to.deep.equal(['A', 'B', 'C', 'D', 'E']);
    });

    it('rejects a wrong exact revision with expected and actual versions', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, event('A'));
      await expect(client.appendToStream(stream, event('B'), { expectedRevision: 5n }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ streamName: stream, expectedVersion: 5n, actualVersion: 0n });
    });

    it('rejects no_stream on an existing stream and stream_exists on a missing one', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, event('A'));
      await expect(client.appendToStream(stream, event('B'), { expectedRevision: 'no_stream' }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ expectedVersion: 'no_stream', actualVersion: 0n });
      await expect(client.appendToStream(freshStream(), event('B'), { expectedRevision: 'stream_exists' }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ expectedVersion: 'stream_exists', actualVersion: 'no_stream' });
    });

    it('is idempotent: re-appending the same ids at the same revision writes nothing and returns the original result', async function () {
      const stream = freshStream();
      const ids = [randomUUID(), randomUUID()];
      const batch = () => [event('A', { n: 1 }, ids[0]), event('B', { n: 2 }, ids[1])];
      const original = await client.appendToStream(stream, batch(), { expectedRevision: 'no_stream' });
      const again = await client.appendToStream(stream, batch(), { expectedRevision: 'no_stream' });
      const withAny = await client.appendToStream(stream, batch(), { expectedRevision: 'any' });
      expect(again).to.deep.equal(original);
      expect(withAny).to.deep.equal(original);
      expect(await collect(client.readStream(stream))).to.have.length(2);
    });

    it('rejects a re-append whose ids only partly match (corrupted idempotency)', async function () {
      const stream = freshStream();
      const id = randomUUID();
      await client.appendToStream(stream, [event('A', {}, id), event('B')], { expectedRevision: 'no_stream' });
      await expect(
        client.appendToStream(stream, [event('A', {}, id), event('C')], { expectedRevision: 'no_stream' }),
      ).to.be.rejectedWith(WrongExpectedVersionError);
    });

    it('uses the classic Append call when per-call credentials are passed', async function () {
      const stream = freshStream();
      const credentials = { username: 'admin', password: 'changeit' };
      const result = await client.appendToStream(stream, [event('A'), event('B')], { credentials });
      expect(result.nextExpectedRevision).to.equal(1n);
      await expect(client.appendToStream(stream, event('C'), { expectedRevision: 7n, credentials }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ expectedVersion: 7n, actualVersion: 1n });
      expect(revisions(await collect(client.readStream(stream)))).to.deep.equal([0n, 1n]);
    });

    it('accepts a large batch split over several BatchAppend messages as one atomic write', async function () {
      const stream = freshStream();
      const events = Array.from({ length: 300 }, (_, i) => event('Bulk', { i, pad: 'x'.repeat(50) }));
      const result = await client.appendToStream(stream, events, { batchAppendSize: 2_000 });
      expect(result.nextExpectedRevision).to.equal(299n);
      const read = await collect(client.readStream(stream));
      expect(read.map((e) => (e.event!.data as { i: number }).i)).to.deep.equal(events.map((_, i) => i));
    });

    it('rejects an append above the maximum append size, through both append paths', async function () {
      const big = Array.from({ length: 3 }, () => binaryEvent({ type: 'Big', data: new Uint8Array(400 * 1024) }));
      await expect(client.appendToStream(freshStream(), big)).to.be.rejectedWith(MaxAppendSizeExceededError);
      await expect(
        client.appendToStream(freshStream(), big, { credentials: { username: 'admin', password: 'changeit' } }),
      ).to.be.rejectedWith(MaxAppendSizeExceededError);
    });

    it('round-trips binary data, metadata, unicode stream names and server-assigned created', async function () {
      const stream = freshStream('strøm-ünïcødé');
      const before = Date.now();
      await client.appendToStream(stream, [
        binaryEvent({ type: 'Bin', data: Uint8Array.from([0, 1, 254, 255]), metadata: Uint8Array.from([9]) }),
        jsonEvent({ type: 'Json', data: { a: 1 }, metadata: { $correlationId: 'c-1' } }),
      ]);
      const [bin, json] = await collect(client.readStream(stream));
      expect(bin!.event!.streamId).to.equal(stream);
      expect(Buffer.from(bin!.event!.data as Uint8Array)).to.deep.equal(Buffer.from([0, 1, 254, 255]));
      expect(bin!.event!.isJson).to.equal(false);
      expect(json!.event!.metadata).to.deep.equal({ $correlationId: 'c-1' });
      expect(json!.event!.created.getTime()).to.be.at.least(before - 1000);
    });
  });

  describe('readStream', function () {
    let stream: string;

    before(async function () {
      stream = freshStream();
      await client.appendToStream(stream, Array.from({ length: 10 }, (_, i) => event('N', { i })));
    });

    it('reads forwards from the start, from a revision and with maxCount', async function () {
      expect(revisions(await collect(client.readStream(stream)))).to.have.length(10);
      expect(revisions(await collect(client.readStream(stream, { fromRevision: 7n })))).to.deep.equal([7n, 8n, 9n]);
      expect(revisions(await collect(client.readStream(stream, { fromRevision: 2n, maxCount: 3 })))).to.deep.equal([
        2n,
        3n,
        4n,
      ]);
      expect(await collect(client.readStream(stream, { fromRevision: END }))).to.deep.equal([]);
    });

    it('reads backwards from the end and from a revision', async function () {
      expect(revisions(await collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 3 })))).to.deep.equal([
        9n,
        8n,
        7n,
      ]);
      expect(revisions(await collect(client.readStream(stream, { direction: BACKWARDS, fromRevision: 1n })))).to.deep.equal([
        1n,
        0n,
      ]);
    });

    it('reports a missing stream in band, which the client raises as StreamNotFoundError', async function () {
      await expect(collect(client.readStream(freshStream()))).to.be.rejectedWith(StreamNotFoundError);
      await expect(collect(client.readStream(freshStream(), { direction: BACKWARDS, fromRevision: END }))).to.be.rejectedWith(
        StreamNotFoundError,
      );
    });

    it('pages through a stream longer than one storage page', async function () {
      const long = freshStream();
      await client.appendToStream(long, Array.from({ length: 700 }, (_, i) => event('L', { i })));
      const read = await collect(client.readStream(long));
      expect(read).to.have.length(700);
      expect(read.every((e, i) => e.event!.revision === BigInt(i))).to.equal(true);
      const back = await collect(client.readStream(long, { direction: BACKWARDS, fromRevision: END }));
      expect(back[0]!.event!.revision).to.equal(699n);
      expect(back).to.have.length(700);
    });
  });

  describe('readAll', function () {
    it('reads $all forwards and backwards in global order, from a position', async function () {
      const stream = freshStream();
      const appended = await client.appendToStream(stream, [event('A'), event('B'), event('C')]);
      const last = appended.position!;
      const backwards = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 3 }));
      expect(backwards.map((e) => e.event!.type)).to.deep.equal(['C', 'B', 'A']);
      const fromPosition: Position = { commit: last.commit - 2n, prepare: last.prepare - 2n };
      const forwards = await collect(client.readAll({ direction: FORWARDS, fromPosition, maxCount: 3 }));
      expect(forwards.map((e) => e.event!.streamId)).to.deep.equal([stream, stream, stream]);
      expect(forwards.map((e) => e.event!.position.commit)).to.deep.equal([last.commit - 2n, last.commit - 1n, last.commit]);
      const fromStart = await collect(client.readAll({ fromPosition: START, maxCount: 5 }));
      expect(fromStart).to.have.length(5);
      const positions = fromStart.map((e) => e.event!.position.commit);
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).to.deep.equal(positions);
    });
  });

  describe('catch-up subscriptions', function () {
    it('delivers history, signals caught-up, then delivers live events of a stream', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, [event('H1'), event('H2')]);
      const subscription = client.subscribeToStream(stream, { fromRevision: START });
      const caughtUp = once(subscription, 'caughtUp');
      const received = take(subscription, 3);
      await caughtUp;
      await client.appendToStream(stream, event('Live'));
      expect((await received).map((e) => e.event!.type)).to.deep.equal(['H1', 'H2', 'Live']);
      await subscription.unsubscribe();
    });

    it('subscribes to a stream from a revision (exclusive) and from the end', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, [event('A'), event('B'), event('C')]);
      const fromRevision = client.subscribeToStream(stream, { fromRevision: 1n });
      expect((await take(fromRevision, 1)).map((e) => e.event!.type)).to.deep.equal(['C']);
      await fromRevision.unsubscribe();
      const fromEnd = client.subscribeToStream(stream, { fromRevision: END });
      const caughtUp = once(fromEnd, 'caughtUp');
      const received = take(fromEnd, 1);
      await caughtUp;
      await client.appendToStream(stream, event('D'));
      expect((await received).map((e) => e.event!.type)).to.deep.equal(['D']);
      await fromEnd.unsubscribe();
    });

    it('subscribes to $all with a stream-name prefix filter and reports checkpoints', async function () {
      const prefix = `flt-${randomUUID()}-`;
      await client.appendToStream(`${prefix}a`, event('X'));
      await client.appendToStream(freshStream(), event('Other'));
      const checkpoints: Position[] = [];
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: streamNameFilter({
          prefixes: [prefix],
          checkpointReached: (_s, position) => {
            checkpoints.push(position);
            return Promise.resolve();
          },
        }),
      });
      const caughtUp = once(subscription, 'caughtUp');
      const received = take(subscription, 2);
      await caughtUp;
      await client.appendToStream(`${prefix}b`, event('Y'));
      expect((await received).map((e) => e.event!.streamId)).to.deep.equal([`${prefix}a`, `${prefix}b`]);
      expect(checkpoints.length).to.be.at.least(1);
      await subscription.unsubscribe();
    });

    it('filters $all by event-type regex', async function () {
      const type = `Type${randomUUID().replace(/-/g, '')}`;
      await client.appendToStream(freshStream(), [event(`${type}One`), event('Unrelated'), event(`${type}Two`)]);
      const subscription = client.subscribeToAll({ fromPosition: START, filter: eventTypeFilter({ regex: `^${type}` }) });
      expect((await take(subscription, 2)).map((e) => e.event!.type)).to.deep.equal([`${type}One`, `${type}Two`]);
      await subscription.unsubscribe();
    });
  });

  describe('delete and tombstone', function () {
    it('soft delete hides the stream; a new append recreates it from the next revision', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, [event('A'), event('B')]);
      await client.deleteStream(stream);
      await expect(collect(client.readStream(stream))).to.be.rejectedWith(StreamNotFoundError);
      const recreated = await client.appendToStream(stream, event('C'));
      expect(recreated.nextExpectedRevision).to.equal(2n);
      const read = await collect(client.readStream(stream));
      expect(read.map((e) => [e.event!.type, e.event!.revision])).to.deep.equal([['C', 2n]]);
    });

    it('rejects a delete at the wrong revision with the exception trailer', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, event('A'));
      await expect(client.deleteStream(stream, { expectedRevision: 4n }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ streamName: stream, expectedVersion: 4n, actualVersion: 0n });
      await expect(client.tombstoneStream(stream, { expectedRevision: 'no_stream' }))
        .to.be.rejectedWith(WrongExpectedVersionError)
        .and.eventually.deep.include({ actualVersion: 0n });
    });

    it('tombstone makes the stream deleted for reads, appends and further deletes', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, event('A'));
      await client.tombstoneStream(stream);
      await expect(collect(client.readStream(stream))).to.be.rejectedWith(StreamDeletedError);
      await expect(client.appendToStream(stream, event('B'))).to.be.rejectedWith(StreamDeletedError);
      await expect(
        client.appendToStream(stream, event('B'), { credentials: { username: 'admin', password: 'changeit' } }),
      ).to.be.rejectedWith(StreamDeletedError);
      await expect(client.tombstoneStream(stream)).to.be.rejectedWith(StreamDeletedError);
    });
  });

  describe('stream metadata', function () {
    it('applies $maxCount and $tb on read and round-trips through getStreamMetadata', async function () {
      const stream = freshStream();
      await client.appendToStream(stream, Array.from({ length: 5 }, (_, i) => event('N', { i })));
      await client.setStreamMetadata(stream, { maxCount: 2 });
      expect(revisions(await collect(client.readStream(stream)))).to.deep.equal([3n, 4n]);
      expect((await client.getStreamMetadata(stream)).metadata).to.deep.equal({ maxCount: 2 });
      await client.setStreamMetadata(stream, { truncateBefore: 1 });
      expect(revisions(await collect(client.readStream(stream)))).to.deep.equal([1n, 2n, 3n, 4n]);
    });

    it('applies $maxAge against the injected server clock', async function () {
      let now = Date.UTC(2030, 0, 1);
      const clocked = await startEmbeddedServer({ insecure: true, clock: { now: () => now } });
      const local = connect(clocked.connectionString);
      try {
        const stream = freshStream();
        await local.appendToStream(stream, [event('Old1'), event('Old2')]);
        now += 60_000;
        await local.appendToStream(stream, event('Fresh'));
        await local.setStreamMetadata(stream, { maxAge: 30 });
        const read = await collect(local.readStream(stream));
        expect(read.map((e) => e.event!.type)).to.deep.equal(['Fresh']);
        expect(read[0]!.event!.created.getTime()).to.equal(now);
      } finally {
        await local.dispose();
        await clocked.close();
      }
    });
  });
});
