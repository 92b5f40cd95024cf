import { Counter, Histogram, type Registry } from 'prom-client';

/** The receiver's Prometheus metrics (on the registry of the process or host). */
export class ReceiverMetrics {
  readonly requests: Counter<'route' | 'code'>;
  readonly inputs: Counter<'source' | 'outcome'>;
  readonly truncated: Counter<'source'>;
  readonly ack: Histogram<'route'>;

  constructor(registry: Registry) {
    const reuse = <M>(name: string, create: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? create();
    const registers = [registry];
    this.requests = reuse('opx_receiver_requests_total', () =>
      new Counter({ name: 'opx_receiver_requests_total', help: 'Requests to the receiver, by route and HTTP status.', labelNames: ['route', 'code'] as const, registers }),
    );
    this.inputs = reuse('opx_receiver_inputs_total', () =>
      new Counter({
        name: 'opx_receiver_inputs_total',
        help: 'Alerts and signals received, by source and outcome: accepted (recorded new), duplicate (recorded before), ignored (source mapping), rejected (recorded with why).',
        labelNames: ['source', 'outcome'] as const,
        registers,
      }),
    );
    this.truncated = reuse('opx_receiver_truncated_alerts_total', () =>
      new Counter({ name: 'opx_receiver_truncated_alerts_total', help: 'Alerts Alertmanager left out of its bodies (max_alerts): they never reached OPX.', labelNames: ['source'] as const, registers }),
    );
    this.ack = reuse('opx_receiver_ack_duration_seconds', () =>
      new Histogram({
        name: 'opx_receiver_ack_duration_seconds',
        help: 'From a request in to its answer, every accepted input durably appended first.',
        labelNames: ['route'] as const,
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
    );
  }
}
