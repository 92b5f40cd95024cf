import type { Clock } from '../clock.js';
import type { ServerLog } from '../log.js';
import { describeError, Exceptions } from '../rpc.js';
import { DEFAULT_MAX_SEARCH_WINDOW } from '../filters.js';
import { ALL_STREAM, type EventStoreCore } from '../store.js';
import { pickConsumer, type Consumer, type InFlight, type Message, type NackAction } from './messages.js';
import { SourceReader } from './source-reader.js';
import { parkedMessageCount, parkedStreamOf, takeParkedForReplay, writeParked } from './parked.js';
import type { GroupDefinition, GroupSettings } from './settings.js';

export type { Consumer, Delivery, NackAction } from './messages.js';
export { parkedStreamOf } from './parked.js';

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

const MAX_BUFFER = 1000;
const MAX_PAGES_PER_PUMP = 40;

export class SubscriptionGroup {
  readonly consumers: Consumer[] = [];
  readonly parkedStream: string;
  #definition: GroupDefinition;
  readonly #reader: SourceReader;
  readonly #buffer: Message[] = [];
  #retry: Message[] = [];
  readonly #inFlight = new Map<string, InFlight>();
  /** Unfinished source messages (in flight or awaiting retry), in sequence order. */
  readonly #pending = new Map<number, Message>();
  #lastPushedCursor: bigint | undefined;
  #checkpoint: bigint | undefined;
  #completedSinceCheckpoint = 0;
  #lastCheckpointAt: number;
  readonly #roundRobin = { next: 0 };
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
    this.#reader = new SourceReader(store, source, checkpoint ?? definition.initialCursor, definition.filter, () => this.settings.resolveLinks);
    this.#checkpoint = checkpoint;
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

  update(definition: GroupDefinition): void {
    this.#definition = definition;
    this.#reader.setFilter(definition.filter);
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
    if (writeParked(this.store, this.parkedStream, message.event, reason, this.clock.now()) === undefined) {
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

  #push(message: Message): boolean {
    if (this.#inFlight.has(message.ackId)) {
      // duplicate id already in flight (e.g. replayed while retried): drop this copy
      this.#complete(message);
      return true;
    }
    const consumer = pickConsumer(this.settings.strategy, this.consumers, message, this.#roundRobin);
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
      while (this.#buffer.length < target && this.#reader.hasMore()) {
        if (pages++ >= MAX_PAGES_PER_PUMP) {
          // a long stretch the filter rejects: yield to the event loop, then go on
          this.#schedulePump();
          break;
        }
        if (!this.#reader.readBatch(this.#buffer)) break;
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
    return this.#reader.cursor;
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
    return parkedMessageCount(this.store, this.parkedStream);
  }

  /** Queues parked messages (up to, not including, parked-stream revision `stopAt`) for redelivery. */
  replayParked(stopAt: bigint | undefined): void {
    const links = takeParkedForReplay(this.store, this.parkedStream, stopAt);
    for (const { link, event } of links) {
      this.#retry.push({ seq: undefined, event, link, ackId: link.eventId, retryCount: 0, prev: -1n, cursor: -1n });
    }
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
