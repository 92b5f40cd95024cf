import type { Container } from 'inversify';

import { loadConfig } from '../../../src/container/config.js';
import { createOpxContainer } from '../../../src/container/modules.js';
import { TOKENS } from '../../../src/container/tokens.js';
import type { RecordedEvent } from '../../../src/eventstore/event-store.js';
import { runScenario } from '../../../src/runtime/scenario.js';
import { generateSampleSignals } from '../../../src/samples/sample-signals.js';
import { FixedClock } from '../../../src/shared/clock.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { TamperingStore } from './tampering-store.js';

/**
 * A realistic history over a {@link TamperingStore}: signals recorded, correlated live into group
 * streams and candidates, decided (PROMOTE, DEFER, SUPPRESS), incidents opened, one deferred
 * candidate promoted by a human, and one incident acknowledged; with the attempt log, checkpoints
 * and the projection's streams beside, as a real run leaves them.
 */
export class IntegrityWorld {
  private constructor(
    readonly container: Container,
    readonly store: TamperingStore,
  ) {}

  static async recorded(options: { readonly groups?: number } = {}): Promise<IntegrityWorld> {
    const store = new TamperingStore();
    const container = createOpxContainer({ config: loadConfig() });
    container.rebind(TOKENS.EventStore).toConstantValue(store);
    container.rebind(TOKENS.Clock).toConstantValue(new FixedClock('2026-06-01T12:00:00.000Z'));
    container.rebind(TOKENS.Logger).toConstantValue(silentLogger);
    const world = new IntegrityWorld(container, store);
    await runScenario(container, generateSampleSignals({ groups: options.groups ?? 24, seed: 7 }), { manualPromotions: 1 });
    const incident = (await world.events()).find((e) => e.type === 'IncidentOpened');
    if (incident === undefined) throw new Error('the scenario opened no incident');
    await container.get(TOKENS.IncidentManager).transition((incident.data as { incidentId: string }).incidentId, {
      action: 'ACKNOWLEDGE_INCIDENT',
      at: '2026-06-01T12:30:00.000Z',
      authority: { authorityType: 'ON_CALL_RESPONDER', authorityId: 'bob', sessionId: 'ack-1', justification: 'looking' },
    });
    return world;
  }

  /** Every event of `$all` as the store reads now. */
  async events(): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    for await (const e of this.store.readAll()) events.push(e);
    return events;
  }

  /** The first event of this type (on a stream with this prefix, if given). */
  async first(type: string, prefix = ''): Promise<RecordedEvent> {
    const found = (await this.events()).find((e) => e.type === type && e.streamId.startsWith(prefix));
    if (found === undefined) throw new Error(`no ${type} recorded`);
    return found;
  }
}
