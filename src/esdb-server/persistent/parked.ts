import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '../storage/engine.js';
import { DELETED_STREAM, LINK_EVENT_TYPE, type EventStoreCore } from '../store.js';

/**
 * A group's parked messages: `$>` links in `$persistentsubscription-<source>::<group>-parked`,
 * with EventStoreDB's parked-message metadata; replay moves the stream's `$tb` past them.
 */

const PAGE_SIZE = 256;

export const parkedStreamOf = (source: string, group: string): string =>
  `$persistentsubscription-${source}::${group}-parked`;

/** Appends the link to a parked message; undefined when the parked stream is tombstoned (nothing is written). */
export const writeParked = (store: EventStoreCore, parkedStream: string, event: StoredEvent, reason: string, now: number): StoredEvent | undefined => {
  const metadata = {
    Added: new Date(now).toISOString(),
    Reason: reason,
    SubscriptionEventNumber: Number(event.revision),
  };
  return store.appendSystem(parkedStream, {
    eventId: randomUUID(),
    type: LINK_EVENT_TYPE,
    contentType: 'application/octet-stream',
    data: Buffer.from(`${event.revision}@${event.streamId}`, 'utf8'),
    metadata: Buffer.from(JSON.stringify(metadata), 'utf8'),
  });
};

/** Parked messages not yet replayed (the parked stream's revisions from its `$tb` on). */
export const parkedMessageCount = (store: EventStoreCore, parkedStream: string): bigint => {
  const last = store.streamLastRevision(parkedStream);
  if (last === undefined || last === DELETED_STREAM) return 0n;
  const tb = store.metadataOf(parkedStream).truncateBefore ?? 0n;
  const count = last - tb + 1n;
  return count > 0n ? count : 0n;
};

/**
 * The parked links (up to, not including, parked-stream revision `stopAt`) with the events they
 * point at, and the parked stream truncated before `stopAt`: they are handed back to the group.
 */
export const takeParkedForReplay = (
  store: EventStoreCore,
  parkedStream: string,
  stopAt: bigint | undefined,
): { readonly link: StoredEvent; readonly event: StoredEvent }[] => {
  const last = store.streamLastRevision(parkedStream);
  if (last === undefined || last === DELETED_STREAM) return [];
  const end = stopAt !== undefined && stopAt < last + 1n ? stopAt : last + 1n;
  let next = 0n;
  const replayed: { link: StoredEvent; event: StoredEvent }[] = [];
  while (next < end) {
    const page = store.readStreamPage(parkedStream, 'forwards', next, PAGE_SIZE);
    if (page.status !== 'ok') break;
    for (const link of page.events) {
      if (link.revision >= end) break;
      const event = store.resolveLink(link);
      if (event !== undefined) replayed.push({ link, event });
    }
    const lastEvent = page.events[page.events.length - 1];
    if (page.next === undefined || lastEvent === undefined) break;
    next = page.next;
  }
  store.writeMetadataSystem(parkedStream, {}, end);
  return replayed;
};
