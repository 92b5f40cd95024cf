import { expect } from 'chai';

import type { ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { DeferredInputs } from '../../src/replay/deferred-inputs.js';

/** An in-memory store that remembers the options of every read of `$all`. */
class WatchedStore extends InMemoryEventStore {
  readonly readsOfAll: ReadAllOptions[] = [];

  override readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.readsOfAll.push(options);
    return super.readAll(options);
  }
}

/** A history recorded ingest-first: an unrelated event, then the inputs of candidates a..e (their outputs would follow). */
async function ingestFirst(): Promise<{ store: WatchedStore; inputs: Map<string, RecordedEvent> }> {
  const store = new WatchedStore();
  await store.append('incident-x', [{ id: 'e-x', type: 'IncidentStateChanged', data: {}, metadata: {} }], 'no_stream');
  for (const name of ['a', 'b', 'c', 'd', 'e'])
    await store.append(`candidate-${name}`, [{ id: `e-${name}`, type: 'CandidateCreated', data: {}, metadata: {} }], 'no_stream');
  const inputs = new Map<string, RecordedEvent>();
  for await (const event of store.readAll({ streamPrefixes: ['candidate-'] })) inputs.set(event.streamId, event);
  store.readsOfAll.length = 0;
  return { store, inputs };
}

const noWholeRead = async (streamId: string): Promise<void> => {
  throw new Error(`unexpected whole read of ${streamId}`);
};

describe(DeferredInputs.name, () => {
  it('fetches a deferred input again with a cursor that starts after the event before the first one deferred', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 8);
    for (const input of inputs.values()) expect(deferred.defer(input, input.position - 1n)).to.equal(true);

    const taken = await deferred.take('candidate-a', noWholeRead);

    expect(taken).to.equal(inputs.get('candidate-a'));
    expect(store.readsOfAll).to.deep.equal([{ streamPrefixes: ['candidate-'], after: 0n }]);
    expect(deferred.isDeferred('candidate-a')).to.equal(false);
  });

  it('holds the inputs its cursor passes, and hands them out without reading again', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 8);
    for (const input of inputs.values()) deferred.defer(input, undefined);

    expect(await deferred.take('candidate-c', noWholeRead)).to.equal(inputs.get('candidate-c'));
    expect(await deferred.take('candidate-a', noWholeRead)).to.equal(inputs.get('candidate-a'));
    expect(await deferred.take('candidate-b', noWholeRead)).to.equal(inputs.get('candidate-b'));
    expect(store.readsOfAll).to.have.length(1);
  });

  it('past its window, hands the oldest input it passed to a whole read and forgets it', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 1);
    for (const input of inputs.values()) deferred.defer(input, undefined);
    const readWhole: Array<[string, bigint]> = [];

    expect(await deferred.take('candidate-d', async (streamId, from) => void readWhole.push([streamId, from]))).to.equal(inputs.get('candidate-d'));

    expect(readWhole).to.deep.equal([
      ['candidate-a', 0n],
      ['candidate-b', 0n],
    ]);
    expect(deferred.isDeferred('candidate-a')).to.equal(false);
    expect(await deferred.take('candidate-c', noWholeRead)).to.equal(inputs.get('candidate-c'));
  });

  it('passes over a forgotten input: it is neither held nor handed out at the end', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 8);
    for (const input of inputs.values()) deferred.defer(input, undefined);
    deferred.forget('candidate-b');

    expect(await deferred.take('candidate-c', noWholeRead)).to.equal(inputs.get('candidate-c'));
    expect(await deferred.take('candidate-b', noWholeRead)).to.equal(undefined);
    const left: string[] = [];
    for await (const input of deferred.unclaimed()) left.push(input.streamId);
    expect(left).to.deep.equal(['candidate-a', 'candidate-d', 'candidate-e']);
  });

  it('hands out every input nothing claimed, in history order, once the scan is over', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 8);
    for (const input of inputs.values()) deferred.defer(input, undefined);
    await deferred.take('candidate-b', noWholeRead);

    const left: RecordedEvent[] = [];
    for await (const input of deferred.unclaimed()) left.push(input);

    expect(left).to.deep.equal(['candidate-a', 'candidate-c', 'candidate-d', 'candidate-e'].map((s) => inputs.get(s)));
    for (const input of left) expect(deferred.isDeferred(input.streamId)).to.equal(false);
  });

  it('defers nothing with a window of 0 (deferral off)', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 0);
    expect(deferred.defer(inputs.get('candidate-a')!, undefined)).to.equal(false);
    expect(deferred.isDeferred('candidate-a')).to.equal(false);
  });

  it('fails loudly when history lacks an input it deferred (the source changed under the audit)', async () => {
    const { store, inputs } = await ingestFirst();
    const deferred = new DeferredInputs(store, 8);
    const a = inputs.get('candidate-a')!;
    deferred.defer({ ...a, position: a.position + 100n }, undefined);
    await expect(deferred.take('candidate-a', noWholeRead)).to.be.rejectedWith(/ended before position/);
  });

  it('stays in order over many deferred inputs taken one by one (its queue of positions is compacted on the way)', async () => {
    const store = new WatchedStore();
    const count = 5_000;
    for (let i = 0; i < count; i++) await store.append(`candidate-${i}`, [{ id: `e-${i}`, type: 'CandidateCreated', data: {}, metadata: {} }], 'no_stream');
    const deferred = new DeferredInputs(store, 4);
    for await (const input of store.readAll()) deferred.defer(input, undefined);
    for (let i = 0; i < count; i++) expect((await deferred.take(`candidate-${i}`, noWholeRead))?.id).to.equal(`e-${i}`);
    for await (const input of deferred.unclaimed()) throw new Error(`${input.streamId} left over`);
  });
});
