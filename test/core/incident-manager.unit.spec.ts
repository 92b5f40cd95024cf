import { expect } from 'chai';

import { AuthorityDenied } from '../../src/authority/authority.js';
import { incidentStreamId, type IncidentAction } from '../../src/incidents/incident-events.js';
import { IncidentManager, IncidentNotFound, PromotionBypass } from '../../src/incidents/incident-manager.js';
import { decideTransition, evolveIncident, IllegalTransition, type Incident } from '../../src/incidents/incident-state-machine.js';
import type { PromotionDecision } from '../../src/promotion/promotion-engine.js';
import { WrongExpectedVersion } from '../../src/shared/errors.js';
import { AuthorityFixtures, CandidateFixtures, Times } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

/** A world with one open incident, promoted automatically. */
async function givenOpenIncident(): Promise<{ world: OpxWorld; incidentId: string }> {
  const world = OpxWorld.create();
  const result = await world.process((await world.givenCandidate(CandidateFixtures.promotable)).candidateId);
  if (result.incidentId === undefined) throw new Error('test setup: no incident');
  return { world, incidentId: result.incidentId };
}

/** A decision CP-6 really recorded for a candidate. */
async function givenRecordedDecision(world: OpxWorld, fixture = CandidateFixtures.deferrable): Promise<PromotionDecision> {
  const { candidateId } = await world.givenCandidate(fixture);
  const decision = await world.engine.processPromotionRequest(
    { candidateId, policyId: fixture.policyId, policyVersion: fixture.policyVersion, authority: AuthorityFixtures.autoEngine(candidateId), requestContextHash: 'a'.repeat(64) },
    Times.at(20),
  );
  return decision;
}

const at = (n: number) => Times.at(600 + n);

