import { expect } from 'chai';

import { TOKENS } from '../../src/container/tokens.js';
import { candidateSignals, fingerprintTrail } from '../../src/correlation/signal-trail.js';
import { projectAll } from '../../src/runtime/scenario.js';
import { Facts, Rules } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

describe('what an operator sees of correlated signals', () => {
  it('an incident row carries its human title and how many of its alerts fired and resolved, as they come', async () => {
    const world = CorrelationWorld.create();
    await world.record(Facts.firing('fp', 0));
    await world.settle();
    const alertsNow = async () => Object.values((await projectAll(world.memory)).incidents).map((i) => [i.title, i.alerts]);
    expect(await alertsNow()).to.deep.equal([['CheckoutDown: checkout is down', { firing: 1, resolved: 0 }]]);

    await world.record(Facts.resolved('fp', 0, 30));
    await world.settle();
    expect(await alertsNow()).to.deep.equal([['CheckoutDown: checkout is down', { firing: 1, resolved: 1 }]]);

    await world.record(Facts.firing('fp', 60));
    await world.settle();
    expect(await alertsNow()).to.deep.equal([['CheckoutDown: checkout is down', { firing: 2, resolved: 1 }]]);
  });

  it('a deferred row carries its title and alerts too', async () => {
    const world = CorrelationWorld.create();
    const disk = { service: 'inventory', severity: 'SEV3' as const, labels: { alertname: 'DiskFull' }, annotations: { summary: 'disk 85% full' } };
    await world.record(Facts.firing('disk', 0, disk), Facts.firing('disk', 10, disk));
    await world.settle();

    expect(Object.values((await projectAll(world.memory)).deferred).map((d) => [d.title, d.alerts])).to.deep.equal([['DiskFull: disk 85% full', { firing: 2, resolved: 0 }]]);
  });

  it('the signals of a candidate: opening, attached and resolved, and whether all resolved', async () => {
    const world = CorrelationWorld.create();
    await world.record(Facts.firing('fp', 0), Facts.firing('fp', 60), Facts.resolved('fp', 0, 30), Facts.resolved('fp', 60, 90));
    await world.settle();
    const [created] = world.candidates();
    const candidate = await world.container.get(TOKENS.CandidateStore).get(String(created?.['candidateId']));
    const trail = await candidateSignals(world.memory, candidate);

    expect(trail?.entries.map((e) => [e.status, e.outcome])).to.deep.equal([
      ['firing', 'opened'],
      ['resolved', 'resolved'],
      ['firing', 'attached'],
      ['resolved', 'resolved'],
    ]);
    expect(trail).to.include({ firing: 2, resolved: 2, allResolved: true });
  });

  it('an alert by fingerprint: what correlation did with each of its facts, the ones that formed no candidate too', async () => {
    const world = CorrelationWorld.create({ rules: Rules.set([Rules.burst]) });
    await world.record(Facts.firing('lonely', 0, { severity: 'SEV3' }), Facts.firing('quiet', 0, { severity: 'SEV4' }));
    await world.settle();

    const lonely = await fingerprintTrail(world.memory, Rules.set([Rules.burst]), 'lonely');
    expect(lonely.facts.map((f) => [f.rule, f.correlated?.outcome])).to.deep.equal([['burst@1', 'counted']]);
    const quiet = await fingerprintTrail(world.memory, Rules.set([Rules.burst]), 'quiet');
    expect(quiet.facts.map((f) => [f.rule, f.correlated])).to.deep.equal([[undefined, undefined]]);
  });
});
