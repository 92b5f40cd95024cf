import { expect } from 'chai';

import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { CandidateStore } from '../../src/candidates/candidate-store.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.js';
import { handleCandidateStreamEvent } from '../../src/orchestration/candidate-event-handler.js';
import { processCandidateInputs } from '../../src/runtime/in-process.js';
import { InvalidInput } from '../../src/shared/errors.js';
import { CandidateFixtures } from './support/fixtures.js';
import { InterceptingEventStore } from './support/ports.js';
import { OpxWorld } from './support/world.js';

/** A second process on the same store, whose reads are counted: a worker that was handed a delivery. */
function secondProcess(writer: OpxWorld): { world: OpxWorld; reads: () => string[] } {
  let spy: InterceptingEventStore | undefined;
  const world = OpxWorld.create({ memory: writer.memory, wrapStore: (memory) => (spy = new InterceptingEventStore(memory)) });
  return { world, reads: () => spy?.reads ?? [] };
}

const at = (world: OpxWorld, candidateId: string, revision: number): RecordedEvent => world.candidateEvents(candidateId)[revision] as RecordedEvent;

describe('CP-5 remembered histories (CandidateStore.observe)', () => {
  it('orchestrates a delivered CandidateCreated without reading its stream (the handler shows it to CP-5 first)', async () => {
    const writer = OpxWorld.create();
    const candidate = await writer.givenCandidate(CandidateFixtures.promotable);
    const { world, reads } = secondProcess(writer);

    await handleCandidateStreamEvent(at(writer, candidate.candidateId, 0), world.context);

    expect(writer.candidateTypes(candidate.candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
    expect(reads().filter((s) => s === candidateStreamId(candidate.candidateId))).to.deep.equal([]);
  });

  it('reads the stream when CP-5 was shown nothing (a handler context without it, in a process that never saw the candidate)', async () => {
    const writer = OpxWorld.create();
    const candidate = await writer.givenCandidate(CandidateFixtures.promotable);
    const { world, reads } = secondProcess(writer);

    await handleCandidateStreamEvent(at(writer, candidate.candidateId, 0), { orchestrator: world.context.orchestrator, logger: world.context.logger });

    expect(reads()).to.include(candidateStreamId(candidate.candidateId));
    expect(writer.candidateTypes(candidate.candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
  });

  for (const [name, fixture, outputs] of [
    ['PROMOTE', CandidateFixtures.promotable, ['PromotionDecided', 'IncidentCreated']],
    ['DEFER', CandidateFixtures.deferrable, ['PromotionDecided']],
  ] as const) {
    it(`a redelivery to a process that only knows revision 0 records nothing new (${name}): the expected revision tells it`, async () => {
      const writer = OpxWorld.create();
      const candidate = await writer.givenDelivered(fixture);
      const recorded = writer.candidateEvents(candidate.candidateId).map((e) => e.id);
      const { world } = secondProcess(writer);

      world.candidates.observe(at(writer, candidate.candidateId, 0));
      const first = await world.process(candidate.candidateId);

      expect(writer.candidateTypes(candidate.candidateId)).to.deep.equal(['CandidateCreated', ...outputs]);
      expect(writer.candidateEvents(candidate.candidateId).map((e) => e.id)).to.deep.equal(recorded);
      expect(first.decisionId).to.equal((writer.candidateEvents(candidate.candidateId)[1]?.data as { decisionId: string }).decisionId);
      expect(writer.incidentStreams()).to.have.length(name === 'PROMOTE' ? 1 : 0);
    });
  }

  it('remembers only what extends the known prefix by one revision', async () => {
    const writer = OpxWorld.create();
    const candidate = await writer.givenDelivered(CandidateFixtures.promotable);
    const { world, reads } = secondProcess(writer);

    world.candidates.observe(at(writer, candidate.candidateId, 2)); // revision 2 of an unknown stream: ignored
    await world.candidates.load(candidate.candidateId);
    expect(reads()).to.deep.equal([candidateStreamId(candidate.candidateId)]);

    const fresh = secondProcess(writer);
    fresh.world.candidates.observe(at(writer, candidate.candidateId, 0));
    fresh.world.candidates.observe(at(writer, candidate.candidateId, 2)); // a gap: ignored
    expect((await fresh.world.candidates.load(candidate.candidateId)).revision).to.equal(0n);
    fresh.world.candidates.observe(at(writer, candidate.candidateId, 1));
    fresh.world.candidates.observe(at(writer, candidate.candidateId, 2));
    const history = await fresh.world.candidates.load(candidate.candidateId);
    expect(history.revision).to.equal(2n);
    expect(history.incidents).to.have.length(1);
    expect(fresh.reads()).to.deep.equal([]);
  });

  it('never throws on a malformed delivery and remembers nothing of it; the handler refuses it', async () => {
    const writer = OpxWorld.create();
    const candidate = await writer.givenCandidate(CandidateFixtures.promotable);
    const good = at(writer, candidate.candidateId, 0);
    const bad: RecordedEvent = { ...good, data: { ...good.data, signalCount: 'four' } };
    const { world, reads } = secondProcess(writer);

    expect(() => world.candidates.observe(bad)).to.not.throw();
    await expect(handleCandidateStreamEvent(bad, world.context)).to.be.rejectedWith(InvalidInput, /signalCount/);
    await world.candidates.load(candidate.candidateId);
    expect(reads()).to.deep.equal([candidateStreamId(candidate.candidateId)]);
  });

  it('is shown, by the handler, every input the in-process loop reads: a process that never saw the candidates orchestrates them without reading their streams', async () => {
    const candidates = ['a', 'b', 'c'].flatMap((n) => [
      CandidateFixtures.withId(`cand-loop-p${n}`, CandidateFixtures.promotable),
      CandidateFixtures.withId(`cand-loop-d${n}`, CandidateFixtures.deferrable),
      CandidateFixtures.withId(`cand-loop-s${n}`, CandidateFixtures.suppressible),
    ]);
    /** The same candidates recorded by one process, orchestrated by another whose handler context has CP-5 (as the container binds it) or not. */
    const run = async (showCp5: boolean): Promise<{ reads: string[]; ids: string[][] }> => {
      const writer = OpxWorld.create();
      for (const candidate of candidates) await writer.givenCandidate(candidate);
      const { world, reads } = secondProcess(writer);
      expect(world.context.candidates).to.equal(world.candidates);
      const context = showCp5 ? world.context : { orchestrator: world.context.orchestrator, logger: world.context.logger };
      const { handled } = await processCandidateInputs(world.store, context);
      expect(handled).to.equal(candidates.length);
      return { reads: reads(), ids: candidates.map((c) => writer.candidateEvents(c.candidateId).map((e) => e.id)) };
    };

    const shown = await run(true);
    const unshown = await run(false);

    expect(shown.reads.filter((s) => s.startsWith('candidate-'))).to.deep.equal([]);
    expect(unshown.reads.filter((s) => s.startsWith('candidate-'))).to.have.length(candidates.length);
    expect(shown.ids).to.deep.equal(unshown.ids);
    expect(shown.ids.map((ids) => ids.length)).to.deep.equal(candidates.map((c) => (c.candidateId.includes('-p') ? 3 : 2)));
  });

  it('remembers at most maxKnown histories, forgetting the first remembered first; a forgotten one is read again', async () => {
    const spy = new InterceptingEventStore(new InMemoryEventStore());
    const store = new CandidateStore(spy, 2);
    for (const id of ['cand-keep-a', 'cand-keep-b', 'cand-keep-c']) await store.create(CandidateFixtures.withId(id));

    await store.get('cand-keep-b');
    await store.get('cand-keep-c');
    expect(spy.reads).to.deep.equal([]);
    expect((await store.get('cand-keep-a')).candidateId).to.equal('cand-keep-a');
    expect(spy.reads).to.deep.equal([candidateStreamId('cand-keep-a')]);
  });

  it('remembers what it created, so the in-process loop orchestrates without a read', async () => {
    let spy: InterceptingEventStore | undefined;
    const world = OpxWorld.create({ wrapStore: (memory) => (spy = new InterceptingEventStore(memory)) });
    const candidate = await world.givenDelivered(CandidateFixtures.promotable);

    expect(world.candidateTypes(candidate.candidateId)).to.deep.equal(['CandidateCreated', 'PromotionDecided', 'IncidentCreated']);
    expect(spy?.reads).to.deep.equal([]);
  });
});
