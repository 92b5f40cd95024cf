import type { Container } from 'inversify';

import type { AuthorityContext } from '../../../src/authority/authority.js';
import { candidateStreamId } from '../../../src/candidates/candidate-events.js';
import { createOpxContainer } from '../../../src/container/modules.js';
import { TOKENS } from '../../../src/container/tokens.js';
import type { Candidate } from '../../../src/correlation/correlator.js';
import type { EventStore, RecordedEvent } from '../../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';
import { INCIDENT_STREAM_PREFIX } from '../../../src/incidents/incident-events.js';
import { handleCandidateStreamEvent, type Handled } from '../../../src/orchestration/candidate-event-handler.js';
import type { OrchestrationResult } from '../../../src/orchestration/incident-orchestrator.js';
import type { MessageBus } from '../../../src/orchestration/message-bus.js';
import type { EventEmitter, OrchestrationEvent } from '../../../src/orchestration/orchestration-event.schema.js';
import { ORCHESTRATION_LOG_STREAM, type OrchestrationStore } from '../../../src/orchestration/orchestration-store.js';
import { requestManualPromotion, type ManualPromotionCommand } from '../../../src/promotion/manual-promotion.js';
import { FixedClock } from '../../../src/shared/clock.js';
import { RecordingLogger, type Logger } from '../../../src/shared/logger.js';
import { AuthorityFixtures, ConfigFixtures, Times } from './fixtures.js';

export interface WorldOptions {
  /** Share an existing in-memory store (a second process on the same EventStoreDB). */
  readonly memory?: InMemoryEventStore;
  /** Put a port stub in front of the in-memory store. */
  readonly wrapStore?: (memory: InMemoryEventStore) => EventStore;
  /** Replace the bus by a host's transport that only emits (its subscribers in this process hear nothing). */
  readonly emitter?: EventEmitter;
  /** Replace the orchestration log (given the bound store). */
  readonly orchestrationStore?: (store: EventStore, logger: Logger) => OrchestrationStore;
}

const emitOnlyBus = (emitter: EventEmitter): MessageBus => ({ emit: (event) => emitter.emit(event), subscribe: () => () => undefined });

const ORCHESTRATION_EVENT_TYPES = ['IncidentCreated', 'CandidateDeferred', 'CandidateSuppressed', 'OrchestrationFailed'] as const;

/**
 * A test world: the real container (createOpxContainer with the bundled config), a FixedClock, a
 * RecordingLogger, an in-memory store (optionally behind a port stub) and a record of everything
 * published on the bus. State is set up by appending events through CP-5 and the handlers.
 */
export class OpxWorld {
  readonly published: OrchestrationEvent[] = [];

  private constructor(
    readonly container: Container,
    readonly memory: InMemoryEventStore,
    readonly clock: FixedClock,
    readonly logger: RecordingLogger,
  ) {}

  static create(options: WorldOptions = {}): OpxWorld {
    const clock = new FixedClock('2026-03-01T01:00:00.000Z');
    const logger = new RecordingLogger();
    const container = createOpxContainer({ config: ConfigFixtures.bundled });
    container.rebind(TOKENS.Clock).toConstantValue(clock);
    container.rebind(TOKENS.Logger).toConstantValue(logger);
    const memory = options.memory ?? new InMemoryEventStore(() => clock.now());
    container.rebind(TOKENS.EventStore).toConstantValue(options.wrapStore?.(memory) ?? memory);
    if (options.emitter !== undefined) container.rebind(TOKENS.MessageBus).toConstantValue(emitOnlyBus(options.emitter));
    if (options.orchestrationStore !== undefined) {
      container.rebind(TOKENS.OrchestrationStore).toConstantValue(options.orchestrationStore(container.get(TOKENS.EventStore), logger));
    }
    const world = new OpxWorld(container, memory, clock, logger);
    const bus = container.get(TOKENS.MessageBus);
    for (const type of ORCHESTRATION_EVENT_TYPES) bus.subscribe(type, (event) => void world.published.push(event));
    return world;
  }

  get store(): EventStore {
    return this.container.get(TOKENS.EventStore);
  }
  get orchestrator() {
    return this.container.get(TOKENS.IncidentOrchestrator);
  }
  get engine() {
    return this.container.get(TOKENS.PromotionEngine);
  }
  get incidents() {
    return this.container.get(TOKENS.IncidentManager);
  }
  get candidates() {
    return this.container.get(TOKENS.CandidateStore);
  }
  get context() {
    return this.container.get(TOKENS.HandlerContext);
  }
  get matrix() {
    return this.container.get(TOKENS.AuthorityMatrix);
  }

