import type { Logger } from '../shared/logger.js';
import type { EventEmitter, OrchestrationEvent, OrchestrationEventType } from './orchestration-event.schema.js';

/** The orchestration event of one type: `EventOf<'CandidateDeferred'>` is a CandidateDeferredEvent. */
export type EventOf<T extends OrchestrationEventType> = Extract<OrchestrationEvent, { eventType: T }>;
/** A bus subscriber: may be async; what it throws or rejects with is the bus's to handle. */
export type Subscriber<T extends OrchestrationEventType> = (event: EventOf<T>) => void | Promise<void>;
type AnySubscriber = (event: OrchestrationEvent) => void | Promise<void>;

/**
 * The message bus port: the orchestrator publishes IncidentCreated, CandidateDeferred,
 * CandidateSuppressed and OrchestrationFailed through `emit` (fire-and-forget: a rejected emit is
 * logged, never fails orchestration), and the host's code receives them through `subscribe`. One
 * binding (`TOKENS.MessageBus`) is both ends, so a host that binds its own bus (to forward to
 * its broker, say) gets every event there, and whatever subscribed through the token hears what
 * that bus delivers. Events are published once per process; across processes at least once, with
 * deterministic `incidentId` / `decisionId` to dedupe by.
 */
export interface MessageBus extends EventEmitter {
  /** Delivers every later event of `eventType` to `subscriber`; returns the unsubscribe function. */
  subscribe<T extends OrchestrationEventType>(eventType: T, subscriber: Subscriber<T>): () => void;
}

/**
 * The in-process message bus: carries IncidentCreated, CandidateDeferred, CandidateSuppressed and
 * OrchestrationFailed to subscribers in the host application, in publication order. A decision
 * or incident is published once per process: the orchestrator publishes only what it recorded
 * (not what it found recorded), and the bus drops a repeat of the same deterministic id within a
 * window of recent ones, which covers concurrent deliveries racing in this process. Across
 * processes (competing workers, each with its own bus) a racing loser cannot tell its idempotent
 * append from a write, so delivery is at-least-once there; ids are deterministic, so subscribers
 * dedupe by incidentId / decisionId. A subscriber that throws is logged and does not stop the others.
 */
export class InProcessMessageBus implements MessageBus {
  private readonly subscribers = new Map<OrchestrationEventType, Set<AnySubscriber>>();
  private readonly recent = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly dedupeWindow = 10_000,
  ) {}

  subscribe<T extends OrchestrationEventType>(eventType: T, subscriber: Subscriber<T>): () => void {
    let set = this.subscribers.get(eventType);
    if (set === undefined) this.subscribers.set(eventType, (set = new Set()));
    const any = subscriber as AnySubscriber;
    set.add(any);
    return () => set.delete(any);
  }

  async emit(event: OrchestrationEvent): Promise<void> {
    // Nobody to deliver to: nothing is published, so nothing is remembered as published either.
    const set = this.subscribers.get(event.eventType);
    if (set === undefined || set.size === 0 || this.isRepeat(event)) return;
    for (const subscriber of [...set]) {
      try {
        await subscriber(event);
      } catch (error) {
        this.logger.warn({ err: error, eventType: event.eventType }, 'message bus subscriber failed');
      }
    }
  }

  /** Decisions and incidents have deterministic ids; failures are occurrences and always pass. */
  private isRepeat(event: OrchestrationEvent): boolean {
    const key = event.eventType === 'IncidentCreated' ? `i:${event.incidentId}` : event.eventType === 'OrchestrationFailed' ? undefined : `d:${event.decisionId}`;
    if (key === undefined) return false;
    if (this.recent.has(key)) return true;
    this.recent.add(key);
    if (this.recent.size > this.dedupeWindow) this.recent.delete(this.recent.values().next().value as string);
    return false;
  }
}
