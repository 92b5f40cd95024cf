/**
 * Component 3 (frozen): the events the orchestrator emits on the in-process bus for the host
 * application. They are observability, not authority (Decision 5): the candidate stream is the
 * record. IncidentCreatedEvent is also the data of the stored IncidentCreated event.
 */
export type { IncidentCreatedEvent } from '../candidates/candidate-events.js';
import type { IncidentCreatedEvent } from '../candidates/candidate-events.js';

export interface CandidateDeferredEvent {
  eventType: 'CandidateDeferred';
  candidateId: string;
  decisionId: string;
  reason: string;
  deferredAt: string;
}

export interface CandidateSuppressedEvent {
  eventType: 'CandidateSuppressed';
  candidateId: string;
  decisionId: string;
  reason: string;
  suppressedAt: string;
}

export interface OrchestrationFailedEvent {
  eventType: 'OrchestrationFailed';
  candidateId: string;
  error: string;
  failedAt: string;
}

export type OrchestrationEvent = IncidentCreatedEvent | CandidateDeferredEvent | CandidateSuppressedEvent | OrchestrationFailedEvent;
export type OrchestrationEventType = OrchestrationEvent['eventType'];

/** The emitter port the orchestrator publishes through (fire-and-forget). */
export interface EventEmitter {
  emit(event: OrchestrationEvent): Promise<void>;
}
