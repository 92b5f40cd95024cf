import { performance } from 'node:perf_hooks';

import type { Container } from 'inversify';
import { Registry } from 'prom-client';

import { CANDIDATE_INPUT_TYPES } from '../candidates/candidate-events.js';
import { TOKENS } from '../container/tokens.js';
import type {
  PersistentDelivery,
  PersistentSubscription,
  PersistentSubscriptionSettings,
  PersistentSubscriptionTarget,
  PersistentSubscriptions,
} from '../eventstore/event-store.js';
import { handleCandidateStreamEvent, type HandlerContext } from '../orchestration/candidate-event-handler.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelay, DEFAULT_BACKOFF, KeyedSerialQueue, Semaphore, sleep, type BackoffPolicy } from './concurrency.js';
import { WorkerMetrics } from './metrics.js';
import { WORKER_TOKENS } from './tokens.js';

/**
 * The inputs of every candidate stream (CandidateCreated, ManualPromotionRequested), in `$all`,
 * filtered on the server by event type: the handlers' own outputs are never delivered back, which
 * spares a third of the deliveries, acks and decoding. (The types are the candidate streams' own.)
 */
export const CANDIDATE_TARGET: PersistentSubscriptionTarget = { kind: 'all-event-types', eventTypePrefixes: [...CANDIDATE_INPUT_TYPES] };

export const DEFAULT_GROUP = 'opx-orchestrator';

/**
 * The group's settings.
 * - RoundRobin, not Pinned: correctness never depends on which consumer gets which stream (CP-6
 *   and CP-7 append at the revision they read, with deterministic ids, so a duplicate or a
 *   concurrent delivery of the same candidate finds the recorded decision and writes nothing);
 *   RoundRobin spreads load evenly, moves a retried event to another consumer (a poison event
 *   is not stuck to one process), and never stalls the group on one full consumer, which Pinned
 *   does (head of line: the next event waits for its pinned consumer's free slot). Within one
 *   process, a per-stream serial queue keeps a candidate's events in order anyway.
 * - startFrom 'start': a new group sees every candidate ever created (a fresh deployment catches up).
 * - maxRetryCount 5, then parked: redelivery is the only retry (spec constraint 3), bounded.
 * - messageTimeout 30 s: far above a handler's latency, so a slow event is not redelivered while
 *   it still runs; a crashed consumer's events come back at once (its connection drops).
 */
export const DEFAULT_GROUP_SETTINGS: PersistentSubscriptionSettings = {
  maxRetryCount: 5,
  messageTimeoutMs: 30_000,
  consumerStrategy: 'RoundRobin',
  startFrom: 'start',
  checkpointAfterMs: 1_000,
};

export interface CandidateWorkerOptions {
  readonly group: string;
  readonly target: PersistentSubscriptionTarget;
  readonly settings: PersistentSubscriptionSettings;
  /** Events handled at once across candidates (the semaphore's permits). */
  readonly concurrency: number;
  /** Unacked events the server may push to this consumer; default 2 x concurrency. */
  readonly bufferSize?: number;
  readonly backoff: BackoffPolicy;
}

export const DEFAULT_WORKER_OPTIONS: CandidateWorkerOptions = {
  group: DEFAULT_GROUP,
  target: CANDIDATE_TARGET,
  settings: DEFAULT_GROUP_SETTINGS,
  concurrency: 16,
  backoff: DEFAULT_BACKOFF,
};

export interface CandidateWorkerDeps {
  readonly subscriptions: PersistentSubscriptions;
  readonly context: HandlerContext;
  readonly logger: Logger;
  /** A host's registry (or metrics already built on it); default: a private registry. */
  readonly metrics?: WorkerMetrics | Registry;
}

export type WorkerState = 'idle' | 'connecting' | 'subscribed' | 'reconnecting' | 'stopping' | 'stopped';

export interface WorkerHealth {
  readonly state: WorkerState;
  readonly group: string;
  readonly inFlight: number;
  readonly lastError?: string;
}

