import { randomUUID } from 'node:crypto';

import { expect } from 'chai';

import type {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  JsonObject,
  RecordedEvent,
} from '../../src/eventstore/event-store.js';
import { WrongExpectedVersion } from '../../src/shared/errors.js';

/** Stream ids unique to this run and test, so no test ever needs to wipe the store. */
const runId = randomUUID().slice(0, 8);
let sequence = 0;
export const freshStreamId = (label: string): string => `contract-${runId}-${++sequence}-${label}`;

export const anEvent = (type = 'ThingHappened', data: JsonObject = {}, metadata: JsonObject = {}): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata,
});

export const events = (count: number): EventToAppend[] =>
  Array.from({ length: count }, (_, index) => anEvent('ThingHappened', { index }));

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

const ids = (recorded: readonly RecordedEvent[]): string[] => recorded.map((event) => event.id);
const revisions = (recorded: readonly RecordedEvent[]): bigint[] => recorded.map((event) => event.revision);

async function expectWrongExpectedVersion(
  append: Promise<unknown>,
  fields: { streamId: string; expected: ExpectedRevision; actual: bigint | 'no_stream' },
): Promise<void> {
  const error: unknown = await expect(append).to.be.rejectedWith(WrongExpectedVersion);
  expect(error).to.be.instanceOf(WrongExpectedVersion);
  const { streamId, expected, actual } = error as WrongExpectedVersion;
  expect({ streamId, expected, actual }).to.deep.equal(fields);
}

/**
 * The semantics every {@link EventStore} implementation shares (the port's doc comments, which
 * follow EventStoreDB). `factory` is called once for the suite; the store is closed after it.
 */
