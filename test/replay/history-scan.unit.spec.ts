/**
 * The scan itself: what it reads and how it routes each event. How it replays candidate streams
 * (live, deferred, whole) at every window is in replay-modes.unit.spec.ts.
 */
import { expect } from 'chai';

import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { importHistory } from '../../src/replay/history-file.js';
import { HistoryScan, SCANNED_PREFIXES } from '../../src/replay/history-scan.js';
import { goldenHistoryLines } from '../support/golden.js';
import { config } from './support/golden-streams.js';

const settings = { concurrency: 4, liveWindow: 16, inputWindow: 64 };

describe(HistoryScan.name, () => {
  it('reads candidate and incident streams only: other streams in $all are neither read nor counted', async () => {
    const store = new InMemoryEventStore();
    await importHistory(store, goldenHistoryLines());
    const golden = store.size;
    await store.append('orchestration-log', [{ id: 'a-1', type: 'OrchestrationAttempted', data: {}, metadata: {} }], 'no_stream');
    await store.append('signal-x', [{ id: 's-1', type: 'SignalObserved', data: {}, metadata: {} }], 'no_stream');

    const report = await new HistoryScan(store, config, settings).run();

    expect(SCANNED_PREFIXES).to.deep.equal(['candidate-', 'incident-']);
    expect(report).to.include({ verdict: 'IDENTICAL', eventsRead: golden });
  });

  it('checks that a human transition on an incident stream decodes, and reports one that does not', async () => {
    const store = new InMemoryEventStore();
    await store.append('incident-inc-1', [{ id: 'h-1', type: 'IncidentStateChanged', data: { nonsense: true }, metadata: {} }], 'no_stream');
    const report = await new HistoryScan(store, config, settings).run();
    expect(report.divergences.map((d) => [d.streamId, d.revision, d.kind])).to.deep.equal([['incident-inc-1', '0', 'undecodable']]);
  });

  it('reports progress every 10,000 events read', async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 20_500; i++) await store.append(`incident-inc-${i}`, [{ id: `h-${i}`, type: 'Unknown', data: {}, metadata: {} }], 'no_stream');
    const progress: number[] = [];
    const report = await new HistoryScan(store, config, { ...settings, onProgress: (n) => progress.push(n) }).run();
    expect(progress).to.deep.equal([10_000, 20_000]);
    expect(report).to.include({ eventsRead: 20_500, streamsChecked: 20_500, divergenceCount: 20_500 });
  });
});
