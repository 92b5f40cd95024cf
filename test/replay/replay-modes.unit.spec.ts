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
import { DEFAULT_INPUT_WINDOW, ReplayAudit, type Divergence, type ReplayReport } from '../../src/replay/replay-audit.js';
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

/** Live windows, each without deferral (inputs met with the window full are read whole) and with a small and the default input window. */
const MODES: ReadonlyArray<{ readonly liveWindow: number; readonly inputWindow: number }> = [0, 1, 16, 10_000].flatMap((liveWindow) =>
  [0, 1, DEFAULT_INPUT_WINDOW].map((inputWindow) => ({ liveWindow, inputWindow })),
);

describe('Replay audit: live and whole replays', () => {
  const golden = goldenHistoryLines();

  for (const mode of MODES) {
    const { liveWindow } = mode;
    describe(`live window ${liveWindow}, input window ${mode.inputWindow}`, () => {
      it('replays the golden history byte for byte', async () => {
        const report = await new ReplayAudit(config).run(await storeWith(golden), mode);
        expect(report.divergences).to.deep.equal([]);
        expect(report).to.include({ verdict: 'IDENTICAL', inputsPending: 0 });
        expect(report.eventsCompared).to.be.greaterThan(golden.length / 2);
      });

      it('replays an interleaved (worker-shaped) history byte for byte', async () => {
        const report = await new ReplayAudit(config).run(await storeWith(await interleavedHistory()), mode);
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
        const report = await new ReplayAudit(config).run(await storeWith(lines), mode);
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
        const report = await new ReplayAudit(config).run(await storeWith([...kept, forged]), mode);
        expect(report.divergences.filter((d) => d.streamId === dropped.streamId).map((d) => d.kind)).to.deep.equal(['not-recorded']);
        expect(report.divergences.filter((d) => d.streamId === 'incident-inc-forged').map((d) => d.kind)).to.deep.equal(['not-reproduced']);
      });

      it('counts a candidate created as the last event of history (not decided yet) as pending, not as a divergence', async () => {
        const lines = golden.map(parse);
        const created = lines.find((e) => e.type === 'CandidateCreated') as HistoryLine;
        const candidateId = 'cand-created-last';
        const newest: HistoryLine = { ...created, streamId: `candidate-${candidateId}`, id: '00000000-0000-5000-8000-000000000003', data: { ...created.data, candidateId } };
        const report = await new ReplayAudit(config).run(await storeWith([...lines, newest]), mode);
        expect(report.divergences).to.deep.equal([]);
        expect(report).to.include({ verdict: 'IDENTICAL', inputsPending: 1 });
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
        const report = await new ReplayAudit(config).run(await storeWith([...lines, pending]), mode);
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
    for (const mode of MODES) for (const concurrency of [1, 32]) reports.push(await new ReplayAudit(config).run(store, { ...mode, concurrency }));
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

  it('refuses an input on another candidate\'s stream wherever it sits in history (never replayed against the candidate it names)', async () => {
    const lines = golden.map(parse);
    const index = lines.findIndex((e) => e.type === 'CandidateCreated');
    const original = lines[index] as HistoryLine;
    const forged: HistoryLine = { ...original, streamId: 'candidate-cand-000000000000000000000001', id: '00000000-0000-5000-8000-000000000001' };
    for (const at of [index + 1, index + 60]) {
      const history = [...lines.slice(0, at), forged, ...lines.slice(at)];
      for (const mode of MODES) {
        const report = await new ReplayAudit(config).run(await storeWith(history), mode);
        const found = report.divergences.filter((d) => d.streamId === forged.streamId);
        expect(found.map((d) => d.kind), `at ${at}, ${JSON.stringify(mode)}`).to.deep.equal(['handler-error']);
        expect(found[0]?.message).to.include(`names candidate '${(original.data as { candidateId: string }).candidateId}'`);
        expect(report.divergentStreams).to.equal(1);
      }
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

  it('with deferral, an ingest-first history is replayed live even at window 0: it reads only the streams a human came back to', async () => {
    const store = await storeWith(golden);
    const report = await new ReplayAudit(config).run(store, { liveWindow: 0 });
    expect(report.verdict).to.equal('IDENTICAL');
    const promotedByHand = new Set(golden.map(parse).filter((e) => e.type === 'ManualPromotionRequested').map((e) => e.streamId));
    expect(new Set(store.reads.filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX)))).to.deep.equal(promotedByHand);
  });

  it('decisions recorded in another order than their candidates: identical at every input window, the cursor holding or reading whole what it passes', async () => {
    const lines = golden.map(parse);
    const firstOutput = lines.findIndex((e) => e.type !== 'CandidateCreated');
    const groups = new Map<string, HistoryLine[]>();
    for (const line of lines.slice(firstOutput)) {
      const candidateId = (line.data as { candidateId: string }).candidateId;
      groups.set(candidateId, [...(groups.get(candidateId) ?? []), line]);
    }
    const reversed = [...lines.slice(0, firstOutput), ...[...groups.values()].reverse().flat()];
    const reads: number[] = [];
    for (const inputWindow of [0, 1, 16, DEFAULT_INPUT_WINDOW]) {
      const store = await storeWith(reversed);
      const report = await new ReplayAudit(config).run(store, { liveWindow: 4, inputWindow });
      expect(report.divergences, `input window ${inputWindow}`).to.deep.equal([]);
      expect(report.inputsReplayed).to.equal(lines.filter((e) => e.type === 'CandidateCreated' || e.type === 'ManualPromotionRequested').length);
      reads.push(store.reads.filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX)).length);
    }
    // Holding more of what it passes, the cursor reads fewer streams whole.
    expect(reads).to.deep.equal([...reads].sort((a, b) => b - a));
    expect(reads[0]).to.be.greaterThan(reads.at(-1) as number);
  });

  it('outputs recorded a revision at a time across candidates: identical whatever the windows, every input replayed once', async () => {
    // Every candidate's decision, then every incident: live replays awaiting their incidents pile
    // up, so deferred streams are read whole after all, and the cursor passes their inputs.
    const lines = golden.map(parse);
    const firstOutput = lines.findIndex((e) => e.type !== 'CandidateCreated');
    const revisions = new Map<string, number>();
    const ranked = lines.map((line, index) => {
      const revision = revisions.get(line.streamId) ?? 0;
      revisions.set(line.streamId, revision + 1);
      const rank = index < firstOutput ? -1 : line.streamId.startsWith(CANDIDATE_STREAM_PREFIX) ? revision : 1_000;
      return { line, index, rank };
    });
    const shuffled = ranked.sort((a, b) => a.rank - b.rank || a.index - b.index).map((r) => r.line);
    const inputs = lines.filter((e) => e.type === 'CandidateCreated' || e.type === 'ManualPromotionRequested').length;
    for (const mode of [
      { liveWindow: 0, inputWindow: 1 },
      { liveWindow: 2, inputWindow: 8 },
      { liveWindow: 4, inputWindow: DEFAULT_INPUT_WINDOW },
    ]) {
      const report = await new ReplayAudit(config).run(await storeWith(shuffled), mode);
      expect(report.divergences, JSON.stringify(mode)).to.deep.equal([]);
      expect(report).to.include({ inputsReplayed: inputs, inputsPending: 0 });
    }
  });

  it('deferred inputs the cursor passed and nothing claimed are replayed at the end, as pending', async () => {
    const lines = golden.map(parse);
    const created = lines.filter((e) => e.type === 'CandidateCreated');
    const last = created.at(-1) as HistoryLine;
    // Every candidate created, then only the last one decided: the cursor passes all the others.
    const history = [...created, ...lines.filter((e) => e.type !== 'CandidateCreated' && (e.data as { candidateId: string }).candidateId === (last.data as { candidateId: string }).candidateId && e.type !== 'ManualPromotionRequested')];
    for (const inputWindow of [1, DEFAULT_INPUT_WINDOW]) {
      const report = await new ReplayAudit(config).run(await storeWith(history), { liveWindow: 0, inputWindow });
      expect(report.divergences, `input window ${inputWindow}`).to.deep.equal([]);
      const incidentStreams = new Set(history.filter((e) => !e.streamId.startsWith(CANDIDATE_STREAM_PREFIX)).map((e) => e.streamId)).size;
      expect(report).to.include({ inputsReplayed: created.length, inputsPending: created.length - 1, streamsChecked: created.length + incidentStreams });
    }
  });

  it('whole (window 0, no deferral), it reads each candidate stream exactly once', async () => {
    const store = await storeWith(golden);
    await new ReplayAudit(config).run(store, { liveWindow: 0, inputWindow: 0 });
    const candidateReads = store.reads.filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX));
    const streams = new Set(golden.map(parse).map((e) => e.streamId).filter((s) => s.startsWith(CANDIDATE_STREAM_PREFIX)));
    expect(candidateReads).to.have.length(streams.size);
    expect(new Set(candidateReads)).to.deep.equal(streams);
  });
});
