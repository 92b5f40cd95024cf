import { expect } from 'chai';
import sinon from 'sinon';

import { AuthorityDenied } from '../../src/authority/authority.js';
import { requestManualPromotion } from '../../src/promotion/manual-promotion.js';
import { ManualPromotionRefused } from '../../src/promotion/promotion-engine.js';
import { emptyReadModels, project } from '../../src/projections/read-models.js';
import { AuthorityFixtures, CandidateFixtures, Times } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

async function givenDeferred(): Promise<{ world: OpxWorld; candidateId: string }> {
  const world = OpxWorld.create();
  const { candidateId } = await world.givenDelivered(CandidateFixtures.deferrable);
  return { world, candidateId };
}

describe(requestManualPromotion.name, () => {
  afterEach(() => sinon.restore());

  describe('INV-P2.3.8 no automatic retry', () => {
    it('keeps a DEFERred candidate DEFERred with one decision however often it is redelivered', async () => {
      const { world, candidateId } = await givenDeferred();
      const cp7 = sinon.spy(world.incidents, 'createIncidentFromPromotion');

      for (let i = 0; i < 10; i++) {
        world.clock.advance(24 * 3600 * 1000);
        await world.deliverCandidateCreated(candidateId);
      }

      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
      expect(world.all('PromotionDecided')[0]?.data['decision']).to.equal('DEFER');
      expect(cp7.callCount).to.equal(0);
      expect(world.publishedOf('CandidateDeferred')).to.have.length(1);
    });

    it('keeps it DEFERred when the orchestrator is called directly with a later time', async () => {
      const { world, candidateId } = await givenDeferred();

      const result = await world.process(candidateId, undefined, Times.at(86_400));

      expect(result.decision).to.equal('DEFER');
      expect(world.all('PromotionDecided')).to.have.length(1);
    });

    it('moves it only through requestManualPromotion plus processing: PROMOTE by the human, one incident', async () => {
      // given a deferred candidate
      const { world, candidateId } = await givenDeferred();

      // when a human asks and the request is processed
      const { requestId } = await world.givenManualPromotionRequested(candidateId);
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'ManualPromotionRequested']);
      await world.deliverManualPromotionRequested(candidateId);

      // then
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'ManualPromotionRequested', 'PromotionDecided', 'IncidentCreated']);
      const manual = world.all('PromotionDecided')[1]?.data;
      expect(manual).to.deep.include({ decision: 'PROMOTE', matchedRule: 'manual-promotion', decidedAt: Times.later });
      expect(manual?.['authority']).to.deep.include({ authorityType: 'HUMAN_OPERATOR', authorityId: 'alice@opx', sessionId: requestId });
      expect(world.incidentStreams()).to.have.length(1);
    });

    it('records one manual decision and one incident when the request is redelivered', async () => {
      const { world, candidateId } = await givenDeferred();
      await world.givenManualPromotionRequested(candidateId);

      await world.deliverManualPromotionRequested(candidateId);
      await world.deliverManualPromotionRequested(candidateId);
      await world.deliverCandidateCreated(candidateId);

      expect(world.all('PromotionDecided')).to.have.length(2);
      expect(world.all('IncidentCreated')).to.have.length(1);
      expect(world.publishedOf('IncidentCreated')).to.have.length(1);
    });

    it('removes the candidate from the deferred read model once promoted by hand', async () => {
      const { world, candidateId } = await givenDeferred();
      await world.givenManualPromotionRequested(candidateId);
      await world.deliverManualPromotionRequested(candidateId);

      let models = emptyReadModels();
      for await (const e of world.store.readAll({ streamPrefixes: ['candidate-', 'incident-'] })) models = project(models, e);

      expect(models.deferred).to.deep.equal({});
      expect(Object.values(models.incidents).map((i) => i.promotedBy)).to.deep.equal(['HUMAN_OPERATOR:alice@opx']);
    });

    for (const [name, fixture, reason] of [
      ['promoted', CandidateFixtures.promotable, 'PROMOTE, not DEFER'],
      ['suppressed', CandidateFixtures.suppressible, 'SUPPRESS, not DEFER'],
    ] as const) {
      it(`is refused for a ${name} candidate (not deferred), appending nothing`, async () => {
        const world = OpxWorld.create();
        const { candidateId } = await world.givenDelivered(fixture);
        const size = world.size;

        await expect(world.givenManualPromotionRequested(candidateId)).to.be.rejectedWith(ManualPromotionRefused, reason);
        expect(world.size).to.equal(size);
      });
    }

    it('is refused for a candidate with no decision yet', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.deferrable);

      await expect(world.givenManualPromotionRequested(candidateId)).to.be.rejectedWith(ManualPromotionRefused, 'no automatic decision yet');
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
    });

    it('is refused when a request is already pending, appending nothing', async () => {
      const { world, candidateId } = await givenDeferred();
      const { requestId } = await world.givenManualPromotionRequested(candidateId, { operator: 'alice@opx' });
      const size = world.size;

      await expect(world.givenManualPromotionRequested(candidateId, { operator: 'erin@opx' })).to.be.rejectedWith(ManualPromotionRefused, requestId);
      expect(world.size).to.equal(size);
    });

    it('is refused once the candidate was promoted by hand', async () => {
      const { world, candidateId } = await givenDeferred();
      await world.givenManualPromotionRequested(candidateId);
      await world.deliverManualPromotionRequested(candidateId);
      const size = world.size;

      await expect(world.givenManualPromotionRequested(candidateId, { operator: 'erin@opx', requestedAt: Times.at(5000) })).to.be.rejectedWith(ManualPromotionRefused, 'already promoted');
      expect(world.size).to.equal(size);
    });

    it('is refused for an authority lacking MANUAL_PROMOTE (ON_CALL_RESPONDER), appending nothing', async () => {
      const { world, candidateId } = await givenDeferred();
      const size = world.size;

      await expect(world.givenManualPromotionRequested(candidateId, { authorityType: 'ON_CALL_RESPONDER' })).to.be.rejectedWith(AuthorityDenied, 'MANUAL_PROMOTE');
      expect(world.size).to.equal(size);
    });

    it('is refused for AUTO_ENGINE, appending nothing', async () => {
      const { world, candidateId } = await givenDeferred();
      const size = world.size;

      await expect(world.givenManualPromotionRequested(candidateId, { authorityType: 'AUTO_ENGINE', operator: 'opx-candidate-processor' })).to.be.rejectedWith(AuthorityDenied);
      expect(world.size).to.equal(size);
    });

    for (const justification of ['', '   ']) {
      it(`is refused with an empty justification (${JSON.stringify(justification)}), appending nothing`, async () => {
        const { world, candidateId } = await givenDeferred();
        const size = world.size;

        await expect(world.givenManualPromotionRequested(candidateId, { justification })).to.be.rejectedWith(AuthorityDenied, 'requires a justification');
        expect(world.size).to.equal(size);
      });
    }

    it('is refused by CP-6 when a human authority is presented without a recorded request', async () => {
      const { world, candidateId } = await givenDeferred();
      const size = world.size;

      await expect(world.process(candidateId, AuthorityFixtures.operator('mallory@opx', 'req-forged'), Times.later)).to.be.rejectedWith(ManualPromotionRefused, 'req-forged');
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
      // only the failed attempt is logged
      expect(world.size).to.equal(size + 1);
    });

    // Regression (fixed bug): CP-6 records a fresh automatic decision for any AUTO_ENGINE session id. Decision 3 fixes
    // sessionId = candidateId, but processPromotionRequest accepts another session for the same
    // candidate, derives a new decision id, and appends a second automatic PromotionDecided for a
    // candidate that is already DEFERred: an automatic re-decision that INV-P2.3.8 forbids
    // (only a manual promotion may move a deferred candidate).
    it('refuses a second automatic decision for an already-deferred candidate under another AUTO_ENGINE session', async () => {
      const { world, candidateId } = await givenDeferred();

      await expect(world.process(candidateId, { ...AuthorityFixtures.autoEngine(candidateId), sessionId: 'retry-1' })).to.be.rejected;
      expect(world.all('PromotionDecided')).to.have.length(1);
    });
  });
});
