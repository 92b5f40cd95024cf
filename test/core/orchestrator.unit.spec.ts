import { expect } from 'chai';
import sinon from 'sinon';

import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { CandidateNotFound } from '../../src/candidates/candidate-store.js';
import type { Candidate } from '../../src/correlation/correlator.js';
import { TOKENS } from '../../src/container/tokens.js';
import { incidentStreamId } from '../../src/incidents/incident-events.js';
import { CandidateWithoutPolicy, IncidentOrchestrator } from '../../src/orchestration/incident-orchestrator.js';
import { InProcessMessageBus } from '../../src/orchestration/message-bus.js';
import type { OrchestrationEvent } from '../../src/orchestration/orchestration-event.schema.js';
import { ORCHESTRATION_LOG_STREAM, OrchestrationStore, orchestrationStreamId, type OrchestrationLogOptions } from '../../src/orchestration/orchestration-store.js';
import { PolicyMismatch } from '../../src/promotion/promotion-engine.js';
import { StoreUnavailable } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { AuthorityFixtures, CandidateFixtures, Times } from './support/fixtures.js';
import { failFirstAppendOf, GatedEventStore, InterceptingEventStore, ThrowingEmitter, UnavailableOrchestrationStore, WriteOnlyOrchestrationStore } from './support/ports.js';
import { OpxWorld } from './support/world.js';

const NINETY_DAYS_IN_SECONDS = 90 * 24 * 60 * 60;

