/**
 * Issue 12, item 4, first bullet, last clause: moving an incident on when its alerts have all
 * resolved is a person's act unless the authority matrix grants the alert automation that right.
 * Real Alertmanager-shaped webhook bodies (the captured fixture's shape) through the recorder.
 */
import { expect } from 'chai';

import { AutoResolver } from '../../src/auto-resolution/auto-resolver.js';
import { TOKENS } from '../../src/container/tokens.js';
import { projectAll } from '../../src/runtime/scenario.js';
import { silentLogger } from '../../src/shared/logger.js';
import { AlertWorld, at, grantingMatrix, webhook } from './support/alert-world.js';

const THREE = [
  { instance: 'a', started: 0 },
  { instance: 'b', started: 10 },
  { instance: 'c', started: 20 },
];

/** Three instances of CheckoutDown fire (one incident), a person acknowledges it at 120 s. */
async function acknowledged(granted: boolean): Promise<AlertWorld> {
  const w = AlertWorld.create({ granted });
  await w.send(webhook('firing', THREE));
  await w.process();
  await w.act('ACKNOWLEDGE_INCIDENT', 120);
  return w;
}

const resolve = (instances: readonly string[], ended: number) =>
  webhook(
    'resolved',
    THREE.filter((a) => instances.includes(a.instance)).map((a) => ({ ...a, ended })),
  );

