import { expect } from 'chai';
import sinon from 'sinon';

import type { CandidateCreatedEvent } from '../../src/candidates/candidate-events.js';
import { CandidateNotFound } from '../../src/candidates/candidate-store.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { handleCandidateCreated, handleCandidateStreamEvent, handleManualPromotionRequested, OrchestrationUnsuccessful, type HandlerContext } from '../../src/orchestration/candidate-event-handler.js';
import type { OrchestrationResult } from '../../src/orchestration/incident-orchestrator.js';
import { InvalidInput, StoreUnavailable } from '../../src/shared/errors.js';
import { UnknownEventType } from '../../src/shared/event-codec.js';
import { RecordingLogger } from '../../src/shared/logger.js';
import { AuthorityFixtures, CandidateFixtures, Times } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

/** A valid CandidateCreated event as the frozen interface names it. */
class CandidateCreatedFixtures {
  static get valid(): CandidateCreatedEvent {
    return {
      eventType: 'CandidateCreated',
      candidateId: 'cand-handler-1',
      correlationRuleId: 'service-fingerprint-burst',
      correlationRuleVersion: '1.0.0',
      signalCount: 2,
      severity: 'SEV1',
      service: 'auth',
      createdAt: Times.at(20),
    };
  }
}

/** A stub orchestrator at the handler's port: answers `result`, or rejects with `error`. */
function stubContext(answer: { result?: OrchestrationResult; error?: Error } = {}) {
  const processCandidate = sinon.stub<Parameters<HandlerContext['orchestrator']['processCandidate']>, Promise<OrchestrationResult>>();
  if (answer.error !== undefined) processCandidate.rejects(answer.error);
  else processCandidate.resolves(answer.result ?? { success: true, decision: 'DEFER', decisionId: 'dec-1', reason: 'ok' });
  const context: HandlerContext = { orchestrator: { processCandidate }, logger: new RecordingLogger() };
  return { context, processCandidate };
}

const recorded = (type: string, data: object, metadata: object = {}): RecordedEvent => ({
  id: '00000000-0000-5000-8000-000000000001',
  type,
  streamId: 'candidate-cand-handler-1',
  revision: 0n,
  position: 0n,
  data: data as RecordedEvent['data'],
  metadata: metadata as RecordedEvent['metadata'],
  created: new Date(0),
});

