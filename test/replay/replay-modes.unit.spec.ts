/**
 * The two ways the audit replays a candidate stream (live from the scan, or whole from a read)
 * must find the same things: every gate check at every live window, and the reads each one costs.
 */
import { expect } from 'chai';

import { CANDIDATE_STREAM_PREFIX } from '../../src/candidates/candidate-events.js';
import { loadConfig } from '../../src/container/config.js';
import { createOpxContainer } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import { correlate } from '../../src/correlation/correlator.js';
import type { ReadStreamOptions, RecordedEvent } from '../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { PROJECTED_STREAM_PREFIXES } from '../../src/projections/read-models.js';
import { exportHistory, importHistory, type HistoryLine } from '../../src/replay/history-file.js';
import { ReplayAudit, type Divergence, type ReplayReport } from '../../src/replay/replay-audit.js';
import { processCandidateInputs } from '../../src/runtime/in-process.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { goldenHistoryLines } from '../support/golden.js';

const parse = (line: string): HistoryLine => JSON.parse(line) as HistoryLine;
const config = loadConfig();

/** The in-memory store, counting the streams read one by one. */
class CountingStore extends InMemoryEventStore {
  readonly reads: string[] = [];

  override readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    this.reads.push(streamId);
    return super.readStream(streamId, options);
  }
}

async function storeWith(lines: readonly (string | HistoryLine)[]): Promise<CountingStore> {
  const store = new CountingStore();
  await importHistory(store, lines.map((l) => (typeof l === 'string' ? l : canonicalJson(l))));
  store.reads.length = 0;
  return store;
}

/** A history as a worker keeps up with ingestion: each candidate decided right after it is created. */
async function interleavedHistory(): Promise<string[]> {
  const container = createOpxContainer({ config });
  const store = container.get(TOKENS.EventStore);
  const candidates = container.get(TOKENS.CandidateStore);
  let position: bigint | undefined;
  for (const candidate of correlate(generateSampleSignals({ groups: 120, seed: 5, start: '2026-05-01T00:00:00.000Z' }), config.correlationRules)) {
    await candidates.create(candidate);
    position = (await processCandidateInputs(store, container.get(TOKENS.HandlerContext), position)).position;
  }
  return exportHistory(store, PROJECTED_STREAM_PREFIXES);
}

const byPlace = (d: Divergence): string => `${d.streamId}@${d.revision}:${d.kind}:${d.path ?? ''}`;
const places = (report: ReplayReport): string[] => report.divergences.map(byPlace).sort();

const WINDOWS = [0, 1, 16, 10_000];

