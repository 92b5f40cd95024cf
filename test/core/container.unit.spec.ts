import { expect } from 'chai';
import { Container } from 'inversify';

import { inMemoryEventStoreModule, orchestrationModule } from '../../src/container/modules.js';
import { TOKENS } from '../../src/container/tokens.js';
import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { IncidentOrchestrator } from '../../src/orchestration/incident-orchestrator.js';
import { ORCHESTRATION_LOG_STREAM } from '../../src/orchestration/orchestration-store.js';
import { FixedClock } from '../../src/shared/clock.js';
import { RecordingLogger } from '../../src/shared/logger.js';
import { AuthorityFixtures, CandidateFixtures, ConfigFixtures } from './support/fixtures.js';
import { InterceptingEventStore, RecordingEmitter, ThrowingEmitter } from './support/ports.js';

/** The OPX monolith's own container, with its own unrelated bindings. */
function hostContainer(): Container {
  const host = new Container();
  host.bind('host/Greeting').toConstantValue('hello from the monolith');
  host.load(orchestrationModule({ config: ConfigFixtures.bundled }), inMemoryEventStoreModule());
  return host;
}

describe('Inversify embedding', () => {
  it('uses the host overrides of store, clock, logger and bus', async () => {
    // given a host that rebinds the module's ports to its own
    const host = hostContainer();
    const memory = new InMemoryEventStore();
    const store = new InterceptingEventStore(memory);
    const clock = new FixedClock('2030-06-01T12:00:00.000Z');
    const logger = new RecordingLogger();
    const emitter = new RecordingEmitter();
    host.rebind(TOKENS.EventStore).toConstantValue(store);
    host.rebind(TOKENS.Clock).toConstantValue(clock);
    host.rebind(TOKENS.Logger).toConstantValue(logger);
    host.rebind(TOKENS.MessageBus).toConstantValue(emitter);

    // when the host orchestrates a candidate
    const candidate = CandidateFixtures.promotable;
    await host.get(TOKENS.CandidateStore).create(candidate);
    const result = await host.get(TOKENS.IncidentOrchestrator).processCandidate(candidate.candidateId, AuthorityFixtures.autoEngine(candidate.candidateId), candidate.createdAt);

    // then every port used is the host's
    expect(host.get(TOKENS.IncidentOrchestrator)).to.be.instanceOf(IncidentOrchestrator);
    expect(store.appendedTypes).to.include.members(['CandidateCreated', 'PromotionDecided', 'IncidentCreated', 'IncidentOpened', 'OrchestrationAttempted']);
    expect(memory.size).to.be.greaterThan(0);
    expect(emitter.events.map((e) => e.eventType)).to.deep.equal(['IncidentCreated']);
    expect(emitter.events[0]).to.deep.include({ incidentId: result.incidentId });
    await host.get(TOKENS.OrchestrationStore).flush();
    const [attempt] = memory.snapshot(ORCHESTRATION_LOG_STREAM);
    expect(attempt?.data['startedAt']).to.equal(clock.now().toISOString());
    expect(host.get<string>('host/Greeting')).to.equal('hello from the monolith');
  });

  it('logs through the host logger', async () => {
    const host = hostContainer();
    const logger = new RecordingLogger();
    host.rebind(TOKENS.Logger).toConstantValue(logger);
    host.rebind(TOKENS.MessageBus).toConstantValue(new ThrowingEmitter());

    const candidate = CandidateFixtures.deferrable;
    await host.get(TOKENS.CandidateStore).create(candidate);
    await host.get(TOKENS.IncidentOrchestrator).processCandidate(candidate.candidateId, AuthorityFixtures.autoEngine(candidate.candidateId), candidate.createdAt);

    expect(logger.entries.filter((e) => e.level === 'warn')).to.have.length(1);
  });

  it('gives the host bus subscribers the events when the bus is kept', async () => {
    const host = hostContainer();
    host.rebind(TOKENS.Logger).toConstantValue(new RecordingLogger());
    const seen: string[] = [];
    host.get(TOKENS.MessageBus).subscribe('CandidateSuppressed', (event) => void seen.push(event.candidateId));

    const candidate = CandidateFixtures.suppressible;
    await host.get(TOKENS.CandidateStore).create(candidate);
    await host.get(TOKENS.IncidentOrchestrator).processCandidate(candidate.candidateId, AuthorityFixtures.autoEngine(candidate.candidateId), candidate.createdAt);

    expect(seen).to.deep.equal([candidate.candidateId]);
  });

  it('shares one store between every component bound in the container (singletons)', () => {
    const host = hostContainer();
    host.rebind(TOKENS.Logger).toConstantValue(new RecordingLogger());

    expect(host.get(TOKENS.EventStore)).to.equal(host.get(TOKENS.EventStore));
    expect(host.get(TOKENS.IncidentOrchestrator)).to.equal(host.get(TOKENS.IncidentOrchestrator));
    expect(host.get(TOKENS.MessageBus)).to.equal(host.get(TOKENS.MessageBus));
  });

  it("publishes through the host's own bus, so a subscriber through the token hears every event (one binding, both ends)", async () => {
    // given a host that binds its own bus, and code of the host subscribing through the token
    const host = hostContainer();
    host.rebind(TOKENS.Logger).toConstantValue(new RecordingLogger());
    const bus = new RecordingEmitter();
    host.rebind(TOKENS.MessageBus).toConstantValue(bus);
    const seen: string[] = [];
    for (const type of ['IncidentCreated', 'CandidateDeferred'] as const) host.get(TOKENS.MessageBus).subscribe(type, (event) => void seen.push(`${event.eventType}:${event.candidateId}`));

    // when the host orchestrates a promoted and a deferred candidate
    for (const candidate of [CandidateFixtures.promotable, CandidateFixtures.deferrable]) {
      await host.get(TOKENS.CandidateStore).create(candidate);
      await host.get(TOKENS.IncidentOrchestrator).processCandidate(candidate.candidateId, AuthorityFixtures.autoEngine(candidate.candidateId), candidate.createdAt);
    }

    // then both events went through the host's bus and reached the subscriber
    expect(bus.events.map((e) => e.eventType)).to.deep.equal(['IncidentCreated', 'CandidateDeferred']);
    expect(seen).to.deep.equal([`IncidentCreated:${CandidateFixtures.promotable.candidateId}`, `CandidateDeferred:${CandidateFixtures.deferrable.candidateId}`]);
  });

  it('keeps two containers independent', async () => {
    const a = hostContainer();
    const b = hostContainer();
    for (const c of [a, b]) c.rebind(TOKENS.Logger).toConstantValue(new RecordingLogger());

    await a.get(TOKENS.CandidateStore).create(CandidateFixtures.promotable);

    await expect(b.get(TOKENS.CandidateStore).get(CandidateFixtures.promotable.candidateId)).to.be.rejected;
  });

  it('uses the config given to the module', () => {
    const host = hostContainer();

    expect(host.get(TOKENS.Config)).to.equal(ConfigFixtures.bundled);
    expect(host.get(TOKENS.PolicyRegistry)).to.equal(ConfigFixtures.bundled.policies);
    expect(host.get(TOKENS.AuthorityMatrix)).to.equal(ConfigFixtures.bundled.authorityMatrix);
  });
});