/**
 * The production runtime: joins a persistent-subscription group on the candidate streams and
 * feeds every delivered event through the fail-fast handler. Success -> ack; a throw -> nack
 * 'retry', so the server's redelivery is the only retry and it parks the event after
 * maxRetryCount. At most `concurrency` events run at once; the events of one candidate stream
 * never run concurrently. When the subscription or the store goes away, it reconnects with
 * capped exponential backoff; unacked events come back from the server, and CP-6/CP-7 make
 * their effects idempotent. `stop()` stops taking events, lets those in flight finish and ack,
 * then leaves the group.
 */
export class CandidateWorker {
  readonly options: CandidateWorkerOptions;
  readonly metrics: WorkerMetrics;
  readonly #subscriptions: PersistentSubscriptions;
  readonly #context: HandlerContext;
  readonly #logger: Logger;
  readonly #semaphore: Semaphore;
  readonly #queue = new KeyedSerialQueue();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #state: WorkerState = 'idle';
  #subscription: PersistentSubscription | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #lastError: string | undefined;
  readonly #subscribedWaiters: Array<() => void> = [];

  constructor(deps: CandidateWorkerDeps, options: Partial<CandidateWorkerOptions> = {}) {
    this.options = { ...DEFAULT_WORKER_OPTIONS, ...options };
    this.#subscriptions = deps.subscriptions;
    this.#logger = deps.logger.child({ component: 'candidate-worker', group: this.options.group });
    this.metrics = deps.metrics instanceof WorkerMetrics ? deps.metrics : new WorkerMetrics(deps.metrics ?? new Registry());
    // Decisions and incidents are counted from what the orchestrator answers (the subscription
    // carries inputs only, so the outputs are never seen here).
    const { orchestrator } = deps.context;
    this.#context = {
      ...deps.context,
      orchestrator: {
        processCandidate: async (candidateId, authority, currentTime) => {
          const result = await orchestrator.processCandidate(candidateId, authority, currentTime);
          this.metrics.decided(result.decision, authority.authorityType, result.incidentId !== undefined);
          return result;
        },
      },
    };
    this.#semaphore = new Semaphore(this.options.concurrency);
  }

  /** Builds a worker from a host container (see `workerModule`, `esdbEventStoreModule`). */
  static fromContainer(container: Container, options: Partial<CandidateWorkerOptions> = {}): CandidateWorker {
    const registry = container.isBound(WORKER_TOKENS.MetricsRegistry) ? container.get(WORKER_TOKENS.MetricsRegistry) : undefined;
    return new CandidateWorker(
      {
        subscriptions: container.get(WORKER_TOKENS.PersistentSubscriptions),
        context: container.get(TOKENS.HandlerContext),
        logger: container.get(TOKENS.Logger),
        ...(registry === undefined ? {} : { metrics: registry }),
      },
      options,
    );
  }

  get state(): WorkerState {
    return this.#state;
  }

  health(): WorkerHealth {
    return {
      state: this.#state,
      group: this.options.group,
      inFlight: this.#inFlight.size,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /** Starts consuming in the background; returns at once. */
  start(): void {
    if (this.#loop !== undefined) throw new Error('CandidateWorker already started');
    this.#loop = this.#run();
  }

  /** Resolves when the worker holds a subscription (or has stopped). */
  subscribed(): Promise<void> {
    if (this.#state === 'subscribed' || this.#state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.#subscribedWaiters.push(resolve));
  }

  /** Graceful stop: take nothing more, finish and ack what is in flight, leave the group. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = 'stopping';
      this.#logger.info({ inFlight: this.#inFlight.size }, 'worker stopping: finishing in-flight events');
      this.#semaphore.close();
      this.#stop.abort();
      await this.#drain();
      await this.#closeSubscription();
      await this.#loop;
      this.#setState('stopped');
      this.metrics.subscribed.set(0);
      this.#logger.info({}, 'worker stopped');
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      this.#setState(attempt === 0 ? 'connecting' : 'reconnecting');
      try {
        await this.#subscriptions.ensureGroup(this.options.target, this.options.group, this.options.settings);
        if (this.#stop.signal.aborted) break;
        const subscription = this.#subscriptions.subscribe(this.options.target, this.options.group, {
          bufferSize: this.options.bufferSize ?? this.options.concurrency * 2,
        });
        this.#subscription = subscription;
        this.#setState('subscribed');
        this.metrics.subscribed.set(1);
        this.#logger.info({ attempt }, 'joined persistent subscription group');
        for await (const delivery of subscription) {
          attempt = 0;
          // Stopping: leave it unacked; the server redelivers it once this consumer leaves.
          if (!this.#semaphore.tryAcquire() && !(await this.#semaphore.acquire())) continue;
          this.#dispatch(subscription, delivery);
        }
        if (this.#stop.signal.aborted) break;
        throw new Error('the persistent subscription ended');
      } catch (error) {
        this.metrics.subscribed.set(0);
        if (this.#stop.signal.aborted) break;
        this.#lastError = error instanceof Error ? error.message : String(error);
        const delay = backoffDelay(attempt, this.options.backoff);
        this.metrics.reconnects.inc();
        this.#logger.warn({ err: error, attempt, retryInMs: delay, inFlight: this.#inFlight.size }, 'subscription lost; reconnecting');
        await this.#closeSubscription();
        attempt++;
        await sleep(delay, this.#stop.signal);
      }
    }
  }

  #dispatch(subscription: PersistentSubscription, delivery: PersistentDelivery): void {
    const task: Promise<void> = this.#queue.run(delivery.event.streamId, () => this.#process(subscription, delivery)).then(() => {
      // #process never rejects
      this.#semaphore.release();
      this.metrics.settled();
      this.#inFlight.delete(task);
    });
    this.#inFlight.add(task);
  }

  /** One delivery: handle, then ack; on a throw, nack 'retry'. Never rejects. */
  async #process(subscription: PersistentSubscription, delivery: PersistentDelivery): Promise<void> {
    const { event } = delivery;
    this.metrics.taken(event.created.getTime(), Date.now());
    const started = performance.now();
    let outcome: 'handled' | 'ignored';
    try {
      outcome = await handleCandidateStreamEvent(event, this.#context);
    } catch (error) {
      this.metrics.handled(event.type, 'failed', (performance.now() - started) / 1000);
      const parks = delivery.retryCount >= this.options.settings.maxRetryCount;
      this.metrics.retries.inc({ reason: errorCode(error) });
      if (parks) this.metrics.nackedAtRetryLimit.inc();
      this.#logger[parks ? 'error' : 'warn']({ ...fieldsOf(delivery), err: error, parks }, parks ? 'handler failed at maxRetryCount; the server parks the event' : 'handler failed; nacked for redelivery');
      await subscription.nack(delivery, 'retry', error instanceof Error ? error.message : String(error)).catch((nackError: unknown) => {
        this.#logger.warn({ ...fieldsOf(delivery), err: nackError }, 'nack failed; the server redelivers the event when its subscription ends or the message times out');
      });
      return;
    }
    this.metrics.handled(event.type, outcome, (performance.now() - started) / 1000);
    await subscription.ack(delivery).catch((ackError: unknown) => {
      // Handled but not acked: it will be redelivered, and handling it again records nothing new.
      this.#logger.warn({ ...fieldsOf(delivery), err: ackError }, 'ack failed; the event will be redelivered (idempotent)');
    });
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #closeSubscription(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (subscription === undefined) return;
    await subscription.close().catch((error: unknown) => this.#logger.debug({ err: error }, 'closing the subscription failed'));
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    if (state === 'subscribed' || state === 'stopped') for (const resolve of this.#subscribedWaiters.splice(0)) resolve();
  }
}

/** What a log line says of a delivery (built only when something is logged). */
function fieldsOf({ event, retryCount }: PersistentDelivery): Record<string, unknown> {
  return { streamId: event.streamId, revision: event.revision.toString(), eventId: event.id, type: event.type, retryCount };
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') return (error as { code: string }).code;
  return error instanceof Error ? error.name : 'unknown';
}
