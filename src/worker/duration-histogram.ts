import type { Histogram, MetricValueWithName, Registry } from 'prom-client';

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
