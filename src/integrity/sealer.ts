import type { CatchUpSubscription, EventReader, EventStore, RecordedEvent } from '../eventstore/event-store.js';
import { WrongExpectedVersion } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { chainStep, digestEvent } from './event-digest.js';
import {
  INTEGRITY_EXCLUDED_PREFIXES,
  INTEGRITY_STREAM,
  IntegrityChainCorrupt,
  chainStartedEvent,
  chainStateOf,
  isExcluded,
  sealEvent,
  type ChainState,
  type HistorySealedData,
  type SealEntry,
} from './seal.js';

/**
 * Events per seal. A seal entry is ~100-130 bytes (a candidate stream's), so a full seal stays
 * near 130 KB, far under EventStoreDB's 1 MiB append limit even with long stream names.
 */
export const DEFAULT_SEAL_BATCH = 1_000;

export interface SealOptions {
  /** Events per seal (default {@link DEFAULT_SEAL_BATCH}). */
  readonly batchSize?: number;
  /** Stops early when aborted: what was read so far is sealed, the rest is left for the next call. */
  readonly signal?: AbortSignal;
}

export interface SealReport {
  /** Events sealed by this call. */
  readonly eventsSealed: number;
  /** Seals appended by this call. */
  readonly seals: number;
  /** True when this call started the chain (the store had none). */
  readonly chainStarted: boolean;
  /** The chain's head after this call (64 hex): record it elsewhere to anchor `opx verify --anchor`. */
  readonly head: string;
  /** The position of the last event sealed, or null when nothing is sealed yet. */
  readonly sealedThrough: string | null;
}

/** Another sealer extending the chain at once is expected: so many conflicts in a row is not. */
const MAX_CONFLICTS = 16;

/** The state the chain's stream ends in, or undefined when the store has no chain yet. */
export async function readChainState(reader: EventReader): Promise<ChainState | undefined> {
  for await (const last of reader.readStream(INTEGRITY_STREAM, { direction: 'backwards', maxCount: 1 })) return chainStateOf(last);
  return undefined;
}

/** The chain's state, starting the chain first when the store has none (a second starter's append is a no-op). */
async function chainState(store: EventStore): Promise<{ state: ChainState; started: boolean }> {
  const existing = await readChainState(store);
  if (existing !== undefined) return { state: existing, started: false };
  try {
    await store.append(INTEGRITY_STREAM, [chainStartedEvent()], 'no_stream');
  } catch (error) {
    if (!(error instanceof WrongExpectedVersion)) throw error; // another sealer started it (and may have sealed since)
  }
  const state = await readChainState(store);
  if (state === undefined) throw new IntegrityChainCorrupt(`the integrity chain ('${INTEGRITY_STREAM}') could not be started: nothing reads back`);
  return { state, started: true };
}

/** The events of one seal being gathered, and the chain's head over them. */
class SealBatch {
  private readonly entries: SealEntry[] = [];
  private head: string;
  private through: bigint | undefined;

  constructor(readonly from: ChainState) {
    this.head = from.head;
    this.through = from.through;
  }

  get size(): number {
    return this.entries.length;
  }

  add(event: RecordedEvent): void {
    const digest = digestEvent(event);
    this.entries.push([event.streamId, Number(event.revision), event.position.toString(), digest.typeId, digest.data, digest.metadata]);
    this.head = chainStep(this.head, digest.full);
    this.through = event.position;
  }

  /** The chain as it stands once this batch is sealed (its seal appended as the next event of the stream). */
  get sealedState(): ChainState {
    return { revision: this.from.revision + 1n, head: this.head, through: this.through };
  }

  data(): HistorySealedData {
    return {
      format: 1,
      after: this.from.through === undefined ? null : this.from.through.toString(),
      through: (this.through as bigint).toString(),
      previous: this.from.head,
      head: this.head,
      excludedPrefixes: INTEGRITY_EXCLUDED_PREFIXES,
      entries: this.entries,
    };
  }
}

/** Appends the batch's seal right after the chain state it was gathered from: another sealer's seal in between makes it fail. */
async function appendSeal(store: EventStore, batch: SealBatch): Promise<ChainState> {
  await store.append(INTEGRITY_STREAM, [sealEvent(batch.data())], batch.from.revision);
  return batch.sealedState;
}

