/**
 * The replay gate (spec section 4, GATING): recorded history re-projected through the same
 * handlers is byte-identical; no duplicate incidents under replay; incident ids match history.
 */
import { expect } from 'chai';

import { loadConfig } from '../../src/container/config.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { PolicyRegistry } from '../../src/promotion/policy.js';
import { PROJECTED_STREAM_PREFIXES } from '../../src/projections/read-models.js';
import { exportHistory, importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import { ReplayAudit } from '../../src/replay/replay-audit.js';
import { runBatchScenario } from '../../src/runtime/scenario.js';
import { parseCorrelationRules } from '../../src/correlation/correlation-rule.js';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { GOLDEN_RULES_PATH, GOLDEN_SCENARIO, goldenHistoryLines, goldenSignals } from '../support/golden.js';

const parse = (line: string): HistoryLine => JSON.parse(line) as HistoryLine;

async function storeWith(lines: readonly string[]): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  await importHistory(store, lines);
  return store;
}

describe('Replay gate (golden recorded history)', () => {
  const config = loadConfig();
  const golden = goldenHistoryLines();

  it('covers PROMOTE, SUPPRESS, DEFER and DEFER followed by manual promotion', () => {
    const decisions = golden.map(parse).filter((e) => e.type === 'PromotionDecided').map((e) => e.data as { decision: string; authority: { authorityType: string } });
    const kinds = new Set(decisions.map((d) => `${d.decision}/${d.authority.authorityType}`));
    expect([...kinds].sort()).to.deep.equal(['DEFER/AUTO_ENGINE', 'PROMOTE/AUTO_ENGINE', 'PROMOTE/HUMAN_OPERATOR', 'SUPPRESS/AUTO_ENGINE']);
    expect(golden.map(parse).filter((e) => e.type === 'CandidateCreated').length).to.be.greaterThan(200);
  });

  it('replays the recorded history byte for byte', async () => {
    const report = await new ReplayAudit(config).run(await storeWith(golden));
    expect(report.divergences).to.deep.equal([]);
    expect(report.verdict).to.equal('IDENTICAL');
    const outputs = golden.map(parse).filter((e) => ['PromotionDecided', 'IncidentCreated', 'IncidentOpened'].includes(e.type)).length;
    expect(report.eventsCompared).to.equal(outputs);
    expect(report.inputsReplayed).to.equal(golden.map(parse).filter((e) => ['CandidateCreated', 'ManualPromotionRequested'].includes(e.type)).length);
  });

  it('re-running the recorded scenario today (batch correlation, its rule set) reproduces the history exactly: incident ids match historical output', async () => {
    const recordedUnder = { ...config, correlationRules: parseCorrelationRules(JSON.parse(readFileSync(GOLDEN_RULES_PATH, 'utf8'))) };
    const container = createOpxContainer({ config: recordedUnder });
    await runBatchScenario(container, goldenSignals(), { manualPromotions: GOLDEN_SCENARIO.manualPromotions });
    const rerun = await exportHistory(container.get(TOKENS.EventStore), PROJECTED_STREAM_PREFIXES);
    const incidentIds = (lines: readonly string[]) => lines.map(parse).filter((e) => e.type === 'IncidentCreated').map((e) => (e.data as { incidentId: string }).incidentId);
    expect(incidentIds(rerun)).to.deep.equal(incidentIds(golden));
    expect(rerun).to.deep.equal(golden);
  });

  it('produces no duplicate incidents when the same inputs are delivered again', async () => {
    const store = await storeWith(golden);
    const container = createOpxContainer({ config });
    container.rebind(TOKENS.EventStore).toConstantValue(store);
    const context = container.get(TOKENS.HandlerContext);
    const { handleCandidateStreamEvent } = await import('../../src/orchestration/candidate-event-handler.js');
    const before = store.size;
    for await (const e of store.readAll({ streamPrefixes: ['candidate-'] })) {
      if (e.type === 'CandidateCreated' || e.type === 'ManualPromotionRequested') await handleCandidateStreamEvent(e, context);
    }
    const incidentsPerCandidate = new Map<string, number>();
    for await (const e of store.readAll({ streamPrefixes: ['candidate-'] })) {
      if (e.type === 'IncidentCreated') incidentsPerCandidate.set(e.streamId, (incidentsPerCandidate.get(e.streamId) ?? 0) + 1);
    }
    expect([...incidentsPerCandidate.values()].every((n) => n === 1)).to.equal(true);
    // Only the write-only attempt log grew: no candidate or incident stream changed.
    const history = await exportHistory(store, PROJECTED_STREAM_PREFIXES);
    expect(history).to.deep.equal(golden);
    expect(store.size).to.be.greaterThan(before);
  });

  it('pinpoints a tampered event: stream, revision, field path, recorded vs replayed', async () => {
    const tampered = golden.map(parse);
    const index = tampered.findIndex((e) => e.type === 'PromotionDecided' && (e.data as { decision: string }).decision === 'SUPPRESS');
    const original = tampered[index] as HistoryLine;
    tampered[index] = { ...original, data: { ...original.data, decision: 'DEFER' } };
    const report = await new ReplayAudit(config).run(await storeWith(tampered.map((e) => canonicalJson(e))));
    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergentStreams).to.equal(1);
    const first = report.divergences[0];
    expect(first).to.include({ streamId: original.streamId, revision: '1', kind: 'different', path: 'data.decision', recorded: 'DEFER', replayed: 'SUPPRESS' });
  });

  for (const [field, tamper, path] of [
    ['its event id', (e: HistoryLine): HistoryLine => ({ ...e, id: '00000000-0000-4000-8000-000000000000' }), 'id'],
    ['its metadata', (e: HistoryLine): HistoryLine => ({ ...e, metadata: { ...e.metadata, $causationId: 'forged' } }), 'metadata.$causationId'],
  ] as const) {
    it(`pinpoints an output whose data is intact but ${field} was changed`, async () => {
      const tampered = golden.map(parse);
      const index = tampered.findIndex((e) => e.type === 'IncidentCreated');
      const original = tampered[index] as HistoryLine;
      tampered[index] = tamper(original);
      const report = await new ReplayAudit(config).run(await storeWith(tampered.map((e) => canonicalJson(e))));
      expect(report.verdict).to.equal('DIVERGENT');
      expect(report.divergences[0]).to.include({ streamId: original.streamId, kind: 'different', path });
    });
  }

  it('reports an output history has that the replay does not produce', async () => {
    const lines = golden.map(parse);
    const created = lines.find((e) => e.type === 'IncidentCreated') as HistoryLine;
    // Drop the candidate's PromotionDecided...IncidentCreated pair and keep an orphan incident: replay cannot produce it.
    const kept = lines.filter((e) => !(e.streamId === created.streamId && e.type === 'PromotionDecided'));
    const report = await new ReplayAudit(config).run(await storeWith(kept.map((e) => canonicalJson(e))));
    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergences.some((d) => d.streamId === created.streamId)).to.equal(true);
  });

  it('flags policy drift: a recorded policy version whose content hash changed', async () => {
    const drifted = config.policies.all().map((p) =>
      p.document.id === 'standard-promotion' && p.document.version === '1.0.0'
        ? { ...p.document, rules: p.document.rules.map((r) => (r.name === 'sev4-suppress' ? { ...r, decision: 'DEFER' as const } : r)) }
        : p.document,
    );
    const report = await new ReplayAudit({ ...config, policies: PolicyRegistry.fromDocuments(drifted) }).run(await storeWith(golden));
    const drift = report.policyDrift.find((d) => d.policy === 'standard-promotion@1.0.0');
    expect(drift?.recordedHash).to.equal(config.policies.get('standard-promotion', '1.0.0').hash);
    expect(drift?.currentHash).to.not.equal(drift?.recordedHash);
    expect(report.verdict).to.equal('DIVERGENT');
  });

  // The golden history records every CandidateCreated before any decision (ingest, then process),
  // then the manual promotions much later: units of work finish out of order at every width.
  for (const concurrency of [1, 2, 7, 64]) {
    it(`is identical and reports in history order whatever the concurrency (${concurrency})`, async () => {
      const report = await new ReplayAudit(config).run(await storeWith(golden), { concurrency });
      expect(report.divergences).to.deep.equal([]);
      expect(report.verdict).to.equal('IDENTICAL');
    });
  }

  it('reports the same divergences in the same order at any concurrency', async () => {
    const tampered = golden.map(parse);
    for (const index of [tampered.findIndex((e) => e.type === 'IncidentCreated'), tampered.findLastIndex((e) => e.type === 'PromotionDecided')]) {
      const original = tampered[index] as HistoryLine;
      tampered[index] = { ...original, data: { ...original.data, severity: 'SEV4', reason: 'tampered' } };
    }
    const store = await storeWith(tampered.map((e) => canonicalJson(e)));
    const one = await new ReplayAudit(config).run(store, { concurrency: 1 });
    const many = await new ReplayAudit(config).run(store, { concurrency: 32 });
    expect(one.divergenceCount).to.be.at.least(2);
    expect(many.divergences).to.deep.equal(one.divergences);
  });

  it('reports an output the replay produced that history lacks', async () => {
    const lines = golden.map(parse);
    const dropped = lines.find((e) => e.type === 'IncidentCreated') as HistoryLine;
    const candidateId = (dropped.data as { candidateId: string }).candidateId;
    const withoutIncident = lines.filter((e) => e !== dropped && !(e.type === 'IncidentOpened' && (e.data as { candidateId: string }).candidateId === candidateId));
    const report = await new ReplayAudit(config).run(await storeWith(withoutIncident.map((e) => canonicalJson(e))));
    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergences.filter((d) => d.streamId === dropped.streamId).map((d) => d.kind)).to.deep.equal(['not-recorded']);
  });

  it('reports an incident stream that no promotion opens (no bypass of CP-6)', async () => {
    const lines = golden.map(parse);
    const opened = lines.find((e) => e.type === 'IncidentOpened') as HistoryLine;
    const forged: HistoryLine = { ...opened, streamId: 'incident-inc-forged', data: { ...opened.data, incidentId: 'inc-forged' } };
    const report = await new ReplayAudit(config).run(await storeWith([...lines, forged].map((e) => canonicalJson(e))));
    expect(report.divergences).to.have.length(1);
    expect(report.divergences[0]).to.include({ streamId: 'incident-inc-forged', kind: 'not-reproduced' });
  });

  it('counts an input not handled yet (the last event of its stream) as pending, not as a divergence', async () => {
    const lines = golden.map(parse);
    const deferred = lines.find((e) => e.type === 'PromotionDecided' && (e.data as { decision: string }).decision === 'DEFER') as HistoryLine;
    const pendingRequest: HistoryLine = {
      streamId: deferred.streamId,
      type: 'ManualPromotionRequested',
      id: '00000000-0000-5000-8000-000000000001',
      data: {
        candidateId: (deferred.data as { candidateId: string }).candidateId,
        requestId: 'req-pending',
        authority: { authorityType: 'HUMAN_OPERATOR', authorityId: 'bob@opx', sessionId: 'req-pending', justification: 'checking' },
        requestedAt: '2026-02-01T00:00:00.000Z',
      },
      metadata: { $correlationId: 'x', $causationId: 'y', schemaVersion: 1 },
    };
    const report = await new ReplayAudit(config).run(await storeWith([...lines, pendingRequest].map((e) => canonicalJson(e))));
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.inputsPending).to.equal(1);
  });
});
