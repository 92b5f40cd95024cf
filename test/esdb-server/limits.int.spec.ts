import { randomUUID } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import {
  AccessDeniedError,
  DeadlineExceededError,
  binaryEvent,
  jsonEvent,
  MaxAppendSizeExceededError,
  PersistentSubscriptionFailedError,
  persistentSubscriptionToStreamSettingsFromDefaults,
  streamNameFilter,
  type AppendToStreamOptions,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import { expect } from 'chai';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { collect, connect, freshStream, spawnServer } from './helpers.js';

/**
 * Per-call credentials make the client use the classic Append call instead of BatchAppend. A
 * BatchAppend refusal comes back as EventStoreDB sends it, a BadRequest status, which the client
 * reports without its message ('Could not recognize BadRequest').
 */
const BOTH_APPEND_PATHS: readonly [string, AppendToStreamOptions][] = [
  ['BatchAppend', {}],
  ['Append', { credentials: { username: 'admin', password: 'changeit' } }],
];

const refusal = (path: string, message: RegExp): RegExp => (path === 'BatchAppend' ? /Could not recognize BadRequest/ : message);

describe('embedded EventStoreDB server: limits and refusals', function () {
  let server: EmbeddedServer;
  let client: EventStoreDBClient;

  before(async function () {
    server = await sharedEmbeddedServer();
    client = connect(server.connectionString);
  });

  after(async function () {
    await client.dispose();
  });

  for (const [path, options] of BOTH_APPEND_PATHS) {
    describe(`an append through ${path}`, function () {
      it('is refused when an event has an empty type, and writes nothing', async function () {
        const stream = freshStream();
        await expect(client.appendToStream(stream, [jsonEvent({ type: 'Fine', data: {} }), jsonEvent({ type: '', data: {} })], options)).to.be.rejectedWith(
          refusal(path, /Empty eventType provided/),
        );
        await expect(collect(client.readStream(stream))).to.be.rejected;
      });

      it('is refused when an event id is the nil UUID', async function () {
        const event = jsonEvent({ type: 'T', data: {}, id: '00000000-0000-0000-0000-000000000000' });
        await expect(client.appendToStream(freshStream(), event, options)).to.be.rejectedWith(refusal(path, /Empty eventId provided/));
      });

      it('to $all is refused with AccessDenied', async function () {
        await expect(client.appendToStream('$all', jsonEvent({ type: 'T', data: {} }), options)).to.be.rejectedWith(AccessDeniedError);
      });

      it('to a stream name over 2048 bytes is refused, naming the limit', async function () {
        await expect(client.appendToStream('s'.repeat(2049), jsonEvent({ type: 'T', data: {} }), options)).to.be.rejectedWith(refusal(path, /2049 bytes long.*at most 2048/));
      });
    });
  }

  it('refuses reading a stream name over 2048 bytes', async function () {
    await expect(collect(client.readStream('é'.repeat(1025)))).to.be.rejectedWith(/2050 bytes long/);
  });

  it('refuses deleting or tombstoning $all and any metastream with AccessDenied', async function () {
    const stream = freshStream();
    await client.setStreamMetadata(stream, { maxCount: 2 });
    await expect(client.tombstoneStream('$all')).to.be.rejectedWith(AccessDeniedError);
    await expect(client.deleteStream('$all')).to.be.rejectedWith(AccessDeniedError);
    await expect(client.tombstoneStream(`$$${stream}`)).to.be.rejectedWith(AccessDeniedError);
    await expect(client.deleteStream(`$$${stream}`)).to.be.rejectedWith(AccessDeniedError);
    expect((await client.getStreamMetadata(stream)).metadata).to.deep.include({ maxCount: 2 });
  });

  it('refuses a group whose parked stream name would be over 2048 bytes', async function () {
    const stream = 's'.repeat(2000);
    await expect(client.createPersistentSubscriptionToStream(stream, 'g'.repeat(20), persistentSubscriptionToStreamSettingsFromDefaults())).to.be.rejectedWith(
      /parked stream name would be 2053 bytes long/,
    );
  });

  describe('the append size, counted as EventStoreDB counts it (data + metadata + 2 bytes per type character)', function () {
    let small: EmbeddedServer;
    let smallClient: EventStoreDBClient;

    before(async function () {
      small = await startEmbeddedServer({ insecure: true, maxAppendSize: 1000 });
      smallClient = connect(small.connectionString);
    });

    after(async function () {
      await smallClient.dispose();
      await small.close();
    });

    for (const [path, options] of BOTH_APPEND_PATHS) {
      it(`takes exactly the limit and refuses one byte more (${path})`, async function () {
        const type = 'x'.repeat(100); // 200 bytes
        const sized = (data: number, metadata: number) => binaryEvent({ type, data: new Uint8Array(data), metadata: new Uint8Array(metadata) });
        expect((await smallClient.appendToStream(freshStream(), sized(700, 100), options)).nextExpectedRevision).to.equal(0n);
        await expect(smallClient.appendToStream(freshStream(), sized(701, 100), options)).to.be.rejectedWith(MaxAppendSizeExceededError);
        await expect(smallClient.appendToStream(freshStream(), [sized(300, 0), sized(301, 0)], options)).to.be.rejectedWith(MaxAppendSizeExceededError);
      });
    }
  });

  describe('a filter regex', function () {
    it('is evaluated in linear time: a catastrophic pattern over a long name stalls no other client', async function () {
      // a server of its own process: with a backtracking engine its thread would be stuck for ages
      const child = await spawnServer();
      const other = connect(child.connectionString);
      try {
        const victim = `${'a'.repeat(64)}!`;
        await other.appendToStream(victim, jsonEvent({ type: 'T', data: {} }));
        const subscription = other.subscribeToAll({ filter: streamNameFilter({ regex: '^(a+)+$' }) });
        const caughtUp = new Promise<void>((resolve) => subscription.once('caughtUp', () => resolve()));
        const delivered: string[] = [];
        subscription.on('data', (resolved) => {
          if (resolved.event !== undefined) delivered.push(resolved.event.streamId);
        });
        await caughtUp;
        expect((await other.appendToStream(freshStream(), jsonEvent({ type: 'T', data: {} }))).nextExpectedRevision).to.equal(0n);
        await other.appendToStream('aaaa', jsonEvent({ type: 'T', data: {} }));
        while (delivered.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(delivered).to.deep.equal(['aaaa']);
        await subscription.unsubscribe();
      } finally {
        await other.dispose();
        await child.stop();
      }
    });

    it('with lookaround (not in RE2) is refused, naming the problem', async function () {
      const subscription = client.subscribeToAll({ filter: streamNameFilter({ regex: '^(?=a)' }) });
      const error = await new Promise<unknown>((resolve) => subscription.once('error', resolve));
      expect(String(error)).to.match(/Invalid filter regex '\^\(\?=a\)'/);
    });
  });

  describe('BatchAppend writes that do not complete', function () {
    let timed: EmbeddedServer;

    before(async function () {
      timed = await startEmbeddedServer({ insecure: true, writeTimeoutMs: 300 });
    });

    after(async function () {
      await timed.close();
    });

    /** Sends batch requests over one raw BatchAppend call and collects `expected` responses. */
    const batchAppend = async (requests: Uint8Array[], expected: number): Promise<InstanceType<typeof streamsPb.BatchAppendResp>[]> => {
      const raw = new grpc.Client(`127.0.0.1:${timed.port}`, grpc.credentials.createInsecure());
      const call = raw.makeBidiStreamRequest(
        '/event_store.client.streams.Streams/BatchAppend',
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => streamsPb.BatchAppendResp.deserializeBinary(b),
      );
      const responses: InstanceType<typeof streamsPb.BatchAppendResp>[] = [];
      const done = new Promise<void>((resolve) =>
        call.on('data', (response: InstanceType<typeof streamsPb.BatchAppendResp>) => {
          responses.push(response);
          if (responses.length === expected) resolve();
        }),
      );
      call.on('error', () => undefined);
      for (const request of requests) call.write(request);
      await done;
      call.cancel();
      raw.close();
      return responses;
    };

    const incomplete = (stream: string) => {
      const request = new streamsPb.BatchAppendReq()
        .setCorrelationId(new sharedPb.UUID().setString(randomUUID()))
        .setOptions(new streamsPb.BatchAppendReq.Options().setStreamIdentifier(new sharedPb.StreamIdentifier().setStreamName(Buffer.from(stream))).setAny(new emptyPb.Empty()))
        .setIsFinal(false);
      const message = new streamsPb.BatchAppendReq.ProposedMessage().setId(new sharedPb.UUID().setString(randomUUID())).setData(Buffer.from('{}'));
      message.getMetadataMap().set('type', 'T').set('content-type', 'application/json');
      request.addProposedMessages(message);
      return request.serializeBinary();
    };

    it('answers a write whose last batch never comes with Timeout after the write timeout, and writes nothing', async function () {
      const stream = freshStream();
      const [response] = await batchAppend([incomplete(stream)], 1);
      expect(response!.getError()!.getCode()).to.equal(grpc.status.DEADLINE_EXCEEDED);
      expect(response!.getError()!.getMessage()).to.equal('Timeout');
      const other = connect(timed.connectionString);
      try {
        await expect(collect(other.readStream(stream))).to.be.rejected;
      } finally {
        await other.dispose();
      }
    });

    it('keeps at most 64 incomplete writes on one call: the 65th is refused at once', async function () {
      const requests = Array.from({ length: 65 }, () => incomplete(freshStream()));
      const [first] = await batchAppend(requests, 1);
      expect(first!.getError()!.getMessage()).to.equal('BadRequest');
      expect(first!.getCorrelationId()!.getString()).to.equal(streamsPb.BatchAppendReq.deserializeBinary(requests[64]!).getCorrelationId()!.getString());
    });

    it('answers a write past its client deadline with DeadlineExceeded, through the official client', async function () {
      const other = connect(timed.connectionString);
      const stream = freshStream();
      try {
        const events = Array.from({ length: 3_000 }, (_, i) => jsonEvent({ type: 'T', data: { i } }));
        await expect(other.appendToStream(stream, events, { deadline: 1 })).to.be.rejectedWith(DeadlineExceededError);
        await expect(collect(other.readStream(stream))).to.be.rejected;
      } finally {
        await other.dispose();
      }
    });
  });

  describe('persistent subscriptions', function () {
    it('refuses a group whose readBatchSize is not below its bufferSize, as EventStoreDB does', async function () {
      const settings = persistentSubscriptionToStreamSettingsFromDefaults({ readBatchSize: 50, historyBufferSize: 50 });
      await expect(client.createPersistentSubscriptionToStream(freshStream(), 'g', settings)).to.be.rejectedWith(
        PersistentSubscriptionFailedError,
        /ReadBatchSize \(50\) may not be greater than or equal to BufferSize \(50\)/,
      );
    });

    it('pushes a consumer that does not read only what its connection takes, whatever buffer size it asks for', async function () {
      const stream = freshStream();
      const events = Array.from({ length: 5_000 }, (_, i) => jsonEvent({ type: 'T', data: { i, pad: 'x'.repeat(1024) } }));
      for (let i = 0; i < events.length; i += 500) await client.appendToStream(stream, events.slice(i, i + 500));
      await client.createPersistentSubscriptionToStream(stream, 'g', persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start' }));
      const idle = client.subscribeToPersistentSubscriptionToStream(stream, 'g', { bufferSize: 2 ** 31 - 1 });
      await new Promise((resolve) => idle.once('confirmation', resolve));
      // never read: once the transport pushes back, the group must stop handing the consumer messages
      let last = -1;
      let inFlight = 0;
      for (let stable = 0; stable < 5; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        inFlight = (await client.getPersistentSubscriptionToStreamInfo(stream, 'g')).stats.totalInFlightMessages;
        stable = inFlight === last ? stable + 1 : 0;
        last = inFlight;
      }
      expect(inFlight).to.be.below(2_500);
      await idle.unsubscribe();
    });
  });
});
