/**
 * What a live correlator holds in memory is bounded, whatever the number of signals: at most
 * `maxGroups` groups (one met again after it was dropped is rebuilt from its stream), and the
 * inputs within the lateness bound. Dropping a group must change nothing that is recorded.
 */
import { expect } from 'chai';

import { TOKENS } from '../../src/container/tokens.js';
import { StoreCorrelationOutputs } from '../../src/correlation/correlation-outputs.js';
import { CORRELATION_INPUT_PREFIXES, LiveCorrelator } from '../../src/correlation/live-correlator.js';
import { Facts, Rules } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

const rules = Rules.set([Rules.burst], 0);
const SERVICES = 12;

/** Warnings on 12 services, each flapping: every group is met again, minutes apart, many times over. */
function flappingFleet(rounds: number): ReturnType<typeof Facts.firing>[] {
  const facts = [];
  for (let round = 0; round < rounds; round++) {
    for (let s = 0; s < SERVICES; s++) facts.push(Facts.firing(`fp-${s}`, round * 100 + s, { service: `svc-${s}`, severity: 'SEV3' }));
  }
  return facts;
}

/** Correlates what `world` recorded with one correlator, committing after every input; counts its group stream reads. */
async function correlateHolding(world: CorrelationWorld, maxGroups: number): Promise<{ groupReads: number; inputs: number }> {
  const outputs = new StoreCorrelationOutputs(world.memory, world.container.get(TOKENS.CandidateStore), world.logger);
  let groupReads = 0;
  const correlator = new LiveCorrelator(rules, world.memory, { readGroup: (streamId) => (groupReads++, outputs.readGroup(streamId)), createCandidate: (c) => outputs.createCandidate(c), appendGroup: (s, e, r) => outputs.appendGroup(s, e, r) }, world.logger, { maxGroups });
  await correlator.restore();
  for await (const recorded of world.memory.readAll({ streamPrefixes: CORRELATION_INPUT_PREFIXES })) {
    await correlator.handle(recorded);
    await correlator.commit();
  }
  return { groupReads, inputs: correlator.stats.inputs };
}

describe('live correlation memory', () => {
  it('holds at most maxGroups groups, rebuilding a dropped one from its stream, and records byte for byte what a correlator holding them all records', async () => {
    const facts = flappingFleet(6);
    const holdingAll = CorrelationWorld.create({ rules });
    await holdingAll.record(...facts);
    const all = await correlateHolding(holdingAll, 10_000);

    const holdingTwo = CorrelationWorld.create({ rules });
    await holdingTwo.record(...facts);
    const two = await correlateHolding(holdingTwo, 2);

    expect(all.inputs).to.equal(facts.length);
    expect(two.inputs).to.equal(facts.length);
    expect(holdingTwo.derived()).to.deep.equal(holdingAll.derived());
    expect(holdingAll.candidates()).to.have.length(SERVICES);
    // Each group read once when first met holding them all; holding two, read again each time it comes back.
    expect(all.groupReads).to.equal(SERVICES);
    expect(two.groupReads).to.equal(facts.length);
  });
});
