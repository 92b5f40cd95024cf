import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import {
  jsonEvent,
  PersistentSubscriptionFailedError,
  persistentSubscriptionToStreamSettingsFromDefaults,
  StreamDeletedError,
  type EventStoreDBClient,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client';
import { expect } from 'chai';
import type { ServerLog } from '../../src/esdb-server/log.js';
import { guardedImplementation, tolerantService } from '../../src/esdb-server/rpc.js';
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/esdb-server/server.js';
import { sharedEmbeddedServer } from '../support/embedded-server.js';
import { MemoryEngine } from '../../src/esdb-server/storage/memory-engine.js';
import type { StorageEngine } from '../../src/esdb-server/storage/engine.js';
import { collect, connect, eventually, freshStream } from './helpers.js';
import { hostileCalls, sendHostile } from './hostile-calls.js';

const event = (i: number) => jsonEvent({ type: 'Numbered', data: { i } });
const numberOf = (d: PersistentSubscriptionToStreamResolvedEvent): number => (d.event!.data as { i: number }).i;

/** A log that keeps what the server reported. */
const recordingLog = (): ServerLog & { readonly entries: { level: string; message: string; fields: Record<string, unknown> }[] } => {
  const entries: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  return {
    entries,
    warn: (message, fields = {}) => entries.push({ level: 'warn', message, fields }),
    error: (message, fields = {}) => entries.push({ level: 'error', message, fields }),
  };
};

describe('embedded EventStoreDB server: hostile clients', function () {
  for (const engine of ['sqlite', 'memory'] as const) {
    describe(`a group's parked stream tombstoned by a client (${engine})`, function () {
      let dataDir: string | undefined;
      let server: EmbeddedServer;
      let client: EventStoreDBClient;
      let log: ReturnType<typeof recordingLog>;

      beforeEach(async function () {
        dataDir = engine === 'sqlite' ? mkdtempSync(join(tmpdir(), 'opx-esdb-')) : undefined;
        log = recordingLog();
        server = await startEmbeddedServer({ insecure: true, ...(dataDir === undefined ? {} : { dataDir }), log });
        client = connect(server.connectionString);
      });

      afterEach(async function () {
        await client.dispose();
        await server.close();
        if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
      });

      // parked on the client's nack (in the call's handler) and on a message timeout (in the server's timer)
      for (const how of ['nack park', 'timeout'] as const) {
        it(`reports the message it cannot park (${how}), keeps the parked stream deleted and keeps serving the group`, async function () {
          const stream = freshStream();
          const parkedStream = `$persistentsubscription-${stream}::g-parked`;
          await client.appendToStream(stream, [event(1), event(2)]);
          await client.createPersistentSubscriptionToStream(
            stream,
            'g',
            persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start', messageTimeout: 200, maxRetryCount: 0 }),
          );
          await client.tombstoneStream(parkedStream);

          const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
          const seen: number[] = [];
          for await (const delivery of sub) {
            seen.push(numberOf(delivery));
            if (numberOf(delivery) === 2) await sub.ack(delivery);
            else if (how === 'nack park') await sub.nack('park', 'poison', delivery);
            if (seen.includes(2)) break;
          }
          expect(seen).to.deep.equal([1, 2]);
          const report = await eventually(() => log.entries.find((e) => e.message.includes('could not be parked')));
          expect(report.fields).to.include({ group: 'g', parkedStream, eventNumber: '0' });

          await expect(collect(client.readStream(parkedStream))).to.be.rejectedWith(StreamDeletedError);
          const info = await client.getPersistentSubscriptionToStreamInfo(stream, 'g');
          expect(info.stats.parkedMessageCount).to.equal(0n);
          await client.replayParkedMessagesToStream(stream, 'g');
          expect((await client.appendToStream(stream, event(3))).nextExpectedRevision).to.equal(2n);
        });
      }
    });
  }

  describe('every RPC with hostile arguments', function () {
    let server: EmbeddedServer;
    let log: ReturnType<typeof recordingLog>;

    before(async function () {
      log = recordingLog();
      server = await startEmbeddedServer({ insecure: true, log });
    });

    after(async function () {
      await server.close();
    });

    it('answers each with a clear error (never INTERNAL or UNKNOWN) and keeps serving', async function () {
      const stream = freshStream();
      const answers: string[] = [];
      for (const call of hostileCalls(stream)) {
        const status = await sendHostile(`127.0.0.1:${server.port}`, call);
        answers.push(`${call.name}: ${grpc.status[status.code]} ${status.details}`);
        if (status.code === grpc.status.OK) continue;
        expect(status.code, call.name).to.not.be.oneOf([grpc.status.INTERNAL, grpc.status.UNKNOWN]);
        expect(status.details, call.name).to.not.equal('');
      }
      // reads of a stream that does not exist answer in band; a BatchAppend ended with no complete
      // write has nothing to answer; ServerFeatures reads nothing from its request
      expect(
        answers.filter((a) => a.endsWith(': OK OK')).map((a) => a.slice(0, -': OK OK'.length)),
        answers.join('\n'),
      ).to.deep.equal(['ServerFeatures garbage', 'Streams.Read count 2^64-1', 'Streams.Read revision 2^64-1', 'Streams.BatchAppend never final']);
      expect(log.entries, JSON.stringify(log.entries)).to.deep.equal([]);
      const client = connect(server.connectionString);
      try {
        expect((await client.appendToStream(stream, event(1))).nextExpectedRevision).to.equal(0n);
      } finally {
        await client.dispose();
      }
    });
  });

  describe('an unexpected error in the storage', function () {
    /** A memory engine whose methods throw while `fault` says so. */
    const faultyEngine = (fault: (method: string, args: unknown[]) => boolean): StorageEngine => {
      const engine = new MemoryEngine();
      return new Proxy(engine, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (fault(String(property), args)) throw new Error(`injected fault in ${String(property)}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    };

    it("answers INTERNAL to the calls it breaks, drops a broken group's consumers, logs it, and keeps serving", async function () {
      const stream = freshStream('faulty');
      let broken = false;
      const log = recordingLog();
      const server = await startEmbeddedServer({
        insecure: true,
        engine: faultyEngine((method, args) => broken && method === 'readStreamForward' && args[0] === stream),
        log,
      });
      const client = connect(server.connectionString);
      try {
        await client.createPersistentSubscriptionToStream(
          stream,
          'g',
          persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start', messageTimeout: 200 }),
        );
        const sub = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
        const dropped = new Promise<unknown>((resolve) => sub.once('error', resolve));
        await new Promise((resolve) => sub.once('confirmation', resolve));
        broken = true;
        // the group reads the new event in a pump no call waits on: the fault surfaces there
        await client.appendToStream(stream, event(1));
        expect(await dropped).to.be.instanceOf(PersistentSubscriptionFailedError);
        await expect(collect(client.readStream(stream))).to.be.rejectedWith(/injected fault in readStreamForward/);
        expect(log.entries.map((e) => e.message)).to.include('persistent subscription group failed; its consumers are dropped');

        broken = false;
        const again = client.subscribeToPersistentSubscriptionToStream(stream, 'g');
        for await (const delivery of again) {
          expect(numberOf(delivery)).to.equal(1);
          await again.ack(delivery);
          break;
        }
        expect((await client.appendToStream(freshStream(), event(2))).nextExpectedRevision).to.equal(0n);
      } finally {
        await client.dispose();
        await server.close();
      }
    });
  });

  describe('a handler that throws', function () {
    it('is answered INTERNAL, whether it throws or rejects, and the server goes on', async function () {
      const log = recordingLog();
      const server = new grpc.Server();
      server.addService(
        tolerantService(streamsGrpc.StreamsService as unknown as grpc.ServiceDefinition),
        guardedImplementation(
          'Streams',
          {
            delete: () => {
              throw new TypeError('thrown by the handler');
            },
            tombstone: () => Promise.reject(new RangeError('rejected by the handler')),
            read: () => {
              throw new Error('thrown by a streaming handler');
            },
          },
          log,
        ),
      );
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
      );
      try {
        const address = `127.0.0.1:${port}`;
        const unary = (name: string, path: string) => sendHostile(address, { name, path, kind: 'unary', messages: [new Uint8Array(0)] });
        const thrown = await unary('delete', '/event_store.client.streams.Streams/Delete');
        const rejected = await unary('tombstone', '/event_store.client.streams.Streams/Tombstone');
        const streaming = await sendHostile(address, {
          name: 'read',
          path: '/event_store.client.streams.Streams/Read',
          kind: 'server',
          messages: [new Uint8Array(0)],
        });
        expect([thrown, rejected, streaming].map((s) => [s.code, s.details])).to.deep.equal([
          [grpc.status.INTERNAL, 'thrown by the handler'],
          [grpc.status.INTERNAL, 'rejected by the handler'],
          [grpc.status.INTERNAL, 'thrown by a streaming handler'],
        ]);
        expect(log.entries.map((e) => [e.fields['method'], e.fields['error']])).to.deep.equal([
          ['delete', 'TypeError: thrown by the handler'],
          ['tombstone', 'RangeError: rejected by the handler'],
          ['read', 'Error: thrown by a streaming handler'],
        ]);
      } finally {
        server.forceShutdown();
      }
    });
  });

  describe('malformed and unsupported requests', function () {
    let server: EmbeddedServer;

    before(async function () {
      server = await sharedEmbeddedServer();
    });

    const call = (path: string, payload: Buffer): Promise<grpc.ServiceError | undefined> =>
      new Promise((resolve) => {
        const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
        raw.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          payload,
          (error) => {
            raw.close();
            resolve(error ?? undefined);
          },
        );
      });

    it('answers garbage bytes with INVALID_ARGUMENT and keeps serving', async function () {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99]);
      expect((await call('/event_store.client.streams.Streams/Delete', garbage))?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect((await call('/event_store.client.persistent_subscriptions.PersistentSubscriptions/Create', garbage))?.code).to.equal(
        grpc.status.INVALID_ARGUMENT,
      );
      expect((await call('/event_store.client.streams.Streams/Tombstone', Buffer.alloc(0)))?.code).to.equal(
        grpc.status.INVALID_ARGUMENT,
      );
      const stream = freshStream();
      const client = connect(server.connectionString);
      try {
        expect((await client.appendToStream(stream, event(1))).nextExpectedRevision).to.equal(0n);
      } finally {
        await client.dispose();
      }
    });

    it('answers a read without options with INVALID_ARGUMENT', async function () {
      const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      const stream = raw.makeServerStreamRequest(
        '/event_store.client.streams.Streams/Read',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
      );
      const error = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve).on('data', () => undefined));
      raw.close();
      expect(error.code).to.equal(grpc.status.INVALID_ARGUMENT);
    });

    it('answers services it does not implement with UNIMPLEMENTED', async function () {
      expect((await call('/event_store.client.operations.Operations/StartScavenge', Buffer.alloc(0)))?.code).to.equal(
        grpc.status.UNIMPLEMENTED,
      );
    });
  });
});
