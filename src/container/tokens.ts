import type { ServiceIdentifier } from 'inversify';

import type { AuthorityMatrix } from '../authority/authority-matrix.js';
import type { CandidateStore } from '../candidates/candidate-store.js';
import type { EventStore } from '../eventstore/event-store.js';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { HandlerContext } from '../orchestration/candidate-event-handler.js';
import type { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import type { MessageBus } from '../orchestration/message-bus.js';
import type { OrchestrationStore } from '../orchestration/orchestration-store.js';
import type { PolicyRegistry } from '../promotion/policy.js';
import type { PromotionEngine } from '../promotion/promotion-engine.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { OpxConfig } from './config.js';

/** Typed tokens, registered globally so two copies of the package agree on them. */
export const TOKENS = {
  EventStore: Symbol.for('opx/EventStore') as ServiceIdentifier<EventStore>,
  Clock: Symbol.for('opx/Clock') as ServiceIdentifier<Clock>,
  Logger: Symbol.for('opx/Logger') as ServiceIdentifier<Logger>,
  Config: Symbol.for('opx/Config') as ServiceIdentifier<OpxConfig>,
  PolicyRegistry: Symbol.for('opx/PolicyRegistry') as ServiceIdentifier<PolicyRegistry>,
  AuthorityMatrix: Symbol.for('opx/AuthorityMatrix') as ServiceIdentifier<AuthorityMatrix>,
  CandidateStore: Symbol.for('opx/CandidateStore') as ServiceIdentifier<CandidateStore>,
  PromotionEngine: Symbol.for('opx/PromotionEngine') as ServiceIdentifier<PromotionEngine>,
  IncidentManager: Symbol.for('opx/IncidentManager') as ServiceIdentifier<IncidentManager>,
  /** The bus the orchestrator publishes through and the host subscribes on: one binding, both ends. */
  MessageBus: Symbol.for('opx/MessageBus') as ServiceIdentifier<MessageBus>,
  OrchestrationStore: Symbol.for('opx/OrchestrationStore') as ServiceIdentifier<OrchestrationStore>,
  IncidentOrchestrator: Symbol.for('opx/IncidentOrchestrator') as ServiceIdentifier<IncidentOrchestrator>,
  HandlerContext: Symbol.for('opx/HandlerContext') as ServiceIdentifier<HandlerContext>,
} as const;