describe('Replay audit: live and whole replays', () => {
  const golden = goldenHistoryLines();

  for (const liveWindow of WINDOWS) {
    describe(`live window ${liveWindow}`, () => {
      it('replays the golden history byte for byte', async () => {
        const report = await new ReplayAudit(config).run(await storeWith(golden), { liveWindow });
        expect(report.divergences).to.deep.equal([]);
        expect(report).to.include({ verdict: 'IDENTICAL', inputsPending: 0 });
        expect(report.eventsCompared).to.be.greaterThan(golden.length / 2);
      });

      it('replays an interleaved (worker-shaped) history byte for byte', async () => {
        const report = await new ReplayAudit(config).run(await storeWith(await interleavedHistory()), { liveWindow });
        expect(report.divergences).to.deep.equal([]);
        expect(report.verdict).to.equal('IDENTICAL');
      });

      it('pinpoints tampered outputs on both streams, and a tampered IncidentOpened', async () => {
        const lines = golden.map(parse);
        const targets = [lines.findIndex((e) => e.type === 'IncidentCreated'), lines.findLastIndex((e) => e.type === 'PromotionDecided'), lines.findIndex((e) => e.type === 'IncidentOpened')];
        for (const index of targets) {
          const original = lines[index] as HistoryLine;
          lines[index] = { ...original, data: { ...original.data, severity: 'SEV4' } };
        }
        const report = await new ReplayAudit(config).run(await storeWith(lines), { liveWindow });
        expect(report.verdict).to.equal('DIVERGENT');
        const found = report.divergences.filter((d) => d.kind === 'different').map(byPlace);
        for (const index of targets) {
          const line = lines[index] as HistoryLine;
          const revision = lines.slice(0, index).filter((l) => l.streamId === line.streamId).length;
          // A decision carries no severity: the field is extra there, and named so.
          expect(found, line.type).to.include(`${line.streamId}@${revision}:different:data.severity`);
        }
      });

      it('reports an output history lacks, and an incident no promotion opens', async () => {
        const lines = golden.map(parse);
        const dropped = lines.find((e) => e.type === 'IncidentCreated') as HistoryLine;
        const candidateId = (dropped.data as { candidateId: string }).candidateId;
        const kept = lines.filter((e) => e !== dropped && !(e.type === 'IncidentOpened' && (e.data as { candidateId: string }).candidateId === candidateId));
        const opened = lines.find((e) => e.type === 'IncidentOpened' && e !== dropped) as HistoryLine;
        const forged: HistoryLine = { ...opened, streamId: 'incident-inc-forged', data: { ...opened.data, incidentId: 'inc-forged' } };
        const report = await new ReplayAudit(config).run(await storeWith([...kept, forged]), { liveWindow });
        expect(report.divergences.filter((d) => d.streamId === dropped.streamId).map((d) => d.kind)).to.deep.equal(['not-recorded']);
        expect(report.divergences.filter((d) => d.streamId === 'incident-inc-forged').map((d) => d.kind)).to.deep.equal(['not-reproduced']);
      });

      it('counts an input history has not handled yet as pending', async () => {
        const lines = golden.map(parse);
        const deferred = lines.find((e) => e.type === 'PromotionDecided' && (e.data as { decision: string }).decision === 'DEFER') as HistoryLine;
        const candidateId = (deferred.data as { candidateId: string }).candidateId;
        if (lines.some((e) => e.streamId === deferred.streamId && e.type === 'ManualPromotionRequested')) throw new Error('test setup: pick a deferred candidate nobody promoted');
        const pending: HistoryLine = {
          streamId: deferred.streamId,
          type: 'ManualPromotionRequested',
          id: '00000000-0000-5000-8000-000000000002',
          data: { candidateId, requestId: 'req-pending', authority: { authorityType: 'HUMAN_OPERATOR', authorityId: 'bob@opx', sessionId: 'req-pending', justification: 'checking' }, requestedAt: '2026-02-01T00:00:00.000Z' },
          metadata: { $correlationId: 'x', $causationId: 'y', schemaVersion: 1 },
        };
        const report = await new ReplayAudit(config).run(await storeWith([...lines, pending]), { liveWindow });
        expect(report).to.include({ verdict: 'IDENTICAL', inputsPending: 1 });
      });
    });
  }

  it('finds the same divergences at every live window and concurrency', async () => {
    const lines = golden.map(parse);
    for (const index of [lines.findIndex((e) => e.type === 'IncidentCreated'), lines.findLastIndex((e) => e.type === 'PromotionDecided'), lines.findIndex((e) => e.type === 'CandidateCreated')]) {
      const original = lines[index] as HistoryLine;
      lines[index] = { ...original, data: { ...original.data, severity: 'SEV4' } };
    }
    const store = await storeWith(lines);
    const reports = [];
    for (const liveWindow of WINDOWS) for (const concurrency of [1, 32]) reports.push(await new ReplayAudit(config).run(store, { liveWindow, concurrency }));
    const first = reports[0] as ReplayReport;
    expect(first.divergenceCount).to.be.at.least(2);
    for (const report of reports) {
      expect(places(report)).to.deep.equal(places(first));
      expect(report.divergenceCount).to.equal(first.divergenceCount);
      expect(report.divergentStreams).to.equal(first.divergentStreams);
    }
  });

  it('replays a stream a human came back to right after its first replay (two replays of one stream never share a scratch store)', async () => {
    const lines = golden.map(parse);
    const promoted = lines.find((e) => e.type === 'ManualPromotionRequested') as HistoryLine;
    const candidateId = (promoted.data as { candidateId: string }).candidateId;
    // Only that candidate: its first replay and the one from the human's request are neighbours.
    const alone = lines.filter((e) => e.streamId === promoted.streamId || (e.data as { candidateId?: string }).candidateId === candidateId);
    expect(alone.map((e) => e.type)).to.include.members(['CandidateCreated', 'ManualPromotionRequested', 'IncidentOpened']);
    for (const liveWindow of [1, 16]) {
      const store = await storeWith(alone);
      const report = await new ReplayAudit(config).run(store, { liveWindow });
      expect(report.divergences, `live window ${liveWindow}`).to.deep.equal([]);
      expect(report.inputsReplayed).to.equal(2);
      expect(store.reads.filter((s) => s === promoted.streamId)).to.have.length(1); // the second replay's
    }
  });

  it('live, with a window the history fits in, it reads no candidate stream but those a human came back to (the manual promotions)', async () => {
    const store = await storeWith(golden);
    const report = await new ReplayAudit(config).run(store, { liveWindow: 10_000 });
    const lines = golden.map(parse);
    const promotedByHand = new Set(lines.filter((e) => e.type === 'ManualPromotionRequested').map((e) => e.streamId));
    expect(report.verdict).to.equal('IDENTICAL');
    expect(new Set(store.reads.filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX)))).to.deep.equal(promotedByHand);
  });

  it('live over an interleaved history, it reads no stream at all', async () => {
    const store = await storeWith(await interleavedHistory());
    const report = await new ReplayAudit(config).run(store);
    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.streamsChecked).to.be.greaterThan(100);
    expect(store.reads).to.deep.equal([]);
  });

  it('whole (window 0), it reads each candidate stream exactly once', async () => {
    const store = await storeWith(golden);
    await new ReplayAudit(config).run(store, { liveWindow: 0 });
    const candidateReads = store.reads.filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX));
    const streams = new Set(golden.map(parse).map((e) => e.streamId).filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX)));
    expect(candidateReads).to.have.length(streams.size);
    expect(new Set(candidateReads)).to.deep.equal(streams);
  });
});
