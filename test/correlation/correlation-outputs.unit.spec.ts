import { expect } from 'chai';

import type { CandidateStore } from '../../src/candidates/candidate-store.js';
import { CorrelationConflict, StoreCorrelationOutputs } from '../../src/correlation/correlation-outputs.js';
import type { EventToAppend, ExpectedRevision } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { silentLogger } from '../../src/shared/logger.js';

const event = (id: string): EventToAppend => ({ id, type: 'SignalCorrelated', data: { n: id }, metadata: {} });
const outputsOf = (store: InMemoryEventStore): StoreCorrelationOutputs => new StoreCorrelationOutputs(store, {} as CandidateStore, silentLogger);
const idsIn = (store: InMemoryEventStore, streamId: string): string[] => store.snapshot(streamId).map((e) => e.id);

describe(`${StoreCorrelationOutputs.name} appendGroup`, () => {
  it('appends a new group stream, then its next events after the revision given', async () => {
    const store = new InMemoryEventStore();
    const outputs = outputsOf(store);
    await outputs.appendGroup('correlation-grp-a', [event('e1'), event('e2')], -1n);
    await outputs.appendGroup('correlation-grp-a', [event('e3')], 1n);
    expect(idsIn(store, 'correlation-grp-a')).to.deep.equal(['e1', 'e2', 'e3']);
  });

  it('writes only the events not recorded yet when the first of them are there already (another correlator wrote them)', async () => {
    const store = new InMemoryEventStore();
    await store.append('correlation-grp-a', [event('e1'), event('e2')], 'no_stream');
    await outputsOf(store).appendGroup('correlation-grp-a', [event('e1'), event('e2'), event('e3')], -1n);
    expect(idsIn(store, 'correlation-grp-a')).to.deep.equal(['e1', 'e2', 'e3']);
  });

  it('is a conflict when the stream holds another event where one of these would go', async () => {
    const store = new InMemoryEventStore();
    await store.append('correlation-grp-a', [event('other')], 'no_stream');
    await expect(outputsOf(store).appendGroup('correlation-grp-a', [event('e1')], -1n)).to.be.rejectedWith(CorrelationConflict, 'holds event other, not e1');
  });

  it('passes any other failure of the store on as it is', async () => {
    const store = new InMemoryEventStore();
    await store.close();
    await expect(outputsOf(store).appendGroup('correlation-grp-a', [event('e1')], -1n)).to.be.rejectedWith('InMemoryEventStore is closed');
  });

  it('tries three appends while the stream keeps moving under it, then reports the conflict', async () => {
    // Each refused append finds one more of its own events written by someone else.
    const store = new InMemoryEventStore();
    let appends = 0;
    const moving = Object.create(store) as InMemoryEventStore;
    moving.append = async (streamId: string, events: readonly EventToAppend[], expected: ExpectedRevision) => {
      appends++;
      await store.append(streamId, [events[0] as EventToAppend], expected);
      return store.append(streamId, events, expected);
    };
    const outputs = new StoreCorrelationOutputs(moving, {} as CandidateStore, silentLogger);
    await expect(outputs.appendGroup('correlation-grp-a', ['e1', 'e2', 'e3', 'e4'].map(event), -1n)).to.be.rejectedWith(CorrelationConflict, 'kept moving');
    expect(appends).to.equal(3);
    expect(idsIn(store, 'correlation-grp-a')).to.deep.equal(['e1', 'e2', 'e3']);
  });
});
