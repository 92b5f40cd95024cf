import type { Logger } from '../shared/logger.js';
import type { EventEmitter, OrchestrationEvent, OrchestrationEventType } from './orchestration-event.schema.js';

type EventOf<T extends OrchestrationEventType> = Extract<OrchestrationEvent, { eventType: T }>;
type Subscriber<T extends OrchestrationEventType> = (event: EventOf<T>) => void | Promise<void>;
type AnySubscriber = (event: OrchestrationEvent) => void | Promise<void>;

/**
 * The in-process message bus: carries IncidentCreated, CandidateDeferred, CandidateSuppressed and
 * OrchestrationFailed to subscribers in the host application, in publication order. At most once:
 * an event is published when the orchestrator records something new, never on a duplicate
 * delivery; a subscriber that throws is logged and does not stop the others.
 */
export class InProcessMessageBus implements EventEmitter {
  private readonly subscribers = new Map<OrchestrationEventType, Set<AnySubscriber>>();

  constructor(private readonly logger: Logger) {}

  subscribe<T extends OrchestrationEventType>(eventType: T, subscriber: Subscriber<T>): () => void {
    let set = this.subscribers.get(eventType);
    if (set === undefined) this.subscribers.set(eventType, (set = new Set()));
    const any = subscriber as AnySubscriber;
    set.add(any);
    return () => set.delete(any);
  }

  async emit(event: OrchestrationEvent): Promise<void> {
    const set = this.subscribers.get(event.eventType);
    if (set === undefined) return;
    for (const subscriber of [...set]) {
      try {
        await subscriber(event);
      } catch (error) {
        this.logger.warn({ err: error, eventType: event.eventType }, 'message bus subscriber failed');
      }
    }
  }
}