describe('candidate event handler (constraint 3: fail-fast)', () => {
  describe(handleCandidateCreated.name, () => {
    it('orchestrates a valid event under Decision 3 authority at the event time', async () => {
      const { context, processCandidate } = stubContext();
      const event = CandidateCreatedFixtures.valid;

      await handleCandidateCreated(event, context);

      expect(processCandidate.callCount).to.equal(1);
      expect(processCandidate.firstCall.args).to.deep.equal([event.candidateId, AuthorityFixtures.autoEngine(event.candidateId), event.createdAt]);
    });

    const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a missing field (service)', (({ service: _, ...rest }) => rest)(CandidateCreatedFixtures.valid), /service/],
      ['a missing field (candidateId)', (({ candidateId: _, ...rest }) => rest)(CandidateCreatedFixtures.valid), /candidateId/],
      ['an extra field', { ...CandidateCreatedFixtures.valid, policyId: 'sneaky' }, /policyId should not exist/],
      ['a wrong type (signalCount as a string)', { ...CandidateCreatedFixtures.valid, signalCount: '2' }, /signalCount/],
      ['a wrong type (severity as a number)', { ...CandidateCreatedFixtures.valid, severity: 1 }, /severity/],
      ['a bad severity', { ...CandidateCreatedFixtures.valid, severity: 'SEV9' }, /severity/],
      ['a wrong eventType', { ...CandidateCreatedFixtures.valid, eventType: 'CandidateDeleted' }, /eventType/],
      ['a zero signalCount', { ...CandidateCreatedFixtures.valid, signalCount: 0 }, /signalCount/],
      ['a createdAt that is not a date', { ...CandidateCreatedFixtures.valid, createdAt: 'yesterday' }, /createdAt/],
      ['a candidateId with spaces', { ...CandidateCreatedFixtures.valid, candidateId: 'cand 1' }, /candidateId/],
      ['a __proto__ key', JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(CandidateCreatedFixtures.valid).slice(1)}`) as Record<string, unknown>, /__proto__ is a forbidden key/],
    ];
    for (const [name, event, message] of invalid) {
      it(`throws InvalidInput naming the problem for ${name}, without orchestrating`, async () => {
        const { context, processCandidate } = stubContext();

        await expect(handleCandidateCreated(event as unknown as CandidateCreatedEvent, context)).to.be.rejectedWith(InvalidInput, message);
        expect(processCandidate.callCount).to.equal(0);
      });
    }

    it('throws InvalidInput for an event that is not an object', async () => {
      const { context } = stubContext();

      await expect(handleCandidateCreated(null as unknown as CandidateCreatedEvent, context)).to.be.rejectedWith(InvalidInput, 'expected a JSON object');
    });

    it('throws OrchestrationUnsuccessful when the orchestrator reports success=false', async () => {
      const { context } = stubContext({ result: { success: false, decision: 'DEFER', decisionId: 'dec-1', reason: 'r', error: 'CP-6 said no' } });

      await expect(handleCandidateCreated(CandidateCreatedFixtures.valid, context)).to.be.rejectedWith(OrchestrationUnsuccessful, 'CP-6 said no');
    });

    it('propagates the orchestrator error itself', async () => {
      const failure = new StoreUnavailable('store down');
      const { context, processCandidate } = stubContext({ error: failure });

      await expect(handleCandidateCreated(CandidateCreatedFixtures.valid, context)).to.be.rejectedWith(failure);
      expect(processCandidate.callCount).to.equal(1);
    });

    it('propagates CandidateNotFound from the real orchestrator, appending no decision', async () => {
      const world = OpxWorld.create();

      await expect(handleCandidateCreated(CandidateCreatedFixtures.valid, world.context)).to.be.rejectedWith(CandidateNotFound);
      expect(world.all('PromotionDecided')).to.deep.equal([]);
    });
  });

  describe(handleManualPromotionRequested.name, () => {
    it('throws InvalidInput for a request without a justification field, without orchestrating', async () => {
      const { context, processCandidate } = stubContext();
      const { justification: _, ...authority } = AuthorityFixtures.operator();

      await expect(
        handleManualPromotionRequested({ candidateId: 'cand-1', requestId: 'req-1', authority: authority as never, requestedAt: Times.later }, context),
      ).to.be.rejectedWith(InvalidInput, 'authority.justification');
      expect(processCandidate.callCount).to.equal(0);
    });

    it('orchestrates under the recorded human authority at the request time', async () => {
      const { context, processCandidate } = stubContext({ result: { success: true, decision: 'PROMOTE', decisionId: 'd', reason: 'r', incidentId: 'i' } });
      const authority = AuthorityFixtures.operator('alice@opx', 'req-1');

      await handleManualPromotionRequested({ candidateId: 'cand-1', requestId: 'req-1', authority, requestedAt: Times.later }, context);

      expect(processCandidate.firstCall.args).to.deep.equal(['cand-1', authority, Times.later]);
    });
  });

  describe(handleCandidateStreamEvent.name, () => {
    it('throws UnknownEventType on an unknown event type, without orchestrating', async () => {
      const { context, processCandidate } = stubContext();

      await expect(handleCandidateStreamEvent(recorded('CandidateMerged', CandidateCreatedFixtures.valid), context)).to.be.rejectedWith(UnknownEventType, 'CandidateMerged');
      expect(processCandidate.callCount).to.equal(0);
    });

    it('throws UnknownEventType for an inherited property name used as a type', async () => {
      const { context } = stubContext();

      await expect(handleCandidateStreamEvent(recorded('toString', {}), context)).to.be.rejectedWith(UnknownEventType);
    });

    it('acknowledges its own outputs (PromotionDecided, IncidentCreated) without orchestrating', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.promotable);
      const { context, processCandidate } = stubContext();

      const outcomes = [];
      for (const e of world.candidateEvents(candidateId).slice(1)) outcomes.push(await handleCandidateStreamEvent(e, context));

      expect(outcomes).to.deep.equal(['ignored', 'ignored']);
      expect(processCandidate.callCount).to.equal(0);
    });

    it('throws InvalidInput for a recorded CandidateCreated whose metadata names no policy, appending nothing', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const original = world.candidateEvents(candidateId)[0] as RecordedEvent;
      const meta = original.metadata as { candidate: Record<string, unknown> };
      const tampered = { ...original, metadata: { ...original.metadata, candidate: { ...meta.candidate, policyId: '' } } };
      const size = world.size;

      await expect(handleCandidateStreamEvent(tampered, world.context)).to.be.rejectedWith(InvalidInput, 'candidate.policyId');
      expect(world.size).to.equal(size);
    });

    it("throws InvalidInput for an input on another candidate's stream, without orchestrating", async () => {
      const { context, processCandidate } = stubContext();
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const created = world.candidateEvents(candidateId)[0] as RecordedEvent;
      const foreign = { ...created, streamId: 'candidate-cand-someone-else' };

      await expect(handleCandidateStreamEvent(foreign, context)).to.be.rejectedWith(InvalidInput, `names candidate '${candidateId}', not its stream's candidate 'cand-someone-else'`);
      expect(processCandidate.callCount).to.equal(0);
    });

    it('routes CandidateCreated through the orchestrator', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      await expect(world.deliverCandidateCreated(candidateId)).to.eventually.equal('handled');
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
    });
  });
});
