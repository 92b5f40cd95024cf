import { Counter, Gauge, type Histogram, type MetricValueWithName, type Registry } from 'prom-client';

/**
 * The worker's Prometheus metrics, registered on the registry the host gives (or the worker's
 * own). Registering twice on one registry (two workers in one host) reuses the metrics, so their
 * counts add up instead of failing.
 *
 * The per-event figures are tallied in plain numbers and handed to prom-client when the registry
 * is read (each metric's `collect`): a labelled prom-client update costs microseconds per call,
 * several calls per event, on the worker's hot path (docs/performance.md). What a scrape reads is
 * the same as if every event had been counted on the spot.
 */
export class WorkerMetrics {
  readonly eventsHandled: Counter<'type' | 'outcome'>;
  readonly decisions: Counter<'decision' | 'authority'>;
  readonly incidentsCreated: Counter;
  readonly retries: Counter<'reason'>;
  readonly nackedAtRetryLimit: Counter;
  readonly handlerDuration: DurationHistogram;
  readonly lag: Gauge;
  readonly inFlight: Gauge;
  readonly subscribed: Gauge;
  readonly reconnects: Counter;

  /** Not yet handed to prom-client: events by `type\0outcome`, decisions by `decision\0authority`. */
  readonly #handled = new Map<string, number>();
  readonly #decided = new Map<string, number>();
  #incidents = 0;
  #inFlight = 0;
  #lagSeconds: number | undefined;

  constructor(readonly registry: Registry, prefix = 'opx_worker_') {
    const reuse = <M>(name: string, create: () => M): M => (registry.getSingleMetric(`${prefix}${name}`) as M | undefined) ?? create();
    const registers = [registry];
    // Several WorkerMetrics on one registry share the prom-client metrics: a read hands over the tallies of all.
    const existing = registry.getSingleMetric(`${prefix}events_total`) as { [GROUP]?: WorkerMetrics[] } | undefined;
    const group = existing?.[GROUP] ?? [];
    group.push(this);
    const flushAll = (): void => flushGroup(group);
    this.eventsHandled = reuse('events_total', () =>
      new Counter({ name: `${prefix}events_total`, help: 'Candidate-stream events processed, by type and outcome (handled, ignored, failed).', labelNames: ['type', 'outcome'] as const, registers, collect: flushAll }),
    );
    this.decisions = reuse('decisions_total', () =>
      new Counter({ name: `${prefix}decisions_total`, help: 'Candidate events orchestrated, by the decision they ended with and the authority (a redelivered event counts again).', labelNames: ['decision', 'authority'] as const, registers, collect: flushAll }),
    );
    this.incidentsCreated = reuse('incidents_created_total', () =>
      new Counter({ name: `${prefix}incidents_created_total`, help: 'Orchestrations that ended with an incident (created, or found already created on a redelivery).', registers, collect: flushAll }),
    );
    this.retries = reuse('retries_total', () =>
      new Counter({ name: `${prefix}retries_total`, help: 'Events nacked for redelivery (the only retry) after the handler failed.', labelNames: ['reason'] as const, registers }),
    );
    this.nackedAtRetryLimit = reuse('nacked_at_retry_limit_total', () =>
      new Counter({
        name: `${prefix}nacked_at_retry_limit_total`,
        help: 'Nacks this worker sent at maxRetryCount: the server parks such an event unless another delivery handled it first. What is parked now is opx_worker_parked_events (read from the server).',
        registers,
      }),
    );
    this.handlerDuration = reuse('handler_duration_seconds', () => {
      const histogram = new DurationHistogram(`${prefix}handler_duration_seconds`, 'Time in handleCandidateStreamEvent, per event.', 'type', [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
      ]);
      histogram.registerOn(registry);
      return histogram;
    });
    this.lag = reuse('subscription_lag_seconds', () =>
      new Gauge({ name: `${prefix}subscription_lag_seconds`, help: 'Age (server created time to now) of the last event delivered to this worker.', registers, collect: flushAll }),
    );
    this.inFlight = reuse('in_flight', () => new Gauge({ name: `${prefix}in_flight`, help: 'Deliveries taken and not yet acked or nacked.', registers, collect: flushAll }));
    this.subscribed = reuse('subscribed', () => new Gauge({ name: `${prefix}subscribed`, help: '1 while the worker holds a live persistent subscription.', registers }));
    this.reconnects = reuse('reconnects_total', () =>
      new Counter({ name: `${prefix}reconnects_total`, help: 'Subscription losses followed by a reconnect with backoff.', registers }),
    );
    (this.eventsHandled as { [GROUP]?: WorkerMetrics[] })[GROUP] = group;
  }

