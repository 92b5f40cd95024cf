import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { ServerLog } from '../log.js';
import { describeError, Exceptions } from '../rpc.js';
import { createFilter, DEFAULT_MAX_SEARCH_WINDOW, type EventFilter } from '../filters.js';
import type { StoredEvent } from '../storage/engine.js';
import { ALL_STREAM, DELETED_STREAM, LINK_EVENT_TYPE, type EventStoreCore } from '../store.js';
import type { GroupDefinition, GroupSettings } from './settings.js';

/**
 * One persistent-subscription group: competing consumers, in-flight tracking with message
 * timeouts, retry then parking, parked-message replay and checkpoints. Semantics follow
 * EventStoreDB's PersistentSubscription (read, not copied):
 * - a message is retried while its retryCount < maxRetryCount, then parked as a `$>` link in
 *   `$persistentsubscription-<source>::<group>-parked`;
 * - retries and replayed parked messages go before new ones; delivery stops at the first message
 *   no consumer can take (head of line), so per-consumer buffers bound memory;
 * - the checkpoint is the position just before the oldest unfinished message (or the last read
 *   one when nothing is pending), written after maxCheckpointCount completions or after
 *   checkpointAfter with at least minCheckpointCount; on restart delivery resumes after it, so
 *   delivery is at-least-once.
 */

export interface Delivery {
  readonly event: StoredEvent | undefined;
  readonly link: StoredEvent | undefined;
  /** The position reported as the delivery's commit position. */
  readonly position: bigint;
  readonly retryCount: number;
}

export interface Consumer {
  readonly id: string;
  readonly connectionName: string;
  readonly from: string;
  readonly bufferSize: number;
  inFlight: number;
  totalItems: number;
  send(delivery: Delivery): void;
  /** Ends the consumer's call with an error (group deleted). */
  drop(error: unknown): void;
}

interface Message {
  /** Sequence in the source; undefined for replayed parked messages (not checkpointed). */
  readonly seq: number | undefined;
  readonly event: StoredEvent;
  readonly link: StoredEvent | undefined;
  readonly ackId: string;
  readonly retryCount: number;
  /** Source cursor just before this message (revision or position). */
  readonly prev: bigint;
  /** This message's own cursor value. */
  readonly cursor: bigint;
}

interface InFlight {
  readonly message: Message;
  readonly consumer: Consumer;
  readonly expiresAt: number;
}

export type NackAction = 'unknown' | 'park' | 'retry' | 'skip' | 'stop';

const PAGE_SIZE = 256;
const MAX_BUFFER = 1000;
const MAX_PAGES_PER_PUMP = 40;

const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};

export const parkedStreamOf = (source: string, group: string): string =>
  `$persistentsubscription-${source}::${group}-parked`;

export class SubscriptionGroup {
  readonly consumers: Consumer[] = [];
  readonly parkedStream: string;
  #definition: GroupDefinition;
  #filter: EventFilter | undefined;
  #cursor: bigint;
  #seq = 0;
  readonly #buffer: Message[] = [];
  #retry: Message[] = [];
  readonly #inFlight = new Map<string, InFlight>();
  /** Unfinished source messages (in flight or awaiting retry), in sequence order. */
  readonly #pending = new Map<number, Message>();
  #lastPushedCursor: bigint | undefined;
  #checkpoint: bigint | undefined;
  #completedSinceCheckpoint = 0;
  #lastCheckpointAt: number;
  #roundRobin = 0;
  #totalItems = 0;
  #stopped = false;
  #pumpScheduled = false;

  constructor(
    readonly source: string,
    readonly group: string,
    definition: GroupDefinition,
    checkpoint: bigint | undefined,
    private readonly store: EventStoreCore,
    private readonly clock: Clock,
    private readonly saveCheckpoint: (checkpoint: bigint) => void,
    private readonly log: ServerLog,
  ) {
    this.parkedStream = parkedStreamOf(source, group);
    this.#definition = definition;
    this.#filter = this.#createFilter(definition);
    this.#checkpoint = checkpoint;
    this.#cursor = checkpoint ?? definition.initialCursor;
    this.#lastCheckpointAt = clock.now();
  }

  get isAll(): boolean {
    return this.source === ALL_STREAM;
  }

  get settings(): GroupSettings {
    return this.#definition.settings;
  }

  get definition(): GroupDefinition {
    return this.#definition;
  }

