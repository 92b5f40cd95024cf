import { expect } from 'chai';

import type { EventStore } from '../../src/eventstore/event-store.js';
import { emptyReadModels, project, PROJECTED_STREAM_PREFIXES, serializeReadModels, type ReadModels } from '../../src/projections/read-models.js';
import { ingestSignals, processCandidateInputs } from '../../src/runtime/in-process.js';
import { projectAll, runScenario } from '../../src/runtime/scenario.js';
import { generateSampleSignals } from '../../src/samples/sample-signals.js';
import { ConfigFixtures } from './support/fixtures.js';
import { OpxWorld } from './support/world.js';

/** A live projection: folds what was appended since the last call, like a catch-up subscription. */
class LiveProjection {
  models: ReadModels = emptyReadModels();
  private position: bigint | undefined;

  constructor(private readonly store: EventStore) {}

  async catchUp(): Promise<void> {
    for await (const e of this.store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES, ...(this.position === undefined ? {} : { after: this.position }) })) {
      this.models = project(this.models, e);
      this.position = e.position;
    }
  }
}

async function rebuild(store: EventStore): Promise<ReadModels> {
  let models = emptyReadModels();
  for await (const e of store.readAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES })) models = project(models, e);
  return models;
}

describe(project.name, () => {
  it('projected live over a run equals a rebuild from scratch, byte for byte', async () => {
    // given a run projected step by step as it happens
    const world = OpxWorld.create();
    const live = new LiveProjection(world.store);
    const signals = generateSampleSignals({ groups: 60, seed: 7 });
    await ingestSignals(signals, ConfigFixtures.bundled.correlationRules, world.candidates);
    await live.catchUp();
    const first = await processCandidateInputs(world.store, world.context);
    await live.catchUp();
    const deferred = Object.keys(live.models.deferred).sort().slice(0, 2);
    for (const candidateId of deferred) await world.givenManualPromotionRequested(candidateId);
    await live.catchUp();
    await processCandidateInputs(world.store, world.context, first.position);
    await live.catchUp();
    // and redelivered (no new events)
    await processCandidateInputs(world.store, world.context);
    await live.catchUp();

    // when rebuilt from the whole history
    const rebuilt = await rebuild(world.store);

    // then
    expect(serializeReadModels(live.models)).to.equal(serializeReadModels(rebuilt));
    expect(deferred).to.have.length(2);
    expect(Object.keys(rebuilt.incidents).length).to.be.greaterThan(0);
    expect(Object.values(rebuilt.incidents).filter((i) => i.promotedBy === 'HUMAN_OPERATOR:alice@opx')).to.have.length(2);
    for (const candidateId of deferred) expect(rebuilt.deferred).to.not.have.property(candidateId);
  });

  it('counts decisions per policy as recorded', async () => {
    const world = OpxWorld.create();
    await ingestSignals(generateSampleSignals({ groups: 40, seed: 3 }), ConfigFixtures.bundled.correlationRules, world.candidates);
    await processCandidateInputs(world.store, world.context);

    const models = await rebuild(world.store);

    const total = Object.values(models.decisionsByPolicy).reduce((n, c) => n + c.PROMOTE + c.DEFER + c.SUPPRESS, 0);
    expect(total).to.equal(world.all('PromotionDecided').length);
    expect(models.candidates).to.equal(world.all('CandidateCreated').length);
    expect(Object.keys(models.incidents)).to.have.length(world.all('IncidentOpened').length);
    expect(models.awaitingDecision).to.deep.equal({});
  });

  it('gives the same read models for the same signals in two fresh containers (runScenario)', async () => {
    const signals = generateSampleSignals({ groups: 30, seed: 11 });
    const a = await runScenario(OpxWorld.create().container, signals, { manualPromotions: 2 });
    const b = await runScenario(OpxWorld.create().container, signals, { manualPromotions: 2 });

    expect(serializeReadModels(b.readModels)).to.equal(serializeReadModels(a.readModels));
    expect(a.manualPromotions).to.equal(2);
  });

  it('agrees with projectAll of the runtime', async () => {
    const world = OpxWorld.create();
    await runScenario(world.container, generateSampleSignals({ groups: 20, seed: 5 }), { manualPromotions: 1 });

    expect(serializeReadModels(await projectAll(world.store))).to.equal(serializeReadModels(await rebuild(world.store)));
  });
});