  /** One event taken (in flight until {@link settled}); `createdMs`: when the server recorded it. */
  taken(createdMs: number, nowMs: number): void {
    this.#inFlight++;
    this.#lagSeconds = Math.max(0, (nowMs - createdMs) / 1000);
  }

  /** One event acked or nacked. */
  settled(): void {
    this.#inFlight--;
  }

  /** One event through the handler: its type, its outcome, the seconds it took. */
  handled(type: string, outcome: 'handled' | 'ignored' | 'failed', seconds: number): void {
    const key = `${type}\0${outcome}`;
    this.#handled.set(key, (this.#handled.get(key) ?? 0) + 1);
    this.handlerDuration.observe(type, seconds);
  }

  /** One orchestration answered: its decision, its authority, and whether it ended with an incident. */
  decided(decision: string, authority: string, incident: boolean): void {
    const key = `${decision}\0${authority}`;
    this.#decided.set(key, (this.#decided.get(key) ?? 0) + 1);
    if (incident) this.#incidents++;
  }

  /** Hands this worker's counts to prom-client; returns what is in flight and the last lag seen. */
  flushCounts(): { readonly inFlight: number; readonly lagSeconds: number | undefined } {
    for (const [key, count] of this.#handled) {
      const [type = '', outcome = ''] = key.split('\0');
      this.eventsHandled.inc({ type, outcome }, count);
    }
    this.#handled.clear();
    for (const [key, count] of this.#decided) {
      const [decision = '', authority = ''] = key.split('\0');
      this.decisions.inc({ decision, authority }, count);
    }
    this.#decided.clear();
    if (this.#incidents > 0) this.incidentsCreated.inc(this.#incidents);
    this.#incidents = 0;
    return { inFlight: this.#inFlight, lagSeconds: this.#lagSeconds };
  }

  /**
   * A gauge of parked events read from the store on each scrape (the standalone worker adds it;
   * a host with many workers on one group should add it once).
   */
  addParkedGauge(count: () => Promise<number>, prefix = 'opx_worker_'): void {
    if (this.registry.getSingleMetric(`${prefix}parked_events`) !== undefined) return;
    new Gauge({
      name: `${prefix}parked_events`,
      help: "Events waiting in the group's parked stream.",
      registers: [this.registry],
      async collect() {
        try {
          this.set(await count());
        } catch {
          // the store is unreachable: leave the last value
        }
      },
    });
  }
}

const GROUP = Symbol('opx/worker-metrics-group');

/** In flight: the sum over the workers; lag: the last worker's that saw an event. */
function flushGroup(group: readonly WorkerMetrics[]): void {
  let inFlight = 0;
  let lag: number | undefined;
  for (const member of group) {
    const counts = member.flushCounts();
    inFlight += counts.inFlight;
    lag = counts.lagSeconds ?? lag;
  }
  const first = group[0];
  if (first === undefined) return;
  first.inFlight.set(inFlight);
  if (lag !== undefined) first.lag.set(lag);
}

/** What the registry reads of a metric (prom-client's own shape). */
export interface MetricReading {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: ReadonlyArray<MetricValueWithName<string>>;
}

/**
 * A Prometheus histogram with one label, counted in plain arrays and read by the registry as
 * prom-client's own histogram reads (`_bucket` with `le`, cumulative, then `_sum` and `_count`).
 * prom-client's `observe` converts, validates and hashes its labels on every call, which the
 * worker paid once per event (docs/performance.md).
 */
export class DurationHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #byLabel = new Map<string, { readonly buckets: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelName: string,
    readonly upperBounds: readonly number[],
  ) {}

  /** Registers it as the registry's metric of its name (the registry reads it through `get`). */
  registerOn(registry: Registry): void {
    registry.registerMetric(this as unknown as Histogram);
  }

  observe(label: string, seconds: number): void {
    let entry = this.#byLabel.get(label);
    if (entry === undefined) this.#byLabel.set(label, (entry = { buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 }));
    entry.sum += seconds;
    entry.count++;
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        (entry.buckets[i] as number)++;
        break;
      }
    }
  }

  /** The count observed under `label` (tests). */
  countOf(label: string): number {
    return this.#byLabel.get(label)?.count ?? 0;
  }

  get(): Promise<MetricReading> {
    const values: Array<MetricValueWithName<string>> = [];
    for (const [label, entry] of this.#byLabel) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += entry.buckets[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, [this.labelName]: label }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', [this.labelName]: label }, value: entry.count });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.labelName]: label }, value: entry.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.labelName]: label }, value: entry.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.#byLabel.clear();
  }
}
