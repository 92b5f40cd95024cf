import type { ServiceIdentifier } from 'inversify';
import type { Registry } from 'prom-client';

import type { PersistentSubscriptions } from '../eventstore/event-store.js';
import type { CandidateWorker, CandidateWorkerOptions } from './worker.js';

/**
 * The worker's typed tokens (registered globally, like the core's TOKENS). A host that embeds
 * the worker binds PersistentSubscriptions (esdbEventStoreModule does) and may bind its own
 * prom-client Registry; otherwise the worker module creates one.
 */
export const WORKER_TOKENS = {
  PersistentSubscriptions: Symbol.for('opx/PersistentSubscriptions') as ServiceIdentifier<PersistentSubscriptions>,
  MetricsRegistry: Symbol.for('opx/MetricsRegistry') as ServiceIdentifier<Registry>,
  WorkerOptions: Symbol.for('opx/CandidateWorkerOptions') as ServiceIdentifier<Partial<CandidateWorkerOptions>>,
  CandidateWorker: Symbol.for('opx/CandidateWorker') as ServiceIdentifier<CandidateWorker>,
} as const;
