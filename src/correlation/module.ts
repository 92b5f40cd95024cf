import { ContainerModule, type ServiceIdentifier } from 'inversify';

import { TOKENS } from '../container/tokens.js';
import { SignalRecorder } from '../signals/signal-recorder.js';
import { CorrelationService } from './correlation-service.js';

/** Typed tokens of signal intake and correlation. */
export const CORRELATION_TOKENS = {
  SignalRecorder: Symbol.for('opx/SignalRecorder') as ServiceIdentifier<SignalRecorder>,
  Correlation: Symbol.for('opx/Correlation') as ServiceIdentifier<CorrelationService>,
} as const;

/**
 * Signals in and Phase 2.2 correlation: the recorder every source goes through (CLI, receiver, a
 * host) and the correlation service every runtime runs. Needs the orchestration module's store,
 * CP-5, CP-7 (the alert automation resolves through it), config, clock and logger.
 */
export function correlationModule(): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(CORRELATION_TOKENS.SignalRecorder)
      .toResolvedValue((store, clock) => new SignalRecorder(store, clock), [TOKENS.EventStore, TOKENS.Clock])
      .inSingletonScope();
    bind(CORRELATION_TOKENS.Correlation)
      .toResolvedValue(
        (store, candidates, config, clock, logger, incidents, matrix) => new CorrelationService(store, candidates, config.correlationRules, clock, logger, { incidents, matrix }),
        [TOKENS.EventStore, TOKENS.CandidateStore, TOKENS.Config, TOKENS.Clock, TOKENS.Logger, TOKENS.IncidentManager, TOKENS.AuthorityMatrix],
      )
      .inSingletonScope();
  });
}
