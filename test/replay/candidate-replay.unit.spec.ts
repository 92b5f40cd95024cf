import { expect } from 'chai';

import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { CandidateReplay } from '../../src/replay/candidate-replay.js';
import { Findings } from '../../src/replay/report.js';
import { Scratch, SCRATCH_SHARE, ScratchPool } from '../../src/replay/scratch.js';
import { config, GoldenStreams, withData } from './support/golden-streams.js';

/** Feeds `events` to the replay in order, awaiting inputs as the scan does. */
async function feed(replay: CandidateReplay, events: readonly RecordedEvent[], findings: Findings): Promise<void> {
  for (const event of events) await replay.accept(event, findings);
}

describe(CandidateReplay.name, () => {
  let golden: GoldenStreams;
  before(async () => (golden = await GoldenStreams.load()));

  describe('when history shows what the handlers produce', () => {
    it('compares every output, opens the incident stream and awaits its IncidentOpened, then awaits nothing', async () => {
      const { stream, opened } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();

      await feed(replay, stream, findings);
      expect([...replay.awaitedIncidents()]).to.deep.equal([opened.streamId]);
      expect(replay.pending).to.equal(true);
      replay.acceptIncident(opened, findings);
      replay.finish(findings);

      expect(findings.divergences).to.deep.equal([]);
      expect(findings).to.include({ eventsCompared: 3, inputsReplayed: 1, inputsPending: 0 });
      expect(findings.decisions.map((d) => d.candidateId)).to.deep.equal([(stream[0]!.data as { candidateId: string }).candidateId]);
      expect(replay.pending).to.equal(false);
    });

    it('answers an output with no promise and an input with one', async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      const handling = replay.accept(stream[0]!, findings);
      expect(handling).to.be.an.instanceOf(Promise);
      await handling;
      expect(replay.accept(stream[1]!, findings)).to.equal(undefined);
    });
  });

  describe('when history differs from the replay', () => {
    it('pinpoints a changed output field', async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      await feed(replay, [stream[0]!, withData(stream[1]!, { reason: 'tampered' }), stream[2]!], findings);
      expect(findings.divergences).to.have.length(1);
      expect(findings.divergences[0]).to.include({
        streamId: stream[0]!.streamId,
        revision: '1',
        kind: 'different',
        path: 'data.reason',
        recorded: 'tampered',
      });
    });

    it('reports at finish an output it produced that history lacks', async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      await feed(replay, stream.slice(0, 2), findings);
      replay.finish(findings);
      expect(findings.divergences.map((d) => [d.streamId, d.revision, d.kind])).to.deep.equal([[stream[0]!.streamId, '2', 'not-recorded']]);
    });

    it("stops at a gap in the stream's revisions, reports it once and compares nothing more", async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      await feed(replay, [stream[0]!, stream[2]!, stream[1]!], findings);
      replay.finish(findings);
      expect(findings.divergences.map((d) => [d.revision, d.kind])).to.deep.equal([['2', 'handler-error']]);
      expect(replay).to.include({ broken: true, pending: false });
      expect(findings.eventsCompared).to.equal(0);
    });

    it('reports an input the handlers refuse as a handler error', async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      await replay.accept(withData(stream[0]!, { candidateId: 'cand-someone-else' }), findings);
      expect(findings.divergences[0]).to.include({ kind: 'handler-error', revision: '0' });
      expect(findings.divergences[0]?.message).to.include("names candidate 'cand-someone-else'");
    });
  });

  describe('when the input is the last event history has', () => {
    it('counts it as pending, not as a divergence', async () => {
      const { stream } = golden.promoted();
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config));
      const findings = new Findings();
      await feed(replay, stream.slice(0, 1), findings);
      replay.finish(findings);
      expect(findings.divergences).to.deep.equal([]);
      expect(findings.inputsPending).to.equal(1);
    });
  });

  describe('when an earlier replay compared the start of the stream', () => {
    it('replays from revision 0 but compares and counts only from `compareFrom` on', async () => {
      const stream = golden.candidateStream('CandidateCreated', 'PromotionDecided', 'ManualPromotionRequested', 'PromotionDecided', 'IncidentCreated');
      const replay = new CandidateReplay(stream[0]!.streamId, new Scratch(config), 2n);
      const findings = new Findings();
      // The first decision tampered: below compareFrom, it is not compared again.
      await feed(replay, [stream[0]!, withData(stream[1]!, { reason: 'tampered' }), ...stream.slice(2)], findings);
      expect(findings.divergences).to.deep.equal([]);
      expect(findings).to.include({ eventsCompared: 2, inputsReplayed: 1 });
      expect(replay.incidentsDue()).to.have.length(1);
    });
  });
});

describe(ScratchPool.name, () => {
  it('shares one scratch graph among SCRATCH_SHARE replays from revision 0, then builds the next', () => {
    const pool = new ScratchPool(config);
    const graphs = Array.from({ length: SCRATCH_SHARE + 1 }, () => pool.for(0n));
    expect(new Set(graphs.slice(0, SCRATCH_SHARE)).size).to.equal(1);
    expect(graphs[SCRATCH_SHARE]).to.not.equal(graphs[0]);
  });

  it('gives a replay from a later revision a graph of its own', () => {
    const pool = new ScratchPool(config);
    const shared = pool.for(0n);
    expect(pool.for(3n)).to.not.equal(shared);
    expect(pool.for(0n)).to.equal(shared);
  });
});