const sealable = (event: RecordedEvent): boolean => !isExcluded(event.streamId, INTEGRITY_EXCLUDED_PREFIXES);

/**
 * Seals everything recorded and not sealed yet, up to the end of `$all` as it reads now, then
 * returns: the integrity chain for batch runtimes (`opx process`, `opx signals ingest`, the
 * in-process runtime). Call it before the run writes (it seals what others recorded since the last
 * seal, so an edit to it in between is seen) and after (it seals the run's own events). A store
 * without a chain gets one: its first seal covers history from the beginning, as found then.
 * Another sealer at work at the same time is safe: a seal is appended at the chain's revision it
 * was built on, and the loser continues from the winner's seal.
 */
export async function sealHistory(store: EventStore, options: SealOptions = {}): Promise<SealReport> {
  const batchSize = options.batchSize ?? DEFAULT_SEAL_BATCH;
  let eventsSealed = 0;
  let seals = 0;
  let chainStarted = false;
  for (let conflicts = 0; ; ) {
    const opened = await chainState(store);
    chainStarted ||= opened.started;
    let state = opened.state;
    try {
      let batch = new SealBatch(state);
      for await (const event of store.readAll(state.through === undefined ? {} : { after: state.through })) {
        if (options.signal?.aborted === true) break;
        if (!sealable(event)) continue;
        batch.add(event);
        if (batch.size < batchSize) continue;
        state = await appendSeal(store, batch);
        eventsSealed += batch.size;
        seals++;
        batch = new SealBatch(state);
      }
      if (batch.size > 0) {
        state = await appendSeal(store, batch);
        eventsSealed += batch.size;
        seals++;
      }
      return { eventsSealed, seals, chainStarted, head: state.head, sealedThrough: state.through?.toString() ?? null };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersion) || ++conflicts > MAX_CONFLICTS) throw error;
      // Another sealer extended the chain first: go on from its seal.
    }
  }
}

export interface HistorySealerOptions extends SealOptions {
  /** A seal is appended at the latest this long after the first event it covers arrived (default 1,000 ms). */
  readonly maxDelayMs?: number;
  readonly logger?: Logger;
  /** Reconnection backoff after a failure: first and longest wait (default 200 ms, 10 s). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

export type HistorySealerState = 'idle' | 'catching-up' | 'live' | 'retrying' | 'stopped';

export interface HistorySealerStatus {
  readonly state: HistorySealerState;
  readonly eventsSealed: number;
  readonly seals: number;
  /** Events received and not sealed yet. */
  readonly pending: number;
  readonly head: string | null;
  readonly sealedThrough: string | null;
  readonly lastError: string | null;
}

/**
 * The integrity chain for long-running runtimes (`opx serve`, `opx worker`): catches up with
 * {@link sealHistory}, then follows `$all` with a catch-up subscription and seals what comes, a
 * seal per {@link SealOptions.batchSize} events or {@link HistorySealerOptions.maxDelayMs} after
 * the first unsealed one, whichever comes first. Several sealers on one store (a serve and two
 * workers) are safe: a seal built on a chain another extended fails on its expected revision, and
 * the sealer starts again from the chain as it is. A lost store is retried with capped backoff.
 * The batching uses the wall clock; nothing is decided by it (a seal is evidence, not an output).
 *
 *   const sealer = new HistorySealer(store, { logger });
 *   sealer.start();
 *   await sealer.caughtUp();   // everything recorded before start() is sealed
 *   ...
 *   await sealer.stop();       // seals what it has received, then stops
 */
export class HistorySealer {
  private current: HistorySealerState = 'idle';
  private loop: Promise<void> | undefined;
  private subscription: CatchUpSubscription | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private batch: SealBatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sealing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private eventsSealed = 0;
  private seals = 0;
  private head: string | null = null;
  private sealedThrough: string | null = null;
  private lastError: string | null = null;
  private readonly caught: Promise<void>;
  private markCaughtUp: () => void = () => undefined;
  private readonly batchSize: number;
  private readonly maxDelayMs: number;
  private readonly logger: Logger;
  private readonly retry: { readonly initialMs: number; readonly maxMs: number };