describe('the alert automation (ALERT_AUTOMATION resolves an incident whose alerts all resolved)', function () {
  this.timeout(60_000);

  describe('when the authority matrix grants it RESOLVE_INCIDENT', () => {
    it('resolves the incident exactly once when its last firing alert resolves, under that authority, at the resolved signal time', async () => {
      const w = await acknowledged(true);
      await w.send(resolve(['a', 'b'], 200));
      await w.process();
      await w.send(resolve(['c'], 300));
      await w.process();

      expect(await w.state()).to.equal('RESOLVED');
      const automated = w.automated();
      expect(automated).to.have.length(1);
      const [event] = automated;
      expect(event?.data).to.deep.include({ action: 'RESOLVE_INCIDENT', from: 'ACKNOWLEDGED', to: 'RESOLVED', changedAt: at(300) });
      expect(event?.data['authority']).to.include({ authorityType: 'ALERT_AUTOMATION', authorityId: 'opx-alert-automation' });
      expect(event?.metadata['authenticatedBy']).to.deep.equal({ principal: 'opx-alert-automation', method: 'automation' });
      expect((await w.explain()).signals.automation).to.deep.equal([{ incidentId: w.incidentId(), outcome: 'resolved', reason: `resolved by the alert automation at ${at(300)}` }]);
    });

    it('explain says an incident is due when its alerts all resolved and the automation has not run since', async () => {
      const w = await acknowledged(true);
      await w.send(resolve(['a', 'b', 'c'], 300));
      await w.processWithoutAutomation();

      expect(await w.state()).to.equal('ACKNOWLEDGED');
      expect((await w.explain()).signals.automation).to.deep.equal([{ incidentId: w.incidentId(), outcome: 'due', reason: 'the alert automation resolves it when it next runs (not recorded yet)' }]);
    });

    it('moves nothing while one of three alerts still fires (a partial resolution)', async () => {
      const w = await acknowledged(true);
      await w.send(resolve(['a', 'b'], 200));
      await w.process();

      expect(await w.state()).to.equal('ACKNOWLEDGED');
      expect(w.automated()).to.have.length(0);
    });

    it('makes one transition however often the resolution is redelivered, and with two runtimes at once', async () => {
      const w = await acknowledged(true);
      await w.send(resolve(['a', 'b', 'c'], 300));
      await w.processWithoutAutomation(); // correlation recorded the resolutions; no automation ran yet
      const incidents = w.world.container.get(TOKENS.IncidentManager);
      const runtime = () => new AutoResolver(w.memory, incidents, grantingMatrix(), silentLogger);
      const first = runtime();
      const second = runtime();
      await Promise.all([first.runOnce(), second.runOnce()]);
      const again = await runtime().runOnce(); // from the checkpoint
      const fromScratch = runtime();
      for await (const recorded of w.memory.readAll()) await fromScratch.handle(recorded); // every event redelivered

      expect(w.automated()).to.have.length(1);
      expect(again.resolved + fromScratch.stats.resolved).to.equal(0);
      expect(fromScratch.stats.superseded).to.equal(1);
      expect(await w.state()).to.equal('RESOLVED');
    });

    it('leaves a CLOSED incident untouched (a person resolved and closed it before the automation ran)', async () => {
      const w = await acknowledged(true);
      await w.send(resolve(['a', 'b', 'c'], 300));
      await w.processWithoutAutomation();
      await w.act('RESOLVE_INCIDENT', 400);
      await w.act('CLOSE_INCIDENT', 500);
      const report = await w.world.correlation.correlateOnce({ tick: true });

      expect(await w.state()).to.equal('CLOSED');
      expect(w.automated()).to.have.length(0);
      expect(report.autoResolution).to.include({ resolved: 0, superseded: 1 });
    });

    it('leaves an OPEN incident for a person: CP-7 resolves only an acknowledged or mitigated one', async () => {
      const w = AlertWorld.create({ granted: true });
      await w.send(webhook('firing', THREE));
      await w.process();
      await w.send(resolve(['a', 'b', 'c'], 300));
      await w.process();

      expect(await w.state()).to.equal('OPEN');
      expect(w.automated()).to.have.length(0);
      // explain says why it did not move: the state it was in when its last alert resolved
      const [outcome] = (await w.explain()).signals.automation ?? [];
      expect(outcome).to.deep.equal({ incidentId: w.incidentId(), outcome: 'left', reason: 'left by the alert automation: CP-7 resolves only from ACKNOWLEDGED or MITIGATED; the incident was OPEN' });
    });

    it('a re-firing of the same alert after the automation resolved it opens a new incident, as after a person resolves it', async () => {
      const runs: string[][] = [];
      for (const by of ['automation', 'person'] as const) {
        const w = await acknowledged(by === 'automation');
        await w.send(resolve(['a', 'b', 'c'], 300));
        await w.process();
        if (by === 'person') await w.act('RESOLVE_INCIDENT', 300);
        await w.send(webhook('firing', [{ instance: 'a', started: 900 }]));
        await w.process();
        const states = await Promise.all(w.incidentIds().map(async (id) => w.state(id)));
        runs.push(states.sort());
      }

      expect(runs[0]).to.deep.equal(['OPEN', 'RESOLVED']);
      expect(runs[1]).to.deep.equal(runs[0]);
    });

    it('runs beside live correlation (the worker, opx serve)', async () => {
      const w = await acknowledged(true);
      const live = w.world.correlation.live({ holdMs: 20 });
      live.start();
      try {
        await w.send(resolve(['a', 'b', 'c'], 300));
        for (let i = 0; i < 500 && (await w.state()) !== 'RESOLVED'; i++) await new Promise((r) => setTimeout(r, 20));
      } finally {
        await live.stop();
      }

      expect(await w.state()).to.equal('RESOLVED');
      expect(w.automated()).to.have.length(1);
      expect(w.automated()[0]?.data['changedAt']).to.equal(at(300));
    });
  });

  describe('when it is not granted (the bundled matrix)', () => {
    it('moves nothing, and explain and the incidents list say every alert resolved', async () => {
      const w = await acknowledged(false);
      await w.send(resolve(['a', 'b', 'c'], 300));
      await w.process();
      const chain = await w.explain();

      expect(await w.state()).to.equal('ACKNOWLEDGED');
      expect(w.automated()).to.have.length(0);
      expect(chain.signals).to.include({ firing: 3, resolved: 3, allResolved: true });
      expect(chain.signals.automation).to.have.length(1);
      expect(chain.signals.automation?.[0]).to.include({ incidentId: w.incidentId(), outcome: 'not-granted' });
      expect(chain.signals.automation?.[0]?.reason).to.match(/does not grant ALERT_AUTOMATION RESOLVE_INCIDENT/);
      expect(Object.values((await projectAll(w.memory)).incidents).map((i) => i.alerts)).to.deep.equal([{ firing: 3, resolved: 3 }]);
    });
  });
});
