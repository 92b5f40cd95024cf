import { createFilter, type EventFilter } from '../filters.js';
import type { StoredEvent } from '../storage/engine.js';
import { ALL_STREAM, LINK_EVENT_TYPE, type EventStoreCore } from '../store.js';
import type { Message } from './messages.js';
import type { GroupFilter } from './settings.js';

const PAGE_SIZE = 256;

const ALL_GROUPS_PREFIX = '$persistentsubscription-$all::';

/**
 * What a `$all` group without a filter is given, EventStoreDB's DefaultAllFilterStrategy: every
 * event except `$epoch-information` and the checkpoints and parked messages of `$all` groups
 * (a group would otherwise be handed its own checkpoints and parked messages).
 */
export const defaultAllowed = (streamId: string): boolean =>
  !streamId.startsWith('$') ||
  (streamId !== '$epoch-information' &&
    !(streamId.startsWith(ALL_GROUPS_PREFIX) && (streamId.endsWith('-checkpoint') || streamId.endsWith('-parked'))));

/**
 * Reads a group's source after its cursor: a stream by revision, or `$all` by position through
 * the group's filter, resolving links when the group asks for it. Each message read carries the
 * cursor before it, for the checkpoint.
 */
export class SourceReader {
  #cursor: bigint;
  #seq = 0;
  #filter: EventFilter | undefined;

  constructor(
    private readonly store: EventStoreCore,
    readonly source: string,
    cursor: bigint,
    filter: GroupFilter | undefined,
    private readonly resolveLinks: () => boolean,
  ) {
    this.#cursor = cursor;
    this.#filter = filter === undefined ? undefined : createFilter(filter.on, filter);
  }

  get isAll(): boolean {
    return this.source === ALL_STREAM;
  }

  /** The revision or position of the last event read (or skipped by the filter). */
  get cursor(): bigint {
    return this.#cursor;
  }

  setFilter(filter: GroupFilter | undefined): void {
    this.#filter = filter === undefined ? undefined : createFilter(filter.on, filter);
  }

  /** Whether the source has anything after the cursor. */
  hasMore(): boolean {
    if (this.isAll) return this.store.lastPosition() > this.#cursor;
    const last = this.store.streamLastRevision(this.source);
    return last !== undefined && last > this.#cursor;
  }

  /** Reads one page after the cursor into `into` (filtered); false when the cursor did not move. */
  readBatch(into: Message[]): boolean {
    const before = this.#cursor;
    if (this.isAll) {
      for (const row of this.store.readAllForward(this.#cursor + 1n, PAGE_SIZE)) {
        const prev = this.#cursor;
        this.#cursor = row.position;
        if (this.#filter === undefined ? !defaultAllowed(row.streamId) : !this.#filter.matches(row)) continue;
        this.#enqueue(into, row, prev);
      }
    } else {
      const page = this.store.readStreamPage(this.source, 'forwards', this.#cursor + 1n, PAGE_SIZE);
      if (page.status !== 'ok') return false;
      for (const row of page.events) {
        const prev = this.#cursor;
        this.#cursor = row.revision;
        this.#enqueue(into, row, prev);
      }
      if (page.next !== undefined && page.next - 1n > this.#cursor) this.#cursor = page.next - 1n;
      if (page.events.length === 0 && page.next === undefined) {
        // everything left is truncated ($tb, $maxCount): skip to the end
        const last = this.store.streamLastRevision(this.source);
        if (last !== undefined && last > this.#cursor) this.#cursor = last;
      }
    }
    return this.#cursor !== before;
  }

  #enqueue(into: Message[], row: StoredEvent, prev: bigint): void {
    let event = row;
    let link: StoredEvent | undefined;
    if (this.resolveLinks() && row.type === LINK_EVENT_TYPE) {
      const resolved = this.store.resolveLink(row);
      if (resolved !== undefined) {
        event = resolved;
        link = row;
      }
    }
    into.push({
      seq: this.#seq++,
      event,
      link,
      ackId: row.eventId,
      retryCount: 0,
      prev,
      cursor: this.isAll ? row.position : row.revision,
    });
  }
}
