import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The worker's Prometheus metrics, registered on the registry the host gives (or the worker's
 * own). Registering twice on one registry (two workers in one host) reuses the metrics, so their
 * counts add up instead of failing.
 */
export class WorkerMetrics {
  readonly eventsHandled: Counter<'type' | 'outcome'>;
  readonly decisions: Counter<'decision' | 'authority'>;
  readonly incidentsCreated: Counter;
  readonly retries: Counter<'reason'>;
  readonly nackedAtRetryLimit: Counter;
  readonly handlerDuration: Histogram<'type'>;
  readonly lag: Gauge;
  readonly inFlight: Gauge;
  readonly subscribed: Gauge;
  readonly reconnects: Counter;

  constructor(readonly registry: Registry, prefix = 'opx_worker_') {
    const reuse = <M>(name: string, create: () => M): M => (registry.getSingleMetric(`${prefix}${name}`) as M | undefined) ?? create();
    const registers = [registry];
    this.eventsHandled = reuse('events_total', () =>
      new Counter({ name: `${prefix}events_total`, help: 'Candidate-stream events processed, by type and outcome (handled, ignored, failed).', labelNames: ['type', 'outcome'] as const, registers }),
    );
    this.decisions = reuse('decisions_total', () =>
      new Counter({ name: `${prefix}decisions_total`, help: 'Candidate events orchestrated, by the decision they ended with and the authority (a redelivered event counts again).', labelNames: ['decision', 'authority'] as const, registers }),
    );
    this.incidentsCreated = reuse('incidents_created_total', () =>
      new Counter({ name: `${prefix}incidents_created_total`, help: 'Orchestrations that ended with an incident (created, or found already created on a redelivery).', registers }),
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
    this.handlerDuration = reuse('handler_duration_seconds', () =>
      new Histogram({
        name: `${prefix}handler_duration_seconds`,
        help: 'Time in handleCandidateStreamEvent, per event.',
        labelNames: ['type'] as const,
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
    );
    this.lag = reuse('subscription_lag_seconds', () =>
      new Gauge({ name: `${prefix}subscription_lag_seconds`, help: 'Age (server created time to now) of the last event delivered to this worker.', registers }),
    );
    this.inFlight = reuse('in_flight', () => new Gauge({ name: `${prefix}in_flight`, help: 'Deliveries taken and not yet acked or nacked.', registers }));
    this.subscribed = reuse('subscribed', () => new Gauge({ name: `${prefix}subscribed`, help: '1 while the worker holds a live persistent subscription.', registers }));
    this.reconnects = reuse('reconnects_total', () =>
      new Counter({ name: `${prefix}reconnects_total`, help: 'Subscription losses followed by a reconnect with backoff.', registers }),
    );
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