  constructor(
    private readonly store: EventStore,
    options: HistorySealerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_SEAL_BATCH;
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    this.logger = options.logger ?? silentLogger;
    this.retry = options.retry ?? { initialMs: 200, maxMs: 10_000 };
    this.caught = new Promise((resolve) => (this.markCaughtUp = resolve));
  }

  /** Starts sealing in the background; call once. */
  start(): void {
    if (this.loop !== undefined) throw new Error('HistorySealer.start() was called twice');
    this.loop = this.run();
  }

  /** Resolves once everything recorded before {@link start} is sealed (or the sealer stopped first). */
  caughtUp(): Promise<void> {
    return this.caught;
  }

  /** Seals what it has received, stops following `$all`, and resolves when done. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wake?.();
    await this.subscription?.close();
    await this.loop;
    this.current = 'stopped';
    this.markCaughtUp();
  }

  status(): HistorySealerStatus {
    return {
      state: this.current,
      eventsSealed: this.eventsSealed,
      seals: this.seals,
      pending: this.batch?.size ?? 0,
      head: this.head,
      sealedThrough: this.sealedThrough,
      lastError: this.lastError,
    };
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopping; ) {
      try {
        this.current = 'catching-up';
        const report = await sealHistory(this.store, { batchSize: this.batchSize, signal: this.abort.signal });
        this.eventsSealed += report.eventsSealed;
        this.seals += report.seals;
        this.head = report.head;
        this.sealedThrough = report.sealedThrough;
        if (this.stopping) break;
        const state = await readChainState(this.store);
        if (state === undefined) throw new IntegrityChainCorrupt(`the integrity chain ('${INTEGRITY_STREAM}') vanished after sealing`);
        this.current = 'live';
        this.markCaughtUp();
        attempt = 0;
        await this.follow(state);
      } catch (error) {
        if (this.stopping) break;
        this.lastError = error instanceof Error ? error.message : String(error);
        const delayMs = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** attempt++);
        this.logger.warn({ err: error, delayMs }, 'integrity sealer failed; starting again from the chain as it is');
        this.current = 'retrying';
        await this.sleep(delayMs);
      }
    }
  }

  /** Follows `$all` from the chain's end, sealing as it goes; returns once stopped, throws on a failed seal or read. */
  private async follow(state: ChainState): Promise<void> {
    this.failure = undefined;
    this.batch = new SealBatch(state);
    const subscription = this.store.subscribeToAll(state.through === undefined ? {} : { after: state.through });
    this.subscription = subscription;
    if (this.stopping) await subscription.close(); // stop() came before the subscription existed
    try {
      for await (const event of subscription) {
        if (this.failedWith() !== undefined) break;
        if (!sealable(event)) continue;
        this.batch.add(event);
        if (this.batch.size >= this.batchSize) this.sealPending();
        else if (this.batch.size === 1) this.timer = setTimeout(() => this.sealPending(), this.maxDelayMs);
      }
    } finally {
      this.subscription = undefined;
    }
    if (this.failedWith() === undefined) this.sealPending(); // stopped: what was received is sealed before stop() resolves
    await this.sealing;
    const failure = this.failedWith();
    if (failure !== undefined) throw failure;
  }

  /** A seal that failed while following (set by {@link sealPending}, behind an await). */
  private failedWith(): Error | undefined {
    return this.failure;
  }

  /** Queues the pending batch's seal behind the ones before it; the next batch chains from it. */
  private sealPending(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    if (batch === undefined || batch.size === 0) return;
    this.batch = new SealBatch(batch.sealedState);
    this.sealing = this.sealing.then(async () => {
      if (this.failure !== undefined) return;
      try {
        const state = await appendSeal(this.store, batch);
        this.eventsSealed += batch.size;
        this.seals++;
        this.head = state.head;
        this.sealedThrough = state.through?.toString() ?? null;
      } catch (error) {
        // Another sealer got there first (or the store failed): follow() ends, run() starts again from the chain.
        this.failure = error instanceof Error ? error : new Error(String(error));
        void this.subscription?.close();
      }
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
