import type { CatchUpSubscription, EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { INCIDENT_STATES, type IncidentState } from '../incidents/incident-events.js';
import type { Logger } from '../shared/logger.js';
import { ArrivalIndex } from './arrival-index.js';
import { projectOrReport, type PoisonEvent } from './live-projection.js';
import { emptyReadModels, PROJECTED_STREAM_PREFIXES, type DeferredRow, type IncidentRow, type ReadModels } from './read-models.js';

export interface Page<T> {
  readonly rows: readonly T[];
  /** Pass as `before` for the next (older) page; absent on the last one. */
  readonly next?: string;
  readonly total: number;
}

/** Called after each event the read models took in (or passed over as poison), in order. */
export type ProjectedListener = (recorded: RecordedEvent, models: ReadModels) => void;

/**
 * The read models held in memory and kept current by a catch-up subscription (what `opx serve`
 * answers the operator API and console from): the same fold as every other projection, an event
 * it cannot take passed over and reported, and the incident (by state) and deferred rows indexed
 * in arrival order, so a page newest first costs its own length, never a pass over the whole set.
 */
export class LiveReadModels {
  private models: ReadModels = emptyReadModels();
  private readonly incidentIndex = new ArrivalIndex<IncidentState>();
  private readonly deferredIndex = new ArrivalIndex<'deferred'>();
  private readonly listeners: ProjectedListener[] = [];
  private readonly poisoned: PoisonEvent[] = [];
  private subscription: CatchUpSubscription | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private eventsProjected = 0;
  private lastPosition: bigint | undefined;
  private readonly waiters: Array<{ readonly position: bigint; readonly resolve: () => void }> = [];

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    await this.loop;
  }

  get current(): ReadModels {
    return this.models;
  }

  get poison(): readonly PoisonEvent[] {
    return this.poisoned;
  }

  get position(): bigint | undefined {
    return this.lastPosition;
  }

  get projected(): number {
    return this.eventsProjected;
  }

  /** Resolves once the models include the event at `position` (the answer to a write the same client made). */
  reached(position: bigint): Promise<void> {
    if (this.lastPosition !== undefined && this.lastPosition >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  /**
   * Tells `listener` of every event after the models took it in (the console's live view and its
   * side indexes); returns the way to stop. A listener that throws is logged, never allowed to
   * stop the projection.
   */
  onProjected(listener: ProjectedListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** Incidents newest first, optionally in one state; `before` is the incident id the previous page ended with. */
  incidents(options: { readonly state?: string; readonly limit: number; readonly before?: string }): Page<IncidentRow> {
    const states = options.state === undefined ? INCIDENT_STATES : INCIDENT_STATES.filter((s) => s === options.state);
    return page(this.incidentIndex, states, (id) => this.models.incidents[id], options);
  }

  /** Deferred candidates waiting for a human, newest first. */
  deferred(options: { readonly limit: number; readonly before?: string }): Page<DeferredRow> {
    return page(this.deferredIndex, ['deferred'], (id) => this.models.deferred[id], options);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        this.subscription = this.store.subscribeToAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES, ...(this.lastPosition === undefined ? {} : { after: this.lastPosition }) });
        for await (const recorded of this.subscription) {
          attempt = 0;
          this.models = projectOrReport(this.models, recorded, this.poisoned);
          if (this.poisoned.length > 1_000) this.poisoned.splice(0, this.poisoned.length - 1_000);
          this.reindex(recorded);
          this.eventsProjected++;
          this.lastPosition = recorded.position;
          this.tell(recorded);
          this.wake();
        }
        if (this.stopped) return;
      } catch (error) {
        if (this.stopped) return;
        this.logger.warn({ err: error, attempt }, 'read models lost their subscription; catching up again');
      }
      attempt++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 200 * 2 ** Math.min(attempt, 6))));
    }
  }

  /** The rows an event can add, move or remove are its incident's and its candidate's: their places follow the models. */
  private reindex(recorded: RecordedEvent): void {
    const data = recorded.data as Record<string, unknown> | null;
    if (typeof data !== 'object' || data === null) return; // a poison event of no shape: nothing to place
    const { incidentId, candidateId } = data;
    if (typeof incidentId === 'string') {
      const row = Object.prototype.hasOwnProperty.call(this.models.incidents, incidentId) ? this.models.incidents[incidentId] : undefined;
      this.incidentIndex.place(incidentId, row?.state);
    }
    if (typeof candidateId === 'string') {
      const deferred = Object.prototype.hasOwnProperty.call(this.models.deferred, candidateId);
      this.deferredIndex.place(candidateId, deferred ? 'deferred' : undefined);
    }
  }

  private tell(recorded: RecordedEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(recorded, this.models);
      } catch (error) {
        this.logger.warn({ err: error, streamId: recorded.streamId, revision: recorded.revision.toString() }, 'a read-model listener failed');
      }
    }
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter !== undefined && this.lastPosition !== undefined && this.lastPosition >= waiter.position) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}

/** A page of rows, newest first, from an index's subsets. */
function page<K extends string, T>(index: ArrivalIndex<K>, subsets: readonly K[], rowOf: (id: string) => T | undefined, options: { readonly limit: number; readonly before?: string }): Page<T> {
  const { ids, more } = index.page(subsets, options.limit, options.before);
  const rows = ids.map((id) => rowOf(id) as T);
  const last = ids.at(-1);
  return { rows, total: index.size(subsets), ...(more && last !== undefined ? { next: last } : {}) };
}
