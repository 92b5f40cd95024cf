import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { CHECKPOINT_STREAM, GROUP_STREAM_PREFIX } from '../../src/correlation/correlation-events.js';
import { auditCorrelation } from '../../src/correlation/correlation-audit.js';
import type { ReadAllOptions, ReadStreamOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { exportHistory, importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import { goldenHistoryLines } from '../support/golden.js';
import { Facts } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

const config = loadConfig();

/** A live-correlated history: a flapping page, a burst that opens, a resolution, one signal no rule takes. */
async function recordedHistory(): Promise<HistoryLine[]> {
  const world = CorrelationWorld.create();
  await world.record(
    Facts.firing('page', 0),
    Facts.resolved('page', 0, 30),
    Facts.firing('page', 60),
    Facts.firing('disk', 10, { service: 'inventory', severity: 'SEV3', labels: { alertname: 'DiskFull' } }),
    Facts.firing('disk', 20, { service: 'inventory', severity: 'SEV3', labels: { alertname: 'DiskFull' } }),
    Facts.firing('info', 5, { severity: 'SEV4', service: 'inventory' }),
  );
  await world.settle();
  return (await exportHistory(world.memory, [''])).map((l) => JSON.parse(l) as HistoryLine);
}

async function storeOf(lines: readonly HistoryLine[]): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  await importHistory(store, lines.map((l) => JSON.stringify(l)));
  return store;
}

describe('the replay audit of correlation', () => {
  it('replays a live-correlated history as IDENTICAL, comparing every group event and candidate', async () => {
    const history = await recordedHistory();
    const report = await auditCorrelation(await storeOf(history), config.correlationRules);

    const outputs = history.filter((e) => e.type === 'SignalCorrelated' || e.type === 'EpisodeClosed' || e.type === 'CandidateCreated').length;
    expect(report).to.include({ verdict: 'IDENTICAL', divergenceCount: 0, inputs: 6, eventsCompared: outputs, inputsHeld: 0 });
  });

  it('pinpoints a changed byte in a group event: stream, revision, field, recorded and replayed', async () => {
    const history = await recordedHistory();
    const index = history.findIndex((e) => e.type === 'SignalCorrelated' && e.data['outcome'] === 'attached');
    const tampered = history[index]!;
    history[index] = { ...tampered, data: { ...tampered.data, outcome: 'counted' } };
    const report = await auditCorrelation(await storeOf(history), config.correlationRules);

    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergences[0]).to.include({ streamId: tampered.streamId, kind: 'different', path: 'data.outcome', recorded: 'counted', replayed: 'attached' });
  });

  it('pinpoints a changed live candidate, and a recorded candidate the replay does not open', async () => {
    const history = await recordedHistory();
    const index = history.findIndex((e) => e.type === 'CandidateCreated');
    const created = history[index]!;
    history[index] = { ...created, data: { ...created.data, signalCount: 9 } };
    const forged = { ...created, streamId: 'candidate-cand-forged00000000000000000', id: '5c0ffee0-0000-5000-8000-000000000000' };
    const report = await auditCorrelation(await storeOf([...history, forged]), config.correlationRules);

    expect(report.divergences.map((d) => [d.streamId, d.kind, d.path])).to.deep.include.members([
      [created.streamId, 'different', 'data.signalCount'],
      [forged.streamId, 'not-reproduced', undefined],
    ]);
  });

  it('finds a group event history holds that the recorded inputs do not derive', async () => {
    const history = await recordedHistory();
    const extra = history.find((e) => e.type === 'SignalCorrelated' && e.data['outcome'] === 'attached')!;
    const report = await auditCorrelation(await storeOf([...history, { ...extra, id: '5c0ffee0-0000-5000-8000-000000000001' }]), config.correlationRules);

    expect(report.divergences.map((d) => [d.streamId, d.kind])).to.deep.include([extra.streamId, 'not-reproduced']);
  });

  it('reports correlation drift: the same inputs under a changed rule derive other events', async () => {
    const history = await recordedHistory();
    const drifted = { ...config.correlationRules, rules: config.correlationRules.rules.map((r) => (r.id === 'service-fingerprint-burst' ? { ...r, threshold: 3 } : r)) };
    expect((await auditCorrelation(await storeOf(history), drifted)).verdict).to.equal('DIVERGENT');
  });

  it('takes the golden history of the batch correlation as recorded inputs: IDENTICAL, its candidates counted as batch-made', async () => {
    const store = new InMemoryEventStore();
    await importHistory(store, goldenHistoryLines());
    const report = await auditHistory(config, store);

    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.correlation).to.include({ verdict: 'IDENTICAL', inputs: 0, eventsCompared: 0 });
    expect(report.correlation.batchCandidates).to.be.greaterThan(200);
  });

  it('is one verdict over both stages: a divergent correlation makes the history audit DIVERGENT', async () => {
    const history = await recordedHistory();
    const index = history.findIndex((e) => e.type === 'SignalCorrelated');
    history[index] = { ...history[index]!, data: { ...history[index]!.data, late: true } };
    const report = await auditHistory(config, await storeOf(history));

    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.correlation.divergences[0]?.path).to.equal('data.late');
  });

  describe('when the newest inputs are recorded but a live correlator has not handled them yet', () => {
    /**
     * A history correlated to its end, then cut as an audit could find it while the correlator is
     * still at work: the outputs of the second part's inputs taken out, with or without the
     * checkpoint that says they were handled.
     */
    async function cut(keepCheckpoint: boolean): Promise<{ readonly store: InMemoryEventStore; readonly removed: number }> {
      const world = CorrelationWorld.create();
      await world.record(Facts.firing('page', 0), Facts.firing('page-2', 20));
      await world.settle();
      const firstPart = new Set((await exportHistory(world.memory, [''])).map((l) => (JSON.parse(l) as HistoryLine).id));
      await world.record(Facts.firing('disk', 600, { service: 'inventory', severity: 'SEV3', labels: { alertname: 'DiskFull' } }));
      await world.correlate();
      const all = (await exportHistory(world.memory, [''])).map((l) => JSON.parse(l) as HistoryLine);
      const later = all.filter((l) => !firstPart.has(l.id));
      const outputs = later.filter((l) => l.streamId.startsWith(GROUP_STREAM_PREFIX) || l.streamId.startsWith('candidate-'));
      expect(outputs.length).to.be.greaterThan(0);
      const checkpoints = later.filter((l) => l.streamId === CHECKPOINT_STREAM);
      expect(checkpoints).to.have.length.greaterThan(0);
      const dropped = new Set([...outputs, ...(keepCheckpoint ? [] : checkpoints)].map((l) => l.id));
      return { store: await storeOf(all.filter((l) => !dropped.has(l.id))), removed: outputs.length };
    }

    it('counts their outputs as pending, not as divergences, when they lie past the last checkpoint', async () => {
      const { store, removed } = await cut(false);
      const report = await auditCorrelation(store, config.correlationRules);
      expect(report).to.include({ verdict: 'IDENTICAL', divergenceCount: 0, outputsPending: removed });
    });

    it('reports missing outputs as divergences when the checkpoint says their inputs were handled', async () => {
      const { store } = await cut(true);
      const report = await auditCorrelation(store, config.correlationRules);
      expect(report.verdict).to.equal('DIVERGENT');
      expect(report.outputsPending).to.equal(0);
      expect(report.divergences[0]).to.include({ kind: 'not-recorded' });
    });
  });

  describe('whether the scan meets an output before or after the replay derives it, or a second cursor meets it first', () => {
    /** An in-memory store counting the stream reads of group and candidate streams, and the reads of $all. */
    class CountingStore extends InMemoryEventStore {
      reads = 0;
      allReads = 0;
      override readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
        if (streamId.startsWith(GROUP_STREAM_PREFIX) || streamId.startsWith('candidate-')) this.reads++;
        return super.readStream(streamId, options);
      }
      override readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
        this.allReads++;
        return super.readAll(options);
      }
    }
    const countingStoreOf = async (lines: readonly HistoryLine[]): Promise<CountingStore> => {
      const store = new CountingStore();
      await importHistory(store, lines.map((l) => JSON.stringify(l)));
      return store;
    };
    const modes = [
      { name: 'met before it is derived (the default: a commit every 1,024 inputs)', options: {}, reads: 'none' },
      { name: 'derived before it is met (a commit after every input), held', options: { commitEvery: 1, maxHeld: 1_000 }, reads: 'none' },
      { name: 'derived long before it is met, compared ahead of the scan past the hold', options: { commitEvery: 1, maxHeld: 2 }, reads: 'cursor' },
    ] as const;
    it('tells apart outputs that share a commit position (events appended together in EventStoreDB) when the second cursor compared some of them', async () => {
      const history = await recordedHistory();
      const store = await countingStoreOf(history);
      // every three events in $all share one position, as events appended together share a commit position
      const shared = (e: RecordedEvent): RecordedEvent => ({ id: e.id, type: e.type, streamId: e.streamId, revision: e.revision, position: e.position / 3n, data: e.data, metadata: e.metadata, created: e.created });
      const reader = {
        readStream: (streamId: string, options?: ReadStreamOptions) => store.readStream(streamId, options),
        async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
          for await (const e of store.readAll(options.streamPrefixes === undefined ? {} : { streamPrefixes: options.streamPrefixes })) {
            const event = shared(e);
            if (options.after === undefined || event.position > options.after) yield event;
          }
        },
      };
      const report = await auditCorrelation(reader, config.correlationRules, undefined, { commitEvery: 1, maxHeld: 2 });
      const outputs = history.filter((e) => e.type === 'SignalCorrelated' || e.type === 'EpisodeClosed' || e.type === 'CandidateCreated').length;
      expect(report).to.include({ verdict: 'IDENTICAL', divergenceCount: 0, eventsCompared: outputs });
      expect(store.allReads).to.be.greaterThan(1);
    });

    it('reads back per stream the held outputs the second cursor does not find ahead (here: none recorded)', async () => {
      const history = (await recordedHistory()).filter((e) => e.type !== 'SignalCorrelated');
      const store = await countingStoreOf(history);
      const report = await auditCorrelation(store, config.correlationRules, undefined, { commitEvery: 1, maxHeld: 2 });
      expect(report.verdict).to.equal('DIVERGENT');
      expect(report.divergences.map((d) => d.kind)).to.include('not-recorded');
      expect(store.reads).to.be.greaterThan(0);
    });

    for (const mode of modes) {
      describe(mode.name, () => {
        it(`is IDENTICAL, comparing every output, with no stream read${mode.reads === 'cursor' ? ' (a second read of $all instead)' : ''}`, async () => {
          const history = await recordedHistory();
          const store = await countingStoreOf(history);
          const report = await auditCorrelation(store, config.correlationRules, undefined, mode.options);
          const outputs = history.filter((e) => e.type === 'SignalCorrelated' || e.type === 'EpisodeClosed' || e.type === 'CandidateCreated').length;
          expect(report).to.include({ verdict: 'IDENTICAL', divergenceCount: 0, eventsCompared: outputs, outputsPending: 0 });
          expect(store.reads).to.equal(0);
          expect(store.allReads).to.equal(mode.reads === 'cursor' ? 2 : 1);
        });

        it('pinpoints a changed byte in a group event and in a live candidate', async () => {
          const history = await recordedHistory();
          const g = history.findIndex((e) => e.type === 'SignalCorrelated' && e.data['outcome'] === 'attached');
          history[g] = { ...history[g]!, data: { ...history[g]!.data, outcome: 'counted' } };
          const c = history.findIndex((e) => e.type === 'CandidateCreated');
          history[c] = { ...history[c]!, data: { ...history[c]!.data, signalCount: 9 } };
          const report = await auditCorrelation(await storeOf(history), config.correlationRules, undefined, mode.options);
          expect(report.verdict).to.equal('DIVERGENT');
          expect(report.divergences.map((d) => [d.streamId, d.kind, d.path])).to.have.deep.members([
            [history[g].streamId, 'different', 'data.outcome'],
            [history[c].streamId, 'different', 'data.signalCount'],
          ]);
        });

        it('reports a derived output history lacks, and a recorded one nothing derives', async () => {
          // (past the hold, the held outputs the second cursor cannot find ahead are read back: see below)
          const history = await recordedHistory();
          const dropped = history.filter((e) => e.type === 'SignalCorrelated').at(-1)!;
          const extra = history.find((e) => e.type === 'SignalCorrelated' && e.data['outcome'] === 'attached')!;
          const edited = [...history.filter((e) => e !== dropped), { ...extra, id: '5c0ffee0-0000-5000-8000-000000000002' }];
          const report = await auditCorrelation(await storeOf(edited), config.correlationRules, undefined, mode.options);
          expect(report.verdict).to.equal('DIVERGENT');
          const kinds = report.divergences.map((d) => d.kind);
          expect(kinds).to.include('not-reproduced');
          expect(kinds.some((k) => k === 'not-recorded' || k === 'different')).to.equal(true);
        });
      });
    }
  });
});
