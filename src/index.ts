/**
 * OPX incident orchestration, as a host application embeds it: signals correlated into candidates,
 * candidates decided (PROMOTE / DEFER / SUPPRESS) under the policy they name, incidents created
 * exactly once on EventStoreDB, and a replay audit that re-derives history byte for byte.
 *
 * A host loads the container modules into its own Inversify 8 container, binds its own ports if
 * it likes (`TOKENS.Clock`, `TOKENS.Logger`, `TOKENS.MessageBus`, `TOKENS.EventStore`), records
 * candidates through `TOKENS.Candidates` and orchestrates them through `TOKENS.CandidateHandlers`,
 * or runs the persistent-subscription worker (`workerModule`, `TOKENS.Worker`). Everything not
 * exported here is internal and may change in any release.
 *
 * Stable surface (see README, "Embedding / versioning"): the spec's frozen interfaces and the
 * event schemas. One export per line, grouped by what a host does with it.
 *
 * @packageDocumentation
 */

// Container modules and tokens
export { orchestrationModule, inMemoryEventStoreModule } from './container/modules.js';
export { esdbEventStoreModule } from './container/esdb-module.js';
export type { EsdbEndpoint } from './eventstore/esdb/esdb-event-store.js';
export { workerModule } from './worker/module.js';
export { PUBLIC_TOKENS as TOKENS } from './container/tokens.js';
export type { CandidateRecords, OrchestrationWorker, AttemptLog } from './container/tokens.js';

// Orchestrating: the handlers take the decision time from the recorded input
export type { CandidateHandlers } from './orchestration/candidate-handlers.js';
export type { Handled } from './orchestration/candidate-event-handler.js';
export type { OrchestrationResult } from './orchestration/incident-orchestrator.js';

// Ports a host may bind its own implementation of
export type { Clock } from './shared/clock.js';
export type { Logger } from './shared/logger.js';
export type { MessageBus, Subscriber, EventOf } from './orchestration/message-bus.js';
export { InProcessMessageBus } from './orchestration/message-bus.js';
export type { EventEmitter } from './orchestration/orchestration-event.schema.js';
export type {
  EventStore,
  EventReader,
  EventToAppend,
  RecordedEvent,
  AppendResult,
  ExpectedRevision,
  ReadStreamOptions,
  ReadAllOptions,
  StreamMetadata,
  SubscribeToAllOptions,
  CatchUpSubscription,
  JsonValue,
  JsonObject,
  PersistentSubscriptions,
  PersistentSubscription,
  PersistentSubscriptionTarget,
  PersistentSubscriptionSettings,
  PersistentDelivery,
  NackAction,
} from './eventstore/event-store.js';

// The worker
export type { CandidateWorkerOptions, WorkerHealth, WorkerState } from './worker/worker.js';
export type { BackoffPolicy } from './worker/concurrency.js';

// Events (the orchestrator's, on the bus; the stored ones, on the streams) and their schemas
export type { OrchestrationEvent, OrchestrationEventType, CandidateDeferredEvent, CandidateSuppressedEvent, OrchestrationFailedEvent } from './orchestration/orchestration-event.schema.js';
export type {
  CandidateCreatedEvent,
  ManualPromotionRequestedData,
  PromotionDecidedData,
  IncidentCreatedEvent,
  EventMetadata,
  CandidateMetadata,
  IncidentCreatedMetadata,
  CandidateStreamEvent,
  CandidateStreamEventType,
  CandidateCreated,
  ManualPromotionRequested,
  PromotionDecided,
  IncidentCreated,
  Decision,
} from './candidates/candidate-events.js';
export {
  CandidateCreatedSchema,
  ManualPromotionRequestedSchema,
  PromotionDecidedSchema,
  IncidentCreatedSchema,
  EventMetadataSchema,
  CandidateMetadataSchema,
  IncidentCreatedMetadataSchema,
  AuthoritySchema,
  CANDIDATE_STREAM_PREFIX,
  CANDIDATE_INPUT_TYPES,
  CANDIDATE_OUTPUT_TYPES,
  DECISIONS,
  candidateStreamId,
} from './candidates/candidate-events.js';
export type { IncidentOpened, IncidentOpenedData, IncidentStateChanged, IncidentStateChangedData, IncidentStreamEvent, IncidentState, IncidentAction } from './incidents/incident-events.js';
export { INCIDENT_STREAM_PREFIX, INCIDENT_STATES, incidentStreamId } from './incidents/incident-events.js';
export type { OrchestrationAttempt, FailedOrchestrationAttempt } from './orchestration/orchestration-store.js';
export { ORCHESTRATION_STREAM_PREFIX, ORCHESTRATION_LOG_STREAM, orchestrationStreamId } from './orchestration/orchestration-store.js';
export type { Candidate } from './correlation/correlator.js';
export type { Severity } from './correlation/signal.js';
export { SEVERITIES } from './correlation/signal.js';
export { validateAs } from './shared/validation.js';

// Authority (Decision 3: every automatic decision runs as AUTO_ENGINE)
export type { AuthorityContext, AuthorityType, Action } from './authority/authority.js';
export { AUTO_ENGINE_ID, AUTO_ENGINE_JUSTIFICATION, AUTHORITY_TYPES, ACTIONS, autoEngineAuthority, ALERT_AUTOMATION_ID, alertAutomationAuthority } from './authority/authority.js';

