/**
 * The replay audit carries the integrity verification: a replay proves outputs follow from inputs,
 * the chain proves the inputs are what was recorded. A changed byte in a recorded input replays
 * IDENTICAL (the changed input re-derives its own outputs) and is caught by the chain alone.
 */
import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import type { JsonObject, RecordedEvent } from '../../src/eventstore/event-store.js';
import { sealHistory } from '../../src/integrity/sealer.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { importHistory } from '../../src/replay/history-file.js';
import { goldenHistoryLines } from '../support/golden.js';
import { TamperingStore } from './support/tampering-store.js';
import { IntegrityWorld } from './support/world.js';

describe('auditHistory with the integrity chain', function () {
  this.timeout(60_000);
  const config = loadConfig();

  it('is IDENTICAL and INTACT for a history sealed as it ran', async () => {
    const world = await IntegrityWorld.recorded({ groups: 12 });
    await sealHistory(world.store);
    const report = await auditHistory(config, world.store);
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.integrity.verdict).to.equal('INTACT');
    expect(report.integrity.eventsVerified).to.equal(report.integrity.eventsRead).and.be.greaterThan(0);
  });

  it('is DIVERGENT when a signal id inside a recorded CandidateCreated changed, though every stage still replays identical (issue 14)', async () => {
    // The golden history's candidates come from the batch correlation: inputs to the replay, re-derived by nothing.
    const store = new TamperingStore();
    await importHistory(store, goldenHistoryLines());
    await sealHistory(store);
    let created: RecordedEvent | undefined;
    for await (const e of store.readAll({ streamPrefixes: ['candidate-'] })) created ??= e.type === 'CandidateCreated' ? e : undefined;
    if (created === undefined) throw new Error('no CandidateCreated in the golden history');
    store.change(created.streamId, created.revision, (e) => {
      const candidate = e.metadata['candidate'] as JsonObject;
      const [first, ...rest] = candidate['signalIds'] as string[];
      return { metadata: { ...e.metadata, candidate: { ...candidate, signalIds: [`${(first as string).slice(0, -1)}9`, ...rest] } } };
    });
    const report = await auditHistory(config, store);
    // What the replay alone sees: nothing (the changed input re-derives its outputs as recorded).
    expect(report.divergenceCount).to.equal(0);
    expect(report.correlation.divergenceCount).to.equal(0);
    expect(report.integrity.verdict).to.equal('TAMPERED');
    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.integrity.findingCount).to.equal(1);
    expect(report.integrity.findings[0]).to.deep.include({ kind: 'changed', streamId: created.streamId, revision: '0', parts: ['metadata'], fields: ['metadata.candidate'] });
  });

  it('is DIVERGENT with the output pinpointed by both the replay and the chain when a decision changed', async () => {
    const world = await IntegrityWorld.recorded({ groups: 12 });
    await sealHistory(world.store);
    const decided = await world.first('PromotionDecided');
    world.store.change(decided.streamId, decided.revision, (e) => ({ data: { ...e.data, reason: `${e.data['reason'] as string}.` } }));
    const report = await auditHistory(config, world.store);
    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergences[0]).to.deep.include({ streamId: decided.streamId, revision: decided.revision.toString(), path: 'data.reason' });
    expect(report.integrity.findings[0]).to.deep.include({ streamId: decided.streamId, revision: decided.revision.toString(), fields: ['data.reason'] });
  });

  it('replays the committed golden history IDENTICAL: recorded before the chain existed, it is UNSEALED, not tampered', async () => {
    const store = new InMemoryEventStore();
    await importHistory(store, goldenHistoryLines());
    const report = await auditHistory(config, store);
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.integrity.verdict).to.equal('UNSEALED');
    expect(report.integrity.findingCount).to.equal(0);
    expect(report.integrity.unsealed).to.equal(goldenHistoryLines().length);
  });
});
