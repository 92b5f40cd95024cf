import { expect } from 'chai';

import { IncidentOrchestrator } from '../../src/orchestration/incident-orchestrator.js';
import { AuthorityFixtures, CandidateFixtures, Times } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

describe(IncidentOrchestrator.name, () => {
  describe('INV-P2.3.1 deterministic promotion', () => {
    it('gives the same decisionId and incidentId for the same candidate, policy and authority in two fresh containers', async () => {
      // given two independent deployments
      const first = OpxWorld.create();
      const second = OpxWorld.create();
      const candidate = CandidateFixtures.promotable;
      await first.givenCandidate(candidate);
      await second.givenCandidate(candidate);

      // when each orchestrates the same candidate
      const a = await first.process(candidate.candidateId);
      const b = await second.process(candidate.candidateId);

      // then the ids agree, and so does every recorded output byte for byte
      expect(a.decision).to.equal('PROMOTE');
      expect(b.decisionId).to.equal(a.decisionId);
      expect(b.incidentId).to.equal(a.incidentId);
      expect(second.history()).to.deep.equal(first.history());
    });

    it('gives a different decisionId when the authority differs (the id is derived from it)', async () => {
      // given a deferred candidate and a human's request to promote it
      const world = OpxWorld.create();
      const candidate = await world.givenDelivered(CandidateFixtures.deferrable);
      await world.givenManualPromotionRequested(candidate.candidateId);

      // when the request is processed
      await world.deliverManualPromotionRequested(candidate.candidateId);

      // then there are two decisions with distinct ids, one per authority
      const ids = world.all('PromotionDecided').map((e) => e.data['decisionId']);
      expect(ids).to.have.length(2);
      expect(new Set(ids).size).to.equal(2);
    });

    for (const [name, fixture] of [
      ['PROMOTE', CandidateFixtures.promotable],
      ['DEFER', CandidateFixtures.deferrable],
      ['SUPPRESS', CandidateFixtures.suppressible],
    ] as const) {
      it(`records a byte-identical ${name} history in a fresh store from the same input`, async () => {
        const historical = OpxWorld.create();
        const replay = OpxWorld.create();
        await historical.givenDelivered(fixture);
        await replay.givenDelivered(fixture);

        expect(replay.history()).to.deep.equal(historical.history());
        expect(historical.history().some((e) => e.type === 'PromotionDecided' && e.data['decision'] === name)).to.equal(true);
      });
    }
  });

  describe('Replay Determinism (constraint 4, gating)', () => {
    it('same candidate + same policy -> same decision', async () => {
      // given
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const authority = AuthorityFixtures.autoEngine(candidateId);

      // when orchestration runs twice with the same inputs
      const result1 = await world.orchestrator.processCandidate(candidateId, authority, Times.at(20));
      const result2 = await world.orchestrator.processCandidate(candidateId, authority, Times.at(20));

      // then
      expect(result1.incidentId).to.be.a('string');
      expect(result2.decisionId).to.equal(result1.decisionId);
      expect(result2.incidentId).to.equal(result1.incidentId);
      expect(result2).to.deep.equal(result1);
    });

    it('no duplicate incidents on replay', async () => {
      // given a first run
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      await world.process(candidateId);

      // when it is replayed
      await world.process(candidateId);

      // then only one incident exists for the candidate
      expect(world.all('IncidentCreated')).to.have.length(1);
      expect(world.all('IncidentOpened')).to.have.length(1);
      expect(world.incidentStreams()).to.have.length(1);
    });

    it('replay produces identical incidents', async () => {
      // given a historical run
      const historical = OpxWorld.create();
      const candidate = await historical.givenCandidate(CandidateFixtures.promotable);
      const h = await historical.process(candidate.candidateId);
      const historicalIncident = await historical.incidents.get(h.incidentId ?? '');

      // when the same inputs are replayed into a fresh store
      const replay = OpxWorld.create();
      await replay.givenCandidate(candidate);
      const r = await replay.process(candidate.candidateId);
      const replayIncident = await replay.incidents.get(r.incidentId ?? '');

      // then the incident is the same, id and content
      expect(replayIncident.incidentId).to.equal(historicalIncident.incidentId);
      expect(replayIncident).to.deep.equal(historicalIncident);
    });
  });
});