  #createFilter(definition: GroupDefinition): EventFilter | undefined {
    const f = definition.filter;
    return f === undefined ? undefined : createFilter(f.on, f);
  }

  update(definition: GroupDefinition): void {
    this.#definition = definition;
    this.#filter = this.#createFilter(definition);
    this.pump();
  }

  // ------------------------------------------------------------------ consumers

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.pump();
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    this.consumers.splice(index, 1);
    const lost = [...this.#inFlight.values()].filter((f) => f.consumer === consumer);
    // Like a nack 'retry' (EventStoreDB's RetryMessage after a client leaves): retried while
    // retryCount < maxRetryCount, then parked, so an event that ends every subscription it
    // reaches cannot come back forever.
    for (const flight of lost) {
      this.#inFlight.delete(flight.message.ackId);
      this.#retryOrPark(flight.message);
    }
    if (this.consumers.length === 0) this.#tryCheckpoint(true);
    this.pump();
  }

  ack(consumer: Consumer, ids: readonly string[]): void {
    for (const id of ids) {
      const flight = this.#inFlight.get(id);
      if (flight === undefined) continue;
      this.#release(flight);
      this.#complete(flight.message);
    }
    this.#tryCheckpoint(false);
    this.pump();
    void consumer;
  }

  nack(consumer: Consumer, ids: readonly string[], action: NackAction, reason: string): void {
    for (const id of ids) {
      const flight = this.#inFlight.get(id);
      if (flight === undefined) continue;
      switch (action) {
        case 'unknown':
        case 'retry':
          this.#release(flight);
          this.#retryOrPark(flight.message);
          break;
        case 'park':
          this.#release(flight);
          this.#park(flight.message, `Client explicitly NAK'ed message.\n${reason}`);
          break;
        case 'skip':
          this.#release(flight);
          this.#complete(flight.message);
          break;
        case 'stop':
          // EventStoreDB leaves the message in flight: it times out and is retried.
          break;
        default: {
          const never: never = action;
          return never;
        }
      }
    }
    this.#tryCheckpoint(false);
    this.pump();
    void consumer;
  }

  #release(flight: InFlight): void {
    this.#inFlight.delete(flight.message.ackId);
    flight.consumer.inFlight = Math.max(0, flight.consumer.inFlight - 1);
  }

  #complete(message: Message): void {
    if (message.seq === undefined) return;
    if (this.#pending.delete(message.seq)) this.#completedSinceCheckpoint += 1;
  }

  #retryOrPark(message: Message): void {
    if (message.retryCount < this.settings.maxRetryCount) {
      this.#retry.push({ ...message, retryCount: message.retryCount + 1 });
      this.#sortRetry();
    } else {
      this.#park(message, `Reached retry count of ${this.settings.maxRetryCount}`);
    }
  }

  #sortRetry(): void {
    // replayed parked messages (no seq) keep their place after source messages
    this.#retry.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
  }

  #park(message: Message, reason: string): void {
    const metadata = {
      Added: new Date(this.clock.now()).toISOString(),
      Reason: reason,
      SubscriptionEventNumber: Number(message.event.revision),
    };
    const parked = this.store.appendSystem(this.parkedStream, {
      eventId: randomUUID(),
      type: LINK_EVENT_TYPE,
      contentType: 'application/octet-stream',
      data: Buffer.from(`${message.event.revision}@${message.event.streamId}`, 'utf8'),
      metadata: Buffer.from(JSON.stringify(metadata), 'utf8'),
    });
    if (parked === undefined) {
      // The parked stream was tombstoned: EventStoreDB gives up on the message ("possible
      // message loss") and goes on with the group; so does this server, and says so.
      this.log.error('a message could not be parked: the parked stream is deleted; the message is dropped', {
        group: this.group,
        source: this.source,
        parkedStream: this.parkedStream,
        stream: message.event.streamId,
        eventNumber: message.event.revision.toString(),
        reason,
      });
    }
    this.#complete(message);
  }

  /**
   * Runs work that no call is waiting on (a timer, a scheduled pump). What it throws would
   * otherwise reach the event loop and end the server: instead the group's consumers are dropped
   * with INTERNAL (persistent-subscription-failed) and the failure is logged. The group stays, and
   * what they had in flight is queued again, so consumers can subscribe again.
   */
  guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    this.log.error('persistent subscription group failed; its consumers are dropped', {
      group: this.group,
      source: this.source,
      error: describeError(error),
    });
    const consumers = [...this.consumers];
    this.consumers.length = 0;
    for (const flight of this.#inFlight.values()) this.#retry.push(flight.message);
    this.#inFlight.clear();
    this.#sortRetry();
    const reason = Exceptions.persistentSubscriptionFailed(this.source, this.group, describeError(error));
    for (const consumer of consumers) {
      consumer.inFlight = 0;
      consumer.drop(reason);
    }
  }

  /** Message timeouts; called by the service's ticker. */
  tick(): void {
    this.guarded(() => this.#tick());
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.clock.now();
    const expired = [...this.#inFlight.values()].filter((f) => f.expiresAt <= now);
    for (const flight of expired) {
      this.#release(flight);
      this.#retryOrPark(flight.message);
    }
    this.#tryCheckpoint(true);
    this.pump();
  }

  // ------------------------------------------------------------------ reading and pushing

  #sourceHasMore(): boolean {
    if (this.isAll) return this.store.lastPosition() > this.#cursor;
    const last = this.store.streamLastRevision(this.source);
    return last !== undefined && last > this.#cursor;
  }

  #readBatch(): boolean {
    const before = this.#cursor;
    if (this.isAll) {
      for (const row of this.store.readAllForward(this.#cursor + 1n, PAGE_SIZE)) {
        const prev = this.#cursor;
        this.#cursor = row.position;
        if (this.#filter !== undefined && !this.#filter.matches(row)) continue;
        this.#enqueue(row, prev);
      }
    } else {
      const page = this.store.readStreamPage(this.source, 'forwards', this.#cursor + 1n, PAGE_SIZE);
      if (page.status !== 'ok') return false;
      for (const row of page.events) {
        const prev = this.#cursor;
        this.#cursor = row.revision;
        this.#enqueue(row, prev);
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

  #enqueue(row: StoredEvent, prev: bigint): void {
    let event = row;
    let link: StoredEvent | undefined;
    if (this.settings.resolveLinks && row.type === LINK_EVENT_TYPE) {
      const resolved = this.store.resolveLink(row);
      if (resolved !== undefined) {
        event = resolved;
        link = row;
      }
    }
    this.#buffer.push({
      seq: this.#seq++,
      event,
      link,
      ackId: row.eventId,
      retryCount: 0,
      prev,
      cursor: this.isAll ? row.position : row.revision,
    });
  }

  #pickConsumer(message: Message): Consumer | undefined {
    const consumers = this.consumers;
    if (consumers.length === 0) return undefined;
    const hasSlot = (c: Consumer): boolean => c.inFlight < c.bufferSize;
    switch (this.settings.strategy) {
      case 'DispatchToSingle':
        return consumers.find(hasSlot);
      case 'RoundRobin': {
        for (let i = 0; i < consumers.length; i++) {
          const index = (this.#roundRobin + i) % consumers.length;
          const candidate = consumers[index]!;
          if (hasSlot(candidate)) {
            this.#roundRobin = (index + 1) % consumers.length;
            return candidate;
          }
        }
        return undefined;
      }
      case 'Pinned': {
        const pinned = consumers[fnv1a(message.event.streamId) % consumers.length]!;
        return hasSlot(pinned) ? pinned : undefined;
      }
      default: {
        const never: never = this.settings.strategy;
        return never;
      }
    }
  }

  #push(message: Message): boolean {
    if (this.#inFlight.has(message.ackId)) {
      // duplicate id already in flight (e.g. replayed while retried): drop this copy
      this.#complete(message);
      return true;
    }
    const consumer = this.#pickConsumer(message);
    if (consumer === undefined) return false;
    consumer.inFlight += 1;
    consumer.totalItems += 1;
    this.#totalItems += 1;
    this.#inFlight.set(message.ackId, {
      message,
      consumer,
      expiresAt: this.clock.now() + this.settings.messageTimeoutMs,
    });
    const position = (message.link ?? message.event).position;
    consumer.send({ event: message.event, link: message.link, position, retryCount: message.retryCount });
    return true;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.guarded(() => this.pump());
    });
  }

  /** Reads ahead and hands out messages while consumers have free slots. */
  pump(): void {
    if (this.#stopped || this.consumers.length === 0) return;
    while (this.#retry.length > 0) {
      if (!this.#push(this.#retry[0]!)) return;
      this.#retry.shift();
    }
    const target = Math.min(MAX_BUFFER, Math.max(this.settings.readBatchSize, DEFAULT_MAX_SEARCH_WINDOW));
    let pages = 0;
    for (;;) {
      while (this.#buffer.length < target && this.#sourceHasMore()) {
        if (pages++ >= MAX_PAGES_PER_PUMP) {
          // a long stretch the filter rejects: yield to the event loop, then go on
          this.#schedulePump();
          break;
        }
        if (!this.#readBatch()) break;
      }
      const next = this.#buffer[0];
      if (next === undefined) return;
      if (next.seq !== undefined) this.#pending.set(next.seq, next);
      if (!this.#push(next)) {
        if (next.seq !== undefined) this.#pending.delete(next.seq);
        return;
      }
      this.#buffer.shift();
      this.#lastPushedCursor = next.cursor;
    }
  }

  // ------------------------------------------------------------------ checkpoints

  #checkpointCandidate(): bigint {
    const oldestPending = this.#pending.values().next();
    if (!oldestPending.done) return oldestPending.value.prev;
    const firstBuffered = this.#buffer[0];
    if (firstBuffered !== undefined) return firstBuffered.prev;
    return this.#cursor;
  }

  #tryCheckpoint(isTimeCheck: boolean): void {
    const candidate = this.#checkpointCandidate();
    if (this.#checkpoint !== undefined && candidate <= this.#checkpoint) return;
    if (this.#checkpoint === undefined && candidate <= this.#definition.initialCursor) return;
    const now = this.clock.now();
    const due =
      this.#completedSinceCheckpoint >= this.settings.maxCheckpointCount ||
      (isTimeCheck &&
        now - this.#lastCheckpointAt >= this.settings.checkpointAfterMs &&
        this.#completedSinceCheckpoint >= this.settings.minCheckpointCount);
    if (!due) return;
    this.#writeCheckpoint(candidate, now);
  }

  #writeCheckpoint(candidate: bigint, now: number): void {
    this.#checkpoint = candidate;
    this.#completedSinceCheckpoint = 0;
    this.#lastCheckpointAt = now;
    this.saveCheckpoint(candidate);
  }

  /** Writes the checkpoint now if it moved (graceful shutdown, restart). */
  flushCheckpoint(): void {
    const candidate = this.#checkpointCandidate();
    if (this.#checkpoint !== undefined && candidate <= this.#checkpoint) return;
    if (this.#checkpoint === undefined && candidate <= this.#definition.initialCursor) return;
    this.#writeCheckpoint(candidate, this.clock.now());
  }

  // ------------------------------------------------------------------ parked messages

  parkedMessageCount(): bigint {
    const last = this.store.streamLastRevision(this.parkedStream);
    if (last === undefined || last === DELETED_STREAM) return 0n;
    const tb = this.store.metadataOf(this.parkedStream).truncateBefore ?? 0n;
    const count = last - tb + 1n;
    return count > 0n ? count : 0n;
  }

  /** Queues parked messages (up to, not including, parked-stream revision `stopAt`) for redelivery. */
  replayParked(stopAt: bigint | undefined): void {
    const last = this.store.streamLastRevision(this.parkedStream);
    if (last === undefined || last === DELETED_STREAM) return;
    const end = stopAt !== undefined && stopAt < last + 1n ? stopAt : last + 1n;
    let next = 0n;
    const replayed: Message[] = [];
    while (next < end) {
      const page = this.store.readStreamPage(this.parkedStream, 'forwards', next, PAGE_SIZE);
      if (page.status !== 'ok') break;
      for (const link of page.events) {
        if (link.revision >= end) break;
        const event = this.store.resolveLink(link);
        if (event === undefined) continue;
        replayed.push({
          seq: undefined,
          event,
          link,
          ackId: link.eventId,
          retryCount: 0,
          prev: -1n,
          cursor: -1n,
        });
      }
      const lastEvent = page.events[page.events.length - 1];
      if (page.next === undefined || lastEvent === undefined) break;
      next = page.next;
    }
    this.store.writeMetadataSystem(this.parkedStream, {}, end);
    this.#retry.push(...replayed);
    this.pump();
  }

  // ------------------------------------------------------------------ lifecycle and stats

  stop(): void {
    if (this.#stopped) return;
    this.flushCheckpoint();
    this.#stopped = true;
  }

  dropAll(error: unknown): void {
    this.#stopped = true;
    for (const consumer of [...this.consumers]) consumer.drop(error);
    this.consumers.length = 0;
  }

  stats(): {
    totalItems: number;
    lastCheckpoint: bigint | undefined;
    lastKnown: bigint | undefined;
    readBufferCount: number;
    retryBufferCount: number;
    inFlight: number;
  } {
    return {
      totalItems: this.#totalItems,
      lastCheckpoint: this.#checkpoint,
      lastKnown: this.#lastPushedCursor,
      readBufferCount: this.#buffer.length,
      retryBufferCount: this.#retry.length,
      inFlight: this.#inFlight.size,
    };
  }
}
