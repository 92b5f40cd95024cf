import { InMemoryEventStore } from '../../src/eventstore/in-memory-event-store.js';
import { describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract(InMemoryEventStore.name, () => new InMemoryEventStore());
