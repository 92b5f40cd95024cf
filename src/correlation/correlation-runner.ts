import type { EventStore, RecordedEvent } from '../eventstore/event-store.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { CLOCK_STREAM, clockTickEventId, type ClockTickedData } from './correlation-events.js';
import { writeCheckpoint } from './correlation-checkpoint.js';
import { CORRELATION_INPUT_PREFIXES, LiveCorrelator, type CorrelatorStats } from './live-correlator.js';

export interface CorrelateOnceReport {
  readonly eventsRead: number;
  readonly stats: CorrelatorStats;
  /** Inputs still held when the run ended (none when it ticked). */
  readonly held: number;
}

/** Commits after this many events read, so a long catch-up holds bounded writes. */
const COMMIT_EVERY = 1_024;

/**
 * Correlation in one pass, for runtimes that run to the end of what is recorded (`opx process`,
 * the in-process runtime, tests): from the last checkpoint to the end of `$all`; then, when
 * inputs are still held and `tick` is set, a clock tick through the latest input time ("the input
 * so far is complete"), recorded, and read back like any input; then a checkpoint.
 */
export async function correlateOnce(store: EventStore, correlator: LiveCorrelator, options: { readonly tick: boolean; readonly ruleSetVersion: string }): Promise<CorrelateOnceReport> {
  let eventsRead = 0;
  const readFrom = async (after: bigint | undefined): Promise<void> => {
    let uncommitted = 0;
    for await (const recorded of store.readAll({ streamPrefixes: CORRELATION_INPUT_PREFIXES, ...(after === undefined ? {} : { after }) })) {
      const handled = correlator.handle(recorded);
      if (handled !== undefined) await handled;
      eventsRead++;
      if (++uncommitted >= COMMIT_EVERY) {
        await correlator.commit();
        uncommitted = 0;
      }
    }
    await correlator.commit();
  };
  await readFrom(await correlator.restore());
  const { count, latest } = correlator.holding;
  if (options.tick && count > 0 && latest !== undefined) {
    await appendTick(store, latest);
    await readFrom(correlator.lastPosition);
  }
  const checkpoint = correlator.checkpointNow();
  if (checkpoint !== undefined) await writeCheckpoint(store, checkpoint, options.ruleSetVersion);
  return { eventsRead, stats: { ...correlator.stats }, held: correlator.holding.count };
}

/** Records "every input up to `through` has arrived". */
export async function appendTick(store: EventStore, through: string): Promise<void> {
  const data: ClockTickedData = { through };
  await store.append(CLOCK_STREAM, [{ id: clockTickEventId(through), type: 'CorrelationClockTicked', data: { ...data }, metadata: { schemaVersion: 1 } }], 'any');
}

export interface LiveCorrelationOptions {
  /** The longest an input is held for stragglers before a tick releases it (wall time). Default 1,000 ms. */
  readonly holdMs?: number;
  /** How often a checkpoint is written while running. Default 5,000 ms. */
  readonly checkpointEveryMs?: number;
  readonly ruleSetVersion: string;
  /**
   * Runs beside it, started and stopped with it: the alert automation (src/auto-resolution), which
   * consumes what correlation records, so every runtime that correlates live runs it too.
   */
  readonly companion?: { start(): void; stop(): Promise<void>; readonly status: object };
}

export type LiveCorrelationState = 'idle' | 'running' | 'reconnecting' | 'stopping' | 'stopped';

/**
 * Correlation that runs on: a catch-up subscription to the input streams from the last checkpoint,
 * commits after each burst of events, a recorded clock tick when an input has been held
 * `holdMs` (the wall clock is read here, at the edge, and recorded: decisions only ever see the
 * tick), and checkpoints. A failure drops the correlator (its uncommitted state with it) and
 * starts again from the last checkpoint, with backoff: the steps it redoes are found recorded.
 */