  // ---- given ---------------------------------------------------------------------------------

  /** CP-5 records the candidate (CandidateCreated at revision 0). */
  async givenCandidate(candidate: Candidate): Promise<Candidate> {
    await this.candidates.create(candidate);
    return candidate;
  }

  /** The candidate recorded and its CandidateCreated delivered once. */
  async givenDelivered(candidate: Candidate): Promise<Candidate> {
    await this.givenCandidate(candidate);
    await this.deliverCandidateCreated(candidate.candidateId);
    return candidate;
  }

  /** A human asks to promote (records ManualPromotionRequested). */
  async givenManualPromotionRequested(candidateId: string, command: Partial<ManualPromotionCommand> = {}): Promise<{ requestId: string }> {
    return requestManualPromotion(this.store, this.candidates, this.matrix, {
      candidateId,
      operator: 'alice@opx',
      justification: 'customer impact confirmed',
      requestedAt: Times.later,
      ...command,
    });
  }

  // ---- when ----------------------------------------------------------------------------------

  /** The orchestrator directly, under Decision 3's authority by default. */
  process(candidateId: string, authority: AuthorityContext = AuthorityFixtures.autoEngine(candidateId), at: string = Times.at(20)): Promise<OrchestrationResult> {
    return this.orchestrator.processCandidate(candidateId, authority, at);
  }

  /** (Re)delivers the recorded CandidateCreated through the fail-fast handler. */
  deliverCandidateCreated(candidateId: string): Promise<Handled> {
    return handleCandidateStreamEvent(this.recorded(candidateId, 'CandidateCreated'), this.context);
  }

  /** (Re)delivers the last recorded ManualPromotionRequested through the handler. */
  deliverManualPromotionRequested(candidateId: string): Promise<Handled> {
    return handleCandidateStreamEvent(this.recorded(candidateId, 'ManualPromotionRequested'), this.context);
  }

  // ---- then ----------------------------------------------------------------------------------

  events(streamId: string): readonly RecordedEvent[] {
    return this.memory.snapshot(streamId);
  }

  /**
   * The attempts logged for a candidate, as the store holds them (no read through getAttempts,
   * which a test may have made throw), once the log has written what it queued.
   */
  async loggedAttempts(candidateId: string): Promise<RecordedEvent[]> {
    await this.container.get(TOKENS.OrchestrationStore).flush();
    return this.events(ORCHESTRATION_LOG_STREAM).filter((e) => e.data['candidateId'] === candidateId);
  }

  candidateEvents(candidateId: string): readonly RecordedEvent[] {
    return this.events(candidateStreamId(candidateId));
  }

  candidateTypes(candidateId: string): string[] {
    return this.candidateEvents(candidateId).map((e) => e.type);
  }

  /** Every event of `type` in the whole store. */
  all(type: string): RecordedEvent[] {
    return [...this.memory.streamIds()].flatMap((id) => this.events(id)).filter((e) => e.type === type);
  }

  /** Candidate and incident streams as a replay compares them: no position, no server time. */
  history(): Array<Pick<RecordedEvent, 'id' | 'type' | 'streamId' | 'revision' | 'data' | 'metadata'>> {
    return [...this.memory.streamIds()]
      .filter((s) => !s.startsWith('orchestration-'))
      .sort()
      .flatMap((s) => this.events(s).map(({ id, type, streamId, revision, data, metadata }) => ({ id, type, streamId, revision, data, metadata })));
  }

  incidentStreams(): string[] {
    return [...this.memory.streamIds()].filter((id) => id.startsWith(INCIDENT_STREAM_PREFIX));
  }

  /** Total events held, across streams. */
  get size(): number {
    return this.memory.size;
  }

  publishedOf(type: OrchestrationEvent['eventType']): OrchestrationEvent[] {
    return this.published.filter((e) => e.eventType === type);
  }

  warnings(): RecordingLogger['entries'] {
    return this.logger.entries.filter((e) => e.level === 'warn');
  }

  private recorded(candidateId: string, type: string): RecordedEvent {
    const found = this.candidateEvents(candidateId).filter((e) => e.type === type).at(-1);
    if (found === undefined) throw new Error(`test setup: no ${type} on candidate ${candidateId}`);
    return found;
  }
}
