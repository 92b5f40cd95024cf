import { expect } from 'chai';

import type { CandidateCreatedEvent, ManualPromotionRequestedData } from '../../src/candidates/candidate-events.js';
import { PUBLIC_TOKENS } from '../../src/container/tokens.js';
import { NotTheRecordedInput } from '../../src/orchestration/candidate-handlers.js';
import { ReplayAudit } from '../../src/replay/replay-audit.js';
import { CandidateFixtures, ConfigFixtures } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

/**
 * The public way to orchestrate (TOKENS.CandidateHandlers): decisions at the time of the recorded
 * input, so a host cannot hand in a time the replay would not re-derive.
 */
describe('CandidateHandlers (the public way to orchestrate)', () => {
  const handlersOf = (world: OpxWorld) => world.container.get(PUBLIC_TOKENS.CandidateHandlers);
  const createdOf = (world: OpxWorld, candidateId: string) => world.candidateEvents(candidateId)[0]?.data as unknown as CandidateCreatedEvent;
  const requestOf = (world: OpxWorld, candidateId: string) =>
    world.candidateEvents(candidateId).find((e) => e.type === 'ManualPromotionRequested')?.data as unknown as ManualPromotionRequestedData;
  const audit = (world: OpxWorld) => new ReplayAudit(ConfigFixtures.bundled).run(world.store);

  it('promotes and defers recorded candidates, decided at their createdAt, and the replay agrees', async () => {
    const world = OpxWorld.create();
    const promotable = await world.givenCandidate(CandidateFixtures.promotable);
    const deferrable = await world.givenCandidate(CandidateFixtures.deferrable);

    for (const { candidateId } of [promotable, deferrable]) await handlersOf(world).handleCandidateCreated(createdOf(world, candidateId));

    expect(world.candidateTypes(promotable.candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
    expect(world.candidateTypes(deferrable.candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
    expect(world.all('PromotionDecided').map((e) => e.data['decidedAt'])).to.deep.equal([promotable.createdAt, deferrable.createdAt]);
    expect((await audit(world)).verdict).to.equal('IDENTICAL');
  });

  it('refuses a CandidateCreated carrying another time than the recorded one (the wall clock), deciding nothing', async () => {
    const world = OpxWorld.create();
    const { candidateId } = await world.givenCandidate(CandidateFixtures.promotable);
    const now = new Date().toISOString();

    await expect(handlersOf(world).handleCandidateCreated({ ...createdOf(world, candidateId), createdAt: now })).to.be.rejectedWith(NotTheRecordedInput, now);

    expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
    expect((await audit(world)).verdict).to.equal('IDENTICAL');
  });

  it('routes a recorded event as a subscription delivers it, and refuses one whose time was changed', async () => {
    const world = OpxWorld.create();
    const { candidateId } = await world.givenCandidate(CandidateFixtures.suppressible);
    const [recorded] = world.candidateEvents(candidateId);
    const tampered = { ...recorded!, data: { ...recorded!.data, createdAt: '2030-01-01T00:00:00.000Z' } };

    await expect(handlersOf(world).handleRecordedEvent(tampered)).to.be.rejectedWith(NotTheRecordedInput);
    expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated']);
    await expect(handlersOf(world).handleRecordedEvent(recorded!)).to.eventually.equal('handled');
    expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided']);
  });

  describe('a manual promotion', () => {
    async function deferredWithRequest(): Promise<{ world: OpxWorld; candidateId: string; request: ManualPromotionRequestedData }> {
      const world = OpxWorld.create();
      const { candidateId } = await world.givenCandidate(CandidateFixtures.deferrable);
      await handlersOf(world).handleCandidateCreated(createdOf(world, candidateId));
      await world.givenManualPromotionRequested(candidateId);
      return { world, candidateId, request: requestOf(world, candidateId) };
    }

    it('is orchestrated at the recorded requestedAt under the human authority', async () => {
      const { world, candidateId, request } = await deferredWithRequest();

      await handlersOf(world).handleManualPromotionRequested(request);

      expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'ManualPromotionRequested', 'PromotionDecided', 'IncidentCreated']);
      expect((await audit(world)).verdict).to.equal('IDENTICAL');
    });

    for (const [what, change] of [
      ['another requestedAt', (r: ManualPromotionRequestedData) => ({ ...r, requestedAt: '2031-01-01T00:00:00.000Z' })],
      ['a request id never recorded', (r: ManualPromotionRequestedData) => ({ ...r, requestId: 'req-forged', authority: { ...r.authority, sessionId: 'req-forged' } })],
      ['another justification', (r: ManualPromotionRequestedData) => ({ ...r, authority: { ...r.authority, justification: 'because' } })],
    ] as const) {
      it(`is refused with ${what}, deciding nothing`, async () => {
        const { world, candidateId, request } = await deferredWithRequest();

        await expect(handlersOf(world).handleManualPromotionRequested(change(request))).to.be.rejectedWith(NotTheRecordedInput);

        expect(world.candidateTypes(candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'ManualPromotionRequested']);
      });
    }
  });
});