describe(IncidentManager.name, () => {
  describe('INV-P2.3.2 no promotion bypass', () => {
    it('refuses to create an incident from a DEFER decision, appending nothing', async () => {
      const world = OpxWorld.create();
      const decision = await givenRecordedDecision(world, CandidateFixtures.deferrable);
      const size = world.size;

      expect(decision.decision).to.equal('DEFER');
      await expect(world.incidents.createIncidentFromPromotion(decision, Times.at(30))).to.be.rejectedWith(PromotionBypass, 'DEFER');
      expect(world.size).to.equal(size);
      expect(world.incidentStreams()).to.deep.equal([]);
    });

    it('refuses to create an incident from a SUPPRESS decision, appending nothing', async () => {
      const world = OpxWorld.create();
      const decision = await givenRecordedDecision(world, CandidateFixtures.suppressible);
      const size = world.size;

      expect(decision.decision).to.equal('SUPPRESS');
      await expect(world.incidents.createIncidentFromPromotion(decision, Times.at(30))).to.be.rejectedWith(PromotionBypass, 'SUPPRESS');
      expect(world.size).to.equal(size);
    });

    it('refuses a PROMOTE decision forged from a recorded DEFER (not recorded as PROMOTE on the candidate stream)', async () => {
      const world = OpxWorld.create();
      const deferred = await givenRecordedDecision(world, CandidateFixtures.deferrable);
      const size = world.size;

      const forged: PromotionDecision = { ...deferred, decision: 'PROMOTE' };
      await expect(world.incidents.createIncidentFromPromotion(forged, Times.at(30))).to.be.rejectedWith(PromotionBypass, deferred.decisionId);
      expect(world.size).to.equal(size);
    });

    it('refuses a PROMOTE decision that CP-6 never recorded', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const size = world.size;
      const invented: PromotionDecision = {
        decisionId: 'dec-invented',
        candidateId,
        decision: 'PROMOTE',
        reason: 'trust me',
        matchedRule: 'none',
        policyId: 'standard-promotion',
        policyVersion: '1.0.0',
        policyHash: 'b'.repeat(64),
        authority: AuthorityFixtures.autoEngine(candidateId),
        authorityMatrixVersion: '1',
        requestContextHash: 'c'.repeat(64),
        decidedAt: Times.at(20),
        eventId: '00000000-0000-5000-8000-000000000000',
        alreadyRecorded: false,
      };

      await expect(world.incidents.createIncidentFromPromotion(invented, Times.at(30))).to.be.rejectedWith(PromotionBypass, 'dec-invented');
      expect(world.size).to.equal(size);
    });

    it('refuses a recorded PROMOTE decision presented for another candidate', async () => {
      const world = OpxWorld.create();
      const promoted = await givenRecordedDecision(world, CandidateFixtures.promotable);
      const other = await world.givenCandidate(CandidateFixtures.withId('cand-other'));
      const size = world.size;

      await expect(world.incidents.createIncidentFromPromotion({ ...promoted, candidateId: other.candidateId }, Times.at(30))).to.be.rejectedWith(PromotionBypass);
      expect(world.size).to.equal(size);
    });

    it('creates the incident from a recorded PROMOTE decision, and the same incident again (idempotent)', async () => {
      const world = OpxWorld.create();
      const decision = await givenRecordedDecision(world, CandidateFixtures.promotable);

      const first = await world.incidents.createIncidentFromPromotion(decision, Times.at(30));
      const second = await world.incidents.createIncidentFromPromotion(decision, Times.at(99));

      expect([first.alreadyRecorded, second.alreadyRecorded]).to.deep.equal([false, true]);
      expect(second.incidentId).to.equal(first.incidentId);
      expect(second.createdAt).to.equal(first.createdAt);
      expect(world.all('IncidentCreated')).to.have.length(1);
    });
  });

  describe('INV-P2.3.6 authority preservation', () => {
    it('carries the authority recorded on the decision, not the one the caller presents', async () => {
      const world = OpxWorld.create();
      const decision = await givenRecordedDecision(world, CandidateFixtures.promotable);
      const recorded = decision.authority;

      await world.incidents.createIncidentFromPromotion({ ...decision, authority: AuthorityFixtures.operator('mallory@opx') }, Times.at(30));

      expect(world.all('IncidentCreated')[0]?.metadata['authority']).to.deep.equal(recorded);
      expect(world.all('IncidentOpened')[0]?.data['authority']).to.deep.equal(recorded);
    });
  });

  describe('the incident state machine', () => {
    it('follows the legal path OPEN -> ACKNOWLEDGED -> MITIGATED -> RESOLVED -> CLOSED', async () => {
      const { world, incidentId } = await givenOpenIncident();
      const operator = AuthorityFixtures.operator();
      const path: IncidentAction[] = ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT', 'RESOLVE_INCIDENT', 'CLOSE_INCIDENT'];

      const states = [];
      for (const [i, action] of path.entries()) states.push((await world.incidents.transition(incidentId, { action, authority: operator, at: at(i) })).state);

      expect(states).to.deep.equal(['ACKNOWLEDGED', 'MITIGATED', 'RESOLVED', 'CLOSED']);
      const incident = await world.incidents.get(incidentId);
      expect(incident.state).to.equal('CLOSED');
      expect(incident.history.map((h) => [h.from, h.to, h.changedAt])).to.deep.equal([
        ['OPEN', 'ACKNOWLEDGED', at(0)],
        ['ACKNOWLEDGED', 'MITIGATED', at(1)],
        ['MITIGATED', 'RESOLVED', at(2)],
        ['RESOLVED', 'CLOSED', at(3)],
      ]);
      expect(world.events(incidentStreamId(incidentId)).map((e) => e.type)).to.deep.equal(['IncidentOpened', ...path.map(() => 'IncidentStateChanged')]);
    });

    it('allows RESOLVE straight from ACKNOWLEDGED', async () => {
      const { world, incidentId } = await givenOpenIncident();
      const responder = AuthorityFixtures.onCall();
      await world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: responder, at: at(0) });

      const resolved = await world.incidents.transition(incidentId, { action: 'RESOLVE_INCIDENT', authority: responder, at: at(1) });

      expect(resolved.state).to.equal('RESOLVED');
    });

    for (const [action, prefix] of [
      ['CLOSE_INCIDENT', []],
      ['MITIGATE_INCIDENT', []],
      ['RESOLVE_INCIDENT', []],
      ['ACKNOWLEDGE_INCIDENT', ['ACKNOWLEDGE_INCIDENT']],
      ['MITIGATE_INCIDENT', ['ACKNOWLEDGE_INCIDENT', 'MITIGATE_INCIDENT']],
      ['ACKNOWLEDGE_INCIDENT', ['ACKNOWLEDGE_INCIDENT', 'RESOLVE_INCIDENT', 'CLOSE_INCIDENT']],
    ] as const) {
      it(`refuses ${action} after [${prefix.join(', ') || 'nothing'}] with IllegalTransition, appending nothing`, async () => {
        const { world, incidentId } = await givenOpenIncident();
        const operator = AuthorityFixtures.operator();
        for (const [i, step] of prefix.entries()) await world.incidents.transition(incidentId, { action: step, authority: operator, at: at(i) });
        const size = world.size;

        await expect(world.incidents.transition(incidentId, { action, authority: operator, at: at(9) })).to.be.rejectedWith(IllegalTransition, action);
        expect(world.size).to.equal(size);
      });
    }

    it('refuses CLOSE by an ON_CALL_RESPONDER (authority checked per action), appending nothing', async () => {
      const { world, incidentId } = await givenOpenIncident();
      const responder = AuthorityFixtures.onCall();
      for (const [i, action] of (['ACKNOWLEDGE_INCIDENT', 'RESOLVE_INCIDENT'] as const).entries()) await world.incidents.transition(incidentId, { action, authority: responder, at: at(i) });
      const size = world.size;

      await expect(world.incidents.transition(incidentId, { action: 'CLOSE_INCIDENT', authority: responder, at: at(5) })).to.be.rejectedWith(AuthorityDenied, 'CLOSE_INCIDENT');
      expect(world.size).to.equal(size);
      // a human operator may
      await expect(world.incidents.transition(incidentId, { action: 'CLOSE_INCIDENT', authority: AuthorityFixtures.operator(), at: at(6) })).to.eventually.have.property('state', 'CLOSED');
    });

    it('refuses any lifecycle action by AUTO_ENGINE', async () => {
      const { world, incidentId } = await givenOpenIncident();

      await expect(world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: AuthorityFixtures.autoEngine('x'), at: at(0) })).to.be.rejectedWith(AuthorityDenied);
    });

    it('records the authority of each transition', async () => {
      const { world, incidentId } = await givenOpenIncident();
      const responder = AuthorityFixtures.onCall('dana@opx');

      await world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: responder, at: at(0) });

      expect(world.events(incidentStreamId(incidentId))[1]?.data['authority']).to.deep.equal(responder);
    });

    it('throws IncidentNotFound for an unknown incident', async () => {
      const world = OpxWorld.create();

      await expect(world.incidents.transition('inc-nobody', { action: 'ACKNOWLEDGE_INCIDENT', authority: AuthorityFixtures.operator(), at: at(0) })).to.be.rejectedWith(IncidentNotFound, 'inc-nobody');
    });

    it('lets one of two concurrent different transitions win; the other fails with WrongExpectedVersion', async () => {
      const { world, incidentId } = await givenOpenIncident();
      const operator = AuthorityFixtures.operator();
      await world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: operator, at: at(0) });

      const outcomes = await Promise.allSettled([
        world.incidents.transition(incidentId, { action: 'MITIGATE_INCIDENT', authority: operator, at: at(1) }),
        world.incidents.transition(incidentId, { action: 'RESOLVE_INCIDENT', authority: AuthorityFixtures.onCall(), at: at(2) }),
      ]);

      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
      const [rejected] = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(rejected?.reason).to.be.instanceOf(WrongExpectedVersion);
      expect(world.events(incidentStreamId(incidentId))).to.have.length(3);
    });

    // Regression (fixed bug): IncidentStateChanged's event id is derived from (incidentId, revision, action) only, not
    // from the authority or time of the command. Two responders acknowledging at the same time
    // write the same event id at the same expected revision; the store takes the second append as
    // an idempotent re-append and reports success. Both callers are told they acknowledged, but
    // only the first one's authority is recorded: the audit trail (INV-P2.3.6) silently loses the
    // second actor instead of refusing them with WrongExpectedVersion.
    it('lets one of two concurrent identical transitions by different people win; the other fails with WrongExpectedVersion', async () => {
      const { world, incidentId } = await givenOpenIncident();

      const outcomes = await Promise.allSettled([
        world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: AuthorityFixtures.onCall('alice@opx'), at: at(0) }),
        world.incidents.transition(incidentId, { action: 'ACKNOWLEDGE_INCIDENT', authority: AuthorityFixtures.onCall('bob@opx'), at: at(1) }),
      ]);

      expect(outcomes.map((o) => o.status).sort()).to.deep.equal(['fulfilled', 'rejected']);
      const [rejected] = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(rejected?.reason).to.be.instanceOf(WrongExpectedVersion);
    });
  });

  describe('decideTransition / evolveIncident (the pure decider)', () => {
    const opened = (): Incident =>
      evolveIncident(undefined, {
        type: 'IncidentOpened',
        data: { incidentId: 'inc-1', candidateId: 'cand-1', decisionId: 'dec-1', severity: 'SEV1', service: 'auth', openedAt: Times.t0, authority: AuthorityFixtures.autoEngine('cand-1') },
        metadata: { $correlationId: 'c', $causationId: 'c', schemaVersion: 1 },
      });

    it('given an open incident, when acknowledged, then it emits OPEN -> ACKNOWLEDGED with the command authority and time', () => {
      const authority = AuthorityFixtures.onCall();

      const change = decideTransition(opened(), { action: 'ACKNOWLEDGE_INCIDENT', authority, at: at(0) });

      expect(change).to.deep.equal({ incidentId: 'inc-1', action: 'ACKNOWLEDGE_INCIDENT', from: 'OPEN', to: 'ACKNOWLEDGED', authority, changedAt: at(0) });
    });

    it('given an open incident, when closed, then it throws IllegalTransition naming the allowed state', () => {
      expect(() => decideTransition(opened(), { action: 'CLOSE_INCIDENT', authority: AuthorityFixtures.operator(), at: at(0) })).to.throw(IllegalTransition, 'only allowed from RESOLVED');
    });

    it('refuses to evolve a state change that comes before IncidentOpened', () => {
      expect(() =>
        evolveIncident(undefined, {
          type: 'IncidentStateChanged',
          data: { incidentId: 'inc-1', action: 'ACKNOWLEDGE_INCIDENT', from: 'OPEN', to: 'ACKNOWLEDGED', authority: AuthorityFixtures.onCall(), changedAt: at(0) },
          metadata: { $correlationId: 'c', $causationId: 'c', schemaVersion: 1 },
        }),
      ).to.throw(/before IncidentOpened/);
    });
  });
});
