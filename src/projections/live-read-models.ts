import type { CatchUpSubscription, EventStore } from '../eventstore/event-store.js';
import type { Logger } from '../shared/logger.js';
import { projectOrReport, type PoisonEvent } from './live-projection.js';
import { emptyReadModels, PROJECTED_STREAM_PREFIXES, type DeferredRow, type IncidentRow, type ReadModels } from './read-models.js';

export interface Page<T> {
  readonly rows: readonly T[];
  /** Pass as `before` for the next (older) page; absent on the last one. */
  readonly next?: string;
  readonly total: number;
}

/**
 * The read models held in memory and kept current by a catch-up subscription (what `opx serve`
 * answers the operator API and console from): the same fold as every other projection, an event
 * it cannot take passed over and reported, and the incident and deferred rows kept in arrival
 * order so the newest page is read from the end, never by sorting the whole set.
 */
export class LiveReadModels {
  private models: ReadModels = emptyReadModels();
  private readonly incidentOrder: string[] = [];
  private readonly deferredOrder: string[] = [];
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

  /** Incidents newest first, optionally in one state; `before` is the incident id the previous page ended with. */
  incidents(options: { readonly state?: string; readonly limit: number; readonly before?: string }): Page<IncidentRow> {
    return page(this.incidentOrder, (id) => this.models.incidents[id], options, (row) => options.state === undefined || row.state === options.state);
  }

  /** Deferred candidates waiting for a human, newest first. */
  deferred(options: { readonly limit: number; readonly before?: string }): Page<DeferredRow> {
    return page(this.deferredOrder, (id) => this.models.deferred[id], options, () => true);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        this.subscription = this.store.subscribeToAll({ streamPrefixes: PROJECTED_STREAM_PREFIXES, ...(this.lastPosition === undefined ? {} : { after: this.lastPosition }) });
        for await (const recorded of this.subscription) {
          attempt = 0;
          const hadIncident = Object.prototype.hasOwnProperty.call(this.models.incidents, recorded.data['incidentId'] as string);
          this.models = projectOrReport(this.models, recorded, this.poisoned);
          if (this.poisoned.length > 1_000) this.poisoned.splice(0, this.poisoned.length - 1_000);
          if (recorded.type === 'IncidentOpened' && !hadIncident && typeof recorded.data['incidentId'] === 'string' && this.models.incidents[recorded.data['incidentId']] !== undefined) {
            this.incidentOrder.push(recorded.data['incidentId']);
          }
          if (recorded.type === 'PromotionDecided' && recorded.data['decision'] === 'DEFER' && typeof recorded.data['candidateId'] === 'string') this.deferredOrder.push(recorded.data['candidateId']);
          this.eventsProjected++;
          this.lastPosition = recorded.position;
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

/**
 * From the end of `order` (newest), skipping ids whose row is gone (a deferred candidate promoted
 * since) and, with `before`, up to it. Ids are unique in `order`: one IncidentOpened per incident,
 * one automatic DEFER per candidate.
 */
function page<T>(order: readonly string[], rowOf: (id: string) => T | undefined, options: { readonly limit: number; readonly before?: string }, keep: (row: T) => boolean): Page<T> {
  const rows: T[] = [];
  let i = order.length - 1;
  if (options.before !== undefined) {
    const at = order.lastIndexOf(options.before);
    i = at < 0 ? -1 : at - 1;
  }
  let lastId: string | undefined;
  for (; i >= 0 && rows.length < options.limit; i--) {
    const id = order[i] as string;
    const row = rowOf(id);
    if (row === undefined || !keep(row)) continue;
    rows.push(row);
    lastId = id;
  }
  let total = 0;
  for (const id of order) {
    const row = rowOf(id);
    if (row !== undefined && keep(row)) total++;
  }
  return { rows, total, ...(i >= 0 && lastId !== undefined ? { next: lastId } : {}) };
}