describe(IncidentOrchestrator.name, () => {
  afterEach(() => sinon.restore());

  describe('INV-P2.3.3 frozen component respect', () => {
    for (const [decision, fixture] of [
      ['PROMOTE', CandidateFixtures.promotable],
      ['DEFER', CandidateFixtures.deferrable],
      ['SUPPRESS', CandidateFixtures.suppressible],
    ] as const) {
      it(`writes only CP-6/CP-7 outputs and its own log on ${decision}, never touching CandidateCreated`, async () => {
        // given a candidate recorded by CP-5, and a spy at the store port
        let spy: InterceptingEventStore | undefined;
        const world = OpxWorld.create({ wrapStore: (memory) => (spy = new InterceptingEventStore(memory)) });
        await world.givenCandidate(fixture);
        const created = world.candidateEvents(fixture.candidateId)[0];
        const before = spy?.appends.length ?? 0;

        // when the orchestrator runs (twice, as on a redelivery)
        const result = await world.process(fixture.candidateId);
        await world.process(fixture.candidateId);

        // then the only appends are PromotionDecided / IncidentCreated / IncidentOpened / OrchestrationAttempted
        expect(result.decision).to.equal(decision);
        const appended = spy?.appends.slice(before) ?? [];
        expect(appended.flatMap((a) => a.types)).to.satisfy((types: string[]) =>
          types.every((t) => ['PromotionDecided', 'IncidentCreated', 'IncidentOpened', 'OrchestrationAttempted'].includes(t)),
        );
        expect(appended.filter((a) => a.streamId === candidateStreamId(fixture.candidateId)).flatMap((a) => a.types)).to.deep.equal(
          decision === 'PROMOTE' ? ['PromotionDecided', 'IncidentCreated'] : ['PromotionDecided'],
        );
        expect(world.candidateEvents(fixture.candidateId)[0]).to.equal(created);
      });
    }
  });

  describe('INV-P2.3.4 idempotent orchestration', () => {
    it('records one decision and one incident when CandidateCreated is delivered again after the incident', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.promotable);
      const size = world.size;

      await world.deliverCandidateCreated(candidateId);
      await world.deliverCandidateCreated(candidateId);

      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(world.incidentStreams()).to.have.length(1);
      // only the attempt log grows
      expect(await world.loggedAttempts(candidateId)).to.have.length(3);
      expect(world.size - size).to.equal(2);
    });

    it('records one decision when the first delivery failed before the decision was recorded', async () => {
      // given a store that fails the first PromotionDecided append (a crash before CP-6 recorded)
      const world = OpxWorld.create({ wrapStore: (memory) => new InterceptingEventStore(memory, { beforeAppend: failFirstAppendOf('PromotionDecided') }) });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      // when the event is delivered, fails, and is redelivered twice
      await expect(world.deliverCandidateCreated(candidateId)).to.be.rejectedWith(StoreUnavailable);
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
      await world.deliverCandidateCreated(candidateId);
      await world.deliverCandidateCreated(candidateId);

      // then
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(world.all('IncidentOpened')).to.have.length(1);
    });

    it('records one decision and one incident when CP-7 failed once between the decision and the incident', async () => {
      // given a store that fails the first IncidentCreated append
      const world = OpxWorld.create({ wrapStore: (memory) => new InterceptingEventStore(memory, { beforeAppend: failFirstAppendOf('IncidentCreated') }) });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      // when: first delivery dies between decision and incident
      await expect(world.deliverCandidateCreated(candidateId)).to.be.rejectedWith(StoreUnavailable);
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
      // and the redelivery heals it
      await world.deliverCandidateCreated(candidateId);
      await world.deliverCandidateCreated(candidateId);

      // then
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(world.incidentStreams()).to.have.length(1);
      expect(world.publishedOf('IncidentCreated')).to.have.length(1);
    });

    it('opens the incident stream exactly once when the first delivery died between IncidentCreated and IncidentOpened', async () => {
      const world = OpxWorld.create({ wrapStore: (memory) => new InterceptingEventStore(memory, { beforeAppend: failFirstAppendOf('IncidentOpened') }) });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      await expect(world.deliverCandidateCreated(candidateId)).to.be.rejectedWith(StoreUnavailable);
      expect(world.incidentStreams()).to.have.length(0);
      await world.deliverCandidateCreated(candidateId);
      await world.deliverCandidateCreated(candidateId);

      const [stream] = world.incidentStreams();
      expect(world.all('IncidentCreated')).to.have.length(1);
      expect(world.events(stream ?? '').map((e) => e.type)).to.deep.equal(['IncidentOpened']);
    });

    for (const fixture of [CandidateFixtures.deferrable, CandidateFixtures.suppressible]) {
      it(`records one decision and no incident for a ${fixture.severity} candidate delivered three times`, async () => {
        const world = OpxWorld.create();
        const { candidateId } = await world.givenDelivered(fixture);
        await world.deliverCandidateCreated(candidateId);
        await world.deliverCandidateCreated(candidateId);

        expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
        expect(world.incidentStreams()).to.have.length(0);
      });
    }

    it('yields one decision and one incident when two orchestrators process the same candidate concurrently', async () => {
      // given two containers (two worker processes) on one store
      const first = OpxWorld.create();
      const second = OpxWorld.create({ memory: first.memory });
      const { candidateId } = await first.givenCandidate(CandidateFixtures.promotable);

      // when both process it at once
      const [a, b] = await Promise.all([first.process(candidateId), second.process(candidateId)]);

      // then
      expect(a.decisionId).to.equal(b.decisionId);
      expect(a.incidentId).to.equal(b.incidentId);
      expect(first.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(first.all('IncidentOpened')).to.have.length(1);
    });

    it('yields one decision and one incident when one orchestrator gets five concurrent deliveries', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      const results = await Promise.all([1, 2, 3, 4, 5].map(() => world.deliverCandidateCreated(candidateId)));

      expect(results).to.deep.equal(['handled', 'handled', 'handled', 'handled', 'handled']);
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(world.all('IncidentOpened')).to.have.length(1);
    });

    it('yields one DEFER decision when two orchestrators decide the same deferrable candidate concurrently', async () => {
      const first = OpxWorld.create();
      const second = OpxWorld.create({ memory: first.memory });
      const { candidateId } = await first.givenCandidate(CandidateFixtures.deferrable);

      const [a, b] = await Promise.all([first.process(candidateId), second.process(candidateId)]);

      expect([a.decision, b.decision]).to.deep.equal(['DEFER', 'DEFER']);
      expect(first.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
    });

    // Regression (fixed bug): the attempt id is eventId(candidateId, sessionId, startedAt, per-instance counter). Two
    // orchestrator instances (two workers, or one restarted) attempting the same candidate in the
    // same millisecond derive the same attempt id, and the 'any' append of the second is taken as
    // an idempotent re-append: one attempt silently vanishes from the orchestration log.
    it('logs both attempts when two orchestrators process the same candidate at the same instant', async () => {
      const first = OpxWorld.create();
      const second = OpxWorld.create({ memory: first.memory });
      const { candidateId } = await first.givenCandidate(CandidateFixtures.promotable);

      await Promise.all([first.process(candidateId), second.process(candidateId)]);

      await second.loggedAttempts(candidateId);
      expect(await first.loggedAttempts(candidateId)).to.have.length(2);
    });
  });

  describe('INV-P2.3.5 event decoupling', () => {
    it('records the incident and succeeds when the emitter throws, logging a warning', async () => {
      // given a bus whose transport is down
      const emitter = new ThrowingEmitter();
      const world = OpxWorld.create({ emitter });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      // when
      const result = await world.process(candidateId);

      // then
      expect(result.success).to.equal(true);
      expect(result.incidentId).to.be.a('string');
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(world.incidentStreams()).to.deep.equal([incidentStreamId(result.incidentId ?? '')]);
      expect(emitter.attempts).to.equal(1);
      const warning = world.warnings().find((w) => (w.fields as { eventType?: string }).eventType === 'IncidentCreated');
      expect(warning?.fields).to.deep.include({ candidateId });
      expect((warning?.fields as { err?: Error }).err?.message).to.equal('bus down: IncidentCreated not delivered');
    });

    it('succeeds through the fail-fast handler when the emitter throws on DEFER', async () => {
      const world = OpxWorld.create({ emitter: new ThrowingEmitter() });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.deferrable);

      await expect(world.deliverCandidateCreated(candidateId)).to.eventually.equal('handled');

      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
      expect(world.warnings().some((w) => (w.fields as { eventType?: string }).eventType === 'CandidateDeferred')).to.equal(true);
    });

    it('records the incident and succeeds when the orchestration store rejects logAttempt, logging a warning', async () => {
      const log = { store: undefined as UnavailableOrchestrationStore | undefined };
      const world = OpxWorld.create({ orchestrationStore: (store) => (log.store = new UnavailableOrchestrationStore(store)) });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      const result = await world.process(candidateId);

      expect(result.success).to.equal(true);
      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
      expect(log.store?.logAttempts).to.equal(1);
      expect(world.warnings().filter((w) => (w.fields as { candidateId?: string }).candidateId === candidateId)).to.have.length(1);
    });

    it('keeps delivering to other subscribers when one bus subscriber throws', async () => {
      const world = OpxWorld.create();
      const bus = world.container.get(TOKENS.MessageBus);
      bus.subscribe('IncidentCreated', () => {
        throw new Error('subscriber bug');
      });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      await world.process(candidateId);

      expect(world.publishedOf('IncidentCreated')).to.have.length(1);
      expect(world.warnings()).to.have.length(1);
    });
  });

  describe('INV-P2.3.6 authority preservation', () => {
    it('carries Decision 3 AUTO_ENGINE authority onto PromotionDecided, IncidentCreated metadata and IncidentOpened', async () => {
      // given a candidate delivered through the handler (which builds the authority)
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.promotable);
      const decision3 = { authorityType: 'AUTO_ENGINE', authorityId: 'opx-candidate-processor', sessionId: candidateId, justification: 'Auto-promotion from correlation' };

      // then
      const [decided] = world.all('PromotionDecided');
      const [created] = world.all('IncidentCreated');
      const [opened] = world.all('IncidentOpened');
      expect(decided?.data['authority']).to.deep.equal(decision3);
      expect(created?.metadata['authority']).to.deep.equal(decision3);
      expect(opened?.data['authority']).to.deep.equal(decision3);
    });

    it('carries the HUMAN_OPERATOR authority of a manual promotion the same way', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.deferrable);
      await world.givenManualPromotionRequested(candidateId, { operator: 'carol@opx', justification: 'customers report checkout errors' });
      const [request] = world.all('ManualPromotionRequested');
      const human = request?.data['authority'];

      await world.deliverManualPromotionRequested(candidateId);

      expect(human).to.deep.include({ authorityType: 'HUMAN_OPERATOR', authorityId: 'carol@opx', justification: 'customers report checkout errors' });
      expect(world.all('PromotionDecided')[1]?.data['authority']).to.deep.equal(human);
      expect(world.all('IncidentCreated')[0]?.metadata['authority']).to.deep.equal(human);
      expect(world.all('IncidentOpened')[0]?.data['authority']).to.deep.equal(human);
    });

    it('passes the caller authority to CP-6 unchanged', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const spy = sinon.spy(world.engine, 'processPromotionRequest');
      const authority = AuthorityFixtures.autoEngine(candidateId);

      await world.process(candidateId, authority);

      expect(spy.firstCall.args[0].authority).to.deep.equal(authority);
    });
  });

  describe('INV-P2.3.7 policy selection immutability', () => {
    for (const candidate of [CandidateFixtures.payments, CandidateFixtures.sev2BurstUnder('1.1.0'), CandidateFixtures.sev2BurstUnder('1.0.0')]) {
      it(`sends CP-6 the policy the candidate names (${candidate.policyId}@${candidate.policyVersion})`, async () => {
        const world = OpxWorld.create();
        await world.givenCandidate(candidate);
        const spy = sinon.spy(world.engine, 'processPromotionRequest');

        await world.process(candidate.candidateId);

        expect(spy.callCount).to.equal(1);
        expect(spy.firstCall.args[0]).to.deep.include({ candidateId: candidate.candidateId, policyId: candidate.policyId, policyVersion: candidate.policyVersion });
        expect(world.all('PromotionDecided')[0]?.data).to.deep.include({ policyId: candidate.policyId, policyVersion: candidate.policyVersion });
      });
    }

    it('decides the same facts differently under the two policy versions the candidates name', async () => {
      const world = OpxWorld.create();
      const v100 = await world.givenCandidate(CandidateFixtures.sev2BurstUnder('1.0.0'));
      const v110 = await world.givenCandidate(CandidateFixtures.sev2BurstUnder('1.1.0'));

      const a = await world.process(v100.candidateId);
      const b = await world.process(v110.candidateId);

      expect([a.decision, b.decision]).to.deep.equal(['PROMOTE', 'DEFER']);
    });

    it('is refused by CP-6 when a request names another policy than the candidate (PolicyMismatch), nothing appended', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const size = world.size;

      const request = { candidateId, policyId: 'standard-promotion', policyVersion: '1.1.0', authority: AuthorityFixtures.autoEngine(candidateId), requestContextHash: '0'.repeat(64) };
      await expect(world.engine.processPromotionRequest(request, Times.at(20))).to.be.rejectedWith(PolicyMismatch, /standard-promotion@1\.0\.0/);

      expect(world.size).to.equal(size);
    });

    it('throws CandidateWithoutPolicy for a candidate that names no policy, without calling CP-6', async () => {
      // given CP-5 hands over a candidate without a policy
      const world = OpxWorld.create();
      const candidate = await world.givenCandidate(CandidateFixtures.promotable);
      sinon.stub(world.candidates, 'get').resolves({ ...candidate, policyId: '', policyVersion: '' });
      const cp6 = sinon.spy(world.engine, 'processPromotionRequest');

      // when / then
      await expect(world.process(candidate.candidateId)).to.be.rejectedWith(CandidateWithoutPolicy, candidate.candidateId);
      expect(cp6.callCount).to.equal(0);
      expect(world.candidateTypes(candidate.candidateId)).to.deep.equal(['CandidateCreated']);
    });

    it('throws CandidateWithoutPolicy when only the policy version is missing', async () => {
      const world = OpxWorld.create();
      const candidate = await world.givenCandidate(CandidateFixtures.promotable);
      sinon.stub(world.candidates, 'get').resolves({ ...candidate, policyVersion: '' });

      await expect(world.process(candidate.candidateId)).to.be.rejectedWith(CandidateWithoutPolicy);
    });
  });

  describe('constraint 1: glue only', () => {
    for (const [decision, fixture, cp7Calls] of [
      ['PROMOTE', CandidateFixtures.promotable, 1],
      ['DEFER', CandidateFixtures.deferrable, 0],
      ['SUPPRESS', CandidateFixtures.suppressible, 0],
    ] as const) {
      it(`calls CP-6 exactly once and CP-7 ${cp7Calls} time(s) on ${decision}`, async () => {
        const world = OpxWorld.create();
        await world.givenCandidate(fixture);
        const cp6 = sinon.spy(world.engine, 'processPromotionRequest');
        const cp7 = sinon.spy(world.incidents, 'createIncidentFromPromotion');

        const result = await world.process(fixture.candidateId);

        expect(result.decision).to.equal(decision);
        expect(cp6.callCount).to.equal(1);
        expect(cp7.callCount).to.equal(cp7Calls);
      });
    }

    it('propagates a CP-6 error without retrying it', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const failure = new StoreUnavailable('CP-6 unavailable');
      const cp6 = sinon.stub(world.engine, 'processPromotionRequest').rejects(failure);
      const cp7 = sinon.spy(world.incidents, 'createIncidentFromPromotion');

      await expect(world.process(candidateId)).to.be.rejectedWith(failure);

      expect(cp6.callCount).to.equal(1);
      expect(cp7.callCount).to.equal(0);
    });

    it('propagates a CP-7 error without retrying it', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      const cp7 = sinon.stub(world.incidents, 'createIncidentFromPromotion').rejects(new StoreUnavailable('CP-7 unavailable'));

      await expect(world.process(candidateId)).to.be.rejectedWith(StoreUnavailable, 'CP-7 unavailable');

      expect(cp7.callCount).to.equal(1);
    });

    it('throws CandidateNotFound for an unknown candidate (fail-closed) without calling CP-6', async () => {
      const world = OpxWorld.create();
      const cp6 = sinon.spy(world.engine, 'processPromotionRequest');

      await expect(world.process('cand-nobody')).to.be.rejectedWith(CandidateNotFound, 'cand-nobody');
      expect(cp6.callCount).to.equal(0);
    });

    it('gives every candidate the decision its policy gives, whatever its severity (no severity logic of its own)', async () => {
      // SEV1 on a payments policy that only defers below SEV2 and SEV4 on standard: the policy decides
      const world = OpxWorld.create();
      const payments = await world.givenCandidate({ ...CandidateFixtures.payments, candidateId: 'cand-payments-sev3', severity: 'SEV3' });
      const result = await world.process(payments.candidateId);
      expect(result).to.deep.include({ decision: 'DEFER', reason: 'no rule matched: revenue path below SEV2 waits for a human' });
    });
  });

  describe('constraint 2: the orchestration store is write-only', () => {
    it('orchestrates correctly when getAttempts throws and every read of an orchestration- stream fails', async () => {
      // given a store that refuses reads of the orchestration log, and a log whose debug read throws
      let spy: InterceptingEventStore | undefined;
      const log = { store: undefined as WriteOnlyOrchestrationStore | undefined };
      const refuse = (streamId: string) => {
        if (streamId.startsWith('orchestration-')) throw new StoreUnavailable(`read of ${streamId} refused`);
      };
      const world = OpxWorld.create({
        wrapStore: (memory) => (spy = new InterceptingEventStore(memory, { beforeRead: refuse })),
        orchestrationStore: (store) => (log.store = new WriteOnlyOrchestrationStore(store)),
      });
      const promotable = await world.givenCandidate(CandidateFixtures.promotable);
      const deferrable = await world.givenCandidate(CandidateFixtures.deferrable);

      // when
      const a = await world.process(promotable.candidateId);
      const b = await world.process(promotable.candidateId);
      const c = await world.process(deferrable.candidateId);

      // then
      expect([a.decision, b.decision, c.decision]).to.deep.equal(['PROMOTE', 'PROMOTE', 'DEFER']);
      expect(b.incidentId).to.equal(a.incidentId);
      expect(log.store?.getAttemptsCalls).to.equal(0);
      expect(spy?.reads.filter((s) => s.startsWith('orchestration-'))).to.deep.equal([]);
      expect(await world.loggedAttempts(promotable.candidateId)).to.have.length(2);
    });
  });

  describe('the message bus', () => {
    for (const [type, fixture] of [
      ['IncidentCreated', CandidateFixtures.promotable],
      ['CandidateDeferred', CandidateFixtures.deferrable],
      ['CandidateSuppressed', CandidateFixtures.suppressible],
    ] as const) {
      it(`publishes ${type} once per new decision and not on duplicate deliveries`, async () => {
        const world = OpxWorld.create();
        const { candidateId } = await world.givenDelivered(fixture);
        await world.deliverCandidateCreated(candidateId);
        await world.deliverCandidateCreated(candidateId);

        expect(world.published.map((e) => e.eventType)).to.deep.equal([type]);
        expect(world.published[0]).to.deep.include({ candidateId, decisionId: world.all('PromotionDecided')[0]?.data['decisionId'] });
      });
    }

    // A host may call processCandidate itself, and its emitter need not dedupe as the bus does:
    // the orchestrator publishes only what it recorded, not what it found recorded.
    for (const [type, fixture] of [
      ['IncidentCreated', CandidateFixtures.promotable],
      ['CandidateDeferred', CandidateFixtures.deferrable],
      ['CandidateSuppressed', CandidateFixtures.suppressible],
    ] as const) {
      it(`emits ${type} once when a host calls processCandidate twice, through an emitter that keeps every event`, async () => {
        const emitted: OrchestrationEvent[] = [];
        const world = OpxWorld.create({ emitter: { emit: async (event) => void emitted.push(event) } });
        const { candidateId } = await world.givenCandidate(fixture);

        const first = await world.process(candidateId);
        const second = await world.process(candidateId);

        expect(second).to.deep.equal(first);
        expect(emitted.map((e) => e.eventType)).to.deep.equal([type]);
      });
    }

    it('publishes IncidentCreated with the recorded incident', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.promotable);

      expect(world.publishedOf('IncidentCreated')).to.deep.equal([world.all('IncidentCreated')[0]?.data]);
      expect(world.candidateTypes(candidateId)).to.include('IncidentCreated');
    });

    it('publishes OrchestrationFailed when CP-6 throws', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      sinon.stub(world.engine, 'processPromotionRequest').rejects(new StoreUnavailable('policy engine down'));

      await expect(world.process(candidateId, undefined, Times.at(20))).to.be.rejectedWith(StoreUnavailable);

      expect(world.published).to.deep.equal([{ eventType: 'OrchestrationFailed', candidateId, error: 'policy engine down', failedAt: Times.at(20) }]);
    });

    // Two processes racing on one candidate: the loser's append of the same deterministic event id
    // at the same revision is an idempotent no-op that EventStoreDB reports as success, so it cannot
    // know it lost. Each process's bus publishes at most once, and both publish the same ids, so a
    // subscriber dedupes by incidentId (README, "message bus" semantics).
    it('publishes IncidentCreated at most once per process, with the same incident id, when two processes race', async () => {
      const first = OpxWorld.create();
      const second = OpxWorld.create({ memory: first.memory });
      const { candidateId } = await first.givenCandidate(CandidateFixtures.promotable);

      await Promise.all([first.process(candidateId), second.process(candidateId)]);

      const published = [...first.publishedOf('IncidentCreated'), ...second.publishedOf('IncidentCreated')];
      expect(first.publishedOf('IncidentCreated').length).to.be.at.most(1);
      expect(second.publishedOf('IncidentCreated').length).to.be.at.most(1);
      expect(published.length).to.be.at.least(1);
      expect(new Set(published.map((e) => JSON.stringify(e))).size).to.equal(1);
      expect(first.all('IncidentCreated')).to.have.length(1);
    });

    // Regression: five concurrent deliveries in one process used to publish five times; the bus now
    // drops a repeat of the same deterministic id.
    it('publishes IncidentCreated once when one orchestrator gets five concurrent deliveries', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      await Promise.all([1, 2, 3, 4, 5].map(() => world.deliverCandidateCreated(candidateId)));

      expect(world.publishedOf('IncidentCreated')).to.have.length(1);
    });

    it('publishes CandidateDeferred at most once per process when two processes decide the same candidate concurrently', async () => {
      const first = OpxWorld.create();
      const second = OpxWorld.create({ memory: first.memory });
      const { candidateId } = await first.givenCandidate(CandidateFixtures.deferrable);

      const [a, b] = await Promise.all([first.process(candidateId), second.process(candidateId)]);

      expect([a.decision, b.decision]).to.deep.equal(['DEFER', 'DEFER']);
      expect(a.decisionId).to.equal(b.decisionId);
      expect(first.publishedOf('CandidateDeferred').length).to.be.at.most(1);
      expect(second.publishedOf('CandidateDeferred').length).to.be.at.most(1);
      expect(first.all('PromotionDecided')).to.have.length(1);
    });

    it('remembers as published only what it delivered: an event emitted while nobody subscribed reaches a later subscriber once', async () => {
      const bus = new InProcessMessageBus(silentLogger);
      const deferred = { eventType: 'CandidateDeferred', candidateId: 'cand-1', decisionId: 'dec-1', reason: 'r', deferredAt: Times.at(0) } as const;
      await bus.emit(deferred);
      const received: unknown[] = [];
      bus.subscribe('CandidateDeferred', (event) => void received.push(event));

      await bus.emit(deferred);
      await bus.emit(deferred);

      expect(received).to.deep.equal([deferred]);
    });

    it('publishes IncidentCreated once across a failed delivery and its redelivery', async () => {
      const world = OpxWorld.create({ wrapStore: (memory) => new InterceptingEventStore(memory, { beforeAppend: failFirstAppendOf('IncidentCreated') }) });
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);

      await expect(world.deliverCandidateCreated(candidateId)).to.be.rejectedWith(StoreUnavailable);
      await world.deliverCandidateCreated(candidateId);
      await world.deliverCandidateCreated(candidateId);

      expect(world.published.map((e) => e.eventType)).to.deep.equal(['OrchestrationFailed', 'IncidentCreated']);
    });
  });

  describe('the orchestration log', () => {
    it('appends each attempt to the attempt log with its candidate and a ttl of now + 90 days', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      world.clock.advance(1234_000);

      const result = await world.process(candidateId);

      const [attempt] = await world.loggedAttempts(candidateId);
      expect(attempt?.type).to.equal('OrchestrationAttempted');
      expect(attempt?.streamId).to.equal(ORCHESTRATION_LOG_STREAM);
      expect(attempt?.data).to.deep.include({
        candidateId,
        authorityType: 'AUTO_ENGINE',
        authorityId: 'opx-candidate-processor',
        policyId: 'standard-promotion',
        policyVersion: '1.0.0',
        decision: 'PROMOTE',
        decisionId: result.decisionId,
        incidentId: result.incidentId,
        status: 'success',
        startedAt: world.clock.now().toISOString(),
        ttl: Math.floor(world.clock.now().getTime() / 1000) + NINETY_DAYS_IN_SECONDS,
      });
    });

    it('sets $maxAge of 90 days on the attempt log once, not once per candidate', async () => {
      let spy: InterceptingEventStore | undefined;
      const world = OpxWorld.create({ wrapStore: (memory) => (spy = new InterceptingEventStore(memory)) });
      for (const fixture of [CandidateFixtures.deferrable, CandidateFixtures.promotable, CandidateFixtures.suppressible]) {
        await world.givenCandidate(fixture);
        await world.process(fixture.candidateId);
        await world.loggedAttempts(fixture.candidateId);
      }

      expect(await world.store.getStreamMetadata(ORCHESTRATION_LOG_STREAM)).to.deep.equal({ maxAge: NINETY_DAYS_IN_SECONDS });
      expect(spy?.metadataWrites).to.deep.equal([ORCHESTRATION_LOG_STREAM]);
    });

    it('logs a failed attempt with status error and the message', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
      sinon.stub(world.engine, 'processPromotionRequest').rejects(new StoreUnavailable('policy engine down'));

      await expect(world.process(candidateId)).to.be.rejectedWith(StoreUnavailable);

      const attempts = await world.container.get(TOKENS.OrchestrationStore).getAttempts(candidateId);
      expect(attempts).to.have.length(1);
      expect(attempts[0]).to.deep.include({ status: 'error', error: 'policy engine down', policyId: 'standard-promotion' });
      expect(attempts[0]).to.not.have.property('decisionId');
    });

    it('logs one attempt per delivery, including duplicates', async () => {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenDelivered(CandidateFixtures.suppressible);
      const first = world.clock.now().toISOString();
      world.clock.advance(1);
      await world.deliverCandidateCreated(candidateId);
      const second = world.clock.now().toISOString();

      const attempts = await world.container.get(TOKENS.OrchestrationStore).getAttempts(candidateId);
      expect(attempts.map((a) => a.decision)).to.deep.equal(['SUPPRESS', 'SUPPRESS']);
      expect(new Set(attempts.map((a) => a.attemptId)).size).to.equal(2);
      expect(attempts.map((a) => [a.startedAt, a.completedAt])).to.deep.equal([
        [first, first],
        [second, second],
      ]);
    });

    describe('written behind the orchestration', () => {
      /** A world whose store holds every append to the attempt log until the test opens the gate. */
      function gatedWorld(options: OrchestrationLogOptions = {}): { world: OpxWorld; gate: GatedEventStore } {
        let gate: GatedEventStore | undefined;
        const world = OpxWorld.create({
          wrapStore: (memory) => (gate = new GatedEventStore(memory, ORCHESTRATION_LOG_STREAM)),
          orchestrationStore: (store, logger) => new OrchestrationStore(store, { logger, ...options }),
        });
        return { world, gate: gate as GatedEventStore };
      }
      const promotables = (count: number): Candidate[] => Array.from({ length: count }, (_, i) => ({ ...CandidateFixtures.promotable, candidateId: `cand-promotable-${i}` }));

      it('returns from processCandidate while the attempt log is still writing: a promoted candidate costs its three appends', async () => {
        const { world, gate } = gatedWorld();
        const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
        const before = gate.calls.length;

        const result = await world.process(candidateId);

        expect(result.decision).to.equal('PROMOTE');
        expect(gate.calls.slice(before).filter((c) => c.streamId !== ORCHESTRATION_LOG_STREAM)).to.have.length(3);
        expect(gate.held).to.equal(1); // the attempt's append, not awaited
        gate.open();
        expect(await world.loggedAttempts(candidateId)).to.have.length(1);
      });

      it('writes the attempts of candidates orchestrated meanwhile in one append', async () => {
        const { world, gate } = gatedWorld();
        const candidates = promotables(20);
        for (const candidate of candidates) await world.givenCandidate(candidate);

        await Promise.all(candidates.map((c) => world.process(c.candidateId)));
        gate.open();
        await world.container.get(TOKENS.OrchestrationStore).flush();

        const logAppends = gate.calls.filter((c) => c.streamId === ORCHESTRATION_LOG_STREAM && c.kind === 'append');
        expect(logAppends.map((c) => c.events)).to.deep.equal([1, 19]);
        expect(gate.calls.filter((c) => c.kind === 'metadata')).to.have.length(1);
        for (const candidate of candidates) expect(await world.loggedAttempts(candidate.candidateId)).to.have.length(1);
      });

      it('appends at most maxBatch attempts at once', async () => {
        const { world, gate } = gatedWorld({ maxBatch: 3 });
        const candidates = promotables(7);
        for (const candidate of candidates) await world.givenCandidate(candidate);

        await Promise.all(candidates.map((c) => world.process(c.candidateId)));
        gate.open();
        await world.container.get(TOKENS.OrchestrationStore).flush();

        expect(gate.calls.filter((c) => c.streamId === ORCHESTRATION_LOG_STREAM && c.kind === 'append').map((c) => c.events)).to.deep.equal([1, 3, 3]);
      });

      it('drops attempts past maxQueued while the log is behind, and says how many once it catches up', async () => {
        const { world, gate } = gatedWorld({ maxQueued: 2 });
        const candidates = promotables(6);
        for (const candidate of candidates) await world.givenCandidate(candidate);

        const results = await Promise.all(candidates.map((c) => world.process(c.candidateId)));
        gate.open();
        await world.container.get(TOKENS.OrchestrationStore).flush();

        expect(results.every((r) => r.success)).to.equal(true);
        expect(world.events(ORCHESTRATION_LOG_STREAM)).to.have.length(3); // the one being written, and two queued
        const warnings = world.warnings().map((w) => [w.message, w.fields]);
        expect(warnings).to.deep.equal([
          ['Orchestration attempt log is behind: dropping attempts until it catches up', { queued: 2 }],
          ['Orchestration attempt log caught up; attempts were dropped', { dropped: 3 }],
        ]);
      });

      it('logs a failed write as a warning, fails no orchestration, and writes the next attempts', async () => {
        const world = OpxWorld.create({
          wrapStore: (memory) =>
            new InterceptingEventStore(memory, {
              beforeAppend: failFirstAppendOf('OrchestrationAttempted'),
            }),
        });
        const [first, second] = promotables(2) as [Candidate, Candidate];
        await world.givenCandidate(first);
        await world.givenCandidate(second);

        const a = await world.process(first.candidateId);
        await world.container.get(TOKENS.OrchestrationStore).flush();
        const b = await world.process(second.candidateId);

        expect([a.success, b.success]).to.deep.equal([true, true]);
        expect(await world.loggedAttempts(first.candidateId)).to.have.length(0);
        expect(await world.loggedAttempts(second.candidateId)).to.have.length(1);
        const warning = world.warnings().find((w) => w.message === 'Failed to log orchestration attempts');
        expect(warning?.fields).to.deep.include({ attempts: 1, candidateIds: [first.candidateId] });
      });
    });

    describe('getAttempts (people only)', () => {
      it('includes what this process has queued but not written yet', async () => {
        let gate: GatedEventStore | undefined;
        const world = OpxWorld.create({ wrapStore: (memory) => (gate = new GatedEventStore(memory, ORCHESTRATION_LOG_STREAM)) });
        const { candidateId } = await world.givenCandidate(CandidateFixtures.deferrable);
        await world.process(candidateId);

        const reading = world.container.get(TOKENS.OrchestrationStore).getAttempts(candidateId);
        await new Promise((resolve) => setImmediate(resolve));
        gate?.open();

        expect((await reading).map((a) => a.decision)).to.deep.equal(['DEFER']);
      });

      it('reads the log back only as far as the candidate\'s first event', async () => {
        let spy: InterceptingEventStore | undefined;
        const world = OpxWorld.create({ wrapStore: (memory) => (spy = new InterceptingEventStore(memory)) });
        const [old, recent] = [CandidateFixtures.deferrable, CandidateFixtures.promotable];
        await world.givenCandidate(old);
        for (let i = 0; i < 5; i++) await world.process(old.candidateId);
        await world.loggedAttempts(old.candidateId);
        await world.givenCandidate(recent);
        await world.process(recent.candidateId);

        const attempts = await world.container.get(TOKENS.OrchestrationStore).getAttempts(recent.candidateId);

        expect(attempts.map((a) => a.candidateId)).to.deep.equal([recent.candidateId]);
        expect(spy?.eventsRead.get(ORCHESTRATION_LOG_STREAM)).to.equal(2); // its own, and the first one older than its candidate
        expect((await world.container.get(TOKENS.OrchestrationStore).getAttempts(old.candidateId)).map((a) => a.decision)).to.have.length(5);
      });

      it('returns attempts an earlier version logged to orchestration-<candidateId> first', async () => {
        const world = OpxWorld.create();
        const { candidateId } = await world.givenCandidate(CandidateFixtures.suppressible);
        const legacy = { candidateId, attemptId: '00000000-0000-4000-8000-000000000001', status: 'success', startedAt: '2025-01-01T00:00:00.000Z' };
        await world.store.append(orchestrationStreamId(candidateId), [{ id: legacy.attemptId, type: 'OrchestrationAttempted', data: legacy, metadata: {} }], 'no_stream');
        await world.process(candidateId);

        const attempts = await world.container.get(TOKENS.OrchestrationStore).getAttempts(candidateId);

        expect(attempts.map((a) => a.attemptId)[0]).to.equal(legacy.attemptId);
        expect(attempts).to.have.length(2);
      });
    });
  });
});
