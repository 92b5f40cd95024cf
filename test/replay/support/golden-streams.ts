import { loadConfig } from '../../../src/container/config.js';
import type { RecordedEvent } from '../../../src/eventstore/event-store.js';
import { InMemoryEventStore } from '../../../src/eventstore/in-memory-event-store.js';
import { importHistory } from '../../../src/replay/history-file.js';
import { goldenHistoryLines } from '../../support/golden.js';

export const config = loadConfig();

/** The golden history in an in-memory store, with ways to pick its streams by what happened on them. */
export class GoldenStreams {
  private constructor(readonly store: InMemoryEventStore) {}

  static async load(): Promise<GoldenStreams> {
    const store = new InMemoryEventStore();
    await importHistory(store, goldenHistoryLines());
    return new GoldenStreams(store);
  }

  /** The events of a stream, in order. */
  events(streamId: string): readonly RecordedEvent[] {
    return this.store.snapshot(streamId);
  }

  /** A candidate stream whose types are exactly `types`, in order. */
  candidateStream(...types: string[]): readonly RecordedEvent[] {
    for (const streamId of this.store.streamIds()) {
      const events = this.events(streamId);
      if (streamId.startsWith('candidate-') && events.map((e) => e.type).join() === types.join()) return events;
    }
    throw new Error(`test setup: no candidate stream of ${types.join(', ')}`);
  }

  /** The candidate stream of a PROMOTE by the engine, and the IncidentOpened of the incident it opened. */
  promoted(): { readonly stream: readonly RecordedEvent[]; readonly opened: RecordedEvent } {
    const stream = this.candidateStream('CandidateCreated', 'PromotionDecided', 'IncidentCreated');
    const incidentId = (stream[2]?.data as { incidentId: string }).incidentId;
    const opened = this.events(`incident-${incidentId}`)[0];
    if (opened === undefined) throw new Error('test setup: the incident stream is missing');
    return { stream, opened };
  }
}

/** A recorded event with other data (and everything else as recorded). */
export const withData = (event: RecordedEvent, data: Record<string, unknown>): RecordedEvent => ({
  ...event,
  data: { ...event.data, ...data } as RecordedEvent['data'],
});
