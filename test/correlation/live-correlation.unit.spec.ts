import { expect } from 'chai';

import { AuthorityFixtures } from '../core/support/fixtures.js';
import { TOKENS } from '../../src/container/tokens.js';
import { GROUP_STREAM_PREFIX } from '../../src/correlation/correlation-events.js';
import { CorrelationConflict, StoreCorrelationOutputs } from '../../src/correlation/correlation-outputs.js';
import { writeCheckpoint } from '../../src/correlation/correlation-checkpoint.js';
import { LiveCorrelator, CORRELATION_INPUT_PREFIXES } from '../../src/correlation/live-correlator.js';
import { candidateStreamId } from '../../src/candidates/candidate-events.js';
import { at, Facts, Rules } from './support/signals.js';
import { CorrelationWorld } from './support/world.js';

describe('live correlation (Phase 2.2 over recorded signals)', () => {
  describe('what a Prometheus user expects', () => {
    it('a resolved alert never counts: a resolved-only alert is recorded and opens nothing', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page]) });
      await world.record(Facts.resolved('fp', 0, 30));
      await world.settle();

      expect(world.candidates()).to.deep.equal([]);
      expect(world.groupEvents().map((e) => e['outcome'])).to.deep.equal(['resolved']);
    });

    it('a steady critical alert notified again and again opens exactly one incident', async () => {
      const world = CorrelationWorld.create();
      const steady = Facts.firing('cd01', 0, { labels: { alertname: 'TargetDown', severity: 'critical' } });
      for (let notification = 0; notification < 8; notification++) await world.record(steady);
      await world.settle();

      expect(world.candidates().map((c) => c['title'])).to.deep.equal(['TargetDown: checkout is down']);
      expect(world.incidents()).to.have.length(1);
    });

    it('a flapping alert (firing again after it resolved, the next window too) is recorded on its open incident, not opened again', async () => {
      const world = CorrelationWorld.create();
      await world.record(Facts.firing('flap', 0), Facts.resolved('flap', 0, 20), Facts.firing('flap', 40), Facts.resolved('flap', 40, 60), Facts.firing('flap', 320));
      await world.settle();

      expect(world.incidents()).to.have.length(1);
      expect(world.groupEvents().map((e) => e['outcome'])).to.deep.equal(['opened', 'resolved', 'attached', 'resolved', 'attached']);
    });

    it('rules that match the same signals make one candidate: the rule of lowest priority takes them', async () => {
      const broad = { ...Rules.page, id: 'broad', priority: 5, groupBy: ['service'] };
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page, broad]) });
      await world.record(Facts.firing('a', 0), Facts.firing('b', 10));
      await world.settle();

      expect(world.candidates().map((c) => c['correlationRuleId'])).to.deep.equal(['broad']);
      expect(world.incidents()).to.have.length(1);
    });

    it('a signal no rule takes is recorded, counted as uncorrelated, and opens nothing', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page]) });
      await world.record(Facts.firing('info', 0, { severity: 'SEV4' }));
      const report = await world.correlate();

      expect(report.stats).to.include({ inputs: 1, uncorrelated: 1, candidatesOpened: 0 });
      expect(world.groupEvents()).to.deep.equal([]);
    });

    it('once a human resolves the incident, the next firing opens a new candidate and incident', async () => {
      const world = CorrelationWorld.create();
      await world.record(Facts.firing('fp', 0));
      await world.settle();
      const [incident] = world.incidents();
      await world.container.get(TOKENS.IncidentManager).transition(String(incident?.['incidentId']), { action: 'ACKNOWLEDGE_INCIDENT', authority: AuthorityFixtures.operator('alice'), at: at(60) });
      await world.container.get(TOKENS.IncidentManager).transition(String(incident?.['incidentId']), { action: 'RESOLVE_INCIDENT', authority: AuthorityFixtures.operator('alice'), at: at(120) });
      await world.record(Facts.firing('fp', 180));
      await world.settle();

      expect(world.incidents()).to.have.length(2);
      expect(world.events(GROUP_STREAM_PREFIX, 'EpisodeClosed').map((e) => e.data['state'])).to.deep.equal(['RESOLVED']);
    });
  });

  describe('time: held for stragglers, released in time order', () => {
    it('holds a signal until the watermark passes it, and a tick through the latest time releases what is held', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page], 60) });
      await world.record(Facts.firing('fp', 0));
      const held = await world.correlate(false);
      expect([held.held, world.candidates().length]).to.deep.equal([1, 0]);

      const ticked = await world.correlate(true);
      expect([ticked.held, world.candidates().length]).to.deep.equal([0, 1]);
    });

    it('puts a straggler within the bound in time order: the candidate is the one the earlier firing opens', async () => {
      const inOrder = CorrelationWorld.create({ rules: Rules.set([Rules.page], 60) });
      await inOrder.record(Facts.firing('a', 0), Facts.firing('b', 30));
      await inOrder.settle();
      const straggler = CorrelationWorld.create({ rules: Rules.set([Rules.page], 60) });
      await straggler.record(Facts.firing('b', 30));
      await straggler.correlate(false);
      await straggler.record(Facts.firing('a', 0));
      await straggler.settle();

      expect(straggler.derived()).to.deep.equal(inOrder.derived());
      expect(straggler.candidates()[0]?.['createdAt']).to.equal(at(0));
    });

    it('takes a signal older than the watermark at once, marked late, never dropped', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      await world.record(Facts.firing('x', 1000, { severity: 'SEV3' }));
      await world.correlate(true);
      await world.record(Facts.firing('y', 10, { severity: 'SEV3' }));
      const report = await world.correlate(false);

      expect(report.stats.late).to.equal(1);
      expect(world.groupEvents().map((e) => [e['fingerprint'], e['late']])).to.deep.include(['y', true]);
    });
  });

  describe('recorded group events', () => {
    it('are frozen through and through, as the store freezes what it takes (the correlator freezes their flat payloads itself)', async () => {
      const world = CorrelationWorld.create();
      await world.record(Facts.firing('fz', 0), Facts.resolved('fz', 0, 20), Facts.firing('fz', 40));
      await world.settle();

      const recorded = [...world.memory.streamIds()].filter((id) => id.startsWith(GROUP_STREAM_PREFIX)).flatMap((id) => world.memory.snapshot(id));
      expect(recorded.map((e) => e.type)).to.include('SignalCorrelated');
      const thawed = (value: unknown): boolean =>
        typeof value === 'object' && value !== null && (!Object.isFrozen(value) || Object.values(value).some(thawed));
      expect(recorded.filter((e) => thawed(e.data) || thawed(e.metadata))).to.deep.equal([]);
    });
  });

  describe('event-sourced state: restarts, crashes and a second correlator', () => {
    it('takes up where its checkpoint left off, holding again what was held', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      await world.record(Facts.firing('fp', 0, { severity: 'SEV3' }));
      await world.correlate(false);
      await world.record(Facts.firing('fp', 30, { severity: 'SEV3' }));
      await world.correlate(true);

      expect(world.candidates()).to.have.length(1);
      expect(world.candidates()[0]?.['signalIds']).to.deep.equal([`fp@${at(0)}`, `fp@${at(30)}`]);
    });

    it('after a crash between a candidate and the group event that records it, the restart finishes the step once', async () => {
      const reference = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      const facts = [Facts.firing('a', 0, { severity: 'SEV3' }), Facts.firing('a', 10, { severity: 'SEV3' }), Facts.firing('a', 20, { severity: 'SEV3' })];
      await reference.record(...facts);
      await reference.correlate();

      const crashed = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      await crashed.record(...facts);
      // A correlator that dies after creating the candidate, before its group events are written.
      const outputs = new StoreCorrelationOutputs(crashed.memory, crashed.container.get(TOKENS.CandidateStore), crashed.logger);
      const dying = new LiveCorrelator(Rules.set([Rules.burst], 60), crashed.memory, { readGroup: (s) => outputs.readGroup(s), createCandidate: (c) => outputs.createCandidate(c), appendGroup: () => Promise.reject(new Error('killed')) }, crashed.logger);
      await dying.restore();
      for await (const recorded of crashed.memory.readAll({ streamPrefixes: CORRELATION_INPUT_PREFIXES })) await dying.handle(recorded);
      await crashed.tick(at(20));
      for await (const recorded of crashed.memory.readAll({ streamPrefixes: CORRELATION_INPUT_PREFIXES, ...(dying.lastPosition === undefined ? {} : { after: dying.lastPosition }) })) await dying.handle(recorded);
      await dying.commit().catch(() => undefined);
      expect(crashed.candidates()).to.have.length(1);
      expect(crashed.groupEvents()).to.deep.equal([]);

      await crashed.correlate();
      expect(crashed.groupEvents()).to.deep.equal(reference.groupEvents());
      expect(crashed.candidates()).to.deep.equal(reference.candidates());
    });

    it('after a crash past a checkpoint, redoing steps already recorded writes nothing twice', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      await world.record(Facts.firing('a', 0, { severity: 'SEV3' }), Facts.firing('a', 10, { severity: 'SEV3' }));
      await world.correlate(true);
      const recorded = world.groupEvents();
      // An old checkpoint (as if the last one was lost): everything is read and stepped again.
      await writeCheckpoint(world.memory, { position: 0n, resumeFrom: 0n, maxTime: Number.NEGATIVE_INFINITY, flushedThrough: Number.NEGATIVE_INFINITY }, 'test');
      await world.correlate(true);

      expect(world.groupEvents()).to.deep.equal(recorded);
      expect(world.candidates()).to.have.length(1);
    });

    it('two correlators over one store derive the same events and write each once', async () => {
      const first = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60) });
      const second = CorrelationWorld.create({ rules: Rules.set([Rules.burst], 60), memory: first.memory });
      await first.record(Facts.firing('a', 0, { severity: 'SEV3' }), Facts.firing('a', 10, { severity: 'SEV3' }), Facts.firing('b', 20, { severity: 'SEV3' }), Facts.firing('b', 25, { severity: 'SEV3' }));
      await Promise.all([first.correlate(true), second.correlate(true)]);

      expect(first.candidates()).to.have.length(2);
      expect(first.groupEvents()).to.have.length(4);
    });
  });

  describe('bad input', () => {
    it('passes over an unreadable signal event, reporting it, and correlates the rest', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page]) });
      await world.memory.append('signal-sig-garbage', [{ id: '3f0f3f0f-0000-4000-8000-000000000001', type: 'SignalFired', data: { nonsense: true }, metadata: {} }], 'no_stream');
      await world.record(Facts.firing('fp', 0));
      const report = await world.correlate();

      expect(report.stats).to.include({ poison: 1, candidatesOpened: 1 });
      expect(world.logger.entries.some((e) => e.level === 'warn' && JSON.stringify(e).includes('signal-sig-garbage'))).to.equal(true);
    });

    it('refuses a different candidate under an id already recorded by another correlator, naming the stream', async () => {
      const world = CorrelationWorld.create({ rules: Rules.set([Rules.page]) });
      await world.record(Facts.firing('fp', 0));
      await world.correlate();
      const candidateId = String(world.candidates()[0]?.['candidateId']);
      const recorded = await world.container.get(TOKENS.CandidateStore).get(candidateId);
      const outputs = new StoreCorrelationOutputs(world.memory, world.container.get(TOKENS.CandidateStore), world.logger);

      await expect(outputs.createCandidate({ ...recorded, signalCount: 7 })).to.be.rejectedWith(CorrelationConflict, candidateStreamId(candidateId));
    });
  });
});
