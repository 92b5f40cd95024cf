import { ContainerModule } from 'inversify';
import { Registry } from 'prom-client';

import { TOKENS } from '../container/tokens.js';
import { WORKER_TOKENS } from './tokens.js';
import { CandidateWorker, type CandidateWorkerOptions } from './worker.js';

/**
 * Binds the CandidateWorker (singleton) from the orchestration module's HandlerContext,
 * CandidateStore and Logger, the PersistentSubscriptions port (esdbEventStoreModule) and a metrics Registry: the
 * host's when `registry` is given, else a fresh one.
 */
export function workerModule(options: { readonly worker?: Partial<CandidateWorkerOptions>; readonly registry?: Registry } = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(WORKER_TOKENS.MetricsRegistry).toConstantValue(options.registry ?? new Registry());
    bind(WORKER_TOKENS.WorkerOptions).toConstantValue(options.worker ?? {});
    bind(WORKER_TOKENS.CandidateWorker)
      .toResolvedValue(
        (subscriptions, context, logger, registry, workerOptions) => new CandidateWorker({ subscriptions, context, logger, metrics: registry }, workerOptions),
        [WORKER_TOKENS.PersistentSubscriptions, TOKENS.HandlerContext, TOKENS.Logger, WORKER_TOKENS.MetricsRegistry, WORKER_TOKENS.WorkerOptions],
      )
      .inSingletonScope();
  });
}
