/**
 * A store written by the batch correlation that came before live correlation: its candidates
 * (CandidateCreated schema 1, no signal facts behind them) stay what they are, recorded inputs of
 * the orchestration; live correlation starts from the signal facts recorded from then on.
 */
import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { groupKeyOf } from '../../src/correlation/rule-match.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { goldenHistoryLines } from '../support/golden.js';
import { Facts } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

async function batchWrittenStore(): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore(() => new Date('2026-06-01T12:00:00.000Z'));
  await importHistory(store, goldenHistoryLines());
  return store;
}

describe('migrating a store written by the batch correlation', () => {
  it('keeps its candidates and decisions, correlates new signals live, and audits both as IDENTICAL', async () => {
    const world = CorrelationWorld.create({ memory: await batchWrittenStore() });
    const incidentsBefore = world.incidents().length;
    await world.record(Facts.firing('new', 0, { service: 'checkout' }));
    await world.settle();

    expect(world.incidents().length).to.equal(incidentsBefore + 1);
    const report = await auditHistory(loadConfig(), world.memory);
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.correlation.batchCandidates).to.be.greaterThan(200);
    expect(report.correlation.inputs).to.equal(1);
  });

  it('keeps the batch candidate when the same window is correlated live again (its signals ingested as facts), with a warning', async () => {
    const lines = goldenHistoryLines().map((l) => JSON.parse(l) as HistoryLine);
    const batch = lines.find((e) => e.type === 'CandidateCreated' && (e.data as { correlationRuleId: string }).correlationRuleId === 'payments-any-critical')!;
    const data = batch.data as { service: string; severity: string; correlationRuleVersion: string };
    const facts = (batch.metadata as { candidate: { windowStart: string } }).candidate;
    // The golden rules name payments-any-critical@2.1.0 too, grouping by service: the same window, the same candidate id.
    const rules = loadConfig().correlationRules;
    const rule = rules.rules.find((r) => r.id === 'payments-any-critical')!;
    const world = CorrelationWorld.create({ memory: await batchWrittenStore(), rules: { ...rules, rules: [rule] } });
    const signal = Facts.firing('pay', (Date.parse(facts.windowStart) - Date.parse('2026-06-01T10:00:00.000Z')) / 1000 + 1, { service: data.service, severity: 'SEV2' });
    expect(groupKeyOf(rule, signal)).to.equal(`service=${data.service}`);
    await world.record(signal);
    await world.correlate();

    expect(world.logger.entries.filter((e) => e.level === 'warn').map((e) => e.message)).to.include('candidate already recorded by the batch correlation: kept as recorded');
    expect(world.events(batch.streamId)[0]?.metadata).to.deep.equal(batch.metadata);
    expect((await auditHistory(loadConfig(), world.memory)).verdict).to.equal('IDENTICAL');
  });
});