// Errors: one base with a stable string code; OpxError.is() holds across two copies of the package
export { OpxError, InvalidInput, WrongExpectedVersion, StreamDeleted, StoreUnavailable } from './shared/errors.js';
export { MissingOptionalDependency } from './shared/optional-dependency.js';
export { NotTheRecordedInput } from './orchestration/candidate-handlers.js';
export { OrchestrationUnsuccessful } from './orchestration/candidate-event-handler.js';
export { CandidateWithoutPolicy } from './orchestration/incident-orchestrator.js';
export { CandidateNotFound } from './candidates/candidate-store.js';
export { AuthorityDenied } from './authority/authority.js';
export { UnknownPolicy } from './promotion/policy.js';
export { PolicyMismatch, AutomaticDecisionRefused, ManualPromotionRefused } from './promotion/promotion-engine.js';
export { PromotionBypass, IncidentNotFound } from './incidents/incident-manager.js';
export { IllegalTransition } from './incidents/incident-state-machine.js';

// Configuration (policies, authority matrix, correlation rules: data, loaded once)
export { loadConfig, DEFAULT_CONFIG_DIR } from './container/config.js';
export type { OpxConfig } from './container/config.js';

// The policy lock: no decision under a policy changed under its version (lock file, or history)
export { guardPolicies } from './promotion/policy-record.js';
export type { PolicyGuardReport } from './promotion/policy-record.js';
export { PolicyChanged, POLICY_LOCK_FILE } from './promotion/policy-lock.js';
export type { PolicyLock, PolicyLockEntry, PolicyChangeProblem, HashReference } from './promotion/policy-lock.js';

// The integrity chain: history sealed as it is recorded, verified without replaying
export { sealHistory, HistorySealer } from './integrity/sealer.js';
export type { SealOptions, SealReport, HistorySealerOptions, HistorySealerState, HistorySealerStatus } from './integrity/sealer.js';
export { verifyHistory, InvalidAnchor } from './integrity/verify.js';
export type { IntegrityReport, IntegrityFinding, EventPart, VerifyOptions } from './integrity/verify.js';
export { INTEGRITY_STREAM, INTEGRITY_EXCLUDED_PREFIXES, IntegrityChainCorrupt } from './integrity/seal.js';

// The embedded EventStoreDB-compatible server (tests, single-machine use)
export { startEmbeddedServer } from './esdb-server/server.js';
export type { EmbeddedServer, EmbeddedServerEndpoint, EmbeddedServerOptions, EmbeddedServerTls } from './esdb-server/server.js';
export type { CommitStats } from './esdb-server/commit-queue.js';
export { ADMINS, OPS, UserStore } from './esdb-server/auth/users.js';
export type { ServerLog } from './esdb-server/log.js';
export type { CheckpointRecord, GroupRecord, NewEvent, StorageEngine, StoredEvent } from './esdb-server/storage/engine.js';

// Signals in and live correlation (Phase 2.2 over recorded signal facts)
export { correlationModule, CORRELATION_TOKENS } from './correlation/module.js';
export type { CorrelationService } from './correlation/correlation-service.js';
export type { LiveCorrelation, LiveCorrelationOptions, CorrelateOnceReport } from './correlation/correlation-runner.js';
export type { CorrelatorStats } from './correlation/live-correlator.js';
// The alert automation (ALERT_AUTOMATION resolves an incident whose alerts all resolved, when granted)
export type { AutoResolver, AutoResolverStats } from './auto-resolution/auto-resolver.js';
export type { AutoResolutionAuditReport, AutoResolutionDivergence } from './auto-resolution/auto-resolution-audit.js';
export type { CorrelationRule, CorrelationRuleSet } from './correlation/correlation-rule.js';
export type { SignalRecorder, RecordReport, RecordedInput, RecordOutcome, RecordEdge } from './signals/signal-recorder.js';
export type { SignalFact, SignalStatus } from './signals/signal-events.js';
export type { SignalInput } from './signals/alertmanager.js';
export { alertmanagerInputs, isAlertmanagerPayload } from './signals/alertmanager.js';
export { valueInputs } from './signals/signal-input.js';
export type { SourcesConfig, SourceMapping } from './signals/source-mapping.js';
export type { CandidateContext } from './correlation/correlator.js';

// The receiver and operator API (what `opx serve` runs), for a host to run or mount
export { startServe } from './serve/serve.js';
export type { ServeOptions, RunningServe } from './serve/serve.js';
export { requestHandler } from './http/http-app.js';
export { PrincipalDirectory, newToken, tokenHash, ROLES } from './principals/principals.js';
export type { Principal, Role, Authenticated } from './principals/principals.js';
export { StaleIncident } from './incidents/incident-manager.js';

// The replay audit and what-if
export { auditReplay, whatIfPolicy } from './container/replay.js';
export type { HistoryAuditReport } from './replay/history-audit.js';
export type { CorrelationAuditReport, CorrelationDivergence } from './correlation/correlation-audit.js';
export type { ReplayReport, ReplayOptions, Divergence, PolicyDrift } from './replay/replay-audit.js';
export type { WhatIfReport, WhatIfChange } from './replay/what-if.js';
