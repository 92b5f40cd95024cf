/**
 * The audit of a whole history reads `$all` once for its four stages (correlation, orchestration,
 * alert automation, integrity), so each sees the same history even while a live system goes on
 * writing; read one after another, a later stage saw outputs whose inputs an earlier one never read.
 */
import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import type { ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { exportHistory, importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import { Facts } from '../correlation/support/signals.js';
import { CorrelationWorld } from '../correlation/support/world.js';

const config = loadConfig();

/** A store that counts its `$all` reads and, once the first one has been read to its end, records `later` (a live system going on). */
class LiveStore extends InMemoryEventStore {
  readonly reads: Array<ReadAllOptions | undefined> = [];

  constructor(private readonly later: readonly HistoryLine[]) {
    super();
  }

  override async *readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    const first = this.reads.length === 0;
    this.reads.push(options);
    yield* super.readAll(options);
    if (!first) return;
    for (const line of this.later) await this.append(line.streamId, [{ id: line.id, type: line.type, data: line.data, metadata: line.metadata }], 'any');
  }
}

/** A live-correlated, orchestrated history in two parts: the second recorded after the first was fully handled. */
async function twoParts(): Promise<{ readonly first: HistoryLine[]; readonly later: HistoryLine[] }> {
  const world = CorrelationWorld.create();
  const lines = async (): Promise<HistoryLine[]> => (await exportHistory(world.memory, [''])).map((l) => JSON.parse(l) as HistoryLine);
  await world.record(Facts.firing('page', 0), Facts.firing('disk', 10, { service: 'inventory', severity: 'SEV3', labels: { alertname: 'DiskFull' } }));
  await world.settle();
  const first = await lines();
  await world.record(Facts.firing('search', 7_200, { service: 'search-api', labels: { alertname: 'SearchDown' } }), Facts.firing('search-2', 7_210, { service: 'search-api', labels: { alertname: 'SearchDown' } }));
  await world.settle();
  const later = (await lines()).slice(first.length);
  return { first, later };
}

describe('auditHistory over one read of history', () => {
  it('reads `$all` once for all four stages', async () => {
    const { first, later } = await twoParts();
    const store = new LiveStore([]);
    await importHistory(store, [...first, ...later].map((l) => JSON.stringify(l)));
    const report = await auditHistory(config, store);
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.correlation.inputs).to.be.greaterThan(0);
    expect(report.correlation.eventsCompared).to.be.greaterThan(0);
    expect(store.reads).to.have.length(1);
  });

  it('is IDENTICAL for a store written to while it runs: every stage sees the same history', async () => {
    const { first, later } = await twoParts();
    // The second part holds signals and the group events and candidate correlation derived from them.
    expect(later.some((l) => l.streamId.startsWith('signal-'))).to.equal(true);
    expect(later.some((l) => l.streamId.startsWith('correlation-grp-'))).to.equal(true);
    const store = new LiveStore(later);
    await importHistory(store, first.map((l) => JSON.stringify(l)));
    const report = await auditHistory(config, store);
    expect(report.correlation.divergences).to.deep.equal([]);
    expect(report.verdict).to.equal('IDENTICAL');
    // no stage saw the second part: each read what an audit of the first part alone reads
    const firstOnly = new LiveStore([]);
    await importHistory(firstOnly, first.map((l) => JSON.stringify(l)));
    const alone = await auditHistory(config, firstOnly);
    expect([report.eventsRead, report.correlation.inputs, report.integrity.eventsRead]).to.deep.equal([alone.eventsRead, alone.correlation.inputs, alone.integrity.eventsRead]);
    // the second part was recorded while the audit ran, after its read had passed
    let recorded = 0;
    for await (const _ of store.readAll()) recorded++;
    expect(recorded).to.equal(first.length + later.length);
  });
});