export class LiveCorrelation {
  private state: LiveCorrelationState = 'idle';
  private loop: Promise<void> | undefined;
  private readonly stop$ = new AbortController();
  private current: { correlator: LiveCorrelator; close: () => Promise<void> } | undefined;
  private lastError: string | undefined;
  private readonly holdMs: number;
  private readonly checkpointEveryMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly newCorrelator: () => LiveCorrelator,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: LiveCorrelationOptions,
  ) {
    this.holdMs = options.holdMs ?? 1_000;
    this.checkpointEveryMs = options.checkpointEveryMs ?? 5_000;
  }

  get status(): { readonly state: LiveCorrelationState; readonly held: number; readonly stats?: CorrelatorStats; readonly lastError?: string; readonly autoResolution?: object } {
    const correlator = this.current?.correlator;
    return {
      state: this.state,
      held: correlator?.holding.count ?? 0,
      ...(correlator === undefined ? {} : { stats: { ...correlator.stats } }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.options.companion === undefined ? {} : { autoResolution: this.options.companion.status }),
    };
  }

  start(): void {
    if (this.loop !== undefined) throw new Error('LiveCorrelation already started');
    this.loop = this.run();
    this.options.companion?.start();
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    this.stop$.abort();
    await this.current?.close();
    await this.loop;
    await this.options.companion?.stop();
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stop$.signal.aborted) {
      this.state = attempt === 0 ? 'running' : 'reconnecting';
      try {
        await this.runOnce(() => (attempt = 0));
        if (this.stop$.signal.aborted) break;
        throw new Error('the subscription ended');
      } catch (error) {
        if (this.stop$.signal.aborted) break;
        this.lastError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
        this.logger.warn({ err: error, attempt, retryInMs: delay }, 'correlation stopped; starting again from the last checkpoint');
        attempt++;
        await abortableSleep(delay, this.stop$.signal);
      }
    }
  }

  private async runOnce(onProgress: () => void): Promise<void> {
    const correlator = this.newCorrelator();
    const after = await correlator.restore();
    const subscription = this.store.subscribeToAll({ streamPrefixes: CORRELATION_INPUT_PREFIXES, ...(after === undefined ? {} : { after }) });
    let tickTimer: NodeJS.Timeout | undefined;
    let checkpointed = this.clock.monotonicMs();
    let failure: Error | undefined;
    const close = async (): Promise<void> => {
      if (tickTimer !== undefined) clearTimeout(tickTimer);
      await subscription.close();
    };
    this.current = { correlator, close };
    const scheduleTick = (): void => {
      if (tickTimer !== undefined || correlator.holding.count === 0) return;
      tickTimer = setTimeout(() => {
        tickTimer = undefined;
        const latest = correlator.holding.latest;
        if (latest === undefined || correlator.holding.count === 0) return;
        appendTick(this.store, latest).catch((error: unknown) => {
          failure = error instanceof Error ? error : new Error(String(error));
          void subscription.close();
        });
      }, this.holdMs);
    };
    try {
      const iterator = subscription[Symbol.asyncIterator]();
      let pending: Promise<IteratorResult<RecordedEvent>> | undefined;
      for (;;) {
        pending ??= iterator.next();
        // A burst: handle what arrives back to back, commit when the subscription pauses.
        const next = await Promise.race([pending, immediate()]);
        if (next === IDLE) {
          await correlator.commit();
          onProgress();
          if (this.clock.monotonicMs() - checkpointed >= this.checkpointEveryMs) {
            const checkpoint = correlator.checkpointNow();
            if (checkpoint !== undefined) await writeCheckpoint(this.store, checkpoint, this.options.ruleSetVersion);
            checkpointed = this.clock.monotonicMs();
          }
          scheduleTick();
          const result = await pending;
          pending = undefined;
          if (result.done === true) break;
          await correlator.handle(result.value);
          continue;
        }
        pending = undefined;
        if (next.done === true) break;
        await correlator.handle(next.value);
      }
      if (failure !== undefined) throw failure;
      if (!this.stop$.signal.aborted) return;
      await correlator.commit();
      const checkpoint = correlator.checkpointNow();
      if (checkpoint !== undefined) await writeCheckpoint(this.store, checkpoint, this.options.ruleSetVersion);
    } finally {
      await close();
      this.current = undefined;
    }
  }
}

const IDLE = Symbol('idle');
const immediate = (): Promise<typeof IDLE> => new Promise((resolve) => setImmediate(() => resolve(IDLE)));

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
