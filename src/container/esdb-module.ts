import { ContainerModule, type ServiceIdentifier } from 'inversify';

import { EsdbEventStore, type EsdbEndpoint } from '../eventstore/esdb/esdb-event-store.js';
import { WORKER_TOKENS } from '../worker/tokens.js';
import { TOKENS } from './tokens.js';

/** The one EsdbEventStore instance (one client, one connection pool) behind both ports. */
export const ESDB_EVENT_STORE = Symbol.for('opx/EsdbEventStore') as ServiceIdentifier<EsdbEventStore>;

/**
 * Binds the EventStoreDB adapter: TOKENS.EventStore and WORKER_TOKENS.PersistentSubscriptions
 * both resolve to one EsdbEventStore singleton, created by a factory (no decorator touches it).
 * Whoever owns the container closes it (`container.get(TOKENS.EventStore).close()`).
 * The server: a connection string (credentials and CA in it), or an endpoint (an embedded server
 * of this process: `server.endpoint`, with the credentials it made).
 */
export function esdbEventStoreModule(server: string | EsdbEndpoint): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(ESDB_EVENT_STORE)
      .toResolvedValue(() => (typeof server === 'string' ? EsdbEventStore.fromConnectionString(server) : EsdbEventStore.fromEndpoint(server)))
      .inSingletonScope();
    bind(TOKENS.EventStore).toService(ESDB_EVENT_STORE);
    bind(WORKER_TOKENS.PersistentSubscriptions).toService(ESDB_EVENT_STORE);
  });
}