export function describeEventStoreContract(name: string, factory: () => EventStore | Promise<EventStore>): void {
  describe(`${name} (EventStore contract)`, () => {
    let store: EventStore;

    before(async () => {
      store = await factory();
    });

    after(async () => {
      await store?.close();
    });

    const readStream = (streamId: string, options?: Parameters<EventStore['readStream']>[1]) =>
      collect(store.readStream(streamId, options));

    describe('append', () => {
      it('numbers revisions from 0 and reports the last revision and its global position', async () => {
        const streamId = freshStreamId('append');
        const result = await store.append(streamId, events(3), 'no_stream');
        const recorded = await readStream(streamId);

        expect(result.nextExpectedRevision).to.equal(2n);
        expect(revisions(recorded)).to.deep.equal([0n, 1n, 2n]);
        expect(result.position).to.equal(recorded[2]?.position);
      });

      it('continues the revisions of an existing stream', async () => {
        const streamId = freshStreamId('continue');
        await store.append(streamId, events(2), 'no_stream');
        const result = await store.append(streamId, events(2), 1n);

        expect(result.nextExpectedRevision).to.equal(3n);
        expect(revisions(await readStream(streamId))).to.deep.equal([0n, 1n, 2n, 3n]);
      });

      it('keeps every field: id, type, stream, revision, position, data, metadata, created', async () => {
        const streamId = freshStreamId('fields');
        const proposed = anEvent(
          'CandidateCreated',
          { candidateId: 'c-1', severity: 3, tags: ['a', 'b'], nested: { ok: true, none: null } },
          { $correlationId: 'corr-1', $causationId: 'cause-1' },
        );
        const result = await store.append(streamId, [proposed], 'no_stream');
        const [recorded] = await readStream(streamId);

        expect(recorded).to.not.equal(undefined);
        expect(recorded?.id).to.equal(proposed.id);
        expect(recorded?.type).to.equal('CandidateCreated');
        expect(recorded?.streamId).to.equal(streamId);
        expect(recorded?.revision).to.equal(0n);
        expect(recorded?.position).to.be.a('bigint').and.to.equal(result.position);
        expect(recorded?.data).to.deep.equal(proposed.data);
        expect(recorded?.metadata).to.deep.equal(proposed.metadata);
        expect(recorded?.created).to.be.instanceOf(Date);
      });
    });

    describe('expected revision', () => {
      describe("'no_stream'", () => {
        it('creates a stream that does not exist', async () => {
          const streamId = freshStreamId('no-stream');
          const result = await store.append(streamId, events(1), 'no_stream');
          expect(result.nextExpectedRevision).to.equal(0n);
        });

        it('rejects an existing stream with WrongExpectedVersion naming its revision', async () => {
          const streamId = freshStreamId('no-stream-exists');
          await store.append(streamId, events(2), 'no_stream');
          await expectWrongExpectedVersion(store.append(streamId, events(1), 'no_stream'), {
            streamId,
            expected: 'no_stream',
            actual: 1n,
          });
        });
      });

      describe("'stream_exists'", () => {
        it('appends to an existing stream', async () => {
          const streamId = freshStreamId('exists');
          await store.append(streamId, events(1), 'no_stream');
          const result = await store.append(streamId, events(1), 'stream_exists');
          expect(result.nextExpectedRevision).to.equal(1n);
        });

        it('rejects a missing stream with WrongExpectedVersion, actual no_stream', async () => {
          const streamId = freshStreamId('exists-missing');
          await expectWrongExpectedVersion(store.append(streamId, events(1), 'stream_exists'), {
            streamId,
            expected: 'stream_exists',
            actual: 'no_stream',
          });
          expect(await readStream(streamId)).to.deep.equal([]);
        });
      });

      describe('an exact revision', () => {
        it('appends when the stream is at that revision', async () => {
          const streamId = freshStreamId('exact');
          await store.append(streamId, events(2), 'no_stream');
          const result = await store.append(streamId, events(1), 1n);
          expect(result.nextExpectedRevision).to.equal(2n);
        });

        it('rejects a stream at another revision with WrongExpectedVersion carrying both', async () => {
          const streamId = freshStreamId('exact-behind');
          await store.append(streamId, events(2), 'no_stream');
          await expectWrongExpectedVersion(store.append(streamId, events(1), 5n), {
            streamId,
            expected: 5n,
            actual: 1n,
          });
          await expectWrongExpectedVersion(store.append(streamId, events(1), 0n), {
            streamId,
            expected: 0n,
            actual: 1n,
          });
          expect(revisions(await readStream(streamId))).to.deep.equal([0n, 1n]);
        });

        it('rejects a missing stream with WrongExpectedVersion, actual no_stream', async () => {
          const streamId = freshStreamId('exact-missing');
          await expectWrongExpectedVersion(store.append(streamId, events(1), 0n), {
            streamId,
            expected: 0n,
            actual: 'no_stream',
          });
        });
      });

      describe("'any'", () => {
        it('appends to a missing and to an existing stream', async () => {
          const streamId = freshStreamId('any');
          expect((await store.append(streamId, events(1), 'any')).nextExpectedRevision).to.equal(0n);
          expect((await store.append(streamId, events(2), 'any')).nextExpectedRevision).to.equal(2n);
        });
      });
    });

    describe('re-appending the same event ids at the same expected revision', () => {
      it("with 'no_stream' writes nothing and returns the original result", async () => {
        const streamId = freshStreamId('idem-no-stream');
        const batch = events(2);
        const first = await store.append(streamId, batch, 'no_stream');
        const again = await store.append(streamId, batch, 'no_stream');

        expectOriginalResult(again, first);
        expect(ids(await readStream(streamId))).to.deep.equal(batch.map((e) => e.id));
      });

      it('with an exact revision writes nothing and returns the original result', async () => {
        const streamId = freshStreamId('idem-exact');
        const head = events(1);
        const tail = events(2);
        await store.append(streamId, head, 'no_stream');
        const first = await store.append(streamId, tail, 0n);
        const again = await store.append(streamId, tail, 0n);

        expectOriginalResult(again, first);
        expect(again.nextExpectedRevision).to.equal(2n);
        expect(ids(await readStream(streamId))).to.deep.equal([...head, ...tail].map((e) => e.id));
      });

      it("with 'any' writes nothing and returns the original result", async () => {
        const streamId = freshStreamId('idem-any');
        const batch = events(2);
        const first = await store.append(streamId, batch, 'any');
        const again = await store.append(streamId, batch, 'any');

        expectOriginalResult(again, first);
        expect(ids(await readStream(streamId))).to.deep.equal(batch.map((e) => e.id));
      });
    });

    describe('headPosition', () => {
      it('is the position of the last event appended, so an idempotent re-append reports a position not after it', async () => {
        const streamId = freshStreamId('head');
        const batch = events(1);
        const first = await store.append(streamId, batch, 'no_stream');
        const head = await store.headPosition?.();
        if (head === undefined) return; // optional for stores that cannot tell
        expect(head >= first.position).to.equal(true);
        const again = await store.append(streamId, batch, 'no_stream');
        expect(again.position <= head).to.equal(true);
        const next = await store.append(freshStreamId('head-next'), events(1), 'no_stream');
        expect(next.position > head).to.equal(true);
      });
    });

    describe('readStream', () => {
      let streamId: string;
      let written: EventToAppend[];

      before(async () => {
        streamId = freshStreamId('read');
        written = events(5);
        await store.append(streamId, written, 'no_stream');
      });

      it('yields nothing for a stream that does not exist', async () => {
        expect(await readStream(freshStreamId('missing'))).to.deep.equal([]);
      });

      it('reads forwards from revision 0 by default', async () => {
        const recorded = await readStream(streamId);
        expect(revisions(recorded)).to.deep.equal([0n, 1n, 2n, 3n, 4n]);
        expect(recorded.map((e) => e.id)).to.deep.equal(written.map((e) => e.id));
        expect(recorded.map((e) => e.data)).to.deep.equal(written.map((e) => e.data));
      });

      it('reads forwards from an inclusive fromRevision', async () => {
        expect(revisions(await readStream(streamId, { fromRevision: 2n }))).to.deep.equal([2n, 3n, 4n]);
      });

      it('reads backwards from the end by default', async () => {
        expect(revisions(await readStream(streamId, { direction: 'backwards' }))).to.deep.equal([4n, 3n, 2n, 1n, 0n]);
      });

      it('reads backwards from an inclusive fromRevision', async () => {
        const recorded = await readStream(streamId, { direction: 'backwards', fromRevision: 3n, maxCount: 2 });
        expect(revisions(recorded)).to.deep.equal([3n, 2n]);
      });

      it('stops after maxCount events', async () => {
        expect(revisions(await readStream(streamId, { maxCount: 2 }))).to.deep.equal([0n, 1n]);
        expect(revisions(await readStream(streamId, { fromRevision: 3n, maxCount: 10 }))).to.deep.equal([3n, 4n]);
      });

      it('positions increase with revisions', async () => {
        const positions = (await readStream(streamId)).map((e) => e.position);
        expect(positions).to.deep.equal([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(new Set(positions).size).to.equal(positions.length);
      });
    });

    describe('readAll', () => {
      it('yields the events of every stream in global order with increasing positions', async () => {
        const prefix = `${freshStreamId('all')}-`;
        const a1 = anEvent('A1');
        const b1 = anEvent('B1');
        const a2 = anEvent('A2');
        const b2 = anEvent('B2');
        await store.append(`${prefix}a`, [a1], 'no_stream');
        await store.append(`${prefix}b`, [b1], 'no_stream');
        await store.append(`${prefix}a`, [a2], 0n);
        await store.append(`${prefix}b`, [b2], 0n);

        const recorded = await collect(store.readAll({ streamPrefixes: [prefix] }));

        expect(ids(recorded)).to.deep.equal([a1, b1, a2, b2].map((e) => e.id));
        expect(recorded.map((e) => e.streamId)).to.deep.equal([`${prefix}a`, `${prefix}b`, `${prefix}a`, `${prefix}b`]);
        expect(revisions(recorded)).to.deep.equal([0n, 0n, 1n, 1n]);
        for (let i = 1; i < recorded.length; i++) {
          expect((recorded[i]?.position ?? -1n) > (recorded[i - 1]?.position ?? -1n)).to.equal(true);
        }
      });

      it('gives each event of a multi-event append its own position, as readStream does', async () => {
        const prefix = `${freshStreamId('all-batch')}-`;
        await store.append(`${prefix}s`, events(3), 'no_stream');
        const fromAll = await collect(store.readAll({ streamPrefixes: [prefix] }));
        const fromStream = await readStream(`${prefix}s`);

        expect(new Set(fromAll.map((e) => e.position)).size).to.equal(3);
        expect(fromAll.map((e) => e.position)).to.deep.equal(fromStream.map((e) => e.position));
      });

      it('only yields streams that start with one of the prefixes', async () => {
        const prefix = `${freshStreamId('all-prefix')}-`;
        await store.append(`${prefix}alpha-1`, events(1), 'no_stream');
        await store.append(`${prefix}beta-1`, events(1), 'no_stream');
        await store.append(`${prefix}gamma-1`, events(1), 'no_stream');
        await store.append(`${prefix}alpha-2`, events(1), 'no_stream');

        const recorded = await collect(store.readAll({ streamPrefixes: [`${prefix}alpha-`, `${prefix}gamma-`] }));

        expect(recorded.map((e) => e.streamId)).to.deep.equal([
          `${prefix}alpha-1`,
          `${prefix}gamma-1`,
          `${prefix}alpha-2`,
        ]);
      });

      it('starts strictly after the given position', async () => {
        const prefix = `${freshStreamId('all-after')}-`;
        const written = events(4);
        await store.append(`${prefix}s`, written, 'no_stream');
        const all = await collect(store.readAll({ streamPrefixes: [prefix] }));
        const second = all[1];
        expect(second).to.not.equal(undefined);

        const after = await collect(store.readAll({ streamPrefixes: [prefix], after: second?.position ?? -1n }));

        expect(ids(after)).to.deep.equal(written.slice(2).map((e) => e.id));
      });

      it('stops after maxCount events', async () => {
        const prefix = `${freshStreamId('all-max')}-`;
        const written = events(4);
        await store.append(`${prefix}s`, written, 'no_stream');

        const recorded = await collect(store.readAll({ streamPrefixes: [prefix], maxCount: 3 }));

        expect(ids(recorded)).to.deep.equal(written.slice(0, 3).map((e) => e.id));
      });

      it('never yields system streams (names starting with $)', async () => {
        const streamId = freshStreamId('all-system');
        const start = await store.append(streamId, events(1), 'no_stream');
        await store.setStreamMetadata(streamId, { maxCount: 100 });
        await store.append(`$${streamId}`, events(1), 'no_stream');
        const last = await store.append(streamId, events(1), 0n);

        const recorded = await collect(store.readAll({ after: start.position }));

        expect(recorded.filter((e) => e.streamId.startsWith('$'))).to.deep.equal([]);
        expect(recorded.map((e) => e.position)).to.include(last.position);
      });
    });

    describe('stream metadata', () => {
      it('round-trips $maxAge (seconds) and $maxCount', async () => {
        const streamId = freshStreamId('meta');
        await store.append(streamId, events(1), 'no_stream');
        await store.setStreamMetadata(streamId, { maxAge: 3600, maxCount: 10 });
        expect(await store.getStreamMetadata(streamId)).to.deep.equal({ maxAge: 3600, maxCount: 10 });

        await store.setStreamMetadata(streamId, { maxCount: 3 });
        expect(await store.getStreamMetadata(streamId)).to.deep.equal({ maxCount: 3 });
      });

      it('is empty for a stream that has none', async () => {
        expect(await store.getStreamMetadata(freshStreamId('meta-none'))).to.deep.equal({});
      });

      it('applies $maxCount on read, keeping the revisions of the newest events', async () => {
        const streamId = freshStreamId('meta-max-count');
        const written = events(5);
        await store.append(streamId, written, 'no_stream');
        await store.setStreamMetadata(streamId, { maxCount: 2 });

        const recorded = await readStream(streamId);

        expect(revisions(recorded)).to.deep.equal([3n, 4n]);
        expect(ids(recorded)).to.deep.equal(written.slice(3).map((e) => e.id));
      });

      it('does not create the stream: the first append may still expect no_stream', async () => {
        const streamId = freshStreamId('meta-first');
        await store.setStreamMetadata(streamId, { maxAge: 60 });
        expect(await readStream(streamId)).to.deep.equal([]);

        const result = await store.append(streamId, events(1), 'no_stream');

        expect(result.nextExpectedRevision).to.equal(0n);
        expect(await store.getStreamMetadata(streamId)).to.deep.equal({ maxAge: 60 });
      });
    });

    describe('subscribeToAll', () => {
      it('delivers history, then live events, and completes when closed', async () => {
        const prefix = `${freshStreamId('sub')}-`;
        const history = events(2);
        const live = anEvent('Live');
        await store.append(`${prefix}s`, history, 'no_stream');
        await store.append(`other-${prefix}s`, events(1), 'no_stream');

        const subscription = store.subscribeToAll({ streamPrefixes: [prefix] });
        const iterator = subscription[Symbol.asyncIterator]();
        const first = await iterator.next();
        const second = await iterator.next();
        await store.append(`${prefix}s`, [live], 1n);
        const third = await iterator.next();
        await subscription.close();
        const afterClose = await iterator.next();

        expect([first, second, third].map((r) => (r.done === true ? undefined : r.value.id))).to.deep.equal([
          ...history.map((e) => e.id),
          live.id,
        ]);
        expect(third.done === true ? undefined : third.value.revision).to.equal(2n);
        expect(afterClose.done).to.equal(true);
      });

      it('starts strictly after the given position', async () => {
        const prefix = `${freshStreamId('sub-after')}-`;
        const written = events(3);
        const firstResult = await store.append(`${prefix}s`, written.slice(0, 1), 'no_stream');
        await store.append(`${prefix}s`, written.slice(1), 0n);

        const subscription = store.subscribeToAll({ streamPrefixes: [prefix], after: firstResult.position });
        const received: string[] = [];
        for await (const event of subscription) {
          received.push(event.id);
          if (received.length === 2) break;
        }
        await subscription.close();

        expect(received).to.deep.equal(written.slice(1).map((e) => e.id));
      });

      it('completes a subscription closed before it was iterated', async () => {
        const subscription = store.subscribeToAll({ streamPrefixes: [`${freshStreamId('sub-closed')}-`] });
        await subscription.close();
        expect(await collect(subscription)).to.deep.equal([]);
      });
    });
  });
}


/** An idempotent re-append reports the original write; a store that can tell says nothing was written now. */
function expectOriginalResult(again: AppendResult, first: AppendResult): void {
  expect([again.nextExpectedRevision, again.position]).to.deep.equal([first.nextExpectedRevision, first.position]);
  if (again.written !== undefined) expect([first.written, again.written]).to.deep.equal([true, false]);
}
