import { expect } from 'chai';

import { auditAutoResolution } from '../../src/auto-resolution/auto-resolution-audit.js';
import { loadConfig } from '../../src/container/config.js';
import { TOKENS } from '../../src/container/tokens.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { auditHistory } from '../../src/replay/history-audit.js';
import { TamperingStore } from '../integrity/support/tampering-store.js';
import { AlertWorld, at, grantingMatrix, webhook } from './support/alert-world.js';

const THREE = [
  { instance: 'a', started: 0 },
  { instance: 'b', started: 10 },
  { instance: 'c', started: 20 },
];

/** A history with one auto-resolution: three alerts fire, a person acknowledges, all resolve, one re-fires. */
async function autoResolvedHistory(): Promise<{ w: AlertWorld; tampering: TamperingStore }> {
  const memory = new InMemoryEventStore(() => new Date('2026-12-07T13:00:00.000Z'));
  const w = AlertWorld.create({ granted: true, memory });
  await w.send(webhook('firing', THREE));
  await w.process();
  await w.act('ACKNOWLEDGE_INCIDENT', 120);
  await w.send(webhook('resolved', THREE.map((a) => ({ ...a, ended: 300 }))));
  await w.process();
  await w.send(webhook('firing', [{ instance: 'a', started: 900 }]));
  await w.process();
  expect(w.automated()).to.have.length(1);
  return { w, tampering: new TamperingStore(memory) };
}

const granting = () => ({ ...loadConfig(), authorityMatrix: grantingMatrix() });

describe('the replay audit of the alert automation', function () {
  this.timeout(60_000);

  it('re-derives every auto-resolution from the recorded facts: a history with one replays IDENTICAL', async () => {
    const { w } = await autoResolvedHistory();
    const report = await auditHistory(granting(), w.memory);

    expect(report.verdict).to.equal('IDENTICAL');
    expect(report.correlation.verdict).to.equal('IDENTICAL');
    expect(report.autoResolution).to.include({ verdict: 'IDENTICAL', eventsCompared: 1, superseded: 0, pending: 0 });
  });

  it('replays IDENTICAL right after the run that auto-resolved (that run correlated the close it recorded)', async () => {
    const w = AlertWorld.create({ granted: true });
    await w.send(webhook('firing', THREE));
    await w.process();
    await w.act('ACKNOWLEDGE_INCIDENT', 120);
    await w.send(webhook('resolved', THREE.map((a) => ({ ...a, ended: 300 }))));
    await w.process();
    const report = await auditHistory(granting(), w.memory);

    expect(w.automated()).to.have.length(1);
    expect(report.correlation.divergences).to.deep.equal([]);
    expect(report.verdict).to.equal('IDENTICAL');
  });

  it('finds an auto-resolution whose time was edited', async () => {
    const { w, tampering } = await autoResolvedHistory();
    const [event] = w.automated();
    tampering.change(event!.streamId, event!.revision, (e) => ({ data: { ...e.data, changedAt: at(250) } }));
    const report = await auditHistory(granting(), tampering);

    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.autoResolution.divergences[0]).to.include({ streamId: event!.streamId, kind: 'different', path: 'data.changedAt', recorded: at(250), replayed: at(300) });
  });

  it('finds a forged ALERT_AUTOMATION transition (an incident no recorded resolution lets it resolve)', async () => {
    const w = AlertWorld.create({ granted: true });
    await w.send(webhook('firing', THREE));
    await w.process();
    await w.act('ACKNOWLEDGE_INCIDENT', 120);
    await w.send(webhook('resolved', THREE.slice(0, 2).map((a) => ({ ...a, ended: 300 }))));
    await w.process();
    const incidents = w.world.container.get(TOKENS.IncidentManager);
    await incidents.transition(w.incidentId(), {
      action: 'RESOLVE_INCIDENT',
      at: at(300),
      authority: { authorityType: 'ALERT_AUTOMATION', authorityId: 'opx-alert-automation', sessionId: 'forged', justification: 'trust me' },
      authenticatedBy: { principal: 'opx-alert-automation', method: 'automation' },
    });
    const report = await auditAutoResolution(w.memory, grantingMatrix());

    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.divergences[0]).to.include({ kind: 'not-derived', revision: '2' });
  });

  it('reports auto-resolutions a matrix in config no longer grants', async () => {
    const { w } = await autoResolvedHistory();
    const report = await auditHistory(loadConfig(), w.memory);

    expect(report.verdict).to.equal('DIVERGENT');
    expect(report.autoResolution.divergences.map((d) => d.kind)).to.deep.equal(['not-derived']);
  });

  it('accepts a person who acted first at that revision (superseded), and a resolution the automation has not made yet (pending)', async () => {
    const superseded = AlertWorld.create({ granted: true });
    await superseded.send(webhook('firing', THREE));
    await superseded.process();
    await superseded.act('ACKNOWLEDGE_INCIDENT', 120);
    await superseded.send(webhook('resolved', THREE.map((a) => ({ ...a, ended: 300 }))));
    await superseded.processWithoutAutomation();
    const pending = await auditAutoResolution(superseded.memory, grantingMatrix());
    await superseded.act('MITIGATE_INCIDENT', 400);
    const overtaken = await auditAutoResolution(superseded.memory, grantingMatrix());

    expect(pending).to.include({ verdict: 'IDENTICAL', pending: 1, eventsCompared: 0 });
    expect(overtaken).to.include({ verdict: 'IDENTICAL', superseded: 1, pending: 0, eventsCompared: 0 });
  });
});
