import { Container, ContainerModule } from 'inversify';
import { pino } from 'pino';

import { CandidateStore } from '../candidates/candidate-store.js';
import { correlationModule } from '../correlation/module.js';
import { InMemoryEventStore } from '../eventstore/in-memory-event-store.js';
import { IncidentManager } from '../incidents/incident-manager.js';
import { IncidentOrchestrator } from '../orchestration/incident-orchestrator.js';
import { candidateHandlers } from '../orchestration/candidate-handlers.js';
import { InProcessMessageBus } from '../orchestration/message-bus.js';
import { OrchestrationStore } from '../orchestration/orchestration-store.js';
import { assertPoliciesMatchLock } from '../promotion/policy-lock.js';
import { PromotionEngine } from '../promotion/promotion-engine.js';
import { systemClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { loadConfig, type OpxConfig } from './config.js';
import { TOKENS } from './tokens.js';

/** A pino logger writing JSON to stderr (stdout stays free for command output). */
export function defaultLogger(level: string = process.env['OPX_LOG_LEVEL'] ?? 'warn'): Logger {
  return pino({ level, base: { service: 'opx-orchestration' } }, pino.destination(2));
}

/**
 * The orchestration module: CP-5, CP-6, CP-7, the orchestrator, the bus, the attempt log and the
 * handlers a host orchestrates through (`TOKENS.CandidateHandlers`), each bound with a factory
 * (no decorators on domain classes). It needs an EventStore bound by a store module or by the
 * host. Clock, logger and bus have defaults a host can rebind; the config is loaded from the
 * package's config/ (or `OPX_CONFIG_DIR`) unless given.
 */
export function orchestrationModule(options: { readonly config?: OpxConfig } = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Clock).toConstantValue(systemClock);
    bind(TOKENS.Logger).toResolvedValue(() => defaultLogger()).inSingletonScope();
    bind(TOKENS.Config).toResolvedValue(() => options.config ?? loadConfig()).inSingletonScope();
    // What CP-6 decides under: refused here, before anything can decide, when a policy differs from its lock.
    bind(TOKENS.PolicyRegistry)
      .toResolvedValue((config) => {
        assertPoliciesMatchLock(config.policies, config.policyLock);
        return config.policies;
      }, [TOKENS.Config])
      .inSingletonScope();
    bind(TOKENS.AuthorityMatrix).toResolvedValue((config) => config.authorityMatrix, [TOKENS.Config]).inSingletonScope();
    bind(TOKENS.CandidateStore).toResolvedValue((store) => new CandidateStore(store), [TOKENS.EventStore]).inSingletonScope();
    bind(TOKENS.PromotionEngine)
      .toResolvedValue((store, candidates, policies, matrix) => new PromotionEngine(store, candidates, policies, matrix), [
        TOKENS.EventStore,
        TOKENS.CandidateStore,
        TOKENS.PolicyRegistry,
        TOKENS.AuthorityMatrix,
      ])
      .inSingletonScope();
    bind(TOKENS.IncidentManager)
      .toResolvedValue((store, candidates, matrix) => new IncidentManager(store, candidates, matrix), [TOKENS.EventStore, TOKENS.CandidateStore, TOKENS.AuthorityMatrix])
      .inSingletonScope();
    bind(TOKENS.MessageBus).toResolvedValue((logger) => new InProcessMessageBus(logger), [TOKENS.Logger]).inSingletonScope();
    bind(TOKENS.OrchestrationStore).toResolvedValue((store, logger) => new OrchestrationStore(store, { logger }), [TOKENS.EventStore, TOKENS.Logger]).inSingletonScope();
    bind(TOKENS.IncidentOrchestrator)
      .toResolvedValue(
        (promotionEngine, incidentManager, candidateStore, eventEmitter, orchestrationStore, clock, logger) =>
          new IncidentOrchestrator({ promotionEngine, incidentManager, candidateStore, eventEmitter, orchestrationStore }, { clock, logger }),
        [TOKENS.PromotionEngine, TOKENS.IncidentManager, TOKENS.CandidateStore, TOKENS.MessageBus, TOKENS.OrchestrationStore, TOKENS.Clock, TOKENS.Logger],
      )
      .inSingletonScope();
    bind(TOKENS.HandlerContext)
      .toResolvedValue((orchestrator, logger, candidates) => ({ orchestrator, logger, candidates }), [TOKENS.IncidentOrchestrator, TOKENS.Logger, TOKENS.CandidateStore])
      .inSingletonScope();
    bind(TOKENS.CandidateHandlers).toResolvedValue((context, candidates) => candidateHandlers(context, candidates), [TOKENS.HandlerContext, TOKENS.CandidateStore]).inSingletonScope();
  });
}

/** Binds the in-memory event store (tests, `npm start`, single-process use). */
export function inMemoryEventStoreModule(): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.EventStore).toResolvedValue((clock) => new InMemoryEventStore(() => clock.now()), [TOKENS.Clock]).inSingletonScope();
  });
}

/** A ready container: the orchestration module plus a store module (in-memory by default). */
export function createOpxContainer(options: { readonly config?: OpxConfig; readonly storeModule?: ContainerModule } = {}): Container {
  const container = new Container();
  container.load(orchestrationModule(options.config === undefined ? {} : { config: options.config }), correlationModule(), options.storeModule ?? inMemoryEventStoreModule());
  return container;
}
