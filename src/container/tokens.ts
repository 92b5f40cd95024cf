import type { ServiceIdentifier } from 'inversify';

import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { Candidate } from '../correlation/correlator.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { HandlerContext } from '../orchestration/candidate-event-handler.js';
import type { CandidateHandlers } from '../orchestration/candidate-handlers.js';
import type { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import type { MessageBus } from '../orchestration/message-bus.js';
import type { OrchestrationAttempt, OrchestrationStore } from '../orchestration/orchestration-store.js';
import type { PolicyRegistry } from '../promotion/policy.js';
import type { PromotionEngine } from '../promotion/promotion-engine.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { WorkerHealth, WorkerState } from '../worker/worker.js';
import type { OpxConfig } from './config.js';

/** CP-5 as a host uses it: record a correlated candidate (then orchestrate it), read one back. */
export interface CandidateRecords {
  /**
   * Records the candidate (CandidateCreated at revision 0 of `candidate-<candidateId>`): the same
   * candidate again is a no-op, a different one under the same id is refused. Its `createdAt` is
   * the time its decision will be made at.
   */
  create(candidate: Candidate): Promise<void>;
  /** The candidate as recorded; throws CandidateNotFound. */
  get(candidateId: string): Promise<Candidate>;
}

/** The persistent-subscription worker as a host runs it in its own process. */
export interface OrchestrationWorker {
  readonly state: WorkerState;
  /** Joins the group (creating it if needed) and handles deliveries until stopped; reconnects with backoff. */
  start(): void;
  /** Resolves once the worker is subscribed (or stopped). */
  subscribed(): Promise<void>;
  /** Stops taking deliveries, finishes and acks what is in flight, then resolves. */
  stop(): Promise<void>;
  health(): WorkerHealth;
}

/**
 * The tokens a host binds or resolves, typed by interfaces; the package root exports this object
 * as `TOKENS`. Symbols are registered globally (`Symbol.for`), so two copies of the package agree.
 * Bind your own: EventStore (or load a store module), Clock, Logger, MessageBus. Resolve only:
 * Candidates, CandidateHandlers, Worker.
 */
export const PUBLIC_TOKENS = {
  /** The event store port: bound by inMemoryEventStoreModule / esdbEventStoreModule, or by the host. */
  EventStore: Symbol.for('opx/EventStore') as ServiceIdentifier<EventStore>,
  /** Wall clock for the edges only (attempt-log times, in-memory store stamps); no decision reads it. */
  Clock: Symbol.for('opx/Clock') as ServiceIdentifier<Clock>,
  Logger: Symbol.for('opx/Logger') as ServiceIdentifier<Logger>,
  /** The bus the orchestrator publishes through and the host subscribes on: one binding, both ends. */
  MessageBus: Symbol.for('opx/MessageBus') as ServiceIdentifier<MessageBus>,
  /** CP-5 (resolve only). */
  Candidates: Symbol.for('opx/CandidateStore') as ServiceIdentifier<CandidateRecords>,
  /** The way to orchestrate (resolve only): decisions at the time of the recorded input. */
  CandidateHandlers: Symbol.for('opx/CandidateHandlers') as ServiceIdentifier<CandidateHandlers>,
  /** The worker bound by workerModule (resolve only). */
  Worker: Symbol.for('opx/CandidateWorker') as ServiceIdentifier<OrchestrationWorker>,
  /** The attempt log (resolve only): read a candidate's attempts; flush() before closing the store, or the last batch is lost. */
  AttemptLog: Symbol.for('opx/OrchestrationStore') as ServiceIdentifier<AttemptLog>,
} as const;

/** The orchestration attempt log as a host uses it: write-only for orchestration, read for debugging, flushed before close. */
export interface AttemptLog {
  getAttempts(candidateId: string): Promise<OrchestrationAttempt[]>;
  flush(): Promise<void>;
}

/** Every token of the core, the internal ones too; typed tokens, registered globally so two copies of the package agree on them. */
export const TOKENS = {
  EventStore: PUBLIC_TOKENS.EventStore,
  Clock: PUBLIC_TOKENS.Clock,
  Logger: PUBLIC_TOKENS.Logger,
  Config: Symbol.for('opx/Config') as ServiceIdentifier<OpxConfig>,
  PolicyRegistry: Symbol.for('opx/PolicyRegistry') as ServiceIdentifier<PolicyRegistry>,
  AuthorityMatrix: Symbol.for('opx/AuthorityMatrix') as ServiceIdentifier<AuthorityMatrix>,
  CandidateStore: Symbol.for('opx/CandidateStore') as ServiceIdentifier<CandidateStore>,
  PromotionEngine: Symbol.for('opx/PromotionEngine') as ServiceIdentifier<PromotionEngine>,
  IncidentManager: Symbol.for('opx/IncidentManager') as ServiceIdentifier<IncidentManager>,
  MessageBus: PUBLIC_TOKENS.MessageBus,
  OrchestrationStore: Symbol.for('opx/OrchestrationStore') as ServiceIdentifier<OrchestrationStore>,
  IncidentOrchestrator: Symbol.for('opx/IncidentOrchestrator') as ServiceIdentifier<IncidentOrchestrator>,
  HandlerContext: Symbol.for('opx/HandlerContext') as ServiceIdentifier<HandlerContext>,
  CandidateHandlers: PUBLIC_TOKENS.CandidateHandlers,
} as const;
