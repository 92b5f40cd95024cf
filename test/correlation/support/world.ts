import type { Container } from 'inversify';

import type { AuthorityMatrix } from '../../../src/authority/authority-matrix.js';
import { loadConfig } from '../../../src/container/config.js';
import { createOpxContainer } from '../../../src/container/modules.js';
import { TOKENS } from '../../../src/container/tokens.js';
import { GROUP_STREAM_PREFIX } from '../../../src/correlation/correlation-events.js';
import type { CorrelationRuleSet } from '../../../src/correlation/correlation-rule.js';
import { appendTick, correlateOnce, type CorrelateOnceReport } from '../../../src/correlation/correlation-runner.js';
import { CORRELATION_TOKENS } from '../../../src/correlation/module.js';
import type { RecordedEvent } from '../../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';
import { INCIDENT_STREAM_PREFIX } from '../../../src/incidents/incident-events.js';
import { processCandidateInputs } from '../../../src/runtime/in-process.js';
import type { SignalInput } from '../../../src/signals/alertmanager.js';
import type { RecordReport } from '../../../src/signals/signal-recorder.js';
import type { SignalFact } from '../../../src/signals/signal-events.js';
import { FixedClock } from '../../../src/shared/clock.js';
import { RecordingLogger } from '../../../src/shared/logger.js';
import { CANDIDATE_STREAM_PREFIX } from '../../../src/candidates/candidate-events.js';
import { Facts } from './signals.js';

/** The streams whose events must be byte-identical however the same signals arrived. */
export const DERIVED_PREFIXES = [CANDIDATE_STREAM_PREFIX, INCIDENT_STREAM_PREFIX, GROUP_STREAM_PREFIX] as const;

/**
 * The whole flow in one process over an in-memory store, for correlation tests: signals recorded
 * through the recorder, correlation run to the end of what is recorded, the orchestrator after it.
 */
export class CorrelationWorld {
  readonly logger = new RecordingLogger();
  readonly clock = new FixedClock('2026-06-01T12:00:00.000Z');

  private constructor(
    readonly container: Container,
    readonly memory: InMemoryEventStore,
  ) {}

  static create(options: { readonly rules?: CorrelationRuleSet; readonly memory?: InMemoryEventStore; readonly authorityMatrix?: AuthorityMatrix } = {}): CorrelationWorld {
    const base = loadConfig();
    const config = {
      ...base,
      ...(options.rules === undefined ? {} : { correlationRules: options.rules }),
      ...(options.authorityMatrix === undefined ? {} : { authorityMatrix: options.authorityMatrix }),
    };
    const container = createOpxContainer({ config });
    const memory = options.memory ?? new InMemoryEventStore(() => new Date('2026-06-01T12:00:00.000Z'));
    const world = new CorrelationWorld(container, memory);
    container.rebind(TOKENS.EventStore).toConstantValue(memory);
    container.rebind(TOKENS.Clock).toConstantValue(world.clock);
    container.rebind(TOKENS.Logger).toConstantValue(world.logger);
    return world;
  }

  get correlation() {
    return this.container.get(CORRELATION_TOKENS.Correlation);
  }

  record(...facts: ReadonlyArray<SignalFact | SignalInput>): Promise<RecordReport> {
    return this.container.get(CORRELATION_TOKENS.SignalRecorder).record(
      facts.map((f) => ('kind' in f ? f : Facts.input(f))),
      { channel: 'test' },
    );
  }

  /** Correlation to the end of what is recorded; `tick` releases what it still holds. */
  correlate(tick = true): Promise<CorrelateOnceReport> {
    return correlateOnce(this.memory, this.correlation.newCorrelator(), { tick, ruleSetVersion: 'test' });
  }

  tick(through: string): Promise<void> {
    return appendTick(this.memory, through);
  }

  async orchestrate(): Promise<number> {
    return (await processCandidateInputs(this.memory, this.container.get(TOKENS.HandlerContext))).handled;
  }

  /** Correlate (ticking) and orchestrate what is recorded. */
  async settle(): Promise<void> {
    await this.correlate();
    await this.orchestrate();
  }

  events(prefix: string, type?: string): RecordedEvent[] {
    return [...this.memory.streamIds()]
      .filter((id) => id.startsWith(prefix))
      .flatMap((id) => this.memory.snapshot(id))
      .filter((e) => type === undefined || e.type === type);
  }

  groupEvents(): Array<Record<string, unknown>> {
    return this.events(GROUP_STREAM_PREFIX, 'SignalCorrelated').map((e) => e.data as Record<string, unknown>);
  }

  candidates(): Array<Record<string, unknown>> {
    return this.events(CANDIDATE_STREAM_PREFIX, 'CandidateCreated').map((e) => ({ ...e.data, ...(e.metadata['candidate'] as object) }));
  }

  incidents(): Array<Record<string, unknown>> {
    return this.events(INCIDENT_STREAM_PREFIX, 'IncidentOpened').map((e) => e.data as Record<string, unknown>);
  }

  decisions(): string[] {
    return this.events(CANDIDATE_STREAM_PREFIX, 'PromotionDecided').map((e) => (e.data as { decision: string }).decision);
  }

  /** The derived history as a replay compares it: streams sorted, no positions or server times. */
  derived(): string[] {
    return [...this.memory.streamIds()]
      .filter((id) => DERIVED_PREFIXES.some((p) => id.startsWith(p)))
      .sort()
      .flatMap((id) => this.memory.snapshot(id).map((e) => JSON.stringify([e.streamId, e.revision.toString(), e.id, e.type, e.data, e.metadata])));
  }
}
