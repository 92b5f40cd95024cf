import { ContainerModule, type ServiceIdentifier } from 'inversify';

import { EsdbEventStore } from '../eventstore/esdb/esdb-event-store.js';
import { WORKER_TOKENS } from '../worker/tokens.js';
import { TOKENS } from './tokens.js';

/** The one EsdbEventStore instance (one client, one connection pool) behind both ports. */
export const ESDB_EVENT_STORE = Symbol.for('opx/EsdbEventStore') as ServiceIdentifier<EsdbEventStore>;

/**
 * Binds the EventStoreDB adapter: TOKENS.EventStore and WORKER_TOKENS.PersistentSubscriptions
 * both resolve to one EsdbEventStore singleton, created by a factory (no decorator touches it).
 * Whoever owns the container closes it (`container.get(TOKENS.EventStore).close()`).
 */
export function esdbEventStoreModule(connectionString: string): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(ESDB_EVENT_STORE)
      .toResolvedValue(() => EsdbEventStore.fromConnectionString(connectionString))
      .inSingletonScope();
    bind(TOKENS.EventStore).toService(ESDB_EVENT_STORE);
    bind(WORKER_TOKENS.PersistentSubscriptions).toService(ESDB_EVENT_STORE);
  });
}
